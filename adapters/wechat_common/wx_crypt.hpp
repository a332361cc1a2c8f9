// The WeChat family's message crypto (WXBizMsgCrypt), shared by the Official Account, WeCom
// app and WeCom AI bot adapters: SHA-1 signatures over sorted strings, and AES-256-CBC with
// IV = key[0:16] and PKCS#7 padding to 32 bytes over random16 | len_be32 | msg | receive_id.
// See ../shared/reference/protocols.md §1-2; tests replay the official samples byte for byte.
// Hashes, base64 and randomness come from base/crypto.hpp; only WeChat's framing is here.
#pragma once

#include <boost/system/result.hpp>

#include <array>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>

namespace bot::adapters::wechat {

// Why bytes from the network could not be decoded or decrypted.
enum class CryptError {
    bad_base64,
    bad_length,  // not whole AES blocks, or too short for the layout
    bad_padding,
    foreign_receive_id,  // decrypted fine, but for another AppID/CorpID
    failed,
};
std::string_view describe(CryptError error);
// For result<T, CryptError>::value() and printing (found by argument-dependent lookup).
[[noreturn]] void throw_exception_from_error(CryptError error, const boost::source_location&);
std::ostream& operator<<(std::ostream& out, CryptError error);
template <class T>
using CryptResult = boost::system::result<T, CryptError>;

// hex(sha1(concat(sort(parts)))): `signature` (token, timestamp, nonce) and `msg_signature`
// (the same plus the Encrypt text).
std::string sha1_signature(std::initializer_list<std::string_view> parts);

// Constant-time comparison of a received signature with the expected one (hex, any case).
bool signature_matches(std::string_view received, std::string_view expected);

class MessageCrypt {
public:
    // encoding_aes_key: the 43-character key from the platform's console. receive_id: the
    // AppID (Official Account), CorpID (WeCom app) or "" (WeCom AI bot). Throws
    // std::invalid_argument when the key is malformed.
    MessageCrypt(std::string_view encoding_aes_key, std::string receive_id);
    static bool valid_key(std::string_view encoding_aes_key);

    // The message inside base64 ciphertext; an error (bad base64, length, padding, or a
    // receive id that is not ours) never throws.
    CryptResult<std::string> decrypt(std::string_view ciphertext) const;
    // base64 ciphertext with a fresh random prefix.
    std::string encrypt(std::string_view message) const;
    // Deterministic, for test vectors: random16 must be 16 bytes.
    std::string encrypt(std::string_view message, std::string_view random16) const;

private:
    std::array<unsigned char, 32> key_{};
    std::string receive_id_;
};

}  // namespace bot::adapters::wechat
