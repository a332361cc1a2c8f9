// The access_token cache: one fetch for concurrent callers, refresh before expiry, refetch
// (forced when needed) after the platform refuses a token.
#include "base/access_token.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace bot;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

struct Platform {
    std::atomic<int> calls{0};
    std::atomic<int> forced{0};
    std::string token = "T1";
    std::chrono::seconds expires_in{7200};
    bool fail = false;

    TokenFetcher fetcher() {
        return [this](bool force) -> net::awaitable<TokenResult> {
            ++calls;
            if (force) {
                ++forced;
                token = "T" + std::to_string(calls.load());
            }
            co_await bot::sleep_for(20ms);  // concurrent callers pile up meanwhile
            if (fail) co_return TokenResult(boost::system::in_place_error, "platform down");
            co_return FetchedToken{.token = token, .expires_in = expires_in};
        };
    }
};

struct Pool {
    Pool() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~Pool() {
        work.reset();
        for (auto& t : threads) t.join();
    }
    std::string get(AccessToken& cache) {
        auto result = net::co_spawn(io, cache.get(), net::use_future).get();
        return result ? *result : "error: " + result.error().reason;
    }
    net::io_context io;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
    std::vector<std::thread> threads;
};

}  // namespace

TEST_CASE("access_token: concurrent callers share one fetch", "[access_token]") {
    Platform platform;
    AccessToken cache(platform.fetcher());
    Pool pool;
    std::vector<std::future<boost::system::result<std::string, TokenError>>> gets;
    for (int i = 0; i < 20; ++i)
        gets.push_back(net::co_spawn(pool.io, cache.get(), net::use_future));
    for (auto& get : gets) {
        auto token = get.get();
        REQUIRE(token.has_value());
        CHECK(*token == "T1");
    }
    CHECK(platform.calls == 1);
    CHECK(pool.get(cache) == "T1");  // cached
    CHECK(platform.calls == 1);
}

TEST_CASE("access_token: a refused token is fetched again, forced if it comes back",
          "[access_token]") {
    Platform platform;
    AccessToken cache(platform.fetcher());
    Pool pool;
    CHECK(pool.get(cache) == "T1");
    cache.refused("T1");
    // WeChat's stable_token hands back the same token until it renews it: ask with force.
    CHECK(pool.get(cache) == "T3");
    CHECK(platform.calls == 3);
    CHECK(platform.forced == 1);
    // A refusal of a token already replaced changes nothing.
    cache.refused("T1");
    CHECK(pool.get(cache) == "T3");
    CHECK(platform.calls == 3);
}

TEST_CASE("access_token: refreshed before expiry; a failed refresh keeps the old token",
          "[access_token]") {
    Platform platform;
    platform.expires_in = 2s;  // with 1 s margin: refresh after 1 s, expired after ~1.8 s
    AccessToken cache(platform.fetcher(), 1s);
    Pool pool;
    CHECK(pool.get(cache) == "T1");
    std::this_thread::sleep_for(1100ms);
    platform.fail = true;
    CHECK(pool.get(cache) == "T1");  // due for refresh, refresh failed, still valid: used
    std::this_thread::sleep_for(900ms);
    CHECK(pool.get(cache).starts_with("error: platform down"));  // expired and no new one
    platform.fail = false;
    platform.token = "T9";
    CHECK(pool.get(cache) == "T9");
}
