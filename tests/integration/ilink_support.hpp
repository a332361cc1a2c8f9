// Shared by the wechat_ilink integration tests: the adapter's config section against a
// FakeIlink, and accounts written straight into the bot's database (as ilink-login would).
#pragma once

#include "fakes/fake_ilink.hpp"
#include "integration/harness.hpp"
#include "storage/sqlite_store.hpp"
#include "wechat_ilink/ilink_accounts.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <optional>
#include <thread>

namespace bot::testing {

// Short waits instead of Tencent's 1 s / 2 s / 30 s, and new bindings picked up at once.
inline nlohmann::json ilink_section(const FakeIlink& fake, nlohmann::json extra = {}) {
    nlohmann::json section{{"type", "wechat_ilink"},    {"api_base", fake.base_url()},
                           {"typing", false},           {"account_scan_ms", 100},
                           {"qr_poll_interval_ms", 20}, {"poll_retry_ms", 50},
                           {"poll_backoff_ms", 200}};
    if (extra.is_object()) section.update(extra);
    return section;
}

inline BotOptions with_ilink(const FakeIlink& fake, nlohmann::json extra = {}) {
    BotOptions options;
    options.adapters["wx"] = ilink_section(fake, std::move(extra));
    return options;
}

template <class T>
T run_blocking(boost::asio::awaitable<T> operation) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, std::move(operation), boost::asio::use_future);
    io.run();
    return result.get();
}

inline std::string db_path(const std::filesystem::path& dir) {
    return (dir / "bot.db").string();
}

// Writes the account record the way ilink-login does (another connection to the same file).
inline void store_account(const std::filesystem::path& dir, const FakeIlink& fake,
                          const FakeIlink::Account& account) {
    storage::SqliteStore store({.path = db_path(dir)});
    adapters::wechat_ilink::BoundAccount record{.bot_id = account.bot_id,
                                                .token = account.token,
                                                .base_url = fake.base_url(),
                                                .owner = account.owner,
                                                .bound_at_ms = 1};
    run_blocking(store.put_state("wx", adapters::wechat_ilink::kAccountKind, account.bot_id,
                                 adapters::wechat_ilink::encode_account(record)));
}

inline std::optional<adapters::wechat_ilink::BoundAccount> stored_account(
    const std::filesystem::path& dir, const std::string& bot_id) {
    storage::SqliteStore store({.path = db_path(dir)});
    auto value = run_blocking(store.get_state("wx", adapters::wechat_ilink::kAccountKind, bot_id));
    if (!value) return std::nullopt;
    return adapters::wechat_ilink::decode_account(*value);
}

// A Catch fixture: one bound account whose owner talks to the bot. The account is stored before
// the bot starts; script the fakes, then start().
struct IlinkChat {
    static constexpr const char* kOwner = "owner@im.wechat";

    IlinkChat() {
        fake.set_poll_hold(std::chrono::milliseconds(200));
        account = fake.add_account(kOwner);
        store_account(dir.path(), fake, account);
    }
    TestBot& start(nlohmann::json extra = {}, int llm_timeout_s = 5) {
        auto options = with_ilink(fake, std::move(extra));
        options.llm_timeout_s = llm_timeout_s;
        bot_.emplace(llm, dir.path(), options);
        return *bot_;
    }
    void stop() { bot_.reset(); }
    void say(const std::string& text) { fake.inject_text(account.token, kOwner, text); }

    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    FakeIlink::Account account;

private:
    std::optional<TestBot> bot_;  // last: stops before the fakes
};

// Whether the server has polled getupdates with this account's token (it serves the account).
inline bool polled_with(const FakeIlink& fake, const std::string& token) {
    for (const auto& call : fake.calls("getupdates")) {
        if (call.header("Authorization") == "Bearer " + token) return true;
    }
    return false;
}

}  // namespace bot::testing
