// The self-service binding page under hostile input: malformed JSON fields are refused with 400,
// and many networks starting logins cannot lock out another one. Clients of different networks
// are different loopback addresses (127.0.N.1: every 127/8 address is local on Linux).
#include "integration/ilink_support.hpp"

#include <curl/curl.h>
#include <catch2/catch.hpp>

#include <memory>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

size_t append(char* data, size_t size, size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

// POST bind/start from the given local address; the status and the body.
std::pair<long, json> start_from(TestBot& bot, const std::string& address) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    std::string url = bot.url("/ilink/wx/bind/start");
    std::string body;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(curl.get(), CURLOPT_INTERFACE, address.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    REQUIRE(curl_easy_perform(curl.get()) == CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    return {status, json::parse(body, nullptr, false)};
}

std::string address_in_network(int network) {
    return "127.0." + std::to_string(network) + ".1";
}

json binding_status(TestBot& bot, const std::string& session) {
    auto response = http_request("GET", bot.url("/ilink/wx/bind/status?session=" + session));
    REQUIRE(response.status == 200);
    return json::parse(response.body);
}

// Logins that stay unscanned (or scanned) as long as the test runs.
void script_logins(FakeIlink& fake, int count, const std::string& status = "wait") {
    for (int i = 0; i < count; ++i) {
        FakeIlink::LoginScript login;
        login.statuses = {status};
        fake.script_next_login(login);
    }
}

}  // namespace

TEST_CASE("ilink binding page: fields of the wrong type are refused with 400",
          "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    FakeIlink::LoginScript login;
    login.statuses = {"need_verifycode", "confirmed"};
    fake.script_next_login(login);
    TestBot bot(llm, dir.path(), with_ilink(fake, {{"self_service", true}}));
    auto [status, started] = start_from(bot, "127.0.0.1");
    REQUIRE(status == 200);
    std::string session = started.at("session");
    REQUIRE(eventually([&] { return binding_status(bot, session).at("state") == "need_code"; }));

    auto code_url = bot.url("/ilink/wx/bind/code?session=" + session);
    for (const char* body :
         {R"({"code":5})", R"({"code":null})", R"({"code":["1"]})", R"({"code":{"a":"1"}})",
          R"({"code":true})", R"({})", R"([])", R"("1234")", R"(1234)", "not json", ""}) {
        INFO(body);
        auto response = http_request("POST", code_url, body, {"Content-Type: application/json"});
        CHECK(response.status == 400);
        CHECK(json::parse(response.body).at("error") == "Enter the digits shown on your phone.");
    }
    CHECK(http_request("POST", bot.url("/ilink/wx/bind/code"), R"({"code":"1"})").status == 404);
    CHECK(http_request("GET", bot.url("/ilink/wx/bind/status")).status == 404);
    CHECK(http_request("GET", bot.url("/ilink/wx/bind/status?session=%ff%00")).status == 404);
    // The session is unharmed: the right number still binds.
    auto good = http_request("POST", code_url, R"({"code":"1234"})");
    CHECK(good.status == 200);
    REQUIRE(eventually([&] { return binding_status(bot, session).at("state") == "confirmed"; }));
    CHECK(bot.log_text().find("ERROR") == std::string::npos);
}

TEST_CASE("ilink binding page: twenty networks starting logins cannot lock out another",
          "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_login_poll_hold(300ms);
    script_logins(fake, 200);
    TestBot bot(llm, dir.path(),
                with_ilink(fake, {{"self_service", true},
                                  {"qr_poll_interval_ms", 200},
                                  {"bind_starts_per_hour", 100},
                                  {"bind_live_logins", 40},
                                  {"bind_live_logins_per_network", 5}}));
    // Each of 20 networks starts as many logins as it is let: 5 each (its own cap) until all 40
    // places are taken, then networks with fewer take places from those with most.
    std::map<int, std::vector<std::string>> sessions;  // by network
    int refused = 0;
    for (int network = 1; network <= 20; ++network) {
        for (int i = 0; i < 8; ++i) {
            auto [status, body] = start_from(bot, address_in_network(network));
            if (status == 200) {
                sessions[network].push_back(body.at("session"));
            } else {
                CHECK(status == 429);
                ++refused;
            }
        }
    }
    CHECK(refused > 0);

    // A 21st network is let in, though all places were taken.
    auto [status, body] = start_from(bot, address_in_network(21));
    REQUIRE(status == 200);
    std::string newcomer = body.at("session");
    CHECK(eventually([&] { return binding_status(bot, newcomer).at("state") == "qr"; }));

    // Never more than 40 live; the withdrawn ones' pages are told to start again; shares even.
    int live = 0, withdrawn = 0;
    for (const auto& [network, ids] : sessions) {
        int live_here = 0;
        for (const auto& id : ids) {
            auto state = binding_status(bot, id);
            if (state.at("state") == "expired") {
                CHECK(state.at("text").get<std::string>().find("start again") != std::string::npos);
                CHECK_FALSE(state.contains("qr_svg"));
                ++withdrawn;
            } else {
                ++live_here;
            }
        }
        CHECK(live_here <= 2);
        live += live_here;
    }
    CHECK(live + 1 <= 40);
    CHECK(withdrawn > 0);
    // The same network cannot take a second place: 21 networks share 40 fairly already.
    CHECK(start_from(bot, address_in_network(21)).first == 429);
    CHECK(bot.log_text().find("ERROR") == std::string::npos);
}

TEST_CASE("ilink binding page: scanned logins keep their place, one network has its own cap",
          "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_login_poll_hold(300ms);
    script_logins(fake, 2, "scaned");
    TestBot bot(llm, dir.path(),
                with_ilink(fake, {{"self_service", true},
                                  {"qr_poll_interval_ms", 200},
                                  {"bind_live_logins", 2},
                                  {"bind_live_logins_per_network", 2}}));
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) ids.push_back(start_from(bot, "127.0.1.1").second.at("session"));
    CHECK(start_from(bot, "127.0.1.2").first == 429);  // same /24: the network's cap
    for (const auto& id : ids)
        REQUIRE(eventually([&] { return binding_status(bot, id).at("state") == "scanned"; }));
    // Full, and nobody's login may be withdrawn: the other network waits.
    CHECK(start_from(bot, "127.0.2.1").first == 429);
    for (const auto& id : ids) CHECK(binding_status(bot, id).at("state") == "scanned");
}

TEST_CASE("ilink binding page: limits are validated", "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    auto options = with_ilink(fake, {{"bind_live_logins", 5}, {"bind_live_logins_per_network", 6}});
    bot::ConfigErrors errors;
    bot::App::validate(make_config(llm.base_url(), dir.path(), options), errors);
    CHECK_THAT(errors.joined(), Catch::Contains("adapters.wx.bind_live_logins_per_network: must "
                                                "not be more than bind_live_logins (5)"));
}
