// FakeIlink's HTTP side: the iLink endpoints of ../shared/reference/ilink.md §9.
#include "fakes/fake_ilink_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace bot::testing {

namespace ilink_detail {

http::Response answer(const json& body) {
    return http::Response::json(200, body);
}

// §9.2: a broken rule is a 400 whose text names it, so test output shows what went wrong.
http::Response rule_broken(const std::string& rule) {
    return http::Response::text(400, "fake ilink: " + rule);
}

// [inf] §9.2: the shape of an expired-session answer.
json session_timeout_body() {
    return {{"ret", -14}, {"errcode", -14}, {"errmsg", "session timeout"}};
}

json prepare_failed_body() {
    return {{"ret", -2}, {"errmsg", "prepare failed"}};
}

bool is_decimal(std::string_view text, std::size_t max_digits) {
    return !text.empty() && text.size() <= max_digits &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// X-WECHAT-UIN: base64 of a uint32 written in decimal (no leading zeros but "0").
std::optional<std::uint32_t> parse_uin(std::string_view header) {
    auto decoded = crypto::base64_decode(header);
    if (!decoded) return std::nullopt;
    const std::string& digits = *decoded;
    if (!is_decimal(digits, 10) || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    std::uint64_t value = std::stoull(digits);
    if (value > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

std::string encode_cursor(std::uint64_t position) {
    return crypto::base64_encode(std::string("c").append(std::to_string(position)));
}

std::optional<std::uint64_t> decode_cursor(std::string_view cursor) {
    auto decoded = crypto::base64_decode(cursor);
    if (!decoded || decoded->size() < 2 || (*decoded)[0] != 'c') return std::nullopt;
    std::string_view digits = std::string_view(*decoded).substr(1);
    if (!is_decimal(digits, 19)) return std::nullopt;
    return std::stoull(std::string(digits));
}

bool is_nonempty_string(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

std::uint64_t id_of(const json& message) {
    const json& id = message.at("message_id");
    if (id.is_number_unsigned()) return id.get<std::uint64_t>();
    if (id.is_number_integer()) return static_cast<std::uint64_t>(id.get<std::int64_t>());
    return std::stoull(id.get<std::string>());  // [inf] §2.3: ids may also travel as strings
}

void wake(const std::shared_ptr<net::steady_timer>& timer) {
    net::post(timer->get_executor(), [timer] { timer->cancel(); });
}

}  // namespace ilink_detail

using namespace ilink_detail;

FakeIlink::Impl::Impl()
    : server([this](http::Router& router) {
          auto handler = [this](http::Request& request, http::ResponseStream&) {
              return handle(request);
          };
          router.add("POST", "/ilink/bot/*", handler);
          router.add("GET", "/ilink/bot/*", handler);
      }) {}

net::awaitable<http::Response> FakeIlink::Impl::handle(http::Request& request) {
    Call call;
    call.endpoint = request.path.substr(std::string_view("/ilink/bot/").size());
    call.query = request.query;
    for (const auto& header : request.headers) call.headers.emplace_back(header.name, header.value);
    if (!request.body.empty()) call.body = json::parse(request.body, nullptr, false);
    if (call.body.is_discarded()) call.body = nullptr;
    {
        std::lock_guard lock(mutex);
        ++arrived[call.endpoint];
    }
    http::Response response = co_await dispatch(request, call);
    note_answer(std::move(call), response);
    co_return response;
}

net::awaitable<http::Response> FakeIlink::Impl::dispatch(const http::Request& request,
                                                         const Call& call) {
    if (call.endpoint == "get_bot_qrcode") co_return get_bot_qrcode(request, call.body);
    if (call.endpoint == "get_qrcode_status") co_return co_await qrcode_status(request);
    if (request.method != "POST") co_return rule_broken(call.endpoint + " must be a POST");
    std::string token;
    if (auto refused = check_authenticated(request, call.body, token)) co_return *refused;
    if (auto failure = take_failure(call.endpoint)) co_return co_await fail(*failure);
    const json& body = call.body;
    if (call.endpoint == "getupdates") co_return co_await get_updates(token, body);
    if (call.endpoint == "sendmessage") co_return send_message(token, body);
    if (call.endpoint == "getconfig") co_return get_config(body);
    if (call.endpoint == "sendtyping") co_return send_typing(body);
    if (call.endpoint == "getuploadurl") co_return get_upload_url(body);
    if (call.endpoint == "msg/notifystart" || call.endpoint == "msg/notifystop") {
        co_return answer(json{{"ret", 0}, {"errmsg", "ok"}});
    }
    co_return http::Response::text(404, "fake ilink: no endpoint " + call.endpoint);
}

void FakeIlink::Impl::note_answer(Call call, const http::Response& response) {
    call.http_status = response.status;
    bool keep;
    {
        std::lock_guard lock(mutex);
        keep = recording;
    }
    // Only parsed for the record: benches with recording off skip the cost.
    if (keep && response.status == 200 && response.content_type.starts_with("application/json")) {
        json body = json::parse(response.body, nullptr, false);
        if (body.is_object()) call.ret = body.value("ret", 0);
    }
    {
        std::lock_guard lock(mutex);
        ++answered[call.endpoint];
        if (recording) recorded.push_back(std::move(call));
    }
    changed.notify_all();
}

std::optional<http::Response> FakeIlink::Impl::check_post_headers(const http::Request& request) {
    if (!request.header("Content-Type").starts_with("application/json"))
        return rule_broken("Content-Type must start with application/json");
    if (request.header("AuthorizationType") != "ilink_bot_token")
        return rule_broken("AuthorizationType must be ilink_bot_token");
    if (!parse_uin(request.header("X-WECHAT-UIN")))
        return rule_broken("X-WECHAT-UIN must be base64 of a decimal uint32");
    return check_app_headers(request);
}

std::optional<http::Response> FakeIlink::Impl::check_app_headers(const http::Request& request) {
    if (request.header("iLink-App-Id") != "bot") return rule_broken("iLink-App-Id must be bot");
    if (!is_decimal(request.header("iLink-App-ClientVersion"), 10))
        return rule_broken("iLink-App-ClientVersion must be a decimal string");
    return std::nullopt;
}

std::optional<http::Response> FakeIlink::Impl::check_authenticated(const http::Request& request,
                                                                   const json& body,
                                                                   std::string& token) {
    if (auto refused = check_post_headers(request)) return refused;
    if (!body.is_object()) return rule_broken("the body must be a JSON object");
    if (!body.contains("base_info") || !body["base_info"].is_object())
        return rule_broken("the body must carry a base_info object");
    std::string_view authorization = request.header("Authorization");
    if (!authorization.starts_with("Bearer ")) return answer(session_timeout_body());
    token = std::string(authorization.substr(7));
    std::lock_guard lock(mutex);
    auto account = accounts.find(token);
    if (account == accounts.end() || !account->second.valid) return answer(session_timeout_body());
    // Real clients draw a fresh random uin per request; a repeat means a cached header.
    auto uin = parse_uin(request.header("X-WECHAT-UIN"));
    if (account->second.last_uin == uin)
        return rule_broken("X-WECHAT-UIN must change between requests");
    account->second.last_uin = uin;
    return std::nullopt;
}

http::Response FakeIlink::Impl::get_bot_qrcode(const http::Request& request, const json& body) {
    if (request.query_param("bot_type") != "3") return rule_broken("bot_type must be 3");
    bool already_bound = false;
    if (request.method == "POST") {  // OCW >= 2.3.1; GET (COW, OCW-old) has no headers
        if (auto refused = check_post_headers(request)) return *refused;
        if (!body.is_object()) return rule_broken("the body must be a JSON object");
        if (auto list = body.find("local_token_list"); list != body.end()) {
            if (!list->is_array() || list->size() > 10)
                return rule_broken("local_token_list must be an array of at most 10 tokens");
            std::lock_guard lock(mutex);
            for (const auto& given : *list) {
                if (!given.is_string()) return rule_broken("local_token_list holds strings");
                auto account = accounts.find(given.get<std::string>());
                if (account != accounts.end() && account->second.valid) already_bound = true;
            }
        }
    }
    std::lock_guard lock(mutex);
    QrSession session;
    if (!scripts.empty()) {
        session.script = std::move(scripts.front());
        scripts.pop_front();
    }
    if (already_bound && recognise_bound) session.script.statuses = {"binded_redirect"};
    std::string n = std::to_string(++qr_count);
    std::string qrcode = "qr-" + n;
    qr_sessions.emplace(qrcode, std::move(session));
    return answer(
        json{{"qrcode", qrcode},
             {"qrcode_img_content", "https://liteapp.weixin.qq.com/q/fake-" + n + "?bot_type=3"}});
}

net::awaitable<http::Response> FakeIlink::Impl::qrcode_status(const http::Request& request) {
    if (request.method != "GET") co_return rule_broken("get_qrcode_status must be a GET");
    // OCW sends the app headers on this GET (§2.1), so the fake insists on them.
    if (auto refused = check_app_headers(request)) co_return *refused;
    auto qrcode = request.query_param("qrcode", false);
    if (!qrcode || qrcode->empty()) co_return rule_broken("qrcode is required");
    std::chrono::milliseconds hold;
    {
        std::lock_guard lock(mutex);
        hold = login_hold;
    }
    if (hold.count() > 0) {
        net::steady_timer timer(co_await net::this_coro::executor, hold);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
    co_return answer(next_status(*qrcode, request.query_param("verify_code", false)));
}

json FakeIlink::Impl::next_status(const std::string& qrcode,
                                  const std::optional<std::string>& verify_code) {
    std::lock_guard lock(mutex);
    auto found = qr_sessions.find(qrcode);
    // [inf] The real answer to an unknown QR code is not known; expired makes clients
    // fetch a new one, which is what they should do.
    if (found == qr_sessions.end()) return {{"status", "expired"}};
    QrSession& session = found->second;
    if (session.blocked) return {{"status", "verify_code_blocked"}};
    const auto& statuses = session.script.statuses;
    if (statuses.empty()) return {{"status", "wait"}};
    auto current = [&] { return statuses[std::min(session.next, statuses.size() - 1)]; };
    if (current() == "need_verifycode") {
        if (!verify_code) return {{"status", "need_verifycode"}};
        if (*verify_code != session.script.verify_code) {
            if (++session.wrong_codes >= 3) {
                session.blocked = true;
                return {{"status", "verify_code_blocked"}};
            }
            return {{"status", "need_verifycode"}};
        }
        ++session.next;  // accepted: go on with what follows the code
    }
    std::string status = current();
    ++session.next;
    json reply{{"status", status}};
    if (status == "scaned_but_redirect") {
        reply["redirect_host"] = session.script.redirect_host.empty()
                                     ? server.base_url().substr(std::string("http://").size())
                                     : session.script.redirect_host;
    } else if (status == "confirmed") {
        if (!session.bound) session.bound = bind_account(session.script.owner);
        reply["bot_token"] = session.bound->token;
        reply["ilink_bot_id"] = session.bound->bot_id;
        reply["baseurl"] = server.base_url();
        reply["ilink_user_id"] = session.bound->owner;
    }
    return reply;
}

FakeIlink::Account FakeIlink::Impl::bind_account(const std::string& owner) {
    ++account_count;
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", 0x0123abcdU + static_cast<unsigned>(account_count - 1));
    Account account{.token = "tok-" + std::to_string(account_count),
                    .bot_id = std::string(hex) + "@im.bot",
                    .owner = owner};
    // [inf] §3.3: one binding per WeChat user; a new one invalidates the old token.
    if (auto previous = owner_token.find(owner); previous != owner_token.end()) {
        invalidate(previous->second);
    }
    owner_token[owner] = account.token;
    AccountState state;
    state.account = account;
    accounts.emplace(account.token, std::move(state));
    return account;
}

void FakeIlink::Impl::invalidate(const std::string& token) {  // the caller holds the mutex
    auto found = accounts.find(token);
    if (found == accounts.end()) return;
    found->second.valid = false;
    if (found->second.parked_poll) wake(found->second.parked_poll);
}

std::optional<FakeIlink::Failure> FakeIlink::Impl::take_failure(const std::string& endpoint) {
    std::lock_guard lock(mutex);
    auto found = failures.find(endpoint);
    if (found == failures.end() || found->second.empty()) return std::nullopt;
    Failure failure = found->second.front();
    found->second.pop_front();
    return failure;
}

net::awaitable<http::Response> FakeIlink::Impl::fail(Failure failure) {
    switch (failure) {
        case Failure::session_timeout:
            co_return answer(session_timeout_body());
        case Failure::prepare_failed:
            co_return answer(prepare_failed_body());
        case Failure::busy:
            co_return answer(json{{"ret", 1}, {"errmsg", "busy"}});
        case Failure::http_500:
            co_return http::Response::text(500, "fake ilink: injected 500");
        case Failure::drop:
            co_return http::Response::drop();
        case Failure::silent_lapse:
            co_return answer(json::object());
        case Failure::hang:
            break;
    }
    std::chrono::milliseconds hold;
    {
        std::lock_guard lock(mutex);
        hold = hang_duration;
    }
    net::steady_timer timer(co_await net::this_coro::executor, hold);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    co_return http::Response::drop();
}

json FakeIlink::Impl::take_updates(AccountState& account, const std::string& cursor_given) const {
    json messages = json::array();
    for (const auto& pending : account.pending) messages.push_back(pending.message);
    std::string next =
        account.pending.empty() ? cursor_given : encode_cursor(account.pending.back().position);
    if (next.empty()) next = encode_cursor(account.last_position);  // all were confirmed
    json reply{{"ret", 0}, {"msgs", std::move(messages)}, {"get_updates_buf", next}};
    if (!account.pending.empty()) reply["longpolling_timeout_ms"] = longpolling_timeout_ms;
    return reply;
}

net::awaitable<http::Response> FakeIlink::Impl::get_updates(const std::string& token,
                                                            const json& body) {
    auto buf = body.find("get_updates_buf");
    if (buf == body.end() || !buf->is_string())
        co_return rule_broken("get_updates_buf must be a string");
    std::string cursor = buf->get<std::string>();
    auto executor = co_await net::this_coro::executor;
    std::shared_ptr<net::steady_timer> timer;
    {
        std::lock_guard lock(mutex);
        AccountState& account = accounts.at(token);
        if (!cursor.empty()) {
            auto confirmed = decode_cursor(cursor);
            if (!confirmed || *confirmed > account.last_position)
                co_return rule_broken("get_updates_buf is not a cursor this server issued");
            // A cursor confirms everything up to it: those messages are gone for good.
            std::erase_if(account.pending,
                          [&](const Pending& p) { return p.position <= *confirmed; });
        }
        if (!account.pending.empty()) co_return answer(take_updates(account, cursor));
        // [inf] A second poll of one account supersedes the first, which answers empty.
        if (account.parked_poll) wake(account.parked_poll);
        timer = std::make_shared<net::steady_timer>(executor, poll_hold);
        account.parked_poll = timer;
    }
    // Parks on a timer, not a thread; inject() and expire_token() cancel it to wake it.
    co_await timer->async_wait(net::as_tuple(net::use_awaitable));
    std::lock_guard lock(mutex);
    AccountState& account = accounts.at(token);
    if (account.parked_poll == timer) account.parked_poll.reset();
    if (!account.valid) co_return answer(session_timeout_body());
    co_return answer(take_updates(account, cursor));
}

http::Response FakeIlink::Impl::send_message(const std::string& token, const json& body) {
    auto msg_it = body.find("msg");
    if (msg_it == body.end() || !msg_it->is_object()) return rule_broken("msg must be an object");
    const json& msg = *msg_it;
    auto from = msg.find("from_user_id");
    if (from == msg.end() || *from != "") return rule_broken("msg.from_user_id must be \"\"");
    if (!is_nonempty_string(msg, "to_user_id")) return rule_broken("msg.to_user_id is required");
    if (!is_nonempty_string(msg, "client_id")) return rule_broken("msg.client_id is required");
    if (msg.value("message_type", -1) != 2) return rule_broken("msg.message_type must be 2 (BOT)");
    if (msg.value("message_state", -1) != 2)
        return rule_broken("msg.message_state must be 2 (FINISH)");
    auto items = msg.find("item_list");
    if (items == msg.end() || !items->is_array() || items->size() != 1)
        return rule_broken("msg.item_list must hold exactly one item");
    std::string context = msg.value("context_token", "");
    std::uint64_t id = 0;
    std::function<void(const json&)> hook;
    {
        std::lock_guard lock(mutex);
        AccountState& account = accounts.at(token);
        auto window = account.windows.find(msg["to_user_id"].get<std::string>());
        bool open = window != account.windows.end() && !context.empty() &&
                    context == window->second.context_token &&
                    now_ms_locked() - window->second.opened_at_ms <= reply_window.count() &&
                    window->second.sends_left > 0;
        if (!open) return answer(prepare_failed_body());
        --window->second.sends_left;
        id = next_sent_id++;
        if (recording) sent.push_back(msg);
        ++accepted_sends;
        hook = send_hook;
        changed.notify_all();
    }
    if (hook) hook(msg);
    return answer(json{{"ret", 0}, {"message_id", id}});
}

http::Response FakeIlink::Impl::get_config(const json& body) {
    if (!is_nonempty_string(body, "ilink_user_id")) return rule_broken("ilink_user_id is required");
    return answer(json{{"ret", 0}, {"errmsg", ""}, {"typing_ticket", kTypingTicket}});
}

http::Response FakeIlink::Impl::send_typing(const json& body) {
    if (!is_nonempty_string(body, "ilink_user_id")) return rule_broken("ilink_user_id is required");
    if (body.value("typing_ticket", "") != kTypingTicket)
        return rule_broken("typing_ticket must be the one getconfig handed out");
    int status = body.value("status", 0);
    if (status != 1 && status != 2) return rule_broken("status must be 1 (typing) or 2 (cancel)");
    return answer(json{{"ret", 0}, {"errmsg", ""}});
}

http::Response FakeIlink::Impl::get_upload_url(const json& body) {
    if (!is_nonempty_string(body, "filekey")) return rule_broken("filekey is required");
    int media_type = body.value("media_type", 0);
    if (media_type < 1 || media_type > 3) return rule_broken("media_type must be 1, 2 or 3");
    auto rawsize = body.find("rawsize");
    if (rawsize == body.end() || !rawsize->is_number_unsigned())
        return rule_broken("rawsize must be a non-negative integer");
    std::uint64_t padded = (rawsize->get<std::uint64_t>() + 1 + 15) / 16 * 16;
    if (body.value("filesize", std::uint64_t{0}) != padded)
        return rule_broken("filesize must be ceil((rawsize+1)/16)*16");
    std::string key = body.value("aeskey", "");
    if (key.size() != 32 || !std::all_of(key.begin(), key.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        }))
        return rule_broken("aeskey must be 32 hex characters");
    std::string param = "up-" + body["filekey"].get<std::string>();
    return answer(json{{"upload_param", param}, {"upload_full_url", ""}});
}

std::int64_t FakeIlink::Impl::now_ms_locked() const {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() +
           clock_offset.count();
}

}  // namespace bot::testing
