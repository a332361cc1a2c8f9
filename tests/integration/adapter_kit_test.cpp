// The adapter kit's core side, through the real App with a FakeAdapter: delivery keys, the part
// cap, whole-reply sends, quota errors, replies quoting the bot in groups, and commands after
// an @mention.
#include "fakes/fake_adapter.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

bot::Inbound message(const std::string& user, const std::string& text, const std::string& id,
                     const std::string& chat = {}, bool mentions_me = true) {
    return bot::Inbound{.chat = {.adapter_id = "fake",
                                 .chat_id = chat.empty() ? user : chat,
                                 .is_group = !chat.empty()},
                        .sender_id = user,
                        .sender_name = user,
                        .message_id = id,
                        .text = text,
                        .mentions_me = mentions_me};
}

bot::Inbound quoting(const std::string& user, const std::string& chat, const std::string& id,
                     const std::string& quoted) {
    auto inbound = message(user, "and then?", id, chat, false);
    inbound.quotes_message_id = quoted;
    return inbound;
}

BotOptions with_adapter(FakeAdapter* adapter) {
    return BotOptions{.before_start = [adapter](bot::App& app) {
        app.add_adapter("fake", std::unique_ptr<bot::Adapter>(adapter));
    }};
}

const std::string kThreeParagraphs = "First paragraph here.\n\nSecond one.\n\nThird one here.";

}  // namespace

TEST_CASE("kit: every part has its own delivery key, the same on every retry and restart",
          "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string("First paragraph here.\n\nSecond one."); });
    std::string first_key;
    {
        auto* adapter = new FakeAdapter(24);
        for (int i = 0; i < 20; ++i) {  // part 1 never goes out before the shutdown
            adapter->fail_next({.kind = bot::SendError::Kind::transient, .detail = "down"});
        }
        auto options = with_adapter(adapter);
        options.shutdown_grace_s = 1;
        TestBot bot(llm, dir.path(), options);
        bot.offer(message("alice", "hi", "k-1"));
        REQUIRE(eventually([&] { return adapter->attempted().size() >= 2; }));
        auto attempted = adapter->attempted();
        first_key = attempted[0].delivery_key;
        CHECK(first_key.size() == 36);
        CHECK(first_key[14] == '5');  // a version 5 UUID
        CHECK(attempted[1].part == 1);
        CHECK(attempted[1].delivery_key == first_key);  // a retry
    }
    auto* adapter = new FakeAdapter(24);
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    REQUIRE(eventually([&] { return adapter->sent().size() == 2; }));
    auto sent = adapter->sent();
    CHECK(sent[0].delivery_key == first_key);  // the same part after the restart
    CHECK(sent[1].delivery_key.size() == 36);
    CHECK(sent[1].delivery_key != first_key);

    // Another reply's parts have other keys.
    bot.submit(message("bob", "hi", "k-2"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 4; }));
    std::set<std::string> keys;
    for (const auto& part : adapter->sent()) keys.insert(part.delivery_key);
    CHECK(keys.size() == 4);
}

TEST_CASE("kit: max_parts cuts a long reply and marks its last part", "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return kThreeParagraphs; });
    auto* adapter = new FakeAdapter(bot::Capabilities{
        .max_text = {.max = 24, .unit = bot::TextLimit::Unit::utf8_bytes}, .max_parts = 2});
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    bot.submit(message("alice", "hi", "p-1"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 2; }));
    std::this_thread::sleep_for(200ms);
    auto sent = adapter->sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].text == "First paragraph here.");
    CHECK(sent[1].text == "Second one.…");
    CHECK(sent[1].parts == 2);
    for (const auto& part : sent) CHECK(part.text.size() <= 24);
}

TEST_CASE("kit: sends_whole_reply hands all parts to one send_all, retried whole",
          "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return kThreeParagraphs; });
    auto* adapter = new FakeAdapter(
        bot::Capabilities{.max_text = {.max = 24, .unit = bot::TextLimit::Unit::utf8_bytes},
                          .sends_whole_reply = true});
    adapter->fail_next({.kind = bot::SendError::Kind::transient, .detail = "flaky"});
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    bot.submit(message("alice", "hi", "w-1"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 3; }));
    std::this_thread::sleep_for(200ms);
    auto batches = adapter->batches();
    REQUIRE(batches.size() == 2);  // the failed try and its retry, each with every part
    for (const auto& batch : batches) {
        REQUIRE(batch.size() == 3);
        CHECK(batch[0].part == 1);
        CHECK(batch[2].part == 3);
        CHECK(batch[2].parts == 3);
        CHECK(batch[2].text == "Third one here.");
    }
    CHECK(batches[0][1].delivery_key == batches[1][1].delivery_key);
    CHECK(adapter->sent().size() == 3);  // delivered once: nothing sent again

    // Delivered for good: a restart sends nothing again.
    bot.stop();
    auto* again = new FakeAdapter(bot::Capabilities{.sends_whole_reply = true});
    TestBot restarted(llm, dir.path(), with_adapter(again));
    std::this_thread::sleep_for(300ms);
    CHECK(again->attempts() == 0);
}

TEST_CASE("kit: quota_exhausted is not retried and tells the operator", "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    auto* adapter = new FakeAdapter();
    adapter->fail_next(
        {.kind = bot::SendError::Kind::quota_exhausted, .detail = "monthly limit reached"});
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    bot.submit(message("alice", "hi", "q-1"));
    REQUIRE(eventually([&] { return adapter->attempts() == 1; }));
    REQUIRE(eventually([&] { return bot.log_text().find("quota") != std::string::npos; }));
    std::this_thread::sleep_for(700ms);  // past the first backoff
    CHECK(adapter->attempts() == 1);
    auto log = bot.log_text();
    CHECK(log.find("ERROR") != std::string::npos);
    CHECK(log.find("send quota for adapter 'fake' is used up (monthly limit reached)") !=
          std::string::npos);

    // The next reply is tried again (the quota may have renewed).
    bot.submit(message("bob", "hi", "q-2"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 1; }));
}

TEST_CASE("kit: a group reply quoting the bot's message in that chat is answered",
          "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    auto* adapter = new FakeAdapter();
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    using Status = bot::Submission::Status;

    // The bot answers an @mention in group g1 and in g2; its messages are sent-1, sent-2.
    bot.submit(message("alice", "hello", "g1-1", "g1"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 1; }));
    bot.submit(message("carol", "hello", "g2-1", "g2"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 2; }));
    REQUIRE(adapter->sent()[0].chat.chat_id == "g1");

    // Bob replies to the bot's message in g1 without a mention: answered.
    // (The id is recorded a moment after send() returned; an ignored message is not stored,
    // so the same one may be offered until it is.)
    REQUIRE(eventually(
        [&] { return bot.offer(quoting("bob", "g1", "g1-2", "sent-1")) == Status::accepted; }));
    REQUIRE(eventually([&] { return adapter->sent().size() == 3; }));
    CHECK(adapter->sent()[2].text == "echo: and then?");
    CHECK(adapter->sent()[2].user_id == "bob");

    // A reply to someone else's message, to nothing, or to the bot's message in the other
    // chat is chatter among members.
    CHECK(bot.offer(quoting("bob", "g1", "g1-3", "m-of-alice")) == Status::ignored);
    CHECK(bot.offer(message("bob", "just chatting", "g1-4", "g1", false)) == Status::ignored);
    CHECK(bot.offer(quoting("dave", "g2", "g2-2", "sent-1")) == Status::ignored);
    CHECK(bot.offer(quoting("dave", "g1", "g2-3", "sent-2")) == Status::ignored);
    CHECK(bot.offer(quoting("dave", "g2", "g2-4", "sent-2")) == Status::accepted);
    REQUIRE(eventually([&] { return adapter->sent().size() == 4; }));

    // The ids are stored: after a restart a reply to the bot's old message still counts.
    bot.stop();
    auto* again = new FakeAdapter();
    TestBot restarted(llm, dir.path(), with_adapter(again));
    CHECK(restarted.offer(quoting("erin", "g1", "g1-5", "sent-1")) == Status::accepted);
    REQUIRE(eventually([&] { return again->sent().size() == 1; }));
}

TEST_CASE("kit: the parts of a group reply that then failed still count as the bot's",
          "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string("First paragraph here.\n\nSecond one."); });
    auto* adapter = new FakeAdapter(24);
    adapter->succeed_next();
    adapter->fail_next({.kind = bot::SendError::Kind::bad_request, .detail = "refused"});
    TestBot bot(llm, dir.path(), with_adapter(adapter));
    bot.submit(message("alice", "hello", "f-1", "g1"));
    REQUIRE(eventually([&] { return adapter->attempts() == 2; }));
    REQUIRE(adapter->sent().size() == 1);  // part 1 as sent-1; part 2 refused for good
    // (Ignored messages are not stored: the same one may be offered until the ids are.)
    REQUIRE(eventually([&] {
        return bot.offer(quoting("bob", "g1", "f-2", "sent-1")) ==
               bot::Submission::Status::accepted;
    }));
}

TEST_CASE("kit: commands are recognised after whitespace and a left-in @mention",
          "[integration][kit]") {
    TempDir dir;
    FakeLlm llm;
    auto* adapter = new FakeAdapter();
    TestBot bot(llm, dir.path(), with_adapter(adapter));

    for (std::string text :
         {"@contact_bot /help", "  \n/help", "@bot\u2005/help", "@bot @bot /help@bot"}) {
        INFO(text);
        auto reply = bot.submit(message("alice", text, "c-" + std::to_string(text.size()), "g1"));
        CHECK(reply.text.starts_with("Commands:"));
    }
    bot.submit(message("alice", "remember me", "c-remember", "g1"));
    auto forgot = bot.submit(message("alice", "@contact_bot /forget", "c-forget", "g1"));
    CHECK(forgot.text.starts_with("Done: I deleted everything"));
    // Not a command: the mention is followed by words.
    auto plain = bot.submit(message("alice", "@contact_bot what is /help?", "c-plain", "g1"));
    CHECK(plain.text == "echo: @contact_bot what is /help?");
    CHECK(llm.request_count() == 2);
}
