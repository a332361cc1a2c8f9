#include "wechat_common/wx_crypt.hpp"

#include "base/crypto.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <vector>

namespace bot::adapters::wechat {

namespace {

constexpr std::size_t kPadBlock = 32;  // WeChat pads to 32 bytes, not AES's 16

struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// AES-256-CBC without OpenSSL's padding (the 32-byte PKCS#7 is done here).
bool aes_cbc(bool encrypt, const std::array<unsigned char, 32>& key, std::string_view in,
             std::string& out) {
    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return false;
    const unsigned char* iv = key.data();  // IV = key[0:16]
    if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv, encrypt ? 1 : 0) !=
        1)
        return false;
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    out.resize(in.size() + 32);
    int written = 0, final_written = 0;
    auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
    if (EVP_CipherUpdate(ctx.get(), out_bytes, &written,
                         reinterpret_cast<const unsigned char*>(in.data()),
                         static_cast<int>(in.size())) != 1 ||
        EVP_CipherFinal_ex(ctx.get(), out_bytes + written, &final_written) != 1)
        return false;
    out.resize(static_cast<std::size_t>(written + final_written));
    return true;
}

// The platform's base64 fields are never empty; an empty one is as bad as a malformed one.
CryptResult<std::string> decode_base64(std::string_view text) {
    auto bytes = text.empty() ? std::nullopt : crypto::base64_decode(text);
    if (!bytes) return CryptError::bad_base64;
    return std::move(*bytes);
}

}  // namespace

std::string_view describe(CryptError error) {
    switch (error) {
        case CryptError::bad_base64:
            return "invalid base64";
        case CryptError::bad_length:
            return "bad ciphertext or message length";
        case CryptError::bad_padding:
            return "bad padding";
        case CryptError::foreign_receive_id:
            return "the message is for another AppID/CorpID";
        case CryptError::failed:
            return "decryption failed";
    }
    return "decryption failed";
}

void throw_exception_from_error(CryptError error, const boost::source_location&) {
    throw std::runtime_error(std::string(describe(error)));
}

std::ostream& operator<<(std::ostream& out, CryptError error) {
    return out << describe(error);
}

std::string sha1_signature(std::initializer_list<std::string_view> parts) {
    std::vector<std::string_view> sorted(parts);
    std::sort(sorted.begin(), sorted.end());
    std::string joined;
    for (auto part : sorted) joined.append(part);
    return crypto::hex(crypto::sha1(joined));
}

bool signature_matches(std::string_view received, std::string_view expected) {
    std::string lowered(received);
    for (auto& c : lowered) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    return crypto::constant_time_equal(lowered, expected);
}

bool MessageCrypt::valid_key(std::string_view encoding_aes_key) {
    if (encoding_aes_key.size() != 43) return false;
    auto key = crypto::base64_decode(std::string(encoding_aes_key) + "=");
    return key && key->size() == 32;
}

MessageCrypt::MessageCrypt(std::string_view encoding_aes_key, std::string receive_id)
    : receive_id_(std::move(receive_id)) {
    if (!valid_key(encoding_aes_key)) {
        throw std::invalid_argument("must be the 43-character EncodingAESKey from the console");
    }
    auto key = crypto::base64_decode(std::string(encoding_aes_key) + "=");
    std::copy(key->begin(), key->end(), key_.begin());
}

CryptResult<std::string> MessageCrypt::decrypt(std::string_view ciphertext) const {
    auto bytes = decode_base64(ciphertext);
    if (!bytes) return bytes.error();
    if (bytes->empty() || bytes->size() % 16 != 0) return CryptError::bad_length;
    std::string plain;
    if (!aes_cbc(false, key_, *bytes, plain)) return CryptError::failed;
    std::size_t pad = static_cast<unsigned char>(plain.back());
    if (pad < 1 || pad > kPadBlock || pad > plain.size()) return CryptError::bad_padding;
    for (std::size_t i = plain.size() - pad; i < plain.size(); ++i) {
        if (static_cast<unsigned char>(plain[i]) != pad) return CryptError::bad_padding;
    }
    // (erase, not resize: g++ 12 -O3 warns about resize's growth path it cannot rule out)
    plain.erase(plain.end() - static_cast<std::ptrdiff_t>(pad), plain.end());
    if (plain.size() < 20) return CryptError::bad_length;
    auto byte = [&](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(plain[i]));
    };
    std::size_t length = (byte(16) << 24) | (byte(17) << 16) | (byte(18) << 8) | byte(19);
    if (length > plain.size() - 20) return CryptError::bad_length;
    std::string_view receive_id = std::string_view(plain).substr(20 + length);
    if (receive_id != receive_id_) return CryptError::foreign_receive_id;
    return plain.substr(20, length);
}

std::string MessageCrypt::encrypt(std::string_view message) const {
    return encrypt(message, crypto::random_bytes(16));
}

std::string MessageCrypt::encrypt(std::string_view message, std::string_view random16) const {
    std::string plain(random16);
    auto length = static_cast<std::uint32_t>(message.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        plain.push_back(static_cast<char>((length >> shift) & 0xff));
    }
    plain.append(message).append(receive_id_);
    std::size_t pad = kPadBlock - plain.size() % kPadBlock;
    plain.append(pad, static_cast<char>(pad));
    std::string cipher;
    aes_cbc(true, key_, plain, cipher);
    return crypto::base64_encode(cipher);
}

}  // namespace bot::adapters::wechat
