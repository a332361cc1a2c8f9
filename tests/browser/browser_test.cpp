// Starts the real server (web chat + fake LLM, and the WeChat iLink adapter + FakeIlink) and
// runs the Chromium tests against it.
#include "integration/harness.hpp"
#include "integration/ilink_support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace bot::testing;
using namespace std::chrono_literals;

namespace {

// Runs tests/browser/<script> on the page at url with Node.js (playwright-core driving
// Chromium); screenshots go to shots. Returns the exit status.
// CONTACTBOT_BROWSER_DIR: run the scripts from another directory than this checkout's
// tests/browser (one that has node_modules, for a worktree without them).
int run_node(const std::string& script, const std::string& url, const std::string& shots) {
    const char* scripts = std::getenv("CONTACTBOT_BROWSER_DIR");
    const std::filesystem::path source =
        scripts ? std::filesystem::path(scripts).parent_path().parent_path()
                : std::filesystem::path(CONTACTBOT_SOURCE_DIR);
    const char* chromium = std::getenv("CHROMIUM_PATH");
    INFO("needs node, Chromium and tests/browser/node_modules: run deploy/install-deps.sh");
    REQUIRE(std::filesystem::exists(chromium ? chromium : "/usr/bin/chromium"));
    REQUIRE(std::filesystem::exists(source / "tests/browser/node_modules/playwright-core"));
    std::string command =
        "node '" + (source / "tests/browser" / script).string() + "' '" + url + "' '" + shots + "'";
    return std::system(command.c_str());
}

// The verify codes the adapter passed on to iLink, in order.
std::vector<std::string> verify_codes(const FakeIlink& fake) {
    std::vector<std::string> codes;
    for (const auto& call : fake.calls("get_qrcode_status")) {
        auto at = call.query.find("verify_code=");
        if (at == std::string::npos) continue;
        at += 12;
        codes.push_back(call.query.substr(at, call.query.find('&', at) - at));
    }
    return codes;
}

}  // namespace

TEST_CASE("the web chat works in a real browser", "[browser]") {
    TempDir dir;
    FakeLlm llm;
    llm.chunk_delay(40ms);  // slow enough to watch the reply grow
    BotOptions options;
    options.llm_timeout_s = 30;  // the markdown reply streams ~130 chunks
    TestBot bot(llm, dir.path(), options);
    std::string shots = std::string(CONTACTBOT_BINARY_DIR) + "/browser-screenshots";
    int status = run_node("webchat.test.mjs", bot.url("/"), shots);
    CHECK(status == 0);
    CHECK(std::filesystem::exists(shots + "/webchat-reply.png"));
    CHECK(llm.request_count() == 3);  // two turns, then the markdown and hostile reply
}

TEST_CASE("the WeChat binding page works in a real browser", "[browser]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    // Status polls are long polls, as on iLink: every state lasts longer than the page's 1 s
    // between polls, so the page shows each one.
    fake.set_login_poll_hold(2s);
    FakeIlink::LoginScript login;
    login.statuses = {"wait", "need_verifycode", "scaned", "confirmed"};
    login.verify_code = "1234";
    fake.script_next_login(login);
    TestBot bot(llm, dir.path(), with_ilink(fake, {{"self_service", true}}));

    std::string shots = std::string(CONTACTBOT_BINARY_DIR) + "/browser-screenshots";
    for (const char* name : {"/bind-qr.png", "/bind-wrong-code.png", "/bind-done.png"})
        std::filesystem::remove(shots + name);
    int status = run_node("bind_page.test.mjs", bot.url("/ilink/wx/bind"), shots);
    CHECK(status == 0);
    CHECK(std::filesystem::exists(shots + "/bind-qr.png"));
    CHECK(std::filesystem::exists(shots + "/bind-done.png"));
    CHECK(verify_codes(fake) == std::vector<std::string>{"1111", "1234"});

    // Scanned on the page, then chatted with from WeChat: the server polls the new account.
    auto accounts = fake.accounts();
    REQUIRE(accounts.size() == 1);
    const std::string token = accounts.front().token;
    REQUIRE(eventually([&] { return polled_with(fake, token); }));
    fake.inject_text(token, "owner@im.wechat", "hello from WeChat");
    REQUIRE(fake.wait_for_sends(1));
    CHECK(fake.sent_messages().at(0).at("item_list").at(0).at("text_item").at("text") ==
          "echo: hello from WeChat");
}

TEST_CASE("the web chat's share button links to a read-only page", "[browser][social]") {
    TempDir dir;
    FakeLlm llm;
    BotOptions options;
    options.edit_config = [](nlohmann::json& config) {
        config["server"]["public_url"] = "https://bot.example.test";
    };
    TestBot bot(llm, dir.path(), options);
    std::string shots = std::string(CONTACTBOT_BINARY_DIR) + "/browser-screenshots";
    CHECK(run_node("share.test.mjs", bot.url("/"), shots) == 0);
    CHECK(std::filesystem::exists(shots + "/shared-page.png"));
}
