#include "base/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <memory>
#include <stdexcept>

namespace bot::crypto {

namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

const unsigned char* bytes_of(std::string_view s) {
    // OpenSSL wants a non-null pointer even for zero bytes in places (an empty HMAC key).
    static constexpr unsigned char kEmpty = 0;
    return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes_of(std::string& s) {
    return reinterpret_cast<unsigned char*>(s.data());
}

// The EVP block codecs take int lengths; bigger inputs are no message this program handles.
int checked_length(std::size_t size) {
    if (size > static_cast<std::size_t>(INT_MAX / 2)) throw std::length_error("input too large");
    return static_cast<int>(size);
}

std::string digest(const EVP_MD* md, std::string_view data) {
    std::string out(static_cast<std::size_t>(EVP_MD_get_size(md)), '\0');
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), bytes_of(out), &length, md, nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    out.resize(length);
    return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
    std::string out(EVP_MAX_MD_SIZE, '\0');
    unsigned int length = 0;
    if (HMAC(md, bytes_of(key), checked_length(key.size()), bytes_of(data), data.size(),
             bytes_of(out), &length) == nullptr) {
        throw std::runtime_error("HMAC failed");
    }
    out.resize(length);
    return out;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Pkey ed25519_private(std::string_view seed) {
    if (seed.size() != 32) throw std::invalid_argument("an Ed25519 seed is 32 bytes");
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes_of(seed), seed.size()));
    if (!key) throw std::runtime_error("EVP_PKEY_new_raw_private_key failed");
    return key;
}

// S (the signature's second half, little endian) must be below the group order L
// (RFC 8032 §5.1.7 step 1), or a signature could be altered into another valid one.
bool canonical_s(std::string_view signature) {
    // L = 2^252 + 27742317777372353535851937790883648493, little endian.
    static constexpr std::array<unsigned char, 32> kL = {
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
        0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    for (std::size_t i = 32; i-- > 0;) {
        auto s = static_cast<unsigned char>(signature[32 + i]);
        if (s != kL[i]) return s < kL[i];
    }
    return false;  // S == L
}

struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One AES-256-CBC pass; OpenSSL does the PKCS#7 padding (and refuses a bad one on decrypt).
std::optional<std::string> aes256_cbc(bool encrypt, std::string_view key, std::string_view iv,
                                      std::string_view in, Padding padding) {
    if (key.size() != 32 || iv.size() != 16) return std::nullopt;
    if ((!encrypt || padding == Padding::none) && in.size() % 16 != 0) return std::nullopt;
    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
    const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
    const auto* iv_bytes = reinterpret_cast<const unsigned char*>(iv.data());
    if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key_bytes, iv_bytes,
                          encrypt ? 1 : 0) != 1) {
        throw std::runtime_error("EVP_CipherInit_ex failed");
    }
    EVP_CIPHER_CTX_set_padding(ctx.get(), padding == Padding::pkcs7 ? 1 : 0);
    std::string out(in.size() + 16, '\0');
    int written = 0;
    int final_written = 0;
    if (EVP_CipherUpdate(ctx.get(), bytes_of(out), &written,
                         reinterpret_cast<const unsigned char*>(in.data()),
                         checked_length(in.size())) != 1 ||
        EVP_CipherFinal_ex(ctx.get(), bytes_of(out) + written, &final_written) != 1) {
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(written + final_written));
    return out;
}

}  // namespace

std::optional<std::string> aes256_cbc_decrypt(std::string_view key, std::string_view iv,
                                              std::string_view ciphertext, Padding padding) {
    return aes256_cbc(false, key, iv, ciphertext, padding);
}

std::string aes256_cbc_encrypt(std::string_view key, std::string_view iv,
                               std::string_view plaintext, Padding padding) {
    auto out = aes256_cbc(true, key, iv, plaintext, padding);
    if (!out) throw std::invalid_argument("aes256_cbc_encrypt: wrong key, IV or input size");
    return std::move(*out);
}

std::string sha1(std::string_view data) {
    return digest(EVP_sha1(), data);
}
std::string sha256(std::string_view data) {
    return digest(EVP_sha256(), data);
}
std::string hmac_sha1(std::string_view key, std::string_view data) {
    return hmac(EVP_sha1(), key, data);
}
std::string hmac_sha256(std::string_view key, std::string_view data) {
    return hmac(EVP_sha256(), key, data);
}

std::string hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        auto byte = static_cast<unsigned char>(c);
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 15]);
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        out.push_back(static_cast<char>(high << 4 | low));
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + the NUL EVP_EncodeBlock writes
    int written = EVP_EncodeBlock(bytes_of(out), bytes_of(bytes), checked_length(bytes.size()));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // EVP_DecodeBlock alone skips leading/trailing whitespace and counts padding as zero bytes;
    // the checks here make it exact. (Non-zero bits after the last byte are tolerated, as every
    // common decoder does: WeChat's 43-character keys rely on it.)
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '=' && i + 2 >= text.size()) {
            ++padding;
        } else if (!is_base64_char(c) || padding > 0) {
            return std::nullopt;
        }
    }
    if (text.empty()) return std::string();
    std::string out(text.size() / 4 * 3, '\0');
    int decoded = EVP_DecodeBlock(bytes_of(out), bytes_of(text), checked_length(text.size()));
    if (decoded < 0 || static_cast<std::size_t>(decoded) < padding) return std::nullopt;
    out.resize(static_cast<std::size_t>(decoded) - padding);
    return out;
}

std::string base64url_encode(std::string_view bytes, bool padding) {
    std::string out = base64_encode(bytes);
    for (auto& c : out) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    if (!padding) {
        while (!out.empty() && out.back() == '=') out.pop_back();
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string standard(text);
    for (auto& c : standard) {
        if (c == '+' || c == '/') return std::nullopt;  // the other alphabet
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    // Unpadded text is padded here; padded text must be padded right (base64_decode checks).
    bool padded = standard.find('=') != std::string::npos;
    if (!padded && standard.size() % 4 == 1) return std::nullopt;  // no length leaves one over
    if (!padded && standard.size() % 4 != 0) standard.append(4 - standard.size() % 4, '=');
    return base64_decode(standard);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ed25519_public_key(std::string_view seed) {
    auto key = ed25519_private(seed);
    std::string out(32, '\0');
    std::size_t length = out.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), bytes_of(out), &length) != 1 || length != 32) {
        throw std::runtime_error("EVP_PKEY_get_raw_public_key failed");
    }
    return out;
}

std::string ed25519_sign(std::string_view seed, std::string_view message) {
    auto key = ed25519_private(seed);
    MdCtx ctx(EVP_MD_CTX_new());
    std::string out(64, '\0');
    std::size_t length = out.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), bytes_of(out), &length, bytes_of(message), message.size()) != 1 ||
        length != 64) {
        throw std::runtime_error("Ed25519 signing failed");
    }
    return out;
}

bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature) {
    if (public_key.size() != 32 || signature.size() != 64 || !canonical_s(signature)) return false;
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes_of(public_key),
                                         public_key.size()));
    MdCtx ctx(EVP_MD_CTX_new());
    if (!key || !ctx ||
        EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(message),
                            message.size()) == 1;
}

std::string random_bytes(std::size_t count) {
    std::string out(count, '\0');
    if (count > 0 && RAND_bytes(bytes_of(out), checked_length(count)) != 1) {
        throw std::runtime_error("RAND_bytes failed: no secure randomness available");
    }
    return out;
}

}  // namespace bot::crypto
