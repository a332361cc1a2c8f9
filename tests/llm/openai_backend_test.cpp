// OpenAiBackend against a scripted HttpClient: no network, every answer chosen by the test,
// streamed bodies cut into awkward pieces.
#include "llm/openai_backend.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <sstream>
#include <string>
#include <vector>

namespace net = boost::asio;
using namespace std::chrono_literals;
using bot::ClientRequest;
using bot::ClientResponse;
using bot::llm::ChatRequest;
using bot::llm::ChatResult;
using bot::llm::LlmError;
using bot::llm::OpenAiBackend;
using bot::llm::OpenAiOptions;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kApiKey = "sk-test-secret-4242";

struct Step {
    ClientResponse response;
    std::vector<std::string> chunks;  // handed to on_body_chunk before the response returns
    std::chrono::milliseconds delay{0};
};

Step answer(int status, std::string body, std::vector<bot::http::Header> headers = {}) {
    Step step;
    step.response.status = status;
    step.response.body = std::move(body);
    step.response.headers = std::move(headers);
    return step;
}

Step failure(ClientResponse::Failure failure, std::vector<std::string> chunks = {}) {
    Step step;
    step.response.failure = failure;
    step.response.error = "simulated failure";
    step.chunks = std::move(chunks);
    return step;
}

// Cut the way networks do: pieces of 1, 2, 3... 7 bytes, then again.
std::vector<std::string> awkward_pieces(std::string_view text) {
    std::vector<std::string> pieces;
    for (std::size_t pos = 0, size = 1; pos < text.size(); pos += size, size = size % 7 + 1) {
        pieces.emplace_back(text.substr(pos, size));
    }
    return pieces;
}

Step streamed(std::string body) {
    Step step;
    step.response.status = 200;
    step.chunks = awkward_pieces(body);
    return step;
}

std::string delta_event(std::string_view text) {
    json chunk = {
        {"object", "chat.completion.chunk"},
        {"choices", {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}};
    return "data: " + chunk.dump() + "\n\n";
}

std::string sse_body(const std::vector<std::string>& pieces, bool finish = true) {
    std::string body = ": OPENROUTER PROCESSING\n\n";
    for (const auto& piece : pieces) body += delta_event(piece);
    if (!finish) return body;
    body += R"(data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
            "\r\n\r\n";
    body += R"(data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}})"
            "\n\n";
    body += "data: [DONE]\n\n";
    return body;
}

std::string completion_body(std::string_view text) {
    return json{{"object", "chat.completion"},
                {"choices",
                 {{{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", text}}},
                   {"finish_reason", "length"}}}},
                {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 5}}}}
        .dump();
}

class FakeHttpClient final : public bot::HttpClient {
public:
    std::deque<Step> script;
    std::vector<ClientRequest> requests;
    std::vector<Clock::time_point> times;
    int in_flight = 0;
    int most_in_flight = 0;

    net::awaitable<ClientResponse> request(ClientRequest request) override {
        times.push_back(Clock::now());
        ClientRequest recorded = request;
        recorded.on_body_chunk = nullptr;
        requests.push_back(recorded);
        if (script.empty()) throw std::logic_error("unexpected request");
        Step step = std::move(script.front());
        script.pop_front();

        ++in_flight;
        most_in_flight = std::max(most_in_flight, in_flight);
        if (step.delay.count() > 0) {
            net::steady_timer timer(co_await net::this_coro::executor, step.delay);
            co_await timer.async_wait(net::use_awaitable);
        }
        --in_flight;

        const bool success_status = step.response.status >= 200 && step.response.status < 300;
        if (request.on_body_chunk && (success_status || !step.chunks.empty())) {
            for (const auto& chunk : step.chunks) request.on_body_chunk(chunk);
        } else {
            for (const auto& chunk : step.chunks) step.response.body += chunk;
        }
        co_return step.response;
    }

    json sent_json(std::size_t index = 0) const { return json::parse(requests.at(index).body); }
    std::string sent_header(std::string_view name, std::size_t index = 0) const {
        return std::string(bot::http::find_header(requests.at(index).headers, name));
    }
};

OpenAiOptions options(std::string api_key = kApiKey) {
    OpenAiOptions options;
    options.name = "test-provider";
    options.base_url = "http://llm.example/v1/";
    options.api_key = std::move(api_key);
    options.model = "test-model";
    return options;
}

ChatRequest chat(bool stream) {
    ChatRequest request;
    request.messages = {{"system", "You are terse."}, {"user", "Say hello"}};
    request.stream = stream;
    return request;
}

struct Harness {
    net::io_context io;
    FakeHttpClient http;
    std::ostringstream log_text;
    bot::Logger logger{bot::LogLevel::debug, log_text};
    OpenAiBackend backend;
    std::vector<std::string> deltas;

    explicit Harness(OpenAiOptions opts = options()) : backend(std::move(opts), http, logger) {}

    ChatResult complete(ChatRequest request) {
        auto result = net::co_spawn(
            io,
            backend.complete(std::move(request),
                             [this](std::string_view piece) { deltas.emplace_back(piece); }),
            net::use_future);
        io.run();
        io.restart();
        return result.get();
    }
};

}  // namespace

TEST_CASE("OpenAiBackend returns a non-streamed completion") {
    Harness h;
    h.http.script.push_back(answer(200, completion_body("Hello there")));
    auto result = h.complete(chat(false));
    REQUIRE(result.has_value());
    CHECK(result->text == "Hello there");
    CHECK(result->finish_reason == "length");
    CHECK(result->prompt_tokens == 20);
    CHECK(result->completion_tokens == 5);
    CHECK(h.deltas.empty());

    REQUIRE(h.http.requests.size() == 1);
    const auto& sent = h.http.requests[0];
    CHECK(sent.method == "POST");
    CHECK(sent.url == "http://llm.example/v1/chat/completions");
    CHECK(sent.timeout == 60s);
    CHECK(h.http.sent_header("Content-Type") == "application/json");
    const json body = h.http.sent_json();
    CHECK(body["model"] == "test-model");
    CHECK(body["stream"] == false);
    CHECK(body["max_tokens"] == 1024);  // the reply reserve when the request names none
    CHECK_FALSE(body.contains("stream_options"));
    CHECK_FALSE(body.contains("temperature"));
    REQUIRE(body["messages"].size() == 2);
    CHECK(body["messages"][0] == json({{"role", "system"}, {"content", "You are terse."}}));
    CHECK(body["messages"][1] == json({{"role", "user"}, {"content", "Say hello"}}));
}

TEST_CASE("OpenAiBackend streams deltas as they arrive, with usage and finish reason") {
    Harness h;
    h.http.script.push_back(streamed(sse_body({"Hel", "lo", ", wörld"})));
    auto request = chat(true);
    request.max_tokens = 77;
    auto result = h.complete(request);
    REQUIRE(result.has_value());
    CHECK(result->text == "Hello, wörld");
    CHECK(h.deltas == std::vector<std::string>{"Hel", "lo", ", wörld"});
    CHECK(result->finish_reason == "stop");
    CHECK(result->prompt_tokens == 12);
    CHECK(result->completion_tokens == 3);

    const json body = h.http.sent_json();
    CHECK(body["stream"] == true);
    CHECK(body["stream_options"] == json({{"include_usage", true}}));
    CHECK(body["max_tokens"] == 77);
    CHECK(h.http.sent_header("Accept") == "text/event-stream");
}

TEST_CASE("OpenAiBackend stops reading at [DONE]") {
    Harness h;
    h.http.script.push_back(
        streamed("data: {\"choices\":[{\"delta\":{\"content\":\"kept\"}}]}\n\n"
                 "data: [DONE]\n\n" +
                 delta_event(" ignored")));
    auto result = h.complete(chat(true));
    REQUIRE(result.has_value());
    CHECK(result->text == "kept");
    CHECK(h.deltas == std::vector<std::string>{"kept"});
}

TEST_CASE("OpenAiBackend sends temperature when set and omits max_tokens when zero") {
    auto opts = options();
    opts.temperature = 0.25;
    opts.reply_tokens = 0;
    Harness h(opts);
    h.http.script.push_back(answer(200, completion_body("ok")));
    REQUIRE(h.complete(chat(false)).has_value());
    const json body = h.http.sent_json();
    CHECK(body["temperature"] == 0.25);
    CHECK_FALSE(body.contains("max_tokens"));
}

TEST_CASE("OpenAiBackend sends a bearer token only when it has a key") {
    SECTION("with a key") {
        Harness h;
        h.http.script.push_back(answer(200, completion_body("ok")));
        REQUIRE(h.complete(chat(false)).has_value());
        CHECK(h.http.sent_header("Authorization") == std::string("Bearer ") + kApiKey);
    }
    SECTION("without a key, as for Ollama") {
        Harness h(options(""));
        h.http.script.push_back(answer(200, completion_body("ok")));
        REQUIRE(h.complete(chat(false)).has_value());
        CHECK(h.http.sent_header("Authorization").empty());
    }
}

TEST_CASE("OpenAiBackend does not retry 401 and keeps the key out of errors and logs") {
    Harness h;
    const std::string provider_body =
        std::string(R"({"error":{"message":"Incorrect API key provided: )") + kApiKey +
        R"(.","type":"invalid_request_error","code":"invalid_api_key"}})";
    h.http.script.push_back(answer(401, provider_body));
    auto result = h.complete(chat(true));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == LlmError::Kind::unauthorized);
    CHECK(h.http.requests.size() == 1);
    CHECK_THAT(result.error().detail, Catch::Contains("401"));
    CHECK_THAT(result.error().detail, Catch::Contains("Incorrect API key provided"));
    CHECK_THAT(result.error().detail, !Catch::Contains(kApiKey));
    CHECK_THAT(h.log_text.str(), Catch::Contains("unauthorized"));
    CHECK_THAT(h.log_text.str(), !Catch::Contains(kApiKey));
}

TEST_CASE("OpenAiBackend does not retry a bad request and quotes the provider") {
    Harness h;
    h.http.script.push_back(answer(404, R"({"error":"model 'test-model' not found"})"));
    auto result = h.complete(chat(false));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == LlmError::Kind::bad_request);
    CHECK(result.error().detail == "HTTP 404: model 'test-model' not found");
    CHECK(h.http.requests.size() == 1);
}

TEST_CASE("OpenAiBackend retries a 500 and then succeeds") {
    Harness h;
    h.http.script.push_back(answer(500, "upstream exploded"));
    h.http.script.push_back(streamed(sse_body({"fine"})));
    auto result = h.complete(chat(true));
    REQUIRE(result.has_value());
    CHECK(result->text == "fine");
    CHECK(h.http.requests.size() == 2);
    CHECK(h.http.times[1] - h.http.times[0] <= OpenAiBackend::kBackoffBase + 200ms);
}

TEST_CASE("OpenAiBackend gives up after the configured retries") {
    auto opts = options();
    opts.retries = 1;
    Harness h(opts);
    h.http.script.push_back(answer(502, "bad gateway"));
    h.http.script.push_back(answer(503, R"({"error":{"message":"overloaded"}})"));
    auto result = h.complete(chat(false));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == LlmError::Kind::unavailable);
    CHECK_THAT(result.error().detail, Catch::Contains("HTTP 503: overloaded"));
    CHECK_THAT(result.error().detail, Catch::Contains("2 attempts"));
    CHECK(h.http.requests.size() == 2);
}

TEST_CASE("OpenAiBackend honours Retry-After on 429") {
    Harness h;
    h.http.script.push_back(
        answer(429, R"({"error":{"message":"slow down"}})", {{"retry-after", "1"}}));
    h.http.script.push_back(answer(200, completion_body("patience")));
    auto result = h.complete(chat(false));
    REQUIRE(result.has_value());
    CHECK(result->text == "patience");
    REQUIRE(h.http.times.size() == 2);
    // The jittered backoff alone would be at most 500 ms.
    CHECK(h.http.times[1] - h.http.times[0] >= 1s);
    CHECK(h.http.times[1] - h.http.times[0] < 2s);
}

TEST_CASE("OpenAiBackend reports rate limiting when 429 persists") {
    auto opts = options();
    opts.retries = 1;
    Harness h(opts);
    h.http.script.push_back(answer(429, "{}", {{"Retry-After", "0"}}));
    h.http.script.push_back(answer(429, "{}", {{"Retry-After", "0"}}));
    auto result = h.complete(chat(false));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == LlmError::Kind::rate_limited);
    CHECK(h.http.requests.size() == 2);
}

TEST_CASE("OpenAiBackend retries timeouts and connection failures") {
    SECTION("then succeeds") {
        Harness h;
        h.http.script.push_back(failure(ClientResponse::Failure::timeout));
        h.http.script.push_back(failure(ClientResponse::Failure::connect));
        h.http.script.push_back(answer(200, completion_body("third time")));
        auto result = h.complete(chat(false));
        REQUIRE(result.has_value());
        CHECK(result->text == "third time");
        CHECK(h.http.requests.size() == 3);
    }
    SECTION("until it gives up") {
        auto opts = options();
        opts.retries = 1;
        Harness h(opts);
        h.http.script.push_back(failure(ClientResponse::Failure::timeout));
        h.http.script.push_back(failure(ClientResponse::Failure::timeout));
        auto result = h.complete(chat(false));
        REQUIRE(result.has_error());
        CHECK(result.error().kind == LlmError::Kind::timeout);
        CHECK(h.http.requests.size() == 2);
    }
}

TEST_CASE("OpenAiBackend never retries once streamed text reached the caller") {
    SECTION("the connection breaks mid-stream") {
        Harness h;
        h.http.script.push_back(failure(ClientResponse::Failure::transport,
                                        awkward_pieces(sse_body({"Once", " upon"}, false))));
        h.http.script.push_back(streamed(sse_body({"would duplicate"})));
        auto result = h.complete(chat(true));
        REQUIRE(result.has_error());
        CHECK(result.error().kind == LlmError::Kind::unavailable);
        CHECK(h.http.requests.size() == 1);
        CHECK(h.deltas == std::vector<std::string>{"Once", " upon"});
    }
    SECTION("the stream ends without [DONE]") {
        Harness h;
        h.http.script.push_back(streamed(sse_body({"Once"}, false)));
        h.http.script.push_back(streamed(sse_body({"would duplicate"})));
        auto result = h.complete(chat(true));
        REQUIRE(result.has_error());
        CHECK(h.http.requests.size() == 1);
        CHECK(h.deltas == std::vector<std::string>{"Once"});
    }
    SECTION("but a stream that broke before any text is retried") {
        Harness h;
        h.http.script.push_back(failure(ClientResponse::Failure::transport, {": keep-alive\n\n"}));
        h.http.script.push_back(streamed(sse_body({"clean"})));
        auto result = h.complete(chat(true));
        REQUIRE(result.has_value());
        CHECK(h.deltas == std::vector<std::string>{"clean"});
        CHECK(h.http.requests.size() == 2);
    }
}

TEST_CASE("OpenAiBackend reports an unparseable 200 as a bad response") {
    SECTION("plain body") {
        Harness h;
        h.http.script.push_back(answer(200, "<html>proxy login</html>"));
        auto result = h.complete(chat(false));
        REQUIRE(result.has_error());
        CHECK(result.error().kind == LlmError::Kind::bad_response);
        CHECK(h.http.requests.size() == 1);
    }
    SECTION("stream event") {
        Harness h;
        h.http.script.push_back(streamed("data: {\"choices\": [\n\ndata: [DONE]\n\n"));
        auto result = h.complete(chat(true));
        REQUIRE(result.has_error());
        CHECK(result.error().kind == LlmError::Kind::bad_response);
    }
}

TEST_CASE("OpenAiBackend accepts a plain JSON answer to a streaming request") {
    Harness h;
    h.http.script.push_back(streamed(completion_body("not streamed")));
    auto result = h.complete(chat(true));
    REQUIRE(result.has_value());
    CHECK(result->text == "not streamed");
    CHECK(h.deltas == std::vector<std::string>{"not streamed"});
}

TEST_CASE("OpenAiBackend limits concurrent calls to max_concurrency") {
    auto opts = options();
    opts.max_concurrency = 2;
    Harness h(opts);
    std::vector<std::future<ChatResult>> results;
    for (int i = 0; i < 5; ++i) {
        Step step = answer(200, completion_body("ok"));
        step.delay = 30ms;
        h.http.script.push_back(step);
        results.push_back(
            net::co_spawn(h.io, h.backend.complete(chat(false), nullptr), net::use_future));
    }
    h.io.run();
    for (auto& result : results) CHECK(result.get().has_value());
    CHECK(h.http.most_in_flight == 2);
}

TEST_CASE("LlmError kinds have stable names") {
    using Kind = LlmError::Kind;
    CHECK(bot::llm::to_string(Kind::not_configured) == "not_configured");
    CHECK(bot::llm::to_string(Kind::unauthorized) == "unauthorized");
    CHECK(bot::llm::to_string(Kind::rate_limited) == "rate_limited");
    CHECK(bot::llm::to_string(Kind::unavailable) == "unavailable");
    CHECK(bot::llm::to_string(Kind::timeout) == "timeout");
    CHECK(bot::llm::to_string(Kind::bad_request) == "bad_request");
    CHECK(bot::llm::to_string(Kind::bad_response) == "bad_response");
}
