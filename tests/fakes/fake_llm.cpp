#include "fakes/fake_llm.hpp"

#include "base/async.hpp"
#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "base/log.hpp"
#include "bot/http/server.hpp"
#include "bot/net/sse_parser.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
using nlohmann::json;

namespace {

// Splits text into chunks of a few characters, roughly like tokens (never inside UTF-8).
std::vector<std::string> tokenize(const std::string& text) {
    std::vector<std::string> chunks;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t n = std::min<std::size_t>(3, text.size() - i);
        while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
        chunks.push_back(text.substr(i, n));
        i += n;
    }
    return chunks;
}

// Events are written by hand, not through json trees: the load benchmark streams every token
// of every reply through here on the server's two cores (trees for the chunks and the final
// event cost the fake ~140K instructions per message, as much as the server's own parse).
std::string chunk_event(const std::string& quoted_model, const std::string& piece) {
    std::string event =
        std::string(R"(data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","model":)")
            .append(quoted_model)
            .append(R"(,"choices":[{"index":0,"delta":{"content":)");
    append_json_string(event, piece);
    return event.append("}}]}\n\n");
}

// What answering takes from a request, read with Boost.JSON (the benchmark sends thousands of
// long histories a second); a nlohmann tree is built only to record a request or to hand it
// to a test's reply function.
struct RequestFacts {
    bool valid = false;  // a JSON object with "messages"
    std::string model;
    bool stream = false;
    std::string last_user;  // content of the last user message
};

RequestFacts quick_facts(std::string_view body) {
    RequestFacts facts;
    ScratchJson<16384> parsed;
    const boost::json::object* request = parsed.parse_object(body);
    if (!request) return facts;
    const auto* messages = request->if_contains("messages");
    facts.valid = messages != nullptr;
    facts.model = string_field(*request, "model");
    facts.stream = bool_field(*request, "stream");
    if (messages && messages->is_array()) {
        for (const auto& message : messages->get_array()) {
            const auto* fields = message.if_object();
            if (fields && string_field(*fields, "role") == "user") {
                const auto* content = fields->if_contains("content");
                if (content && content->is_string()) facts.last_user = content->get_string();
            }
        }
    }
    return facts;
}

std::string final_event(const std::string& quoted_model, bool with_usage = true) {
    return std::string(R"(data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","model":)")
        .append(quoted_model)
        .append(R"(,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}])")
        .append(with_usage
                    ? R"(,"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"
                    : "}")
        .append("\n\ndata: [DONE]\n\n");
}

json completion_body(const std::string& model, const std::string& text) {
    return {{"id", "chatcmpl-fake"},
            {"object", "chat.completion"},
            {"model", model},
            {"choices", json::array({{{"index", 0},
                                      {"message", {{"role", "assistant"}, {"content", text}}},
                                      {"finish_reason", "stop"}}})},
            {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}}};
}

std::vector<http::Header> stream_headers() {
    return {{"Content-Type", "text/event-stream"}};
}

enum class Failure { none, server_error, rate_limited, hang, cut };

// Thrown once a stream has begun: the server then closes the connection without ending the
// chunked body, as a crashing or disconnected backend would.
struct CutOff : std::runtime_error {
    CutOff() : std::runtime_error("fake LLM: answer cut off on purpose") {}
};

}  // namespace

struct FakeLlm::Impl {
    Impl() : log(LogLevel::off), server(io.get_executor(), router, log, options()) {
        router.add("POST", "/v1/chat/completions",
                   [this](http::Request& request, http::ResponseStream& stream) {
                       return handle(request, stream);
                   });
        router.add("POST", "/v1/embeddings", [this](http::Request& request, http::ResponseStream&) {
            return embeddings.handle(request);
        });
        server.start();
        thread = std::thread([this] { io.run(); });
    }
    ~Impl() {
        server.stop();
        work.reset();
        io.stop();
        thread.join();
    }

    static http::ServerOptions options() {
        http::ServerOptions o;
        o.port = 0;
        o.max_connections = 100000;              // benches hold thousands of streams open at once
        o.max_connections_per_address = 100000;  // every client is on 127.0.0.1
        return o;
    }

    // Requests being answered now and at most. Shared: coroutine frames still waiting when the
    // fake is destroyed are torn down with the io_context, after the other members.
    struct Gauge {
        std::atomic<std::size_t> active{0};
        std::atomic<std::size_t> peak{0};
    };
    // Counts a request as in flight for its whole answer, however the handler ends.
    struct InFlight {
        explicit InFlight(std::shared_ptr<Gauge> g) : gauge(std::move(g)) {
            std::size_t now = ++gauge->active;
            std::size_t seen = gauge->peak.load();
            while (now > seen && !gauge->peak.compare_exchange_weak(seen, now)) {
            }
        }
        ~InFlight() { --gauge->active; }
        std::shared_ptr<Gauge> gauge;
    };

    net::awaitable<http::Response> handle(http::Request& request, http::ResponseStream& stream) {
        InFlight in_flight(gauge);
        std::optional<Scripted> scripted;
        std::chrono::milliseconds per_chunk;
        std::chrono::milliseconds total;
        std::function<std::string(const json&)> make_reply;
        bool record_this = false;
        bool with_usage = true;
        Failure failure = Failure::none;
        std::chrono::milliseconds hang{0};
        {
            std::lock_guard lock(mutex);
            ++count;
            record_this = recording;
            with_usage = usage;
            last_headers = request.headers;
            if (!scripts.empty()) {
                scripted = scripts.front();
                scripts.pop_front();
            } else if (failure_fraction > 0 &&
                       std::uniform_real_distribution<double>(0, 1)(random) < failure_fraction) {
                failure = static_cast<Failure>(std::uniform_int_distribution<int>(1, 4)(random));
                hang = hang_for;
                ++failures;
            }
            per_chunk = chunk_pause;
            total = total_delay;
            make_reply = reply;
        }
        const RequestFacts facts = quick_facts(request.body);
        std::string text = "echo: " + facts.last_user;
        std::function<bool(const json&)> matches;
        {
            std::lock_guard lock(mutex);
            matches = route_matches;
        }
        if (record_this || make_reply || matches) {
            json body = json::parse(request.body, nullptr, false);
            const bool routed = matches && facts.valid && matches(body);
            if (record_this) {  // before a routed one is held: tests look at held requests
                std::lock_guard lock(mutex);
                recorded.push_back(body);
            }
            if (routed) {
                if (auto answer = co_await answer_routed(body)) {
                    text = std::move(*answer);
                } else {
                    co_return http::Response::error(500, "fake LLM: routed failure");
                }
            } else if (make_reply && facts.valid) {
                text = make_reply(body);
            }
        }
        if (scripted) co_await sleep_for(scripted->delay);
        if (scripted && scripted->status != 200) {
            http::Response response{.status = scripted->status,
                                    .content_type = "application/json",
                                    .body = scripted->body,
                                    .headers = {}};
            if (!scripted->retry_after.empty()) {
                response.headers.push_back({"Retry-After", scripted->retry_after});
            }
            co_return response;
        }
        if (failure == Failure::server_error) {
            co_return http::Response::error(500, "fake LLM: injected failure");
        }
        if (failure == Failure::rate_limited) {
            auto response = http::Response::error(429, "fake LLM: injected rate limit");
            response.headers.push_back({"Retry-After", "1"});
            co_return response;
        }
        if (failure == Failure::hang) {
            co_await sleep_for(hang);
            co_return http::Response::drop();
        }
        if (!facts.valid) co_return http::Response::error(400, "bad request");
        const std::string& model = facts.model;
        if (failure == Failure::cut) co_return co_await cut_off(stream, facts, text);
        if (!facts.stream) {
            // As long as the stream would take: the model generates the same tokens either way.
            // (Tokenised only then: the benchmark's instant answers share the server's cores.)
            const auto chunks = per_chunk.count() > 0 ? tokenize(text).size() : std::size_t{0};
            co_await sleep_for(total + per_chunk * static_cast<int>(chunks));
            json body = completion_body(model, text);
            if (!with_usage) body.erase("usage");
            co_return http::Response::json(200, body);
        }

        if (!co_await stream.begin(200, stream_headers())) co_return http::Response{};
        auto pieces = tokenize(text);
        auto spread = pieces.empty() ? total : total / static_cast<int>(pieces.size());
        if (pieces.empty()) co_await sleep_for(total);
        std::string quoted_model;
        append_json_string(quoted_model, model);
        if (per_chunk + spread == std::chrono::milliseconds::zero()) {
            // An instant model: the whole stream in one write.
            std::string events;
            for (const auto& piece : pieces) events += chunk_event(quoted_model, piece);
            events += final_event(quoted_model, with_usage);
            co_await stream.write(events);
            co_return http::Response{};
        }
        for (const auto& piece : pieces) {
            co_await sleep_for(per_chunk + spread);
            std::string event = chunk_event(quoted_model, piece);
            if (!co_await stream.write(event)) co_return http::Response{};
        }
        std::string last = final_event(quoted_model, with_usage);
        co_await stream.write(last);
        co_return http::Response{};
    }

    // A routed request: waits while held; nullopt when it is to fail.
    net::awaitable<std::optional<std::string>> answer_routed(const json& body) {
        std::function<std::string(const json&)> make;
        {
            std::lock_guard lock(mutex);
            if (routed_failures > 0) {
                --routed_failures;
                co_return std::nullopt;
            }
            ++holding_now;
        }
        for (;;) {
            {
                std::lock_guard lock(mutex);
                if (!holding) {
                    --holding_now;
                    ++routed_done;
                    make = route_reply;
                    break;
                }
            }
            co_await sleep_for(std::chrono::milliseconds(5));
        }
        co_return make ? make(body) : std::string("routed");
    }

    // The answer begun and then abandoned: half of a plain body, or the first half of a
    // stream's events, then the connection closes (CutOff).
    static net::awaitable<http::Response> cut_off(http::ResponseStream& stream,
                                                  const RequestFacts& facts,
                                                  const std::string& text) {
        std::string begun;
        if (facts.stream) {
            std::string quoted_model;
            append_json_string(quoted_model, facts.model);
            auto pieces = tokenize(text);
            for (std::size_t i = 0; i < pieces.size() / 2; ++i)
                begun += chunk_event(quoted_model, pieces[i]);
        } else {
            begun = completion_body(facts.model, text).dump();
            begun.resize(begun.size() / 2);
        }
        std::vector<http::Header> headers = stream_headers();
        if (!facts.stream) headers.front().value = "application/json";
        if (co_await stream.begin(200, std::move(headers)) && !begun.empty()) {
            co_await stream.write(begun);
        }
        throw CutOff();
    }

    net::io_context io{1};  // one thread: the server then needs no strands
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
    Logger log;
    http::Router router;
    http::Server server;
    std::thread thread;

    mutable std::mutex mutex;
    std::deque<Scripted> scripts;
    std::vector<json> recorded;
    std::vector<http::Header> last_headers;
    std::chrono::milliseconds chunk_pause{0};
    std::chrono::milliseconds total_delay{0};
    bool recording = true;
    bool usage = true;
    std::size_t count = 0;
    std::shared_ptr<Gauge> gauge = std::make_shared<Gauge>();
    std::function<std::string(const json&)> reply;
    std::function<bool(const json&)> route_matches;
    std::function<std::string(const json&)> route_reply;
    bool holding = false;
    std::size_t holding_now = 0;
    int routed_failures = 0;
    std::size_t routed_done = 0;
    double failure_fraction = 0;
    std::chrono::milliseconds hang_for{0};
    std::mt19937 random;
    std::size_t failures = 0;
    FakeEmbeddings embeddings;  // POST /v1/embeddings
};

FakeLlm::FakeLlm() : impl_(std::make_unique<Impl>()) {}
FakeLlm::~FakeLlm() = default;

std::string FakeLlm::base_url() const {
    return "http://127.0.0.1:" + std::to_string(impl_->server.port()) + "/v1";
}

void FakeLlm::script(Scripted answer) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripts.push_back(std::move(answer));
}

void FakeLlm::reply_with(std::function<std::string(const json&)> make_reply) {
    std::lock_guard lock(impl_->mutex);
    impl_->reply = std::move(make_reply);
}

void FakeLlm::chunk_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->chunk_pause = delay;
}

void FakeLlm::reply_delay(std::chrono::milliseconds total) {
    std::lock_guard lock(impl_->mutex);
    impl_->total_delay = total;
}

void FakeLlm::send_usage(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->usage = on;
}

void FakeLlm::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

void FakeLlm::fail_randomly(double fraction, std::chrono::milliseconds hang, std::uint32_t seed) {
    std::lock_guard lock(impl_->mutex);
    impl_->failure_fraction = fraction;
    impl_->hang_for = hang;
    impl_->random.seed(seed);
}

std::size_t FakeLlm::failures_injected() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->failures;
}

void FakeLlm::route(std::function<bool(const json&)> matches,
                    std::function<std::string(const json&)> make_reply) {
    std::lock_guard lock(impl_->mutex);
    impl_->route_matches = std::move(matches);
    impl_->route_reply = std::move(make_reply);
}

void FakeLlm::hold_routed(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->holding = on;
}

std::size_t FakeLlm::held() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->holding_now;
}

void FakeLlm::fail_routed(int count) {
    std::lock_guard lock(impl_->mutex);
    impl_->routed_failures = count;
}

std::size_t FakeLlm::routed_answered() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->routed_done;
}

std::vector<json> FakeLlm::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->recorded;
}

std::size_t FakeLlm::request_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->count;
}

std::size_t FakeLlm::peak_in_flight() const {
    return impl_->gauge->peak.load();
}

FakeEmbeddings& FakeLlm::embeddings() {
    return impl_->embeddings;
}

std::string FakeLlm::last_header(const std::string& name) const {
    std::lock_guard lock(impl_->mutex);
    return std::string(http::find_header(impl_->last_headers, name));
}

}  // namespace bot::testing
