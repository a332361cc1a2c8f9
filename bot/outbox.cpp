#include "bot/outbox.hpp"

#include "base/crypto.hpp"
#include "base/html_split.hpp"
#include "base/log.hpp"
#include "base/markdown.hpp"
#include "base/text_split.hpp"

#include <algorithm>
#include <array>

namespace bot {

namespace {

constexpr std::string_view kEllipsis = "…";

// The namespace of contactbot's delivery keys (a random UUID, fixed for good: changing it
// changes every key, and a platform would then take a retried part for a new one).
constexpr std::array<unsigned char, 16> kKeyNamespace = {
    0x6f, 0x2c, 0x4e, 0x1a, 0x8d, 0x3b, 0x4b, 0x7e, 0x9a, 0x55, 0x3c, 0x1d, 0x2e, 0x7f, 0x9b, 0x10};

std::string_view trim_end(std::string_view text) {
    auto end = text.find_last_not_of(" \t\r\n");
    return end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
}

}  // namespace

std::vector<std::string> reply_parts(std::string_view text, const Capabilities& capabilities) {
    const std::string rendered = markdown::render(text, capabilities.text_format);
    const bool html = capabilities.text_format == TextFormat::telegram_html;
    const TextLimit limit = capabilities.max_text;
    const bool plain = capabilities.text_format == TextFormat::plain;
    auto parts = html    ? split_html(rendered, limit)
                 : plain ? split_text(rendered, limit)
                         : markdown::split_markdown(rendered, limit);
    if (parts.empty()) parts.emplace_back(kEllipsis);  // never deliver nothing: the user waits
    const auto most = static_cast<std::size_t>(std::max(capabilities.max_parts, 0));
    if (most == 0 || parts.size() <= most) return parts;
    parts.resize(most);
    // The last part says it was cut, and still fits: shortened by the ellipsis's length in
    // the platform's unit (UTF-8: 3 bytes; UTF-16 and code points: 1).
    std::string& last = parts.back();
    const std::size_t mark = text_length(kEllipsis, limit.unit);
    if (html) {
        // Measured and cut in the visible text, so no tag or entity is broken.
        if (limit.max > 0 && text_length(html_to_text(last), limit.unit) + mark > limit.max) {
            auto shorter = split_html(
                last, {.max = limit.max > mark ? limit.max - mark : 1, .unit = limit.unit});
            last = shorter.empty() ? std::string() : std::move(shorter.front());
        }
    } else if (limit.max > 0 && text_length(last, limit.unit) + mark > limit.max) {
        std::size_t keep = limit.max > mark
                               ? prefix_within(last, {.max = limit.max - mark, .unit = limit.unit})
                               : 0;
        last.resize(trim_end(std::string_view(last).substr(0, keep)).size());
    }
    last.append(kEllipsis);
    return parts;
}

std::string delivery_key(std::string_view adapter_id, std::int64_t outbox_id, int part) {
    // The adapter id is length-prefixed, so no two (adapter, row, part) give the same name.
    std::string name(kKeyNamespace.begin(), kKeyNamespace.end());
    name.append(std::to_string(adapter_id.size()))
        .append(":")
        .append(adapter_id)
        .append(":")
        .append(std::to_string(outbox_id))
        .append(":")
        .append(std::to_string(part));
    const std::string digest = crypto::sha1(name);
    std::string uuid = digest.substr(0, 16);
    uuid[6] = static_cast<char>((uuid[6] & 0x0f) | 0x50);  // version 5
    uuid[8] = static_cast<char>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
    const std::string hex = crypto::hex(uuid);
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
           hex.substr(16, 4) + '-' + hex.substr(20);
}

net::awaitable<void> Outbox::deliver(storage::OutboxRow row) {
    auto found = adapters_.find(row.key.adapter_id);
    if (found == adapters_.end()) {
        log_.error("outbox", "reply ", row.id, ": adapter '", row.key.adapter_id,
                   "' is not configured; reply marked failed");
        co_await store_.mark_attempt_failed(row.id, "adapter not configured", true);
        co_return;
    }
    Adapter& adapter = *found->second;
    const Capabilities capabilities = adapter.capabilities();
    const auto parts = reply_parts(row.text, capabilities);
    const int total = static_cast<int>(parts.size());
    // Each part is marked sent before its id is recorded: a failed record costs only the
    // recognition of quotes of that part, never a part sent twice. Ids are recorded in groups
    // only (there a reply quoting one addresses the bot), each as soon as its part is out.
    auto record_sent = [&](std::string id) -> net::awaitable<void> {
        if (!row.is_group || id.empty()) co_return;
        // A named local: g++ 12 miscompiles aggregate temporaries in co_await arguments.
        std::vector<std::string> ids{std::move(id)};
        co_await store_.remember_sent(row.key.adapter_id, row.key.chat_id, std::move(ids));
    };

    const int first = std::clamp(row.parts_sent, 0, total);
    if (first >= total) {
        co_await store_.mark_delivered(row.id);
        co_return;
    }
    if (capabilities.sends_whole_reply) {
        // One call for the rest of the reply; parts_sent moves only when all of it went out.
        auto id = co_await send_with_retries(row, adapter, parts, first, total, true);
        if (!id) co_return;  // failed for good (recorded by send_with_retries)
        co_await store_.mark_delivered(row.id);
        co_await record_sent(std::move(*id));
        co_return;
    }
    for (int index = first; index < total; ++index) {
        auto id = co_await send_with_retries(row, adapter, parts, index, index + 1, false);
        if (!id) co_return;
        if (index + 1 < total) {
            co_await store_.mark_parts_sent(row.id, index + 1);
        } else {
            co_await store_.mark_delivered(row.id);
        }
        co_await record_sent(std::move(*id));
    }
}

net::awaitable<std::optional<std::string>> Outbox::send_with_retries(
    const storage::OutboxRow& row, Adapter& adapter, const std::vector<std::string>& parts,
    int from, int to, bool whole) {
    const int total = static_cast<int>(parts.size());
    auto make_part = [&](int index) {
        return Outbound{.chat = {.adapter_id = row.key.adapter_id,
                                 .chat_id = row.key.chat_id,
                                 .is_group = row.is_group},
                        .user_id = row.key.user_id,
                        .reply_to = row.reply_to,
                        .text = parts[index],
                        .part = index + 1,
                        .parts = total,
                        .delivery_key = delivery_key(row.key.adapter_id, row.id, index + 1)};
    };
    const std::string which =
        whole ? "parts " + std::to_string(from + 1) + "-" + std::to_string(to) + "/" +
                    std::to_string(total)
              : "part " + std::to_string(from + 1) + "/" + std::to_string(total);
    for (int attempt = 1;; ++attempt) {
        SendResult result = SendError{};
        if (whole) {
            std::vector<Outbound> batch;
            batch.reserve(static_cast<std::size_t>(to - from));
            for (int index = from; index < to; ++index) batch.push_back(make_part(index));
            result = co_await adapter.send_all(std::move(batch));
        } else {
            // A named local, not a temporary inside co_await: see Dispatcher::submit.
            Outbound part = make_part(from);
            result = co_await adapter.send(std::move(part));
        }
        if (result) co_return std::move(*result);

        const SendError& error = result.error();
        const bool quota = error.kind == SendError::Kind::quota_exhausted;
        const bool permanent = quota || error.kind == SendError::Kind::unauthorized ||
                               error.kind == SendError::Kind::bad_request ||
                               attempt >= options_.max_attempts;
        if (quota) {
            // Nothing the bot does helps until the platform's allowance renews or is raised:
            // the operator has to know, and every reply through this adapter fails meanwhile.
            log_.error("outbox", "the platform's send quota for adapter '", row.key.adapter_id,
                       "' is used up (", error.detail, "): reply ", row.id,
                       " marked failed, and replies through it fail until the quota renews or "
                       "is raised in the platform's console");
        } else {
            log_.warn("outbox", "reply ", row.id, " ", which, " via '", row.key.adapter_id,
                      "' failed (attempt ", attempt, "): ", error.detail,
                      permanent ? "; giving up" : "; will retry");
        }
        co_await store_.mark_attempt_failed(row.id, error.detail, permanent);
        if (permanent) co_return std::nullopt;
        auto wait = backoff_delay(options_.first_backoff, options_.max_backoff, attempt - 1);
        if (error.kind == SendError::Kind::rate_limited) {
            wait = std::max<std::chrono::milliseconds>(wait, error.retry_after);
        }
        co_await sleep_for(wait);
    }
}

}  // namespace bot
