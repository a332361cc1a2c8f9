#include "bot/net/tls_client.hpp"

#include <array>
#include <stdexcept>

namespace bot {

namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

TlsClientContext::TlsClientContext(std::string extra_ca_file)
    : extra_ca_file_(std::move(extra_ca_file)) {
    if (!extra_ca_file_.empty()) get();  // a wrong file fails now
}

ssl::context& TlsClientContext::get() {
    std::call_once(made_, [this] {
        context_.emplace(ssl::context::tls_client);
        context_->set_default_verify_paths();
        context_->set_verify_mode(ssl::verify_peer);
        SSL_CTX_set_min_proto_version(context_->native_handle(), TLS1_2_VERSION);
        if (!extra_ca_file_.empty()) {
            boost::system::error_code ec;
            context_->load_verify_file(extra_ca_file_, ec);
            if (ec) {
                context_.reset();
                throw std::runtime_error("cannot load CA file " + extra_ca_file_ + ": " +
                                         ec.message());
            }
        }
    });
    return *context_;
}

std::optional<tcp::resolver::results_type> endpoints_without_dns(const Origin& origin) {
    boost::system::error_code not_literal;
    const auto literal = boost::asio::ip::make_address(origin.host, not_literal);
    const auto port = static_cast<unsigned short>(std::stoul(origin.port));  // checked: 1-65535
    if (!not_literal) {
        return tcp::resolver::results_type::create(tcp::endpoint(literal, port), origin.host,
                                                   origin.port);
    }
    if (is_localhost(origin)) {
        const std::array loopback{tcp::endpoint(boost::asio::ip::address_v4::loopback(), port),
                                  tcp::endpoint(boost::asio::ip::address_v6::loopback(), port)};
        return tcp::resolver::results_type::create(loopback.begin(), loopback.end(), origin.host,
                                                   origin.port);
    }
    return std::nullopt;
}

}  // namespace bot
