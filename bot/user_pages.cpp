#include "bot/user_pages.hpp"

#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/markdown.hpp"
#include "base/random_id.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>

namespace bot {

namespace {

constexpr std::size_t kTokenBytes = 24;
constexpr std::string_view kExportPrefix = "/export/";
constexpr std::string_view kSharePrefix = "/share/";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The token from "/prefix/<token>", or "" when it is not one we could have made.
std::string token_of(std::string_view path, std::string_view prefix) {
    if (!path.starts_with(prefix)) return {};
    auto token = path.substr(prefix.size());
    if (token.size() != 2 * kTokenBytes) return {};
    bool hex = std::all_of(token.begin(), token.end(),
                           [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    return hex ? std::string(token) : std::string();
}

std::string digest(std::string_view token) {
    return crypto::hex(crypto::sha256(token));
}

std::string utc_time(std::int64_t ms) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
    return text;
}

http::Response not_found() {
    auto response = http::Response::text(404, "This link does not exist (any more).\n");
    response.headers.push_back({"Cache-Control", "no-store"});
    response.headers.push_back({"X-Robots-Tag", "noindex, nofollow"});
    return response;
}

}  // namespace

nlohmann::json export_json(const storage::UserExport& data, const std::string& adapter_id,
                           const std::string& user_id) {
    nlohmann::json conversations = nlohmann::json::array();
    for (const auto& conversation : data.conversations) {
        nlohmann::json turns = nlohmann::json::array();
        for (const auto& turn : conversation.turns) {
            turns.push_back(
                {{"role", turn.role}, {"content", turn.content}, {"at_ms", turn.at_ms}});
        }
        conversations.push_back({{"id", conversation.id},
                                 {"chat", conversation.chat_id},
                                 {"active", conversation.active},
                                 {"created_at_ms", conversation.created_at_ms},
                                 {"ended_at_ms", conversation.ended_at_ms},
                                 {"summary", conversation.summary},
                                 {"turns", std::move(turns)}});
    }
    nlohmann::json usage = nlohmann::json::array();
    for (const auto& day : data.usage) {
        usage.push_back({{"day", day.day},
                         {"messages", day.counts.messages},
                         {"prompt_tokens", day.counts.prompt_tokens},
                         {"completion_tokens", day.counts.completion_tokens}});
    }
    nlohmann::json facts = nlohmann::json::array();
    for (const auto& fact : data.facts) {
        facts.push_back({{"text", fact.text}, {"from_user", fact.from_user}});
    }
    nlohmann::json group = nlohmann::json::array();
    for (const auto& line : data.group_messages) {
        group.push_back({{"chat", line.chat_id},
                         {"name", line.sender_name},
                         {"text", line.text},
                         {"at_ms", line.at_ms}});
    }
    return {{"format", "contactbot-export-1"},
            {"adapter", adapter_id},
            {"user", user_id},
            {"exported_at_ms", now_ms()},
            {"conversations", std::move(conversations)},
            {"settings", {{"persona", data.settings.persona}, {"model", data.settings.model}}},
            {"usage", std::move(usage)},
            {"facts", std::move(facts)},
            {"group_messages", std::move(group)},
            {"shared_pages", data.shares}};
}

std::string share_page(const storage::SharedConversation& shared) {
    std::string html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shared conversation</title>
<style>
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2129; }
  main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.3rem; }
  .meta { color: #6b7280; font-size: .85rem; }
  .turn { margin: .6rem 0; padding: .6rem .8rem; border-radius: .8rem; background: #fff;
          white-space: pre-wrap; overflow-wrap: anywhere; }
  .turn.user { background: #dbeafe; margin-left: 15%; }
  .turn.assistant { margin-right: 15%; }
  .who { font-size: .75rem; color: #6b7280; white-space: normal; }
  pre { overflow-x: auto; background: #f4f5f7; padding: .5rem; }
  blockquote { border-left: 3px solid #d1d5db; margin: 0; padding-left: .6rem; }
</style>
</head>
<body>
<main>
<h1>Shared conversation</h1>
<p class="meta">A read-only copy, shared )html";
    html += utc_time(shared.created_at_ms);
    html += ".</p>\n";
    for (const auto& turn : shared.turns) {
        const bool user = turn.role == "user";
        html += user ? "<div class=\"turn user\"><div class=\"who\">User</div>"
                     : "<div class=\"turn assistant\"><div class=\"who\">Assistant</div>";
        // The user's text as typed; the reply's markdown in an escaped subset (never raw HTML).
        html += user ? http::html_escape(turn.content)
                     : markdown::render(turn.content, TextFormat::telegram_html);
        html += "</div>\n";
    }
    html += "</main>\n</body>\n</html>\n";
    return html;
}

UserPages::UserPages(storage::Store& store, http::Router& router, Logger& log,
                     UserPagesOptions options)
    : store_(store), log_(log), options_(std::move(options)) {
    if (!enabled()) return;
    router.add(
        "GET", std::string(kExportPrefix) + "*",
        [this](http::Request& request, http::ResponseStream&) { return serve_export(request); });
    router.add(
        "GET", std::string(kSharePrefix) + "*",
        [this](http::Request& request, http::ResponseStream&) { return serve_share(request); });
}

std::string UserPages::help_lines(const std::string& prefix) const {
    if (!enabled()) return {};
    return prefix + "export - download everything stored about you (a one-time link)\n" + prefix +
           "share - a read-only web page of this conversation\n" + prefix +
           "unshare - revoke all your shared pages\n";
}

std::string UserPages::new_export_link(const storage::ConversationKey& key) {
    std::string token = random_hex(kTokenBytes);
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::erase_if(exports_, [&](const auto& entry) { return entry.second.expires <= now; });
    if (exports_.size() >= options_.max_export_links) {
        auto oldest = std::min_element(exports_.begin(), exports_.end(), [](auto& a, auto& b) {
            return a.second.expires < b.second.expires;
        });
        exports_.erase(oldest);
    }
    exports_.emplace(token, ExportLink{.adapter_id = key.adapter_id,
                                       .user_id = key.user_id,
                                       .expires = now + options_.export_ttl});
    return token;
}

net::awaitable<std::string> UserPages::answer(const storage::ConversationKey& key,
                                              std::string_view command, bool in_group) {
    if (!enabled()) {
        co_return "Sorry, this is not available here: the bot has no public web address "
                  "configured (the operator can set server.public_url).";
    }
    if (command == "export" && in_group) {
        co_return "Your data is yours alone: send " + options_.command_prefix +
            "export to me in a private chat, and the link comes there.";
    }
    if (command == "export") {
        std::string url = options_.public_url + std::string(kExportPrefix) + new_export_link(key);
        auto minutes = std::max<long long>(options_.export_ttl.count() / 60, 1);
        co_return "Your data (all our conversations here, your settings and usage) as a JSON "
                  "file, at this link. It works once, for " +
            std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes") +
            "; anyone who has it can download your data, so keep it to yourself:\n" + url;
    }
    if (command == "share") {
        std::string token = random_hex(kTokenBytes);
        storage::ShareRecord share{
            .token_digest = digest(token), .key = key, .created_at_ms = now_ms()};
        if (!co_await store_.create_share(std::move(share))) {
            co_return std::string("There is nothing to share yet: this conversation is empty.");
        }
        co_return "Anyone with this link can read this conversation as it is now (not what "
                  "follows):\n" +
            options_.public_url + std::string(kSharePrefix) + token +
            "\nSend " + options_.command_prefix + "unshare to revoke all your shared links.";
    }
    std::string adapter_id = key.adapter_id, user_id = key.user_id;
    int revoked = co_await store_.erase_shares(std::move(adapter_id), std::move(user_id));
    co_return revoked == 0
        ? std::string("You have no shared links.")
        : "Done: " + std::to_string(revoked) +
              (revoked == 1 ? " shared link no longer works." : " shared links no longer work.");
}

void UserPages::forget(const std::string& adapter_id, const std::string& user_id) {
    std::lock_guard lock(mutex_);
    std::erase_if(exports_, [&](const auto& entry) {
        return entry.second.adapter_id == adapter_id && entry.second.user_id == user_id;
    });
}

std::size_t UserPages::export_links() const {
    std::lock_guard lock(mutex_);
    return exports_.size();
}

net::awaitable<http::Response> UserPages::serve_export(const http::Request& request) {
    auto token = token_of(request.path, kExportPrefix);
    std::optional<ExportLink> link;
    {
        // Taken out at the first request: a link works once, even for two at the same time.
        std::lock_guard lock(mutex_);
        if (auto found = exports_.find(token); !token.empty() && found != exports_.end()) {
            if (found->second.expires > std::chrono::steady_clock::now()) link = found->second;
            exports_.erase(found);
        }
    }
    if (!link) co_return not_found();
    auto data = co_await store_.export_user(link->adapter_id, link->user_id);
    log_.info("pages", "export of a user on '", link->adapter_id, "' downloaded");
    http::Response response{
        .status = 200,
        .content_type = "application/json; charset=utf-8",
        // Stored chat text may be invalid UTF-8: replaced, not a throw.
        .body = export_json(data, link->adapter_id, link->user_id)
                    .dump(2, ' ', false, nlohmann::json::error_handler_t::replace),
        .headers = {}};
    response.headers.push_back(
        {"Content-Disposition", "attachment; filename=\"contactbot-export.json\""});
    response.headers.push_back({"Cache-Control", "no-store"});
    response.headers.push_back({"X-Content-Type-Options", "nosniff"});
    response.headers.push_back({"Referrer-Policy", "no-referrer"});
    response.headers.push_back({"X-Robots-Tag", "noindex, nofollow"});
    co_return response;
}

net::awaitable<http::Response> UserPages::serve_share(const http::Request& request) {
    auto token = token_of(request.path, kSharePrefix);
    if (token.empty()) co_return not_found();
    auto shared = co_await store_.shared_conversation(digest(token));
    if (!shared) co_return not_found();
    http::Response response{.status = 200,
                            .content_type = "text/html; charset=utf-8",
                            .body = share_page(*shared),
                            .headers = {}};
    response.headers.push_back({"Cache-Control", "no-store"});
    response.headers.push_back({"X-Robots-Tag", "noindex, nofollow"});
    response.headers.push_back({"X-Content-Type-Options", "nosniff"});
    response.headers.push_back({"Referrer-Policy", "no-referrer"});
    // No scripts, no images, no fetches, no forms, no frames: the page is text and styles.
    response.headers.push_back(
        {"Content-Security-Policy",
         "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'"});
    co_return response;
}

}  // namespace bot
