// The WeChat family's crypto against the official samples, byte for byte.
#include "base/crypto.hpp"
#include "bot/http/http_types.hpp"
#include "wechat_common/wx_callback.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wechat_common/wx_xml.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::wechat;
using nlohmann::json;

namespace {

std::vector<json> vectors(const std::string& platform, const std::string& kind) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/wechat/vectors.json");
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<json> out;
    for (auto& entry : json::parse(text.str())) {
        if (entry["platform"] == platform && entry["kind"] == kind) out.push_back(entry);
    }
    REQUIRE(!out.empty());
    return out;
}

std::string s(const json& value) {
    return value.get<std::string>();
}

}  // namespace

TEST_CASE("wechat crypto: Official Account safe-mode sample verifies and decrypts", "[wechat]") {
    for (auto& v : vectors("wechat_mp", "decrypt")) {
        auto& in = v["inputs"];
        auto& expected = v["expected"];
        CHECK(sha1_signature({s(in["token"]), s(in["timestamp"]), s(in["nonce"]),
                              s(in["encrypt"])}) == s(expected["msg_signature"]));
        MessageCrypt crypt(s(in["encoding_aes_key"]), s(expected["receive_id"]));
        auto plain = crypt.decrypt(s(in["encrypt"]));
        REQUIRE(plain);
        CHECK(*plain == s(expected["plaintext"]));
        // Re-encrypting with the sample's random prefix gives back its ciphertext exactly.
        CHECK(crypt.encrypt(*plain, s(expected["random16"])) == s(in["encrypt"]));
    }
}

TEST_CASE("wechat crypto: encryption matches the official Java test byte for byte", "[wechat]") {
    for (auto& v : vectors("wechat_mp", "encrypt")) {
        auto& in = v["inputs"];
        MessageCrypt crypt(s(in["encoding_aes_key"]), s(in["appid"]));
        CHECK(crypt.encrypt(s(in["plaintext"]), s(in["random16"])) == s(v["expected"]["encrypt"]));
        auto back = crypt.decrypt(s(v["expected"]["encrypt"]));
        REQUIRE(back);
        CHECK(*back == s(in["plaintext"]));
    }
}

TEST_CASE("wechat crypto: WeCom URL verification samples", "[wechat][wecom]") {
    for (auto& v : vectors("wecom", "url-verify")) {
        auto& in = v["inputs"];
        bot::http::Request request;
        std::string echostr;
        std::string signature, timestamp, nonce;
        if (in.contains("query")) {
            // The raw query as WeCom sends it: echostr is percent-encoded.
            request.query = s(in["query"]);
            echostr = request.query_param("echostr").value();
            CHECK(echostr == s(v["expected"]["echostr_decoded"]));
            signature = request.query_param("msg_signature").value();
            timestamp = request.query_param("timestamp").value();
            nonce = request.query_param("nonce").value();
        } else {
            echostr = s(in["echostr"]);
            signature = s(in["msg_signature"]);
            timestamp = s(in["timestamp"]);
            nonce = s(in["nonce"]);
        }
        CHECK(signature_matches(signature,
                                sha1_signature({s(in["token"]), timestamp, nonce, echostr})));
        MessageCrypt crypt(s(in["encoding_aes_key"]), s(in["receive_id"]));
        auto plain = crypt.decrypt(echostr);
        REQUIRE(plain);
        CHECK(*plain == s(v["expected"]["reply_body"]));
    }
}

TEST_CASE("wechat crypto: WeCom callback samples decrypt", "[wechat][wecom]") {
    for (auto& v : vectors("wecom", "decrypt")) {
        auto& in = v["inputs"];
        std::string encrypt;
        if (in.contains("post_body")) {
            auto fields = parse_xml_fields(s(in["post_body"]));
            REQUIRE(fields);
            encrypt = std::string(field(*fields, "Encrypt"));
        } else {
            encrypt = s(in["encrypt"]);
        }
        CHECK(sha1_signature({s(in["token"]), s(in["timestamp"]), s(in["nonce"]), encrypt}) ==
              s(in["msg_signature"]));
        MessageCrypt crypt(s(in["encoding_aes_key"]), s(in["receive_id"]));
        auto plain = crypt.decrypt(encrypt);
        REQUIRE(plain);
        CHECK(*plain == s(v["expected"]["plaintext"]));
        CHECK(crypt.encrypt(*plain, s(v["expected"]["random16"])) == encrypt);
    }
}

TEST_CASE("wechat crypto: hostile ciphertexts are refused, never crash", "[wechat]") {
    const std::string key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    MessageCrypt crypt(key, "wx-ours");
    auto good = crypt.encrypt("<xml>hi</xml>");
    REQUIRE(crypt.decrypt(good));

    CHECK(MessageCrypt(key, "wx-other").decrypt(good).error() == CryptError::foreign_receive_id);
    CHECK(MessageCrypt(key, "").decrypt(good).error() == CryptError::foreign_receive_id);
    CHECK(crypt.decrypt("").error() == CryptError::bad_base64);
    CHECK(crypt.decrypt("not base64!").error() == CryptError::bad_base64);
    CHECK(crypt.decrypt("QUJD").error() == CryptError::bad_length);  // 3 bytes
    CHECK(crypt.decrypt(good.substr(0, good.size() - 4)).error() != CryptError{});
    // A flipped byte in the last block garbles the padding or the layout.
    auto bytes = bot::crypto::base64_decode(good).value();
    bytes.back() ^= 0x55;
    CHECK_FALSE(crypt.decrypt(bot::crypto::base64_encode(bytes)));
    // Whole blocks of zeros: decrypts to garbage with bad padding or length.
    CHECK_FALSE(crypt.decrypt(bot::crypto::base64_encode(std::string(64, '\0'))));

    CHECK_FALSE(MessageCrypt::valid_key("short"));
    CHECK_FALSE(MessageCrypt::valid_key(key + "A"));
    CHECK_THROWS_AS(MessageCrypt("!!!", ""), std::invalid_argument);
}

TEST_CASE("wechat crypto: signatures sort their parts and compare in any case", "[wechat]") {
    // sha1("123abcxyz")
    auto expected = sha1_signature({"abc", "123", "xyz"});
    CHECK(expected == sha1_signature({"xyz", "abc", "123"}));
    CHECK(expected.size() == 40);
    std::string upper = expected;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(signature_matches(upper, expected));
    CHECK_FALSE(signature_matches(expected.substr(1), expected));
    CHECK_FALSE(signature_matches("", expected));
}

TEST_CASE("wechat xml: fields, CDATA, and values that contain ]]>", "[wechat]") {
    auto xml = build_xml({{"Content", "a ]]> b <c> & d"}, {"CreateTime", "123", false}});
    CHECK(xml.find("<CreateTime>123</CreateTime>") != std::string::npos);
    auto fields = parse_xml_fields(xml);
    REQUIRE(fields);
    CHECK(field(*fields, "Content") == "a ]]> b <c> & d");
    CHECK(field(*fields, "CreateTime") == "123");
    CHECK(field(*fields, "Missing").empty());
    CHECK_FALSE(parse_xml_fields("<xml><a>unclosed</xml>"));
    CHECK_FALSE(parse_xml_fields("not xml"));
    CHECK_FALSE(parse_xml_fields(""));
    // A DTD's entities are never expanded (no external files, no entity bombs): the reference
    // stays literal text.
    auto dtd = parse_xml_fields(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>");
    REQUIRE(dtd);
    CHECK(field(*dtd, "a") == "&e;");
}

TEST_CASE("wechat callbacks: the signed timestamp must be within 5 minutes of the clock",
          "[wechat][wecom]") {
    using std::chrono::seconds;
    const std::chrono::system_clock::time_point now{seconds(1409659589)};
    auto at = [](std::string timestamp) {
        bot::http::Request request;
        request.query = "msg_signature=x&timestamp=" + timestamp + "&nonce=1";
        return request;
    };
    CHECK(timestamp_recent(at("1409659589"), now));
    CHECK(timestamp_recent(at("1409659289"), now));  // 300 s behind
    CHECK(timestamp_recent(at("1409659889"), now));  // 300 s ahead
    CHECK_FALSE(timestamp_recent(at("1409659288"), now));
    CHECK_FALSE(timestamp_recent(at("1409659890"), now));
    for (const char* junk : {"", "abc", "1409659589x", " 1409659589", "-9223372036854775808",
                             "99999999999999999999999", "1409659589.0"})
        CHECK_FALSE(timestamp_recent(at(junk), now));
    bot::http::Request without;
    without.query = "msg_signature=x&nonce=1";
    CHECK_FALSE(timestamp_recent(without, now));

    // The official URL-check sample: genuine, but signed in 2014.
    for (auto& v : vectors("wecom", "url-verify")) {
        auto& in = v["inputs"];
        if (!in.contains("query")) continue;
        bot::http::Request request;
        request.query = s(in["query"]);
        auto echostr = request.query_param("echostr", false).value();
        auto refused = refuse_unsigned(request, s(in["token"]), echostr);
        REQUIRE(refused);
        CHECK(refused->status == 401);
        CHECK(refused->body == "stale timestamp");
        CHECK(refuse_unsigned(request, "another-token", echostr)->body == "bad msg_signature");
    }
}
