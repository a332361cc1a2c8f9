// Hashes, MACs, base64 and Ed25519 on OpenSSL, for every adapter (and every fake) that signs or
// verifies: one implementation, tested against official vectors (tests/core/crypto_test.cpp).
// Byte strings travel as std::string; digests come back raw (hex() for the printable form).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bot::crypto {

std::string sha1(std::string_view data);                               // 20 raw bytes
std::string sha256(std::string_view data);                             // 32 raw bytes
std::string hmac_sha1(std::string_view key, std::string_view data);    // 20 raw bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes

std::string hex(std::string_view bytes);  // lower case
std::optional<std::string> from_hex(std::string_view text);

// Standard alphabet with padding. decode: strict (padding required, no whitespace), nullopt on
// anything else.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
// URL-safe alphabet (RFC 4648 §5); decode accepts it with or without padding.
std::string base64url_encode(std::string_view bytes, bool padding = false);
std::optional<std::string> base64url_decode(std::string_view text);

// Compares in time that depends only on the lengths (signatures, tokens).
bool constant_time_equal(std::string_view a, std::string_view b);

// Ed25519 (RFC 8032). seed: 32 bytes; public key: 32 bytes; signature: 64 bytes.
std::string ed25519_public_key(std::string_view seed);
std::string ed25519_sign(std::string_view seed, std::string_view message);
// false on a wrong signature and on malformed input (lengths, a non-canonical S).
bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature);

// AES-256-CBC (Feishu's event encryption; NIST SP 800-38A F.2.5/F.2.6 in tests/core). key: 32
// bytes, iv: 16 bytes. pkcs7: pad to 16-byte blocks (encrypt) / check and strip that padding
// (decrypt); without it the input must be whole blocks. decrypt gives nullopt on a wrong key or
// IV size, a length that is not whole blocks, or bad padding; encrypt throws on wrong sizes.
enum class Padding { pkcs7, none };
std::optional<std::string> aes256_cbc_decrypt(std::string_view key, std::string_view iv,
                                              std::string_view ciphertext,
                                              Padding padding = Padding::pkcs7);
std::string aes256_cbc_encrypt(std::string_view key, std::string_view iv,
                               std::string_view plaintext, Padding padding = Padding::pkcs7);

// Cryptographically random bytes (RAND_bytes); throws when the generator fails.
std::string random_bytes(std::size_t count);

}  // namespace bot::crypto
