// Feishu's Open API as this adapter calls it: the tenant_access_token (AccessToken: one fetch
// for concurrent callers, refreshed before it expires, fetched again when refused), the bot's
// identity, replies, CardKit's streaming cards, and the long connection's endpoint. Every
// answer goes through classify() (feishu_codec); permission errors are logged at error level
// with what the operator must change. Tokens and the secret never reach the log.
#pragma once

#include "base/access_token.hpp"
#include "bot/adapter.hpp"
#include "feishu/feishu_codec.hpp"

#include <string>

namespace bot::adapters::feishu {

// A call's result: the answer body when Feishu said code 0.
using ApiResult = boost::system::result<std::string, SendError>;

class FeishuApi {
public:
    // domain: "https://open.feishu.cn" or "https://open.larksuite.com" (no trailing '/').
    FeishuApi(HttpClient& http, std::string domain, std::string app_id, std::string app_secret,
              Logger& log, std::string adapter_id);

    // method + "/open-apis/..." with the tenant token; a refused token is fetched again and the
    // call made once more.
    net::awaitable<ApiResult> call(std::string method, std::string path, std::string body);

    // POST /open-apis/im/v1/messages/:message_id/reply; the sent message's id.
    net::awaitable<SendResult> reply(const std::string& message_id, std::string body);
    // POST /open-apis/im/v1/messages?receive_id_type=chat_id (no message to answer).
    net::awaitable<SendResult> send_to_chat(const std::string& chat_id, std::string_view text,
                                            std::string_view uuid);
    // POST /open-apis/cardkit/v1/cards: the card_id.
    net::awaitable<ApiResult> create_card(std::string body);
    net::awaitable<ApiResult> update_card_text(const std::string& card_id,
                                               const std::string& element_id, std::string body);
    net::awaitable<ApiResult> finish_card(const std::string& card_id, std::string body);
    // GET /open-apis/bot/v3/info: the bot's open_id, empty when it could not be had.
    net::awaitable<std::string> bot_open_id();

    // POST {domain}/callback/ws/endpoint (no token: app id and secret in the body).
    net::awaitable<Endpoint> endpoint(const ClientConfig& current);

    std::size_t token_fetches() const { return token_.fetches(); }

private:
    net::awaitable<TokenResult> fetch_token();

    HttpClient& http_;
    std::string domain_;
    std::string app_id_;
    std::string app_secret_;
    Logger& log_;
    std::string id_;
    std::string logged_token_;  // the token the log redacts now
    AccessToken token_;
};

}  // namespace bot::adapters::feishu
