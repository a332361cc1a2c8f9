// Binding WeChat accounts to wechat_ilink: `contactbot ilink-login` through every QR status
// (run in-process, with its input and output as streams) and the self-service page's HTTP API,
// both against FakeIlink, with a running server picking the new account up.
#include "adapters/registry.hpp"
#include "bot/adapter_commands.hpp"
#include "integration/ilink_support.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct LoginRun {
    int status = -1;
    std::string output;
};

LoginRun terminal_login(const FakeLlm& llm, const std::filesystem::path& dir,
                        const BotOptions& options, const std::string& input = "") {
    auto config = make_config(llm.base_url(), dir, options);
    std::istringstream in(input);
    std::ostringstream out;
    bot::Logger log(bot::LogLevel::off);
    LoginRun run;
    const auto& commands = bot::adapters::builtin_commands();
    auto login = std::find_if(commands.begin(), commands.end(), [](const auto& entry) {
        return entry.command.name == "ilink-login";
    });
    REQUIRE(login != commands.end());
    run.status = bot::run_adapter_command(*login, config, "wx", log, in, out, out,
                                          /*unicode=*/false);
    run.output = out.str();
    return run;
}

FakeIlink::LoginScript script(std::vector<std::string> statuses) {
    FakeIlink::LoginScript login;
    login.statuses = std::move(statuses);
    return login;
}

json start_binding(TestBot& bot, long expected = 200) {
    auto response = http_request("POST", bot.url("/ilink/wx/bind/start"), "{}",
                                 {"Content-Type: application/json"});
    REQUIRE(response.status == expected);
    return json::parse(response.body);
}

json binding_status(TestBot& bot, const std::string& session) {
    auto response = http_request("GET", bot.url("/ilink/wx/bind/status?session=" + session));
    REQUIRE(response.status == 200);
    return json::parse(response.body);
}

json wait_for_state(TestBot& bot, const std::string& session, const std::string& state) {
    json status;
    eventually([&] {
        status = binding_status(bot, session);
        return status.at("state") == state;
    });
    return status;
}

}  // namespace

TEST_CASE("ilink-login binds an account that the running server then answers",
          "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto options = with_ilink(fake);
    TestBot bot(llm, dir.path(), options);

    auto run = terminal_login(llm, dir.path(), options);
    INFO(run.output);
    CHECK(run.status == 0);
    CHECK(run.output.find("QR code 1: https://liteapp.weixin.qq.com/q/fake-") != std::string::npos);
    CHECK(run.output.find("##") != std::string::npos);  // the QR code itself
    CHECK(run.output.find("Scanned") != std::string::npos);
    REQUIRE(fake.accounts().size() == 1);
    auto account = fake.accounts().front();
    CHECK(run.output.find(account.token) == std::string::npos);  // never shown
    auto stored = stored_account(dir.path(), account.bot_id);
    REQUIRE(stored);
    CHECK(stored->owner == "owner@im.wechat");
    CHECK(std::filesystem::status(dir.path() / "bot.db").permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

    REQUIRE(eventually([&] { return polled_with(fake, account.token); }));
    fake.inject_text(account.token, "owner@im.wechat", "hi bot");
    REQUIRE(fake.wait_for_sends(1));
    CHECK(fake.sent_messages().at(0).at("item_list").at(0).at("text_item").at("text") ==
          "echo: hi bot");
}

TEST_CASE("ilink-login asks for the verify code again after a wrong one, from a pipe",
          "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.script_next_login(script({"wait", "need_verifycode", "scaned", "confirmed"}));
    auto run = terminal_login(llm, dir.path(), with_ilink(fake), "1111\n 1234 \n");
    INFO(run.output);
    CHECK(run.status == 0);
    CHECK(run.output.find("Enter the number shown on your phone") != std::string::npos);
    CHECK(run.output.find("That number was wrong") != std::string::npos);
    bool sent_right_code = false;
    for (const auto& call : fake.calls("get_qrcode_status"))
        sent_right_code =
            sent_right_code || call.query.find("verify_code=1234") != std::string::npos;
    CHECK(sent_right_code);
    CHECK(fake.accounts().size() == 1);
}

TEST_CASE("ilink-login fails with status 4 when the verify code is blocked or not given",
          "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    auto options = with_ilink(fake, {{"max_qr_refreshes", 0}});
    SECTION("three wrong codes") {
        fake.script_next_login(script({"need_verifycode", "confirmed"}));
        auto run = terminal_login(llm, dir.path(), options, "1\n2\n3\n");
        INFO(run.output);
        CHECK(run.status == 4);
        CHECK(run.output.find("Too many wrong numbers") != std::string::npos);
    }
    SECTION("end of input") {
        fake.script_next_login(script({"need_verifycode", "confirmed"}));
        auto run = terminal_login(llm, dir.path(), options, "");
        CHECK(run.status == 4);
    }
    CHECK(fake.accounts().empty());
}

TEST_CASE("ilink-login shows a new QR code after expiry, within the refresh limit",
          "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    SECTION("the second QR code is scanned") {
        fake.script_next_login(script({"wait", "expired"}));
        fake.script_next_login(script({"scaned", "confirmed"}));
        auto run = terminal_login(llm, dir.path(), with_ilink(fake));
        INFO(run.output);
        CHECK(run.status == 0);
        CHECK(run.output.find("QR code 2: ") != std::string::npos);
        CHECK(fake.count("get_bot_qrcode") == 2);
    }
    SECTION("every QR code expires") {
        fake.script_next_login(script({"expired"}));
        fake.script_next_login(script({"expired"}));
        fake.script_next_login(script({"expired"}));
        auto run = terminal_login(llm, dir.path(), with_ilink(fake, {{"max_qr_refreshes", 1}}));
        INFO(run.output);
        CHECK(run.status == 3);
        CHECK(fake.count("get_bot_qrcode") == 2);
        CHECK(run.output.find("expired") != std::string::npos);
    }
}

TEST_CASE("ilink-login follows scaned_but_redirect to the new host", "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    // The API base names "localhost"; the redirect names 127.0.0.1: the Host header tells which
    // one each status poll went to.
    std::string base = fake.base_url();
    base.replace(base.find("127.0.0.1"), 9, "localhost");
    fake.script_next_login(script({"wait", "scaned_but_redirect", "scaned", "confirmed"}));
    auto run = terminal_login(llm, dir.path(), with_ilink(fake, {{"api_base", base}}));
    INFO(run.output);
    CHECK(run.status == 0);
    auto polls = fake.calls("get_qrcode_status");
    REQUIRE(polls.size() == 4);
    CHECK(polls.at(1).header("Host").starts_with("localhost"));
    CHECK(polls.at(2).header("Host").starts_with("127.0.0.1"));
    CHECK(polls.at(3).header("Host").starts_with("127.0.0.1"));
}

TEST_CASE("ilink-login: an already bound bot (binded_redirect) and a full adapter",
          "[wechat_ilink][login]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    auto existing = fake.add_account("owner@im.wechat");
    store_account(dir.path(), fake, existing);
    SECTION("binded_redirect keeps the stored account") {
        fake.recognise_bound_tokens(true);
        auto run = terminal_login(llm, dir.path(), with_ilink(fake));
        INFO(run.output);
        CHECK(run.status == 0);
        CHECK(run.output.find("already bound") != std::string::npos);
        auto request = fake.calls("get_bot_qrcode").at(0).body;
        CHECK(request.at("local_token_list") == json::array({existing.token}));
        CHECK(fake.accounts().size() == 1);
    }
    SECTION("max_accounts reached") {
        auto run = terminal_login(llm, dir.path(), with_ilink(fake, {{"max_accounts", 1}}));
        CHECK(run.status == 5);
        CHECK(fake.count("get_bot_qrcode") == 0);
    }
}

TEST_CASE("ilink binding page: QR, verify code, bound, and the account is answered",
          "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    // The owner's earlier binding has expired (-14): the page is how they bind again.
    auto old = fake.add_account("owner@im.wechat");
    store_account(dir.path(), fake, old);
    fake.expire_token(old.token);
    TestBot bot(llm, dir.path(), with_ilink(fake, {{"self_service", true}, {"title", "Ada <3"}}));
    REQUIRE(eventually([&] {
        auto stored = stored_account(dir.path(), old.bot_id);
        return stored && !stored->active();
    }));

    auto page = http_request("GET", bot.url("/ilink/wx/bind"));
    REQUIRE(page.status == 200);
    CHECK(page.body.find("bind/start") != std::string::npos);
    CHECK(page.body.find("Ada &lt;3") != std::string::npos);
    CHECK(page.headers.find("Content-Security-Policy") != std::string::npos);
    auto chat_page = http_request("GET", bot.url("/"));  // the web chat links to the page
    CHECK(chat_page.body.find(
              R"x({"label":"Chat on WeChat (\u5fae\u4fe1)","path":"/ilink/wx/bind"})x") !=
          std::string::npos);

    fake.script_next_login(script({"wait", "need_verifycode", "scaned", "confirmed"}));
    auto session = start_binding(bot).at("session").get<std::string>();
    auto status = wait_for_state(bot, session, "need_code");
    CHECK(status.at("qr_svg").get<std::string>().find("<svg") != std::string::npos);
    CHECK(status.at("qr_url").get<std::string>().starts_with("https://liteapp.weixin.qq.com/"));
    CHECK(status.dump().find("tok-") == std::string::npos);  // no token ever reaches the page

    auto bad = http_request("POST", bot.url("/ilink/wx/bind/code?session=" + session),
                            R"({"code":"12ab"})", {"Content-Type: application/json"});
    CHECK(bad.status == 400);
    auto good = http_request("POST", bot.url("/ilink/wx/bind/code?session=" + session),
                             R"({"code":"1234"})", {"Content-Type: application/json"});
    CHECK(good.status == 200);
    status = wait_for_state(bot, session, "confirmed");
    CHECK(status.at("state") == "confirmed");
    CHECK(!status.contains("qr_svg"));

    auto fresh = fake.accounts();
    REQUIRE(fresh.size() == 1);
    REQUIRE(eventually([&] { return polled_with(fake, fresh.front().token); }));
    fake.inject_text(fresh.front().token, "owner@im.wechat", "bound again");
    REQUIRE(fake.wait_for_sends(1));
    CHECK(http_request("GET", bot.url("/ilink/wx/bind/status?session=nope")).status == 404);
}

TEST_CASE("ilink binding page: rate limit per client, account limit, off by default",
          "[wechat_ilink][bind_page]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    SECTION("starts per hour") {
        TestBot bot(llm, dir.path(),
                    with_ilink(fake, {{"self_service", true}, {"bind_starts_per_hour", 2}}));
        start_binding(bot);
        start_binding(bot);
        auto refused = start_binding(bot, 429);
        CHECK(refused.at("error").get<std::string>().find("Too many") != std::string::npos);
    }
    SECTION("max_accounts") {
        auto existing = fake.add_account("someone@im.wechat");
        store_account(dir.path(), fake, existing);
        TestBot bot(llm, dir.path(),
                    with_ilink(fake, {{"self_service", true}, {"max_accounts", 1}}));
        REQUIRE(eventually([&] { return polled_with(fake, existing.token); }));
        start_binding(bot, 403);
    }
    SECTION("self_service off") {
        TestBot bot(llm, dir.path(), with_ilink(fake));
        CHECK(http_request("GET", bot.url("/ilink/wx/bind")).status == 404);
        CHECK(http_request("POST", bot.url("/ilink/wx/bind/start"), "{}").status == 404);
    }
}
