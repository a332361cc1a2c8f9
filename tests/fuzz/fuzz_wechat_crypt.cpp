// WXBizMsgCrypt decryption (adapters/wechat_common/wx_crypt.*), which every WeChat-family
// callback runs on the network's ciphertext: decrypt() declares no exception, only CryptError.
// Random bytes rarely survive AES and padding, so besides raw ciphertext the harness encrypts
// the fuzzer's bytes itself (no padding added): the checks after decryption (padding, the
// length field, the receive id) then see whatever the fuzzer chose.
#include "base/crypto.hpp"
#include "fuzz_support.hpp"
#include "wechat_common/wx_crypt.hpp"

#include <openssl/evp.h>

#include <memory>

namespace wx = bot::adapters::wechat;

namespace {

// The official sample's key and AppID (tests/adapters/testdata/wechat/vectors.json).
constexpr std::string_view kEncodingAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
constexpr std::string_view kReceiveId = "wx2c2769f8efd9abc2";

// AES-256-CBC with IV = key[0:16], whole blocks only, as the platform encrypts.
std::string encrypt_blocks(std::string_view plain) {
    const auto key = *bot::crypto::base64_decode(std::string(kEncodingAesKey) + "=");
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                            &EVP_CIPHER_CTX_free);
    const auto* bytes = reinterpret_cast<const unsigned char*>(key.data());
    EVP_EncryptInit_ex(context.get(), EVP_aes_256_cbc(), nullptr, bytes, bytes);
    EVP_CIPHER_CTX_set_padding(context.get(), 0);
    std::string out(plain.size(), '\0');
    int written = 0;
    EVP_EncryptUpdate(context.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                      reinterpret_cast<const unsigned char*>(plain.data()),
                      static_cast<int>(plain.size()));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const wx::MessageCrypt crypt(kEncodingAesKey, std::string(kReceiveId));
    if (size < 1) return 0;
    const auto rest = fuzz::as_text(data + 1, size - 1);
    std::string ciphertext;
    if (data[0] & 1) {
        // The fuzzer's bytes as the decrypted text, cut to whole blocks.
        ciphertext =
            bot::crypto::base64_encode(encrypt_blocks(rest.substr(0, rest.size() / 16 * 16)));
    } else {
        ciphertext = std::string(rest);
    }
    auto message = crypt.decrypt(ciphertext);
    if (message) {
        fuzz::require(message->size() <= ciphertext.size(), "a message longer than its cipher");
        // What we encrypt, we decrypt.
        auto again = crypt.decrypt(crypt.encrypt(*message, "0123456789abcdef"));
        fuzz::require(again && *again == *message, "encrypt/decrypt does not round-trip");
    }
    // (Not encode(decode(x)) == x: like most decoders it accepts nonzero bits after the last
    // byte, and the signature covers the text as received, so that is harmless.)
    (void)bot::crypto::base64_decode(rest);
    (void)bot::crypto::base64url_decode(rest);
    auto decoded = bot::crypto::base64_decode(bot::crypto::base64_encode(rest));
    fuzz::require(decoded && *decoded == rest, "base64 does not round-trip");
    auto decoded_url = bot::crypto::base64url_decode(bot::crypto::base64url_encode(rest));
    fuzz::require(decoded_url && *decoded_url == rest, "base64url does not round-trip");
    (void)wx::signature_matches(rest, wx::sha1_signature({"token", "1", "nonce", rest}));
    return 0;
}
