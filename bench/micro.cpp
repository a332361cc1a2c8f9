// Micro-benchmarks of the per-message text work that grows with what users write: the history
// written into every LLM request (JSON strings, token estimates) and the answer to each
// sendMessage, beside a poll's answer, which must not pay for that path. The command is in
// README.md, figures in RESULTS.md; the load benchmark is main.cpp.
#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "bot/token_budget.hpp"
#include "telegram/sent_message_id.hpp"
#include "telegram/telegram_codec.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

// About 1 KiB of each kind of text a user and a model write.
std::string repeated(std::string_view piece) {
    std::string text;
    while (text.size() < 1024) text.append(piece);
    return text;
}
const std::string kEnglish =
    repeated("The quick brown fox jumps over the lazy dog, and then \"asks\" what comes next.\n");
const std::string kChinese = repeated("今天天气很好，我们去公园散步吧。");
const std::string kShort = "echo: u123 m5";

void json_string(benchmark::State& state, const std::string& text) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        bot::append_json_string(out, text);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(json_string, english_1k, kEnglish);
BENCHMARK_CAPTURE(json_string, chinese_1k, kChinese);
BENCHMARK_CAPTURE(json_string, short_13b, kShort);

void token_estimate(benchmark::State& state, const std::string& text) {
    for (auto _ : state) benchmark::DoNotOptimize(bot::estimate_tokens(text));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(token_estimate, english_1k, kEnglish);
BENCHMARK_CAPTURE(token_estimate, chinese_1k, kChinese);

// A sendMessage answer as the Bot API writes it, echoing a 1 KiB reply.
std::string sent_answer() {
    std::string body =
        R"({"ok":true,"result":{"message_id":4711,"from":{"id":123456,"is_bot":true,)"
        R"("first_name":"Contact Bot","username":"contact_bot"},"chat":{"id":5000123,)"
        R"("first_name":"Ann","type":"private"},"date":1764400000,"text":)";
    bot::append_json_string(body, kEnglish);
    return body.append("}}");
}

void sent_message_answer(benchmark::State& state) {
    const std::string body = sent_answer();
    for (auto _ : state)
        benchmark::DoNotOptimize(bot::adapters::telegram::parse_api_answer(200, body, ""));
}
BENCHMARK(sent_message_answer);

// A poll's answer of 100 updates: not a sent message, so it is read as a tree; the handler
// must give up at once rather than read it first.
void updates_answer(benchmark::State& state) {
    std::string body = R"({"ok":true,"result":[)";
    for (int i = 0; i < 100; ++i) {
        if (i > 0) body += ',';
        body += R"({"update_id":)" + std::to_string(1000 + i) +
                R"(,"message":{"message_id":7,"from":{"id":5000123,"is_bot":false,)"
                R"("first_name":"Ann"},"chat":{"id":5000123,"type":"private"},)"
                R"("date":1764400000,"text":"hello there, how are you today?"}})";
    }
    body += "]}";
    for (auto _ : state)
        benchmark::DoNotOptimize(bot::adapters::telegram::parse_api_answer(200, body, ""));
}
BENCHMARK(updates_answer);

// The same answer read as a tree, as every answer was before sent_message_id.
void sent_message_answer_tree(benchmark::State& state) {
    const std::string body = sent_answer();
    for (auto _ : state) {
        bot::ScratchJson answer;
        const auto* object = answer.parse_object(body);
        benchmark::DoNotOptimize(object);
    }
}
BENCHMARK(sent_message_answer_tree);

}  // namespace
