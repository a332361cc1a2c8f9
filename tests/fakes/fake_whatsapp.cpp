#include "fakes/fake_whatsapp.hpp"

#include "base/crypto.hpp"

#include <condition_variable>
#include <mutex>

namespace bot::testing {

namespace {

Reply graph_error(int status, int code, const std::string& message) {
    return Reply::json({{"error",
                         {{"message", message},
                          {"type", "OAuthException"},
                          {"code", code},
                          {"error_data", {{"messaging_product", "whatsapp"}, {"details", message}}},
                          {"fbtrace_id", "AfakeTrace"}}}},
                       status);
}

std::size_t code_points(const std::string& text) {
    std::size_t count = 0;
    for (unsigned char c : text)
        if ((c & 0xC0) != 0x80) ++count;
    return count;
}

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct FakeWhatsApp::Impl {
    std::string phone;
    std::string token;
    std::string secret;
    RecordingServer server;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<Sent> sent;
    std::vector<Read> reads;
    std::vector<Reply> send_failures;
    int next = 1;

    Reply messages(const RecordedRequest& request) {
        if (request.header("Authorization") != "Bearer " + token)
            return graph_error(401, 190, "Error validating access token");
        const auto& body = request.json;
        if (!body.is_object() || body.value("messaging_product", "") != "whatsapp")
            return graph_error(400, 100, "(#100) Invalid parameter");
        if (body.value("status", "") == "read") {
            if (!body.contains("message_id") || !body["message_id"].is_string())
                return graph_error(400, 100, "(#100) Invalid parameter");
            std::lock_guard lock(mutex);
            reads.push_back({body["message_id"], body.contains("typing_indicator")});
            return Reply::json({{"success", true}});
        }
        if (body.value("type", "") != "text" || !body.contains("to") || !body["to"].is_string() ||
            !body.contains("text") || !body["text"].is_object() || !body["text"].contains("body") ||
            !body["text"]["body"].is_string())
            return graph_error(400, 100, "(#100) Invalid parameter");
        std::string text = body["text"]["body"];
        if (text.empty() || code_points(text) > 4096)
            return graph_error(400, 100, "(#100) Invalid parameter: message too long");
        std::string to = body["to"];
        std::string wamid;
        {
            std::lock_guard lock(mutex);
            if (!send_failures.empty()) {
                Reply failure = std::move(send_failures.front());
                send_failures.erase(send_failures.begin());
                return failure;
            }
            sent.push_back({to, std::move(text)});
            wamid = "wamid.SENT" + std::to_string(next++);
        }
        changed.notify_all();
        return Reply::json({{"messaging_product", "whatsapp"},
                            {"contacts", {{{"input", to}, {"wa_id", to}}}},
                            {"messages", {{{"id", wamid}}}}});
    }
};

FakeWhatsApp::FakeWhatsApp(std::string phone_number_id, std::string access_token,
                           std::string app_secret)
    : impl_(std::make_unique<Impl>()) {
    impl_->phone = std::move(phone_number_id);
    impl_->token = std::move(access_token);
    impl_->secret = std::move(app_secret);
    auto* impl = impl_.get();
    impl_->server.on("POST", messages_path(),
                     [impl](const RecordedRequest& r) { return impl->messages(r); });
}

FakeWhatsApp::~FakeWhatsApp() = default;

std::string FakeWhatsApp::api_base() const {
    return impl_->server.base_url();
}

std::string FakeWhatsApp::messages_path() const {
    return "/" + impl_->phone + "/messages";
}

RecordingServer& FakeWhatsApp::api() {
    return impl_->server;
}

void FakeWhatsApp::fail_next_send(Reply reply, int times) {
    std::lock_guard lock(impl_->mutex);
    for (int i = 0; i < times; ++i) impl_->send_failures.push_back(reply);
}

std::vector<FakeWhatsApp::Sent> FakeWhatsApp::sent() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

std::vector<FakeWhatsApp::Read> FakeWhatsApp::reads() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->reads;
}

bool FakeWhatsApp::wait_sent(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->sent.size() >= n; });
}

nlohmann::json FakeWhatsApp::text_message(const std::string& from, const std::string& wamid,
                                          const std::string& text, std::int64_t timestamp,
                                          const std::string& phone_number_id) const {
    nlohmann::json value{
        {"messaging_product", "whatsapp"},
        {"metadata",
         {{"display_phone_number", "15550783881"},
          {"phone_number_id", phone_number_id.empty() ? impl_->phone : phone_number_id}}},
        {"contacts", {{{"profile", {{"name", "Test User"}}}, {"wa_id", from}}}},
        {"messages",
         {{{"from", from},
           {"id", wamid},
           {"timestamp", std::to_string(timestamp ? timestamp : now_s())},
           {"type", "text"},
           {"text", {{"body", text}}}}}}};
    return {
        {"object", "whatsapp_business_account"},
        {"entry",
         {{{"id", "102290129340398"}, {"changes", {{{"value", value}, {"field", "messages"}}}}}}}};
}

nlohmann::json FakeWhatsApp::status(const std::string& wamid, const std::string& recipient) const {
    nlohmann::json value{
        {"messaging_product", "whatsapp"},
        {"metadata", {{"display_phone_number", "15550783881"}, {"phone_number_id", impl_->phone}}},
        {"statuses",
         {{{"id", wamid},
           {"status", "delivered"},
           {"timestamp", std::to_string(now_s())},
           {"recipient_id", recipient}}}}};
    return {
        {"object", "whatsapp_business_account"},
        {"entry",
         {{{"id", "102290129340398"}, {"changes", {{{"value", value}, {"field", "messages"}}}}}}}};
}

TestResponse FakeWhatsApp::post(const std::string& url, const std::string& body,
                                const std::string& signature) const {
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (signature != "-")
        headers.push_back("X-Hub-Signature-256: " +
                          (signature.empty() ? sign(impl_->secret, body) : signature));
    return http_request("POST", url, body, headers);
}

std::string FakeWhatsApp::sign(const std::string& secret, const std::string& body) {
    return "sha256=" + crypto::hex(crypto::hmac_sha256(secret, body));
}

}  // namespace bot::testing
