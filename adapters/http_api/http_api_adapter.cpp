// http_api: the bot over plain HTTP, for scripts, tests and integrations.
//   POST /api/v1/messages  Authorization: Bearer <token>
//   {"user": "alice", "text": "hello", "message_id": "optional key", "chat": "optional"}
//   -> 200 {"reply": "...", "conversation_id": "...", "message_id": "..."}
// With "Accept: text/event-stream" the reply streams as SSE (event: delta ... event: done).
// See adapters/http_api/README.md.
#include "base/json_text.hpp"
#include "base/log.hpp"
#include "base/secret_file.hpp"
#include "base/text_split.hpp"
#include "bot/adapter.hpp"
#include "bot/net/sse_parser.hpp"

#include <nlohmann/json.hpp>

namespace bot::adapters::http_api {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdChars = 256;

std::string sse(std::string_view event, const json& data) {
    return format_sse(event, dump_json(data));
}

// Length-prefixed, so no (user, id) pair can collide with another.
std::string scoped_message_id(const std::string& user, const std::string& client_id) {
    return std::to_string(user.size()) + ":" + user + ":" + client_id;
}

struct ParsedRequest {
    std::string user, text, message_id, chat;
    std::string problem;  // non-empty: a 400 with this message
};

ParsedRequest parse_request(const std::string& body_text, std::size_t max_text_chars) {
    ParsedRequest out;
    json body = json::parse(body_text, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        out.problem = "body must be a JSON object";
        return out;
    }
    auto field = [&](const char* name, bool required) -> std::string {
        auto it = body.find(name);
        if (it == body.end() || it->is_null()) {
            if (required && out.problem.empty())
                out.problem = std::string("\"") + name + "\" is required";
            return {};
        }
        if (!it->is_string()) {
            if (out.problem.empty()) out.problem = std::string("\"") + name + "\" must be a string";
            return {};
        }
        return it->get<std::string>();
    };
    out.user = field("user", true);
    out.text = field("text", true);
    out.message_id = field("message_id", false);
    out.chat = field("chat", false);
    if (!out.problem.empty()) return out;
    // Limits count characters, as the README says. The strings are valid UTF-8: the parser
    // refuses anything else (the body is then not JSON: 400).
    if (out.user.empty() || utf8_length(out.user) > kMaxIdChars) {
        out.problem = "\"user\" must be 1 to 256 characters";
    } else if (out.text.empty()) {
        out.problem = "\"text\" must not be empty";
    } else if (utf8_length(out.text) > max_text_chars) {
        out.problem =
            "\"text\" is too long (at most " + std::to_string(max_text_chars) + " characters)";
    } else if (utf8_length(out.message_id) > kMaxIdChars) {
        out.problem = "\"message_id\" must be at most 256 characters";
    } else if (utf8_length(out.chat) > kMaxIdChars) {
        out.problem = "\"chat\" must be at most 256 characters";
    }
    return out;
}

// (Built outside the coroutine: g++ 12 rejects braced lists of string literals inside one.)
std::vector<http::Header> sse_headers() {
    return {{"Content-Type", "text/event-stream; charset=utf-8"},
            {"Cache-Control", "no-cache"},
            {"X-Accel-Buffering", "no"}};
}

http::Response unauthorized() {
    auto response = http::Response::error(401, "missing or wrong bearer token");
    response.headers.push_back({"WWW-Authenticate", "Bearer"});
    return response;
}

std::string sse_delta(const std::string& text) {
    return sse("delta", json{{"text", text}});
}

json not_ready_body(const std::string& message_id) {
    return {{"error", "the reply is not ready yet; send the same message_id again to collect it"},
            {"message_id", message_id}};
}

json done_body(const ReplyEvent& event, const std::string& message_id) {
    return {{"reply", event.text},
            {"conversation_id", event.conversation_id},
            {"message_id", message_id}};
}

class HttpApiAdapter final : public Adapter {
public:
    explicit HttpApiAdapter(AdapterDeps deps) : id_(deps.id), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "http_api");
        token_ = config.string("token", "");
        path_ = config.url_path("path", "/api/v1/messages");
        reply_timeout_ = std::chrono::seconds(config.integer("reply_timeout_s", 300, 1, 3600));
        max_text_chars_ =
            static_cast<std::size_t>(config.integer("max_text_chars", 8000, 1, 1 << 20));
        config.done();
        if (!config.errors().empty()) return;
        deps.routes.add(
            "POST", path_,
            [this](http::Request& request, http::ResponseStream& stream) {
                return handle(request, stream);
            },
            // The token is in a header: strangers are refused before their body is read.
            http::RouteOptions{.authorize = [this](const http::Request& request) {
                return refuse_without_token(request);
            }});
        if (deps.validate_only) return;

        if (token_.empty()) {
            auto file = deps.data_dir / (id_ + ".token");
            token_ = load_or_create_secret(file);
            log_.warn("http_api", "adapters.", id_,
                      ".token is not set; using the generated token "
                      "in ",
                      file.string());
        } else if (token_.size() < 16) {
            log_.warn("http_api", "adapters.", id_,
                      ".token is short; use at least 16 random characters");
        }
        log_.add_secret(token_);
    }

    Capabilities capabilities() const override { return {}; }

    // Replies are handed out in the HTTP response. One that was not collected in time stays
    // stored: posting the same message_id again returns it.
    net::awaitable<SendResult> send(Outbound) override { co_return std::string(); }

private:
    std::optional<http::Response> refuse_without_token(const http::Request& request) const {
        auto authorization = request.header("Authorization");
        if (authorization.starts_with("Bearer ") &&
            secret_equals(authorization.substr(7), token_)) {
            return std::nullopt;
        }
        return unauthorized();
    }

    // The bearer token was checked before the body was read (refuse_without_token).
    net::awaitable<http::Response> handle(http::Request& request, http::ResponseStream& stream) {
        auto parsed = parse_request(request.body, max_text_chars_);
        if (!parsed.problem.empty()) co_return http::Response::error(400, parsed.problem);

        // Message ids are the client's, so they are only unique per user: scoped by the user,
        // one user's id can never fetch another user's reply.
        std::string client_id = std::move(parsed.message_id);
        Inbound inbound{.chat = {.adapter_id = id_,
                                 .chat_id = parsed.chat.empty() ? parsed.user : parsed.chat,
                                 .is_group = false},
                        .sender_id = parsed.user,
                        .sender_name = parsed.user,
                        .message_id = client_id.empty() ? std::string()
                                                        : scoped_message_id(parsed.user, client_id),
                        .text = std::move(parsed.text),
                        .mentions_me = true};
        bool streaming =
            request.header("Accept").find("text/event-stream") != std::string_view::npos;
        SubmitOptions options{
            .wait = std::chrono::duration_cast<std::chrono::milliseconds>(reply_timeout_),
            .claim = true,
            .deltas = streaming};
        auto submission = co_await sink_.submit(std::move(inbound), options);
        const std::string& message_id = client_id.empty() ? submission.message_id : client_id;

        if (streaming) {
            co_await stream.begin(200, sse_headers());
        }
        for (;;) {
            ReplyEvent event = co_await submission.watch.next();
            if (event.kind == ReplyEvent::Kind::delta) {
                std::string chunk = sse_delta(event.text);
                if (streaming && !co_await stream.write(chunk)) {
                    co_return http::Response{};  // client gone; the reply stays retrievable
                }
                continue;
            }
            if (event.kind == ReplyEvent::Kind::timeout) {
                json error = not_ready_body(message_id);
                if (streaming) {
                    std::string chunk = sse("error", error);
                    co_await stream.write(chunk);
                    co_return http::Response{};
                }
                co_return http::Response::json(504, error);
            }
            json done = done_body(event, message_id);
            if (streaming) {
                std::string chunk = sse("done", done);
                co_await stream.write(chunk);
                co_return http::Response{};
            }
            co_return http::Response::json(200, done);
        }
    }

    std::string id_;
    InboundSink& sink_;
    Logger& log_;
    std::string token_;
    std::string path_;
    std::chrono::seconds reply_timeout_{300};
    std::size_t max_text_chars_ = 8000;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<HttpApiAdapter>(std::move(deps));
}

}  // namespace bot::adapters::http_api
