// FakeIlink's insides, shared by fake_ilink.cpp (the test-facing API) and
// fake_ilink_server.cpp (the HTTP endpoints). Tests include fake_ilink.hpp only.
#pragma once

#include "base/crypto.hpp"
#include "bot/http/router.hpp"
#include "fakes/fake_ilink.hpp"
#include "fakes/loopback_server.hpp"

#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace bot::testing {

namespace net = boost::asio;
using nlohmann::json;

namespace ilink_detail {

inline constexpr std::uint64_t kFirstInboundId = 9007199254740993ULL;  // 2^53 + 1: not a double
inline constexpr std::uint64_t kFirstSentId = (1ULL << 62) + 1;
inline constexpr int kSendsPerInbound = 10;  // [user] §5.4: 10 replies per inbound message
inline constexpr const char* kTypingTicket = "dGlja2V0LTE=";

http::Response answer(const json& body);

// §9.2: a broken rule is a 400 whose text names it, so test output shows what went wrong.
http::Response rule_broken(const std::string& rule);

// [inf] §9.2: the shape of an expired-session answer.
json session_timeout_body();

json prepare_failed_body();

bool is_decimal(std::string_view text, std::size_t max_digits);

// X-WECHAT-UIN: base64 of a uint32 written in decimal (no leading zeros but "0").
std::optional<std::uint32_t> parse_uin(std::string_view header);

std::string encode_cursor(std::uint64_t position);

std::optional<std::uint64_t> decode_cursor(std::string_view cursor);

bool is_nonempty_string(const json& object, const char* key);

std::uint64_t id_of(const json& message);

void wake(const std::shared_ptr<net::steady_timer>& timer);

// The reply window one inbound USER message opens for its sender.
struct ReplyWindow {
    std::string context_token;
    std::int64_t opened_at_ms = 0;
    int sends_left = kSendsPerInbound;
};

struct Pending {
    std::uint64_t position;  // what the cursor counts
    json message;
};

// Kept small: a benchmark holds 10,000 of these with a parked poll each.
struct AccountState {
    FakeIlink::Account account;
    bool valid = true;
    std::vector<Pending> pending;  // a vector: empty costs no allocation (a deque would)
    std::uint64_t last_position = 0;
    std::optional<std::uint32_t> last_uin;
    std::shared_ptr<net::steady_timer> parked_poll;
    std::map<std::string, ReplyWindow, std::less<>> windows;  // by user
};

struct QrSession {
    FakeIlink::LoginScript script;
    std::size_t next = 0;
    int wrong_codes = 0;
    bool blocked = false;
    std::optional<FakeIlink::Account> bound;  // set by "confirmed"
};

}  // namespace ilink_detail

struct FakeIlink::Impl {
    Impl();

    net::awaitable<http::Response> handle(http::Request& request);

    net::awaitable<http::Response> dispatch(const http::Request& request, const Call& call);

    void note_answer(Call call, const http::Response& response);

    static std::optional<http::Response> check_post_headers(const http::Request& request);

    static std::optional<http::Response> check_app_headers(const http::Request& request);

    std::optional<http::Response> check_authenticated(const http::Request& request,
                                                      const json& body, std::string& token);

    http::Response get_bot_qrcode(const http::Request& request, const json& body);

    net::awaitable<http::Response> qrcode_status(const http::Request& request);

    json next_status(const std::string& qrcode, const std::optional<std::string>& verify_code);

    Account bind_account(const std::string& owner);

    void invalidate(const std::string& token);  // the caller holds the mutex

    std::optional<Failure> take_failure(const std::string& endpoint);

    net::awaitable<http::Response> fail(Failure failure);

    json take_updates(ilink_detail::AccountState& account, const std::string& cursor_given) const;

    net::awaitable<http::Response> get_updates(const std::string& token, const json& body);

    http::Response send_message(const std::string& token, const json& body);

    static http::Response get_config(const json& body);

    static http::Response send_typing(const json& body);

    static http::Response get_upload_url(const json& body);

    std::int64_t now_ms_locked() const;

    // ---- request entry ----

    // ---- §9.2 checks ----

    // The headers every POST carries (§2.1); the QR-code POST has them too, minus Authorization.

    // On success, token is the caller's bound bot token.

    // ---- login ----

    // The caller holds the mutex.

    // ---- failures ----

    // ---- getupdates ----

    // Messages after the cursor, and the cursor that confirms them (the caller holds the mutex).

    // ---- sending ----

    // ---- state ----

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::unordered_map<std::string, ilink_detail::AccountState> accounts;  // by token; never erased
    std::map<std::string, std::string, std::less<>> owner_token;
    std::map<std::string, ilink_detail::QrSession, std::less<>> qr_sessions;
    std::deque<LoginScript> scripts;
    std::map<std::string, std::deque<Failure>, std::less<>> failures;
    std::map<std::string, std::size_t, std::less<>> arrived;
    std::map<std::string, std::size_t, std::less<>> answered;
    std::vector<Call> recorded;
    std::vector<json> sent;
    std::size_t accepted_sends = 0;
    bool recording = true;
    std::function<void(const json&)> send_hook;
    bool recognise_bound = false;
    int qr_count = 0;
    int account_count = 0;
    std::uint64_t next_message_id = ilink_detail::kFirstInboundId;
    std::uint64_t next_sent_id = ilink_detail::kFirstSentId;
    std::uint64_t context_count = 0;
    std::chrono::milliseconds login_hold{0};
    std::chrono::milliseconds poll_hold{30000};
    std::chrono::milliseconds hang_duration{60000};
    std::chrono::milliseconds reply_window{std::chrono::hours(24)};
    std::chrono::milliseconds clock_offset{0};
    int longpolling_timeout_ms = 35000;
    LoopbackServer server;  // last: stopped first, while the state above still exists
};

}  // namespace bot::testing
