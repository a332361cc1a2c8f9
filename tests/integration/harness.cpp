#include "integration/harness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace bot::testing {

TempDir::TempDir() {
    std::string pattern = "/tmp/contactbot-test-XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

Config make_config(const std::string& llm_base_url, const std::filesystem::path& dir,
                   const BotOptions& options) {
    nlohmann::json json = {
        {"server",
         {{"listen", "127.0.0.1:0"},
          {"threads", options.threads},
          {"shutdown_grace_s", options.shutdown_grace_s},
          {"header_timeout_s", options.header_timeout_s}}},
        {"storage", {{"sqlite", {{"path", (dir / "bot.db").string()}}}}},
        {"bot", {{"persona", options.persona}, {"queue_limit", options.queue_limit}}},
        {"llm",
         {{"default", options.with_llm ? "fake" : ""},
          {"providers",
           {{"fake",
             {{"type", "openai"},
              {"base_url", llm_base_url},
              {"api_key", "sk-test-secret-key"},
              {"model", "fake-model"},
              {"timeout_s", options.llm_timeout_s},
              {"retries", options.llm_retries},
              {"context_tokens", options.context_tokens},
              {"reply_tokens", 64}}}}}}},
        {"log", {{"level", "debug"}}},
        {"adapters",
         {{"api", {{"type", "http_api"}, {"token", kToken}}},
          {"web", {{"type", "webchat"}, {"messages_per_minute", options.webchat_per_minute}}}}}};
    for (const auto& [id, section] : options.adapters.items()) json["adapters"][id] = section;
    if (options.edit_config) options.edit_config(json);
    return parse_config(json.dump(), [](const std::string&) { return std::nullopt; });
}

TestBot::TestBot(FakeLlm& llm, const std::filesystem::path& dir, BotOptions options)
    : log_(LogLevel::debug, log_stream_), dir_(dir) {
    app_ = std::make_unique<App>(make_config(llm.base_url(), dir, options), log_);
    if (options.before_start) options.before_start(*app_);
    app_->start();
}

TestBot::~TestBot() {
    app_.reset();
    if (std::getenv("CONTACTBOT_TEST_LOG")) std::cerr << log_stream_.str();  // for debugging
}

std::string TestBot::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(app_->port()) + path;
}

std::string TestBot::log_text() const {
    return log_stream_.str();
}

TestResponse TestBot::send_raw(const std::string& body, const std::vector<std::string>& headers) {
    return http_request("POST", url("/api/v1/messages"), body, headers);
}

std::pair<long, nlohmann::json> TestBot::send(const std::string& user, const std::string& text,
                                              const std::string& message_id,
                                              const std::string& chat) {
    nlohmann::json body{{"user", user}, {"text", text}};
    if (!message_id.empty()) body["message_id"] = message_id;
    if (!chat.empty()) body["chat"] = chat;
    auto response = send_raw(body.dump(), {"Authorization: Bearer " + std::string(kToken),
                                           "Content-Type: application/json"});
    return {response.status, nlohmann::json::parse(response.body, nullptr, false)};
}

}  // namespace bot::testing

namespace bot::testing {

ReplyEvent TestBot::submit(Inbound inbound, std::chrono::milliseconds wait) {
    return net::co_spawn(
               app_->executor(),
               [&]() -> net::awaitable<ReplyEvent> {
                   auto submission = co_await app_->sink().submit(
                       std::move(inbound), SubmitOptions{.wait = wait, .claim = false});
                   if (!submission.watch.valid()) co_return ReplyEvent{};  // ignored
                   for (;;) {
                       auto event = co_await submission.watch.next();
                       if (event.kind != ReplyEvent::Kind::delta) co_return event;
                   }
               },
               net::use_future)
        .get();
}

Submission::Status TestBot::offer(Inbound inbound) {
    return net::co_spawn(
               app_->executor(),
               [&]() -> net::awaitable<Submission::Status> {
                   auto submission =
                       co_await app_->sink().submit(std::move(inbound), SubmitOptions{});
                   co_return submission.status;
               },
               net::use_future)
        .get();
}

}  // namespace bot::testing
