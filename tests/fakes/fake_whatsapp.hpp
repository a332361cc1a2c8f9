// WhatsApp Business Cloud API for tests, as the whatsapp adapter meets it:
// - POST /{phone_number_id}/messages on a RecordingServer: Bearer token checked (401 code
//   190 otherwise), text messages (messaging_product "whatsapp", to, type "text", text.body
//   of at most 4,096 characters) answered with a wamid; "status":"read" bodies (with or
//   without typing_indicator) recorded as reads;
// - a webhook client that signs bodies as Meta does (X-Hub-Signature-256) and builds them.
#pragma once

#include "fakes/recording_server.hpp"
#include "fakes/test_http.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeWhatsApp {
public:
    struct Sent {
        std::string to;
        std::string text;
    };
    struct Read {
        std::string message_id;
        bool typing = false;
    };

    FakeWhatsApp(std::string phone_number_id, std::string access_token, std::string app_secret);
    ~FakeWhatsApp();
    FakeWhatsApp(const FakeWhatsApp&) = delete;
    FakeWhatsApp& operator=(const FakeWhatsApp&) = delete;

    std::string api_base() const;       // for the adapter's api_base
    std::string messages_path() const;  // "/<phone_number_id>/messages"
    RecordingServer& api();

    // The next `times` text sends (not read receipts) get reply instead.
    void fail_next_send(Reply reply, int times = 1);

    std::vector<Sent> sent() const;
    std::vector<Read> reads() const;
    bool wait_sent(std::size_t n,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    // ---- webhook ----
    // A body with one text message from `from` (timestamp: Unix seconds, 0 = now), for
    // phone_number_id (default: ours).
    nlohmann::json text_message(const std::string& from, const std::string& wamid,
                                const std::string& text, std::int64_t timestamp = 0,
                                const std::string& phone_number_id = {}) const;
    // A "delivered" status of one of our messages.
    nlohmann::json status(const std::string& wamid, const std::string& recipient) const;
    // POSTs body with X-Hub-Signature-256 from the app secret, or `signature` as given when
    // not empty ("-" sends none).
    TestResponse post(const std::string& url, const std::string& body,
                      const std::string& signature = {}) const;
    static std::string sign(const std::string& secret, const std::string& body);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
