// What outbound connections share (BeastHttpClient and the websocket client): the TLS context a
// server is verified against, the per-connection TLS setup (SNI, host name check), and the
// addresses of hosts that need no resolver. One place, so both verify a server the same way.
#pragma once

#include "bot/net/client_wire.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/system/error_code.hpp>

#include <mutex>
#include <optional>
#include <string>

namespace bot {

// The system's CAs (SSL_CERT_FILE / SSL_CERT_DIR honoured as OpenSSL does), plus extra_ca_file
// when set; the peer is verified; TLS 1.2 at least.
class TlsClientContext {
public:
    // Throws std::runtime_error when extra_ca_file cannot be loaded (checked at once, so a
    // wrong file fails at startup rather than at the first connection).
    explicit TlsClientContext(std::string extra_ca_file);
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    // Made at the first call: the system's CA bundle takes ~1 MB and ~50 ms to load, which a
    // server talking only to local services without TLS never needs. Thread-safe.
    boost::asio::ssl::context& get();

private:
    std::string extra_ca_file_;
    std::once_flag made_;
    std::optional<boost::asio::ssl::context> context_;
};

// Before a client handshake on tls (an ssl_stream): SNI with the host name (not for an IP
// literal, RFC 6066) and verification that the certificate names host.
template <class TlsStream>
boost::system::error_code prepare_tls_client(TlsStream& tls, const std::string& host) {
    boost::system::error_code not_literal;
    boost::asio::ip::make_address(host, not_literal);
    if (not_literal && !SSL_set_tlsext_host_name(tls.native_handle(), host.c_str())) {
        return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
    }
    tls.set_verify_callback(boost::asio::ssl::host_name_verification(host));
    return {};
}

// The addresses of an IP literal, and of "localhost" (loopback by definition, RFC 6761, as
// libcurl does: not left to /etc/hosts, which minimal containers lack, nor to a DNS server);
// nullopt when the host name must be resolved.
std::optional<boost::asio::ip::tcp::resolver::results_type> endpoints_without_dns(
    const Origin& origin);

}  // namespace bot
