#include "bench/chaos_users.hpp"

#include "bench/server_process.hpp"
#include "fakes/test_http.hpp"
#include "fakes/ws_client.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

namespace bench::chaos {

namespace {

namespace testing = bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kTelegramReplyWait = 150s;  // a Telegram user then sends its next message

void think(const ChaosSpec& spec, std::mt19937& random) {
    auto most = static_cast<int>(spec.think.count());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, most)(random)));
}

void back_off(int attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250 * std::min(attempt, 8)));
}

// POSTs until the server answers 200 (as a platform redelivers) or the scenario ends.
std::optional<testing::TestResponse> post_until_ok(Ledger& ledger, char path,
                                                   const std::string& url, const std::string& body,
                                                   const std::vector<std::string>& headers,
                                                   long timeout_ms) {
    for (int attempt = 1; !ledger.over(); ++attempt) {
        try {
            auto response = testing::http_request("POST", url, body, headers, timeout_ms);
            if (response.status == 200) return response;
        } catch (const std::exception&) {
            // refused (the server is down) or cut off (killed mid-request): send it again
        }
        ledger.retried(path);
        back_off(attempt);
    }
    return std::nullopt;
}

// A web chat page of one user: reconnects when its socket drops, reads the history it gets
// on connecting, and sends again what has no answer there.
class WebchatPage {
public:
    WebchatPage(Ledger& ledger, int user) : ledger_(ledger), user_(user) {
        char hex[33];
        std::snprintf(hex, sizeof hex, "%016x%016x", 0xC4A05u, static_cast<unsigned>(user));
        identity_ = hex;
        origin_ = ledger.base_url();
    }

    // True when message k got its answer (in a done frame or in the history).
    bool send(int k) {
        const std::string text = message_text('w', user_, k);
        const std::string id = "m" + std::to_string(k);
        while (!ledger_.over()) {
            if (!socket_) {
                if (!connect()) return false;
                read_history();
                if (ledger_.has_answer('w', user_, k)) return true;
            }
            try {
                socket_->send(json{{"type", "message"}, {"id", id}, {"text", text}});
            } catch (const std::exception&) {
                drop();
                continue;
            }
            if (await_done(k)) return true;
        }
        return false;
    }

    // After the load: the stored history (each message once) and every id sent again.
    void verify(int sent) {
        drop();
        if (!connect()) return;
        read_history(true);
        for (int k = 0; k < sent && !ledger_.over(); ++k) send(k);
    }

private:
    bool connect() {
        for (int attempt = 1; !ledger_.over(); ++attempt) {
            try {
                socket_ =
                    std::make_unique<testing::WsClient>(ledger_.port(), "/webchat/ws", origin_);
                socket_->send(json{{"type", "hello"}, {"user", identity_}});
                while (auto frame = socket_->next(10s)) {
                    if (frame->value("type", "") != "ready") continue;
                    history_ = (*frame)["history"];
                    return true;
                }
            } catch (const std::exception&) {
                // the server is down or went down during the handshake
            }
            socket_.reset();
            ledger_.retried('w');
            back_off(attempt);
        }
        return false;
    }

    // The history's user turns and the replies that follow them count as answers.
    void read_history(bool count_copies = false) {
        if (!history_.is_array()) return;
        for (std::size_t i = 0; i < history_.size(); ++i) {
            const auto& turn = history_[i];
            if (turn.value("role", "") != "user") continue;
            const std::string said = turn.value("text", "");
            std::string prefix = "w" + std::to_string(user_) + " m";
            int k = 0;
            if (!said.starts_with(prefix)) continue;
            auto [end, error] =
                std::from_chars(said.data() + prefix.size(), said.data() + said.size(), k);
            if (error != std::errc{} || end != said.data() + said.size()) continue;
            std::string reply;
            if (i + 1 < history_.size() && history_[i + 1].value("role", "") == "assistant")
                reply = history_[i + 1].value("text", "");
            if (count_copies) {
                ledger_.in_history(user_, k, reply);
            } else if (!reply.empty()) {
                ledger_.answered('w', user_, k, reply);
            }
        }
    }

    // Reads frames until message k's done (true), or the socket fails (false, dropped).
    bool await_done(int k) {
        for (;;) {
            std::optional<json> frame;
            try {
                frame = socket_->next(30s);
            } catch (const std::exception&) {
                frame.reset();
            }
            if (!frame) {
                drop();
                return false;
            }
            const std::string type = frame->value("type", "");
            if (type == "done") {
                auto done_k = id_number(frame->value("id", ""));
                if (!done_k) {
                    ledger_.unexpected();
                    continue;
                }
                ledger_.answered('w', user_, *done_k, frame->value("text", ""));
                if (*done_k == k) return true;
            } else if (type == "error") {
                const std::string code = frame->value("code", "");
                if (code == "not_ready") continue;  // the done follows
                if (code != "rate_limited") ledger_.unexpected();
                std::this_thread::sleep_for(1s);
                return false;  // sent again
            }
        }
    }

    void drop() { socket_.reset(); }

    Ledger& ledger_;
    const int user_;
    std::string identity_;
    std::string origin_;
    std::unique_ptr<testing::WsClient> socket_;
    json history_;
};

}  // namespace

void telegram_user(Ledger& ledger, const ChaosSpec& spec, int user) {
    std::mt19937 random(1000 + static_cast<std::uint32_t>(user));
    const std::string url = ledger.base_url() + "/telegram/" + kTelegramAdapter;
    const std::vector<std::string> headers{
        "Content-Type: application/json",
        std::string("X-Telegram-Bot-Api-Secret-Token: ").append(kSecretToken)};
    const std::int64_t chat = kFirstChat + user;
    for (int k = 0; ledger.loading(); ++k) {
        // Update ids only grow, per bot; users take them from disjoint ranges.
        const std::int64_t update_id = std::int64_t{user} * 1'000'000 + k + 1;
        json update = {{"update_id", update_id},
                       {"message",
                        {{"message_id", k + 1},
                         {"date", 1700000000},
                         {"chat", {{"id", chat}, {"type", "private"}}},
                         {"from", {{"id", chat}, {"is_bot", false}, {"first_name", "T"}}},
                         {"text", message_text('t', user, k)}}}};
        ledger.sending('t', user, k);
        if (!post_until_ok(ledger, 't', url, update.dump(), headers, 15000)) return;
        ledger.wait_for_telegram(user, k, kTelegramReplyWait);
        think(spec, random);
    }
}

void api_user(Ledger& ledger, const ChaosSpec& spec, int user) {
    std::mt19937 random(2000 + static_cast<std::uint32_t>(user));
    const std::string url = ledger.base_url() + "/api/v1/messages";
    const std::vector<std::string> headers{"Content-Type: application/json",
                                           std::string("Authorization: Bearer ").append(kApiToken)};
    auto ask = [&](int k) {
        json body = {{"user", "a" + std::to_string(user)},
                     {"message_id", "m" + std::to_string(k)},
                     {"text", message_text('a', user, k)}};
        auto response = post_until_ok(ledger, 'a', url, body.dump(), headers, 75000);
        if (!response) return false;
        auto answer = json::parse(response->body, nullptr, false);
        if (!answer.is_object() || !answer.contains("reply") || !answer["reply"].is_string()) {
            ledger.unexpected();
            return false;
        }
        ledger.answered('a', user, k, answer["reply"].get<std::string>());
        return true;
    };
    int sent = 0;
    for (; ledger.loading(); ++sent) {
        ledger.sending('a', user, sent);
        if (!ask(sent)) return;
        think(spec, random);
    }
    // Once more with every id, as a client unsure of its earlier tries: a stored answer comes
    // back; a different one would be a second answer.
    for (int k = 0; k < sent && !ledger.over(); ++k) ask(k);
}

void webchat_user(Ledger& ledger, const ChaosSpec& spec, int user) {
    std::mt19937 random(3000 + static_cast<std::uint32_t>(user));
    WebchatPage page(ledger, user);
    int sent = 0;
    for (; ledger.loading(); ++sent) {
        ledger.sending('w', user, sent);
        if (!page.send(sent)) return;
        think(spec, random);
    }
    page.verify(sent);
}

}  // namespace bench::chaos
