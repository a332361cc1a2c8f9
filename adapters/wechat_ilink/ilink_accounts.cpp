#include "wechat_ilink/ilink_accounts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace bot::adapters::wechat_ilink {

using nlohmann::json;

namespace {

constexpr std::array kStatusNames{"active", "expired", "replaced"};

}  // namespace

std::string_view status_name(BoundAccount::Status status) {
    return kStatusNames[static_cast<std::size_t>(status)];
}

std::string encode_account(const BoundAccount& account) {
    return json{{"bot_id", account.bot_id},
                {"token", account.token},
                {"base_url", account.base_url},
                {"owner", account.owner},
                {"bound_at_ms", account.bound_at_ms},
                {"status", status_name(account.status)},
                {"status_detail", account.status_detail}}
        .dump();
}

std::optional<BoundAccount> decode_account(std::string_view text) {
    json value = json::parse(text, nullptr, false);
    if (!value.is_object()) return std::nullopt;
    BoundAccount account;
    account.bot_id = value.value("bot_id", "");
    account.token = value.value("token", "");
    account.base_url = value.value("base_url", "");
    account.owner = value.value("owner", "");
    account.bound_at_ms = value.value("bound_at_ms", std::int64_t{0});
    account.status_detail = value.value("status_detail", "");
    std::string status = value.value("status", "active");
    auto found = std::find(kStatusNames.begin(), kStatusNames.end(), status);
    if (found == kStatusNames.end() || account.bot_id.empty() || account.token.empty())
        return std::nullopt;
    account.status = static_cast<BoundAccount::Status>(found - kStatusNames.begin());
    return account;
}

std::string encode_context(const ReplyContext& context) {
    return json{{"token", context.token},
                {"at", context.received_at_ms},
                {"message_time", context.message_time_ms}}
        .dump();
}

std::optional<ReplyContext> decode_context(std::string_view text) {
    json value = json::parse(text, nullptr, false);
    if (!value.is_object()) return std::nullopt;
    ReplyContext context{.token = value.value("token", ""),
                         .received_at_ms = value.value("at", std::int64_t{0}),
                         .message_time_ms = value.value("message_time", std::int64_t{0})};
    if (context.token.empty()) return std::nullopt;
    return context;
}

std::string chat_id_of(std::string_view bot_id, std::string_view user) {
    std::string id(bot_id);
    id += '/';
    id += user;
    return id;
}

std::optional<std::pair<std::string, std::string>> parse_chat_id(std::string_view chat_id) {
    auto slash = chat_id.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == chat_id.size())
        return std::nullopt;
    return std::pair{std::string(chat_id.substr(0, slash)), std::string(chat_id.substr(slash + 1))};
}

}  // namespace bot::adapters::wechat_ilink
