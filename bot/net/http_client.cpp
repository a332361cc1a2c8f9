#include "bot/net/http_client.hpp"

#include "bot/net/beast_http_client.hpp"
#include "bot/net/curl_http_client.hpp"

#include <cstdlib>

namespace bot {

namespace {

// The variables libcurl reads (it ignores upper-case HTTP_PROXY: CGI programs get it from the
// request's "Proxy:" header).
const char* proxy_variable() {
    for (const char* name :
         {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
        if (const char* value = std::getenv(name); value && *value) return name;
    }
    return nullptr;
}

}  // namespace

std::unique_ptr<HttpClient> make_http_client(net::any_io_executor executor, Logger& logger) {
    if (const char* variable = proxy_variable()) {
        logger.info("http-client", variable, " is set: outbound HTTP goes through libcurl");
        return std::make_unique<CurlHttpClient>(std::move(executor), logger);
    }
    return std::make_unique<BeastHttpClient>(std::move(executor), logger);
}

}  // namespace bot
