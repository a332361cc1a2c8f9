// The iLink wire format: the test vectors of ilink.md §10 (X-WECHAT-UIN, the packed client
// version), the §9.5 inbound fixtures, the sendmessage body, and the adapter's stored records.
#include "wechat_ilink/ilink_codec.hpp"
#include "wechat_ilink/ilink_accounts.hpp"
#include "wechat_ilink/ilink_api.hpp"

#include <catch2/catch.hpp>

using namespace bot::adapters::wechat_ilink;

TEST_CASE("X-WECHAT-UIN and iLink-App-ClientVersion match the §10 vectors", "[ilink]") {
    CHECK(uin_header(123456789) == "MTIzNDU2Nzg5");
    CHECK(uin_header(4294967295U) == "NDI5NDk2NzI5NQ==");
    CHECK(uin_header(0) == "MA==");
    CHECK(packed_client_version("2.4.9") == 132105);
    CHECK(packed_client_version("2.0.0") == 131072);
    CHECK(packed_client_version("1.0.11") == 65547);
    CHECK(packed_client_version("1.0") == 0);
    CHECK(packed_client_version("1.0.256") == 0);
    CHECK(packed_client_version("1.0.1x") == 0);
    CHECK(endpoint_url("https://ilinkai.weixin.qq.com", "ilink/bot/getupdates") ==
          "https://ilinkai.weixin.qq.com/ilink/bot/getupdates");
    CHECK(endpoint_url("http://h:1/", "ilink/bot/x") == "http://h:1/ilink/bot/x");
}

TEST_CASE("The §9.5 text message keeps its uint64 id exact and its context token", "[ilink]") {
    auto updates = parse_updates(json::parse(R"({"ret":0,"msgs":[
        {"seq":1,"message_id":9007199254740993,"from_user_id":"owner@im.wechat",
         "to_user_id":"0123abcd@im.bot","create_time_ms":1760000000000,"session_id":"s1",
         "message_type":1,"message_state":2,
         "item_list":[{"type":1,"create_time_ms":1760000000000,"text_item":{"text":"hi"}}],
         "context_token":"Y3R4LTE="}],
        "get_updates_buf":"YzE=","longpolling_timeout_ms":35000})"));
    REQUIRE(updates.messages.size() == 1);
    const auto& message = updates.messages[0];
    CHECK(message.message_id == 9007199254740993ULL);  // a double would give ...992
    CHECK(message.from == "owner@im.wechat");
    CHECK(message.message_type == 1);
    CHECK(message.text == "hi");
    CHECK(message.unsupported.empty());
    CHECK(message.context_token == "Y3R4LTE=");
    CHECK(message.create_time_ms == 1760000000000);
    CHECK(updates.cursor == "YzE=");
    CHECK(updates.poll_timeout_ms == 35000);
    CHECK_FALSE(updates.lapsed);
}

TEST_CASE("Voice gives its transcript; media without text is named; quotes are marked", "[ilink]") {
    auto voice = parse_message(json::parse(R"({"message_id":"18446744073709551615",
        "message_type":1,"item_list":[{"type":3,"voice_item":{"encode_type":6,
        "text":"语音转文字","media":{"encrypt_query_param":"dl-v1"}}}]})"));
    CHECK(voice.message_id == 18446744073709551615ULL);  // the largest uint64, as a string
    CHECK(voice.text == "语音转文字");

    auto image = parse_message(json::parse(R"({"message_id":7,"message_type":1,
        "item_list":[{"type":2,"image_item":{"aeskey":"000102030405060708090a0b0c0d0e0f"}}]})"));
    CHECK(image.text.empty());
    CHECK(image.unsupported == "image");
    auto file = parse_message(json::parse(
        R"({"message_type":1,"item_list":[{"type":4,"msg_id":42,"file_item":{"file_name":"a.txt"}}]})"));
    CHECK(file.unsupported == "file");
    CHECK(file.message_id == 42);  // OCW: the first item's msg_id when the message has none
    auto silent_voice = parse_message(
        json::parse(R"({"message_type":1,"item_list":[{"type":3,"voice_item":{}}]})"));
    CHECK(silent_voice.unsupported == "voice");

    auto quote = parse_message(json::parse(R"({"message_type":1,"item_list":[{"type":1,
        "text_item":{"text":"what about it"},"ref_msg":{"svr_id":123,"title":"earlier",
        "message_item":{"type":1,"text_item":{"text":"orig"}}}}]})"));
    CHECK(quote.text == "> orig\nwhat about it");
    auto titled = parse_message(json::parse(R"({"message_type":1,"item_list":[{"type":1,
        "text_item":{"text":"and?"},"ref_msg":{"title":"earlier"}}]})"));
    CHECK(titled.text == "> earlier\nand?");

    auto echo = parse_message(
        json::parse(R"({"message_type":2,"item_list":[{"type":1,"text_item":{"text":"mine"}}]})"));
    CHECK(echo.message_type == 2);
    CHECK(parse_message(json::parse(R"({"message_id":-1})")).message_id == 0);
}

TEST_CASE("The long poll timeout the server asks for is bounded", "[ilink]") {
    // The adapter adds it to the clock: 2^63 ms would overflow it.
    CHECK(parse_updates(json::parse(R"({"longpolling_timeout_ms":9223372036854775807})"))
              .poll_timeout_ms == kMaxPollTimeoutMs);
    CHECK(parse_updates(json::parse(R"({"longpolling_timeout_ms":-1})")).poll_timeout_ms == 0);
    CHECK(parse_updates(json::parse(R"({"longpolling_timeout_ms":35000})")).poll_timeout_ms ==
          35000);
}

// Found by tests/fuzz (fuzz_ilink): without an item list a message was neither text nor
// unsupported.
TEST_CASE("A message without an item list is an unsupported message", "[ilink]") {
    for (const char* body : {R"({"message_type":1})", R"({"message_type":1,"item_list":5})",
                             R"({"message_type":1,"item_list":[]})"}) {
        auto message = parse_message(json::parse(body));
        CHECK(message.text.empty());
        CHECK(message.unsupported == "message");
    }
}

TEST_CASE("A poll answered with neither msgs nor cursor is a lapse", "[ilink]") {
    CHECK(parse_updates(json::object()).lapsed);
    CHECK_FALSE(parse_updates(json::parse(R"({"msgs":[],"get_updates_buf":""})")).lapsed);
    CHECK(parse_updates(json::parse(R"({"msgs":"nonsense"})")).messages.empty());
}

TEST_CASE("sendmessage carries one TEXT item, from \"\", as a finished bot message", "[ilink]") {
    auto body = text_message("u@im.wechat", "cid-1", "Y3R4", "hello");
    const auto& msg = body.at("msg");
    CHECK(msg.at("from_user_id") == "");
    CHECK(msg.at("to_user_id") == "u@im.wechat");
    CHECK(msg.at("client_id") == "cid-1");
    CHECK(msg.at("message_type") == 2);
    CHECK(msg.at("message_state") == 2);
    CHECK(msg.at("context_token") == "Y3R4");
    REQUIRE(msg.at("item_list").size() == 1);
    CHECK(msg.at("item_list")[0] == json::parse(R"({"type":1,"text_item":{"text":"hello"}})"));
}

TEST_CASE("Stored accounts, contexts and chat ids read back as written", "[ilink]") {
    BoundAccount account{.bot_id = "0123abcd@im.bot",
                         .token = "tok-1",
                         .base_url = "https://ilinkai.weixin.qq.com",
                         .owner = "owner@im.wechat",
                         .bound_at_ms = 1760000000000,
                         .status = BoundAccount::Status::expired,
                         .status_detail = "session timeout (-14)"};
    auto read = decode_account(encode_account(account));
    REQUIRE(read);
    CHECK(read->token == "tok-1");
    CHECK(read->status == BoundAccount::Status::expired);
    CHECK(read->status_detail == "session timeout (-14)");
    CHECK_FALSE(decode_account(R"({"bot_id":"x","token":"t","status":"weird"})"));
    CHECK_FALSE(decode_account(R"({"bot_id":"x"})"));
    CHECK_FALSE(decode_account("not json"));

    auto context =
        decode_context(encode_context({.token = "c", .received_at_ms = 5, .message_time_ms = 4}));
    REQUIRE(context);
    CHECK(context->token == "c");
    CHECK(context->received_at_ms == 5);
    CHECK(context->message_time_ms == 4);

    CHECK(chat_id_of("b@im.bot", "u@im.wechat") == "b@im.bot/u@im.wechat");
    auto chat = parse_chat_id("b@im.bot/u@im.wechat");
    REQUIRE(chat);
    CHECK(chat->first == "b@im.bot");
    CHECK(chat->second == "u@im.wechat");
    CHECK_FALSE(parse_chat_id("no-slash"));
    CHECK_FALSE(parse_chat_id("/u"));
}
