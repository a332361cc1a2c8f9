// A blocking HTTP client for tests (libcurl easy): tests talk to the real server over loopback.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bot::testing {

struct TestResponse {
    long status = 0;
    std::string body;
    std::string headers;  // raw header block
};

TestResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body = {},
                          const std::vector<std::string>& headers = {}, long timeout_ms = 30000);

}  // namespace bot::testing
