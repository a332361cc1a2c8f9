// The user's own pages on the built-in web server (issue 24), under server.public_url:
//   /export: a one-time link (GET /export/<token>) to all the user's data as a JSON file; it
//            lives in memory only, expires after server.export_link_s (15 min) and is gone
//            after the first download, after /forget, or at a restart.
//   /share:  a read-only page (GET /share/<token>) of the user's current conversation as it is
//            now (a snapshot: later turns are not added), stored in SQLite by the token's
//            SHA-256 until /unshare or /forget. noindex, strict CSP, no scripts.
// Tokens are 192 random bits; without server.public_url the commands say they are unavailable.
#pragma once

#include "base/async.hpp"
#include "bot/http/router.hpp"
#include "storage/store.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace bot {

class Logger;

struct UserPagesOptions {
    std::string public_url;  // "" = /export and /share unavailable
    std::chrono::seconds export_ttl{900};
    std::size_t max_export_links = 1000;  // outstanding; the oldest makes room
    std::string command_prefix = "/";
};

// The export file's JSON (other branches add their data to UserExport and here).
nlohmann::json export_json(const storage::UserExport& data, const std::string& adapter_id,
                           const std::string& user_id);
// The read-only page of a shared conversation: every turn escaped (replies rendered from
// markdown to an escaped subset: b, i, s, code, pre, blockquote, http(s) links).
std::string share_page(const storage::SharedConversation& shared);

class UserPages {
public:
    // Mounts GET /export/* and /share/* when public_url is set.
    UserPages(storage::Store& store, http::Router& router, Logger& log, UserPagesOptions options);

    bool enabled() const { return !options_.public_url.empty(); }
    static bool handles(std::string_view command) {
        return command == "export" || command == "share" || command == "unshare";
    }
    // The reply to /export, /share or /unshare from the owner of key. in_group: the reply is
    // seen by the whole group, so /export gives no link there.
    net::awaitable<std::string> answer(const storage::ConversationKey& key,
                                       std::string_view command, bool in_group);
    std::string help_lines(const std::string& prefix) const;
    // /forget: the user's export links (their shares go with Store::forget_user).
    void forget(const std::string& adapter_id, const std::string& user_id);

    std::size_t export_links() const;

private:
    struct ExportLink {
        std::string adapter_id;
        std::string user_id;
        std::chrono::steady_clock::time_point expires;
    };

    net::awaitable<http::Response> serve_export(const http::Request& request);
    net::awaitable<http::Response> serve_share(const http::Request& request);
    std::string new_export_link(const storage::ConversationKey& key);

    storage::Store& store_;
    Logger& log_;
    UserPagesOptions options_;
    mutable std::mutex mutex_;
    std::map<std::string, ExportLink> exports_;  // by token
};

}  // namespace bot
