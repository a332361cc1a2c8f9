#include "llm/openai_backend.hpp"

#include "base/json_text.hpp"
#include "bot/net/sse_parser.hpp"
#include "llm/completion_fields.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace bot::llm {

namespace {

using json = nlohmann::json;
using Kind = LlmError::Kind;
using namespace std::chrono_literals;

constexpr std::size_t kExcerptBytes = 200;
constexpr std::size_t kMaxUnframedBytes = std::size_t{1} << 20;

// Cut at a UTF-8 character boundary: a detail may end up inside JSON, which rejects
// broken sequences.
std::string excerpt(std::string_view text) {
    std::string out;
    for (char c : text) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    if (out.size() <= kExcerptBytes) return out;
    std::size_t cut = kExcerptBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    return out + "...";
}

std::string string_field(const json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// What the provider said went wrong: OpenAI {"error": {"message"}}, Ollama {"error": "..."},
// others {"message"}; anything else is quoted raw.
std::string provider_message(const json& body) {
    if (body.is_object()) {
        auto error = body.find("error");
        if (error != body.end() && error->is_string()) return error->get<std::string>();
        if (error != body.end() && error->is_object()) {
            if (auto message = string_field(*error, "message"); !message.empty()) return message;
        }
        if (auto message = string_field(body, "message"); !message.empty()) return message;
    }
    return dump_json(body);
}

std::string provider_message_in(std::string_view body) {
    auto parsed = json::parse(body, nullptr, false);
    return parsed.is_discarded() ? std::string(body) : provider_message(parsed);
}

// A complete (non-streamed) chat.completion; nullopt when the body is not one.
std::optional<ChatReply> parse_completion(std::string_view body) {
    auto fields = parse_completion_fields(body);
    if (!fields || !fields->has_content) return std::nullopt;
    return ChatReply{.text = std::move(fields->content),
                     .finish_reason = std::move(fields->finish_reason),
                     .prompt_tokens = fields->prompt_tokens,
                     .completion_tokens = fields->completion_tokens};
}

// Seconds, possibly fractional; the HTTP-date form is not worth supporting for a 30 s cap.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    double seconds = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) ||
        seconds < 0) {
        return std::nullopt;
    }
    const double capped = std::min(seconds * 1000.0, double(OpenAiBackend::kMaxRetryAfter.count()));
    return std::chrono::milliseconds(static_cast<long long>(capped));
}

// Consumes a streamed body. Runs inside the HTTP client's body callback while complete()
// is suspended, so it needs no locking.
struct StreamReader {
    explicit StreamReader(const DeltaCallback& on_delta) : on_delta(on_delta) {}

    const DeltaCallback& on_delta;
    SseParser parser;
    ChatReply reply;
    std::size_t events = 0;
    bool done = false;         // [DONE] seen
    bool delivered = false;    // text reached on_delta
    std::string malformed;     // why the stream could not be understood
    std::string stream_error;  // an {"error": ...} event inside a 200 stream
    std::string unframed;      // the body while no event has been seen: maybe plain JSON

    void consume(std::string_view chunk) {
        if (done || !malformed.empty()) return;
        if (events == 0 && unframed.size() < kMaxUnframedBytes) unframed.append(chunk);
        try {
            parser.feed(chunk, [this](const SseEvent& event) { on_event(event); });
        } catch (const std::length_error& error) {
            malformed = error.what();
        }
    }

    void on_event(const SseEvent& event) {
        if (done || !malformed.empty()) return;
        ++events;
        if (event.data == "[DONE]") {
            done = true;
            return;
        }
        auto chunk = parse_stream_chunk(event.data);
        if (!chunk) {
            malformed = "unparseable stream event: " + excerpt(event.data);
            return;
        }
        if (chunk->is_error) {
            stream_error = provider_message_in(event.data);
            return;
        }
        if (chunk->has_usage) {
            reply.prompt_tokens = chunk->prompt_tokens;
            reply.completion_tokens = chunk->completion_tokens;
        }
        if (!chunk->finish_reason.empty()) reply.finish_reason = std::move(chunk->finish_reason);
        const std::string& piece = chunk->content;
        if (piece.empty()) return;
        reply.text += piece;
        delivered = true;
        if (on_delta) on_delta(piece);
    }
};

}  // namespace

struct OpenAiBackend::Attempt {
    std::optional<ChatReply> reply;
    LlmError error{Kind::unavailable, {}};
    bool retryable = false;
    bool delivered = false;  // the caller has seen text: retrying would show it twice
    std::optional<std::chrono::milliseconds> retry_after;

    static Attempt success(ChatReply reply) {
        Attempt attempt;
        attempt.reply = std::move(reply);
        return attempt;
    }
    static Attempt failure(Kind kind, std::string detail, bool retryable) {
        Attempt attempt;
        attempt.error = LlmError{kind, std::move(detail)};
        attempt.retryable = retryable;
        return attempt;
    }
};

OpenAiBackend::OpenAiBackend(OpenAiOptions options, HttpClient& http, Logger& logger)
    : options_(std::move(options)),
      http_(http),
      logger_(logger),
      permits_(static_cast<std::size_t>(std::max(1, options_.max_concurrency))),
      random_(std::random_device{}()) {
    std::string_view base = options_.base_url;
    if (base.ends_with('/')) base.remove_suffix(1);
    url_ = std::string(base) + "/chat/completions";
    logger_.add_secret(options_.api_key);
}

net::awaitable<ChatResult> OpenAiBackend::complete(ChatRequest request, DeltaCallback on_delta) {
    const std::string body = request_body(request);
    const int retries = std::max(0, options_.retries);
    for (int retry = 0;; ++retry) {
        Attempt outcome;
        {
            // The slot is held for the HTTP exchange only, not while backing off.
            auto permit = permits_.try_acquire();
            if (!permit) permit = co_await permits_.acquire();
            outcome = co_await attempt(body, request.stream, on_delta);
        }
        if (outcome.reply) co_return std::move(*outcome.reply);

        if (!outcome.retryable || outcome.delivered || retry >= retries) {
            if (retry > 0) {
                outcome.error.detail += " (after " + std::to_string(retry + 1) + " attempts)";
            }
            logger_.warn("llm", options_.name, ": ", to_string(outcome.error.kind), ": ",
                         outcome.error.detail);
            co_return ChatResult(boost::system::in_place_error, std::move(outcome.error));
        }
        const auto delay = outcome.retry_after ? *outcome.retry_after : backoff(retry);
        logger_.info("llm", options_.name, ": ", to_string(outcome.error.kind), ": ",
                     outcome.error.detail, "; retry ", retry + 1, "/", retries, " in ",
                     delay.count(), " ms");
        co_await sleep_for(delay);
    }
}

net::awaitable<OpenAiBackend::Attempt> OpenAiBackend::attempt(const std::string& body, bool stream,
                                                              const DeltaCallback& on_delta) {
    ClientRequest request = http_request(body, stream);
    StreamReader reader(on_delta);
    if (stream) {
        request.on_body_chunk = [&reader](std::string_view chunk) { reader.consume(chunk); };
    }

    const ClientResponse response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        Attempt failed = from_failure(response);
        failed.delivered = reader.delivered;
        co_return failed;
    }
    if (response.status < 200 || response.status >= 300) co_return from_error_status(response);

    const std::string status = "HTTP " + std::to_string(response.status) + ": ";
    if (!stream) {
        if (auto reply = parse_completion(response.body)) {
            co_return Attempt::success(std::move(*reply));
        }
        co_return Attempt::failure(
            Kind::bad_response, scrub(status + "not a chat completion: " + excerpt(response.body)),
            false);
    }

    // A client that ignored on_body_chunk still hands over the body.
    if (reader.events == 0 && !response.body.empty()) reader.consume(response.body);
    Attempt outcome;
    if (!reader.malformed.empty()) {
        outcome = Attempt::failure(Kind::bad_response, scrub(status + reader.malformed), false);
    } else if (!reader.stream_error.empty()) {
        outcome = Attempt::failure(
            Kind::unavailable, scrub(status + "error in stream: " + excerpt(reader.stream_error)),
            true);
    } else if (reader.events == 0) {
        // Some servers ignore "stream": true and answer with one JSON body.
        auto reply = parse_completion(reader.unframed);
        if (!reply) {
            co_return Attempt::failure(Kind::bad_response,
                                       scrub(status + "neither a stream nor a chat completion: " +
                                             excerpt(reader.unframed)),
                                       false);
        }
        if (on_delta && !reply->text.empty()) on_delta(reply->text);
        co_return Attempt::success(std::move(*reply));
    } else if (!reader.done && reader.reply.finish_reason.empty()) {
        outcome = Attempt::failure(Kind::unavailable, status + "stream ended before [DONE]", true);
    } else {
        co_return Attempt::success(std::move(reader.reply));
    }
    outcome.delivered = reader.delivered;
    co_return outcome;
}

std::string OpenAiBackend::request_body(const ChatRequest& request) const {
    // Written straight into one string: this runs for every message with the whole context,
    // and a json tree of it would cost an allocation per field.
    std::size_t size = 256 + options_.model.size();
    for (const auto& message : request.messages) size += message.content.size() + 40;
    std::string out;
    out.reserve(size + size / 8);
    out += R"({"model":)";
    append_json_string(out, options_.model);
    out += R"(,"messages":[)";
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        if (i > 0) out += ',';
        // The roles are a few fixed words: written as they are, not escaped for every turn.
        const std::string_view role = request.messages[i].role;
        if (role == "user") {
            out += R"({"role":"user","content":)";
        } else if (role == "assistant") {
            out += R"({"role":"assistant","content":)";
        } else {
            out += R"({"role":)";
            append_json_string(out, role);
            out += R"(,"content":)";
        }
        append_json_string(out, request.messages[i].content);
        out += '}';
    }
    out += request.stream ? R"(],"stream":true)" : R"(],"stream":false)";
    const int max_tokens = request.max_tokens > 0 ? request.max_tokens : options_.reply_tokens;
    if (max_tokens > 0) out.append(R"(,"max_tokens":)").append(std::to_string(max_tokens));
    if (options_.temperature) {
        out.append(R"(,"temperature":)").append(json(*options_.temperature).dump());
    }
    if (request.stream) out += R"(,"stream_options":{"include_usage":true})";
    out += '}';
    return out;
}

ClientRequest OpenAiBackend::http_request(const std::string& body, bool stream) const {
    ClientRequest request;
    request.method = "POST";
    request.url = url_;
    request.body = body;
    request.timeout = options_.timeout;
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"Accept", stream ? "text/event-stream" : "application/json"});
    if (!options_.api_key.empty()) {
        request.headers.push_back({"Authorization", "Bearer " + options_.api_key});
    }
    return request;
}

OpenAiBackend::Attempt OpenAiBackend::from_failure(const ClientResponse& response) const {
    using Failure = ClientResponse::Failure;
    const std::string what = scrub(response.error);
    switch (response.failure) {
        case Failure::timeout:
            return Attempt::failure(Kind::timeout, "no answer in time: " + what, true);
        case Failure::cancelled:
            return Attempt::failure(Kind::unavailable, "request cancelled: " + what, false);
        case Failure::connect:
            return Attempt::failure(Kind::unavailable, "cannot connect: " + what, true);
        default:
            return Attempt::failure(Kind::unavailable, "transport error: " + what, true);
    }
}

OpenAiBackend::Attempt OpenAiBackend::from_error_status(const ClientResponse& response) const {
    const int status = response.status;
    const std::string detail = scrub("HTTP " + std::to_string(status) + ": " +
                                     excerpt(provider_message_in(response.body)));
    if (status == 401 || status == 403) return Attempt::failure(Kind::unauthorized, detail, false);
    if (status == 408) return Attempt::failure(Kind::timeout, detail, true);
    if (status == 429) {
        Attempt attempt = Attempt::failure(Kind::rate_limited, detail, true);
        attempt.retry_after = parse_retry_after(response.header("Retry-After"));
        return attempt;
    }
    if (status >= 400 && status < 500) return Attempt::failure(Kind::bad_request, detail, false);
    if (status >= 500) return Attempt::failure(Kind::unavailable, detail, true);
    return Attempt::failure(Kind::bad_response, detail, false);  // 1xx/3xx: nothing to retry
}

std::chrono::milliseconds OpenAiBackend::backoff(int retry) {
    // Full jitter: a uniformly random wait up to the exponential ceiling, so clients that
    // failed together do not come back together.
    const auto ceiling =
        std::min(kBackoffBase * (std::int64_t{1} << std::min(retry, 20)), kBackoffCap);
    std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
    std::lock_guard lock(random_mutex_);
    return std::chrono::milliseconds(pick(random_));
}

std::string OpenAiBackend::scrub(std::string text) const {
    const std::string& key = options_.api_key;
    if (key.empty()) return text;
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 3)) {
        text.replace(pos, key.size(), "***");
    }
    return text;
}

}  // namespace bot::llm
