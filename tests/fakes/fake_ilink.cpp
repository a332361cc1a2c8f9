#include "fakes/fake_ilink_impl.hpp"

#include "bot/http/router.hpp"
#include "fakes/loopback_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace bot::testing {

using namespace ilink_detail;

std::string ilink_uin_header(std::uint32_t uin) {
    return crypto::base64_encode(std::to_string(uin));
}

std::uint32_t ilink_client_version(int major, int minor, int patch) {
    return (static_cast<std::uint32_t>(major & 0xff) << 16) |
           (static_cast<std::uint32_t>(minor & 0xff) << 8) |
           static_cast<std::uint32_t>(patch & 0xff);
}

std::string FakeIlink::Call::header(std::string_view name) const {
    auto same = [&](const std::string& candidate) {
        return std::equal(candidate.begin(), candidate.end(), name.begin(), name.end(),
                          [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    };
    for (const auto& [key, value] : headers) {
        if (same(key)) return value;
    }
    return {};
}

FakeIlink::FakeIlink() : impl_(std::make_unique<Impl>()) {}
FakeIlink::~FakeIlink() {
    // A poll parked at the end holds its timer here too: let only the parked handler own it,
    // so the timer goes with that handler while the server's io_context still exists.
    std::lock_guard lock(impl_->mutex);
    for (auto& [token, account] : impl_->accounts) account.parked_poll.reset();
}

std::string FakeIlink::base_url() const {
    return impl_->server.base_url();
}

std::string FakeIlink::cdn_base_url() const {
    return base_url() + "/c2c";
}

void FakeIlink::script_next_login(LoginScript script) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripts.push_back(std::move(script));
}

void FakeIlink::recognise_bound_tokens(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recognise_bound = on;
}

void FakeIlink::set_login_poll_hold(std::chrono::milliseconds hold) {
    std::lock_guard lock(impl_->mutex);
    impl_->login_hold = hold;
}

FakeIlink::Account FakeIlink::add_account(const std::string& owner) {
    std::lock_guard lock(impl_->mutex);
    return impl_->bind_account(owner);
}

std::vector<FakeIlink::Account> FakeIlink::accounts() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<Account> valid;
    for (const auto& [token, state] : impl_->accounts) {
        if (state.valid) valid.push_back(state.account);
    }
    return valid;
}

void FakeIlink::expire_token(const std::string& token) {
    std::lock_guard lock(impl_->mutex);
    impl_->invalidate(token);
}

bool FakeIlink::token_valid(const std::string& token) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->accounts.find(token);
    return found != impl_->accounts.end() && found->second.valid;
}

std::uint64_t FakeIlink::inject(const std::string& token, json message, bool duplicate) {
    if (!message.is_object()) throw std::invalid_argument("FakeIlink::inject: not an object");
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->accounts.find(token);
    if (found == impl_->accounts.end()) throw std::invalid_argument("FakeIlink: unknown token");
    AccountState& account = found->second;
    std::int64_t now = impl_->now_ms_locked();
    std::uint64_t position = ++account.last_position;
    if (!message.contains("seq")) message["seq"] = position;
    if (!message.contains("message_id")) message["message_id"] = impl_->next_message_id++;
    if (!message.contains("from_user_id")) message["from_user_id"] = account.account.owner;
    if (!message.contains("to_user_id")) message["to_user_id"] = account.account.bot_id;
    if (!message.contains("create_time_ms")) message["create_time_ms"] = now;
    if (!message.contains("session_id"))
        message["session_id"] = std::string("s").append(std::to_string(position));
    if (!message.contains("message_type")) message["message_type"] = 1;
    if (!message.contains("message_state")) message["message_state"] = 2;
    if (message["message_type"] == 1) {
        // Each user message gets a new context token and reopens the sender's window.
        std::string context =
            crypto::base64_encode("ctx-" + std::to_string(++impl_->context_count));
        message["context_token"] = context;
        account.windows[message["from_user_id"].get<std::string>()] =
            ReplyWindow{.context_token = context, .opened_at_ms = now};
    }
    std::uint64_t id = id_of(message);
    if (duplicate) {
        account.pending.push_back(Pending{.position = position, .message = message});
        position = ++account.last_position;
    }
    account.pending.push_back(Pending{.position = position, .message = std::move(message)});
    if (account.parked_poll) wake(account.parked_poll);
    return id;
}

std::uint64_t FakeIlink::inject_text(const std::string& token, const std::string& from,
                                     const std::string& text) {
    json item{{"type", 1}, {"text_item", {{"text", text}}}};
    return inject(token, json{{"from_user_id", from}, {"item_list", json::array({item})}});
}

std::uint64_t FakeIlink::inject_voice(const std::string& token, const std::string& from,
                                      const std::string& transcript) {
    // aes_key: base64 of 32 ASCII hex characters, the form voice and files carry (§4.6).
    json media{{"encrypt_query_param", "dl-v1"},
               {"aes_key", crypto::base64_encode("000102030405060708090a0b0c0d0e0f")}};
    json voice{{"encode_type", 6},
               {"sample_rate", 24000},
               {"playtime", 1800},
               {"text", transcript},
               {"media", media}};
    json item{{"type", 3}, {"voice_item", voice}};
    return inject(token, json{{"from_user_id", from}, {"item_list", json::array({item})}});
}

std::uint64_t FakeIlink::inject_image(const std::string& token, const std::string& from) {
    json media{{"encrypt_query_param", "dl-i1"},
               {"aes_key", "AAECAwQFBgcICQoLDA0ODw=="},
               {"encrypt_type", 1}};
    json image{{"aeskey", "000102030405060708090a0b0c0d0e0f"}, {"media", media}};
    json item{{"type", 2}, {"image_item", image}};
    return inject(token, json{{"from_user_id", from}, {"item_list", json::array({item})}});
}

std::uint64_t FakeIlink::inject_quote(const std::string& token, const std::string& from,
                                      const std::string& text, std::uint64_t quoted_svr_id,
                                      const std::string& quoted_text) {
    json quoted{{"type", 1}, {"text_item", {{"text", quoted_text}}}};
    json ref{{"svr_id", quoted_svr_id}, {"title", quoted_text}, {"message_item", quoted}};
    json item{{"type", 1}, {"text_item", {{"text", text}}}, {"ref_msg", ref}};
    return inject(token, json{{"from_user_id", from}, {"item_list", json::array({item})}});
}

std::uint64_t FakeIlink::inject_group_text(const std::string& token, const std::string& from,
                                           const std::string& group_id, const std::string& text) {
    json item{{"type", 1}, {"text_item", {{"text", text}}}};
    return inject(
        token,
        json{{"from_user_id", from}, {"group_id", group_id}, {"item_list", json::array({item})}});
}

std::uint64_t FakeIlink::inject_bot_echo(const std::string& token, const std::string& text) {
    json item{{"type", 1}, {"text_item", {{"text", text}}}};
    json echo{{"message_type", 2}, {"item_list", json::array({item})}};
    {
        std::lock_guard lock(impl_->mutex);
        auto found = impl_->accounts.find(token);
        if (found == impl_->accounts.end()) throw std::invalid_argument("FakeIlink: unknown token");
        echo["from_user_id"] = found->second.account.bot_id;
        echo["to_user_id"] = found->second.account.owner;
    }
    return inject(token, std::move(echo));
}

void FakeIlink::set_next_message_id(std::uint64_t id) {
    std::lock_guard lock(impl_->mutex);
    impl_->next_message_id = id;
}

std::string FakeIlink::context_token(const std::string& token, const std::string& user) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->accounts.find(token);
    if (found == impl_->accounts.end()) return {};
    auto window = found->second.windows.find(user);
    return window == found->second.windows.end() ? std::string() : window->second.context_token;
}

std::size_t FakeIlink::pending_updates(const std::string& token) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->accounts.find(token);
    return found == impl_->accounts.end() ? 0 : found->second.pending.size();
}

void FakeIlink::set_poll_hold(std::chrono::milliseconds hold) {
    std::lock_guard lock(impl_->mutex);
    impl_->poll_hold = hold;
}

void FakeIlink::set_longpolling_timeout_ms(int timeout_ms) {
    std::lock_guard lock(impl_->mutex);
    impl_->longpolling_timeout_ms = timeout_ms;
}

void FakeIlink::fail_next(const std::string& endpoint, Failure failure, int count) {
    std::lock_guard lock(impl_->mutex);
    for (int i = 0; i < count; ++i) impl_->failures[endpoint].push_back(failure);
}

void FakeIlink::set_hang_duration(std::chrono::milliseconds duration) {
    std::lock_guard lock(impl_->mutex);
    impl_->hang_duration = duration;
}

void FakeIlink::set_next_sent_id(std::uint64_t id) {
    std::lock_guard lock(impl_->mutex);
    impl_->next_sent_id = id;
}

void FakeIlink::set_reply_window(std::chrono::milliseconds window) {
    std::lock_guard lock(impl_->mutex);
    impl_->reply_window = window;
}

std::vector<json> FakeIlink::sent_messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

bool FakeIlink::wait_for_sends(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->accepted_sends >= n; });
}

std::int64_t FakeIlink::now_ms() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->now_ms_locked();
}

void FakeIlink::advance_clock(std::chrono::milliseconds by) {
    std::lock_guard lock(impl_->mutex);
    impl_->clock_offset += by;
}

std::vector<FakeIlink::Call> FakeIlink::calls(const std::string& endpoint) const {
    std::lock_guard lock(impl_->mutex);
    if (endpoint.empty()) return impl_->recorded;
    std::vector<Call> matching;
    for (const auto& call : impl_->recorded) {
        if (call.endpoint == endpoint) matching.push_back(call);
    }
    return matching;
}

std::size_t FakeIlink::count(const std::string& endpoint) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->arrived.find(endpoint);
    return found == impl_->arrived.end() ? 0 : found->second;
}

bool FakeIlink::wait_for(const std::string& endpoint, std::size_t n,
                         std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        auto found = impl_->answered.find(endpoint);
        return found != impl_->answered.end() && found->second >= n;
    });
}

void FakeIlink::on_send(std::function<void(const nlohmann::json& msg)> hook) {
    std::lock_guard lock(impl_->mutex);
    impl_->send_hook = std::move(hook);
}

void FakeIlink::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

}  // namespace bot::testing
