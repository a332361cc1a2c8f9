// The iLink bot API ("WeChat ClawBot", /work/shared/reference/ilink.md §9) for tests, in-process
// on loopback. It checks request shapes strictly (§9.2: a broken header or body gets HTTP 400
// naming the rule; an unknown or expired bot token gets {"ret":-14}), so the adapter tests double
// as protocol conformance checks. QR login follows scripted status sequences; getupdates
// long-polls per account with a base64 "c<N>" cursor and parks on a timer (no thread per poll);
// sendmessage enforces the context token, 10 sends per inbound message and the 24 h window
// against a clock the tests can advance. message_id values are uint64 (> 2^53 by default),
// serialised as exact JSON integers.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bot::testing {

class FakeIlink {
public:
    // A bound bot account: the credentials a "confirmed" login hands out.
    struct Account {
        std::string token;   // Bearer token ("tok-<n>")
        std::string bot_id;  // "<hex>@im.bot"
        std::string owner;   // the WeChat user who scanned ("…@im.wechat")
    };

    // The statuses the next QR code's get_qrcode_status polls answer, in order (the last one
    // repeats). "need_verifycode" stays until verify_code is given; 3 wrong codes give
    // "verify_code_blocked" for good. "scaned_but_redirect" carries redirect_host.
    // "confirmed" binds a new account for owner and answers its credentials.
    struct LoginScript {
        std::vector<std::string> statuses{"wait", "scaned", "confirmed"};
        std::string verify_code = "1234";
        std::string redirect_host;  // empty: this server's "127.0.0.1:<port>"
        std::string owner = "owner@im.wechat";
    };

    // One request as received (every endpoint, also the rejected ones, while recording is on).
    struct Call {
        std::string endpoint;  // path after "/ilink/bot/": "getupdates", "msg/notifystart", …
        std::vector<std::pair<std::string, std::string>> headers;
        std::string query;
        nlohmann::json body;  // null when the body was empty or not JSON
        int http_status = 200;
        int ret = 0;  // the "ret" answered (0 also for answers without one)

        std::string header(std::string_view name) const;  // case-insensitive; "" when absent
    };

    // Injected failures for the next call(s) of an endpoint (§9.4 "fail").
    enum class Failure {
        session_timeout,  // {"ret":-14,"errcode":-14,"errmsg":"session timeout"}
        prepare_failed,   // {"ret":-2,"errmsg":"prepare failed"}
        busy,             // {"ret":1,"errmsg":"busy"}
        http_500,
        drop,          // close the connection unanswered
        hang,          // hold for hang_duration (longer than any client timeout), then drop
        silent_lapse,  // {} : no ret, no msgs, no cursor ([user] report of a lapsed login)
    };

    FakeIlink();
    ~FakeIlink();
    FakeIlink(const FakeIlink&) = delete;
    FakeIlink& operator=(const FakeIlink&) = delete;

    std::string base_url() const;      // "http://127.0.0.1:<port>" (API base, no trailing '/')
    std::string cdn_base_url() const;  // base_url() + "/c2c"

    // --- login ---
    // Scripts the next QR code handed out (FIFO); without one the default script applies.
    void script_next_login(LoginScript script);
    // true: a get_bot_qrcode POST whose local_token_list holds a valid token gets a QR whose
    // only status is "binded_redirect" (§9.3 "bound").
    void recognise_bound_tokens(bool on);
    // Holds every get_qrcode_status poll this long before answering (simulates the long poll).
    void set_login_poll_hold(std::chrono::milliseconds hold);

    // --- accounts ---
    // Binds an account without a QR login. A new binding for an owner who already has one
    // invalidates the old token ([inf] §3.3: one binding per WeChat user).
    Account add_account(const std::string& owner = "owner@im.wechat");
    std::vector<Account> accounts() const;  // the valid ones
    // The token stops working: every call with it gets -14 (§3.3).
    void expire_token(const std::string& token);
    bool token_valid(const std::string& token) const;

    // --- inbound ---
    // Queues a WeixinMessage for the account's getupdates. Fills what is missing: seq,
    // message_id (uint64, > 2^53 by default), from/to, message_type 1, message_state 2,
    // create_time_ms (fake clock), session_id and a new context_token. A USER message
    // (message_type 1) opens the sender's reply window: 10 sends within the window.
    // duplicate: queue the same message twice (same message_id), to test dedupe.
    // Returns the message_id. Throws std::invalid_argument for an unknown token.
    std::uint64_t inject(const std::string& token, nlohmann::json message, bool duplicate = false);
    std::uint64_t inject_text(const std::string& token, const std::string& from,
                              const std::string& text);
    // Voice (SILK) with the server's transcript in voice_item.text (§9.5).
    std::uint64_t inject_voice(const std::string& token, const std::string& from,
                               const std::string& transcript);
    // The §9.5 image (CDN param "dl-i1", key 000102…0f).
    std::uint64_t inject_image(const std::string& token, const std::string& from);
    // A text quoting an earlier message (ref_msg with a uint64 svr_id).
    std::uint64_t inject_quote(const std::string& token, const std::string& from,
                               const std::string& text, std::uint64_t quoted_svr_id,
                               const std::string& quoted_text);
    // A text carrying group_id. iLink is private-chat only (§4.5) and no client reads
    // group_id; this exists so the adapter can be tested to not treat it as a group.
    std::uint64_t inject_group_text(const std::string& token, const std::string& from,
                                    const std::string& group_id, const std::string& text);
    // The bot's own echo (message_type 2): the adapter must ignore it; opens no window.
    std::uint64_t inject_bot_echo(const std::string& token, const std::string& text);
    // The next injected message_id (then counting up).
    void set_next_message_id(std::uint64_t id);
    // The context_token the sender's last USER message carried; "" if none.
    std::string context_token(const std::string& token, const std::string& user) const;
    std::size_t pending_updates(const std::string& token) const;  // not yet confirmed by cursor

    // --- getupdates ---
    // How long an empty poll parks before answering {"msgs":[]} (default 30 s), and the
    // longpolling_timeout_ms it suggests (default 35000).
    void set_poll_hold(std::chrono::milliseconds hold);
    void set_longpolling_timeout_ms(int timeout_ms);

    // --- failures ---
    void fail_next(const std::string& endpoint, Failure failure, int count = 1);
    void set_hang_duration(std::chrono::milliseconds duration);  // default 60 s

    // --- sending ---
    // Outbound message ids answered by sendmessage start here (default 2^62 + 1).
    void set_next_sent_id(std::uint64_t id);
    // The reply window after a user's message (default 24 h, [maint] §7.3).
    void set_reply_window(std::chrono::milliseconds window);
    // "msg" objects of accepted sendmessage calls, in order.
    std::vector<nlohmann::json> sent_messages() const;
    bool wait_for_sends(std::size_t n,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    // --- clock ---
    // The fake's notion of now (system clock + advanced offset), in ms since the epoch.
    std::int64_t now_ms() const;
    void advance_clock(std::chrono::milliseconds by);

    // --- observation ---
    // Answered calls, in order; empty endpoint: all.
    std::vector<Call> calls(const std::string& endpoint = {}) const;
    // Requests that arrived (a parked getupdates counts at once; also when not recording).
    std::size_t count(const std::string& endpoint) const;
    // Blocks until n calls of endpoint were answered (true) or timeout passed (false).
    bool wait_for(const std::string& endpoint, std::size_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // false: stop storing calls and sent messages (counts go on), so benches stay flat.
    void record(bool on);
    // Called with each accepted sendmessage's "msg" (on a server thread, no lock held; it may
    // inject). Set before traffic starts; nullptr removes it.
    void on_send(std::function<void(const nlohmann::json& msg)> hook);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Wire helpers shared with the tests: X-WECHAT-UIN of a uint32 (§10) and the packed
// iLink-App-ClientVersion of "major.minor.patch".
std::string ilink_uin_header(std::uint32_t uin);
std::uint32_t ilink_client_version(int major, int minor, int patch);

}  // namespace bot::testing
