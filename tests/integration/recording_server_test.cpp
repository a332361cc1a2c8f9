// The recording fake server itself (tests/fakes/recording_server.hpp): routing, recording,
// scripted failures, waiting.
#include "fakes/recording_server.hpp"
#include "fakes/test_http.hpp"

#include <catch2/catch.hpp>

using namespace bot::testing;
using nlohmann::json;

TEST_CASE("recording server routes, computes replies and records requests", "[recording]") {
    RecordingServer api;
    api.on("GET", "/v1/me", json{{"id", 7}});
    api.on("POST", "/v1/send/*", [](const RecordedRequest& r) {
        return Reply::json({{"echo", r.json.value("text", "")}, {"path", r.path}});
    });
    api.on("POST", "/v1/send/special",
           [](const RecordedRequest&) { return Reply::text("exact wins", 201); });

    auto me = http_request("GET", api.base_url() + "/v1/me?x=1");
    CHECK(me.status == 200);
    CHECK(json::parse(me.body)["id"] == 7);
    auto sent = http_request("POST", api.base_url() + "/v1/send/abc", R"({"text":"hi"})",
                             {"Content-Type: application/json", "X-Token: t1"});
    CHECK(json::parse(sent.body)["echo"] == "hi");
    auto special = http_request("POST", api.base_url() + "/v1/send/special", "{}");
    CHECK(special.status == 201);
    CHECK(special.body == "exact wins");
    CHECK(http_request("DELETE", api.base_url() + "/v1/me").status == 404);

    auto all = api.requests();
    REQUIRE(all.size() == 4);
    CHECK(all[0].query_param("x") == "1");
    CHECK(all[1].header("x-token") == "t1");
    CHECK(all[1].json["text"] == "hi");
    CHECK(all[1].response["path"] == "/v1/send/abc");
    CHECK(all[3].status == 404);
    CHECK(api.count(RecordingServer::to("POST", "/v1/send/abc")) == 1);
    CHECK(api.wait_for(2, [](const RecordedRequest& r) { return r.method == "POST"; }));
    CHECK_FALSE(
        api.wait_for(3, RecordingServer::to("GET", "/v1/me"), std::chrono::milliseconds(1)));
}

TEST_CASE("recording server scripts failures ahead of the handler, in order", "[recording]") {
    RecordingServer api;
    api.on("POST", "/send", json{{"ok", true}});
    api.fail_next("POST", "/send", Reply::too_many_requests(3));
    api.fail_next("POST", "/send", Reply::too_many_requests(std::nullopt));
    api.fail_next("POST", "/send", Reply::status_only(503).after(std::chrono::milliseconds(50)));

    auto first = http_request("POST", api.base_url() + "/send", "{}");
    CHECK(first.status == 429);
    CHECK(first.headers.find("Retry-After: 3") != std::string::npos);
    auto second = http_request("POST", api.base_url() + "/send", "{}");
    CHECK(second.status == 429);
    CHECK(second.headers.find("Retry-After") == std::string::npos);
    CHECK(http_request("POST", api.base_url() + "/send", "{}").status == 503);
    CHECK(http_request("POST", api.base_url() + "/send", "{}").status == 200);

    api.fail_next("POST", "/send", Reply::dropped());
    CHECK_THROWS(http_request("POST", api.base_url() + "/send", "{}", {}, 5000));  // no answer

    auto records = api.requests();
    REQUIRE(records.size() == 5);
    CHECK(records[0].scripted);
    CHECK_FALSE(records[3].scripted);
    CHECK(api.count(RecordingServer::succeeded("POST", "/send")) == 1);
    api.clear();
    CHECK(api.requests().empty());
}
