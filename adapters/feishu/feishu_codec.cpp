#include "feishu/feishu_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"
#include "base/json_text.hpp"

#include <boost/json/serialize.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace bot::adapters::feishu {

namespace {

using boost::json::array;
using boost::json::object;
using nlohmann::json;

std::string trim(std::string_view text) {
    auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    while (!text.empty() && blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && blank(text.back())) text.remove_suffix(1);
    return std::string(text);
}

// A number given as a JSON integer or a decimal string ("1700000000000": create_time).
std::optional<std::int64_t> integer_of(const object& parent, std::string_view key) {
    const auto* found = parent.if_contains(key);
    if (!found) return std::nullopt;
    if (const auto* text = found->if_string()) {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
        return value;
    }
    if (found->is_int64() || found->is_uint64()) return int_field(parent, key);
    return std::nullopt;
}

// One post element as text (post.md: text, a, at, img, media, emotion, code_block, hr, md).
void append_post_element(std::string& out, const object& element) {
    auto tag = string_field(element, "tag");
    if (tag == "text" || tag == "a" || tag == "md") {
        out += string_field(element, "text");
    } else if (tag == "at") {
        // Received posts name the mention by its placeholder key, as text messages do.
        auto key = string_field(element, "user_id");
        if (key.starts_with("@_")) {
            out += key;
        } else {
            auto name = string_field(element, "user_name");
            if (!name.empty()) out += "@" + name;
        }
    } else if (tag == "code_block") {
        out += "```" + string_field(element, "language") + "\n" + string_field(element, "text") +
               "\n```";
    } else if (tag == "emotion") {
        out += "[" + string_field(element, "emoji_type") + "]";
    }
    // img, media, hr: nothing the LLM can read.
}

std::optional<std::string> post_text(const object& post) {
    // Received posts are {"title","content":[[elements]]}; sent ones wrap that in a locale
    // ({"zh_cn":{...}}): take the first locale then.
    const object* body = &post;
    if (!post.contains("content")) {
        body = nullptr;
        for (const auto& [key, value] : post) {
            if (const auto* locale = value.if_object()) {
                body = locale;
                break;
            }
        }
        if (!body) return std::nullopt;
    }
    const auto* paragraphs = array_field(*body, "content");
    if (!paragraphs) return std::nullopt;
    std::string out = string_field(*body, "title");
    for (const auto& paragraph : *paragraphs) {
        const auto* elements = paragraph.if_array();
        if (!elements) continue;
        std::string line;
        for (const auto& element : *elements)
            if (const auto* item = element.if_object()) append_post_element(line, *item);
        if (!out.empty()) out += '\n';
        out += line;
    }
    return out;
}

std::int64_t code_of(std::string_view body, std::string* msg = nullptr) {
    ScratchJson<1024> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer) return 0;
    if (msg) *msg = string_field(*answer, "msg");
    return int_field(*answer, "code");
}

std::chrono::seconds seconds_of(std::string_view text, std::chrono::seconds fallback) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return fallback;
    return std::chrono::seconds(std::min<long long>(value, 3600));
}

std::optional<std::string> query_param(std::string_view url, std::string_view name) {
    auto query = url.find('?');
    if (query == std::string_view::npos) return std::nullopt;
    std::string_view rest = url.substr(query + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=')
            return std::string(pair.substr(name.size() + 1));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

}  // namespace

// --- webhook security --------------------------------------------------------------------

std::string push_signature(std::string_view timestamp, std::string_view nonce,
                           std::string_view encrypt_key, std::string_view body) {
    std::string data;
    data.reserve(timestamp.size() + nonce.size() + encrypt_key.size() + body.size());
    data.append(timestamp).append(nonce).append(encrypt_key).append(body);
    return crypto::hex(crypto::sha256(data));
}

bool verify_push_signature(std::string_view timestamp, std::string_view nonce,
                           std::string_view encrypt_key, std::string_view body,
                           std::string_view signature) {
    if (signature.empty()) return false;
    return crypto::constant_time_equal(push_signature(timestamp, nonce, encrypt_key, body),
                                       signature);
}

std::optional<std::string> decrypt_push(std::string_view encrypt_key, std::string_view encrypted) {
    auto data = crypto::base64_decode(encrypted);
    if (!data || data->size() < 32) return std::nullopt;  // an IV and at least one block
    auto key = crypto::sha256(encrypt_key);
    return crypto::aes256_cbc_decrypt(key, std::string_view(*data).substr(0, 16),
                                      std::string_view(*data).substr(16));
}

std::string encrypt_push(std::string_view encrypt_key, std::string_view plaintext,
                         std::string_view iv) {
    auto key = crypto::sha256(encrypt_key);
    return crypto::base64_encode(std::string(iv) + crypto::aes256_cbc_encrypt(key, iv, plaintext));
}

std::optional<std::string> encrypted_field(std::string_view body) {
    ScratchJson<1024> scratch;
    const auto* document = scratch.parse_object(body);
    if (!document) return std::nullopt;
    const auto* found = document->if_contains("encrypt");
    const auto* text = found ? found->if_string() : nullptr;
    if (!text) return std::nullopt;
    return std::string(*text);
}

// --- events ------------------------------------------------------------------------------

std::optional<std::string> content_text(std::string_view message_type, std::string_view content) {
    if (message_type != "text" && message_type != "post") return std::nullopt;
    ScratchJson<4096> scratch;
    const auto* document = scratch.parse_object(content);
    if (!document) return std::nullopt;
    if (message_type == "text") {
        const auto* found = document->if_contains("text");
        if (!found || !found->is_string()) return std::nullopt;
        return std::string(found->get_string());
    }
    return post_text(*document);
}

std::string resolve_mentions(std::string_view text, const std::vector<Mention>& mentions,
                             std::string_view bot_open_id, bool& mentions_me) {
    for (const auto& mention : mentions)
        if (!bot_open_id.empty() && mention.open_id == bot_open_id) mentions_me = true;
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const Mention* match = nullptr;
        if (text[i] == '@') {
            // The longest key that matches here ("@_user_10" before "@_user_1").
            for (const auto& mention : mentions) {
                if (mention.key.size() < 2 || !text.substr(i).starts_with(mention.key)) continue;
                if (!match || mention.key.size() > match->key.size()) match = &mention;
            }
        }
        if (!match) {
            out += text[i++];
            continue;
        }
        i += match->key.size();
        if (!bot_open_id.empty() && match->open_id == bot_open_id) {
            if (i < text.size() && text[i] == ' ') ++i;  // the blank the client puts after it
        } else {
            out += "@" + (match->name.empty() ? match->key.substr(1) : match->name);
        }
    }
    return trim(out);
}

Event parse_event(std::string_view text, std::string_view bot_open_id) {
    Event event;
    ScratchJson<8192> scratch;
    const auto* document = scratch.parse_object(text);
    if (!document) {
        event.reason = "not a JSON object";
        return event;
    }
    auto type = string_field(*document, "type");
    if (type == "url_verification") {
        event.kind = Event::Kind::url_verification;
        event.token = string_field(*document, "token");
        event.challenge = string_field(*document, "challenge");
        if (event.challenge.empty()) {
            event.kind = Event::Kind::invalid;
            event.reason = "url_verification without a challenge";
        }
        return event;
    }
    const auto* header = object_field(*document, "header");
    if (!header) {
        // Schema 1.0 ({"uuid","token","ts","type":"event_callback","event"}): the console
        // offers 2.0 for every new app; read the token so a wrong one is still refused.
        event.kind = Event::Kind::other;
        event.token = string_field(*document, "token");
        event.reason = type.empty() ? "no header (not schema 2.0)" : "schema 1.0 " + type;
        return event;
    }
    event.token = string_field(*header, "token");
    event.event_id = string_field(*header, "event_id");
    event.event_type = string_field(*header, "event_type");
    if (event.event_type != "im.message.receive_v1") {
        event.kind = Event::Kind::other;
        event.reason = "event " + event.event_type;
        return event;
    }
    event.kind = Event::Kind::invalid;
    const auto* body = object_field(*document, "event");
    const auto* message = body ? object_field(*body, "message") : nullptr;
    const auto* sender = body ? object_field(*body, "sender") : nullptr;
    const auto* sender_id = sender ? object_field(*sender, "sender_id") : nullptr;
    if (!message || !sender_id) {
        event.reason = "im.message.receive_v1 without event.message or event.sender.sender_id";
        return event;
    }
    auto& out = event.message;
    out.message_id = string_field(*message, "message_id");
    out.chat_id = string_field(*message, "chat_id");
    out.sender_open_id = string_field(*sender_id, "open_id");
    out.sender_type = string_field(*sender, "sender_type");
    if (out.message_id.empty() || out.chat_id.empty() || out.sender_open_id.empty()) {
        event.reason = "message without message_id, chat_id or sender open_id";
        return event;
    }
    auto chat_type = string_field(*message, "chat_type");
    if (chat_type == "p2p") {
        out.is_group = false;
    } else if (chat_type == "group" || chat_type == "topic_group") {
        out.is_group = true;
    } else {
        event.reason = "chat_type '" + chat_type.substr(0, 32) + "'";
        return event;
    }
    out.parent_id = string_field(*message, "parent_id");
    out.message_type = string_field(*message, "message_type");
    // Up to 2100: system_clock counts nanoseconds in 64 bits and overflows in 2262 (found by
    // fuzz_feishu).
    if (auto ms = integer_of(*message, "create_time"); ms && *ms > 0 && *ms < 4102444800000) {
        out.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms));
    }
    if (const auto* mentions = array_field(*message, "mentions")) {
        for (const auto& item : *mentions) {
            const auto* mention = item.if_object();
            if (!mention) continue;
            Mention entry;
            entry.key = string_field(*mention, "key");
            entry.name = string_field(*mention, "name");
            if (const auto* id = object_field(*mention, "id")) {
                entry.open_id = string_field(*id, "open_id");
            } else if (const auto* plain = mention->if_contains("id");
                       plain && plain->is_string()) {
                entry.open_id = std::string(plain->get_string());  // older events: id is a string
            }
            if (!entry.key.empty()) out.mentions.push_back(std::move(entry));
        }
    }
    auto content = string_field(*message, "content");
    if (auto flat = content_text(out.message_type, content)) {
        out.text = resolve_mentions(*flat, out.mentions, bot_open_id, out.mentions_me);
    } else {
        for (const auto& mention : out.mentions)
            if (!bot_open_id.empty() && mention.open_id == bot_open_id) out.mentions_me = true;
        if (out.message_type == "text" || out.message_type == "post") {
            event.reason = out.message_type + " message with unreadable content";
            return event;
        }
    }
    event.kind = Event::Kind::message;
    return event;
}

std::string challenge_answer(std::string_view challenge) {
    return dump_json({{"challenge", challenge}});
}

// --- Open API answers --------------------------------------------------------------------

ApiOutcome classify(int status, std::string_view body, std::string_view retry_after) {
    std::string msg;
    auto code = code_of(body, &msg);
    ApiOutcome outcome;
    outcome.code = code;
    if (status >= 200 && status < 300 && code == 0) {
        outcome.kind = ApiOutcome::Kind::ok;
        return outcome;
    }
    auto fail = [&](SendError::Kind kind, std::chrono::seconds wait = {}) {
        outcome.kind = ApiOutcome::Kind::failed;
        outcome.error.kind = kind;
        outcome.error.retry_after = wait;
        outcome.error.detail = "HTTP " + std::to_string(status) + ", code " + std::to_string(code) +
                               (msg.empty() ? "" : ": " + msg.substr(0, 200));
        return outcome;
    };
    switch (code) {
        // The token codes the official SDK refreshes on (oapi-sdk-go core/constants.go l.62-66,
        // core/httptransport.go l.247): 99991663 tenant token invalid, 99991664 app token
        // invalid, 99991671 access token invalid; and 99991661, a missing token [2nd]. The
        // token is fetched again once.
        case 99991661:
        case 99991663:
        case 99991664:
        case 99991671:
            outcome.kind = ApiOutcome::Kind::token_refused;
            return outcome;
        // Rate limits: generic 99991400 (longconn-protocols.md §1.6), IM's send frequency
        // 230020 [2nd]. x-ogw-ratelimit-reset says when the window resets; without it 1 s,
        // then the outbox's backoff.
        case 99991400:
        case 230020:
            return fail(SendError::Kind::rate_limited,
                        seconds_of(retry_after, std::chrono::seconds(1)));
        // Permissions and bot availability: nothing a retry fixes; the operator must act.
        case 99991672:  // the app lacks an API scope
        case 99991679:  // the user / tenant did not grant a scope
        case 230002:    // the bot is not in the chat
        case 230006:    // the bot ability is not enabled
        case 230013:    // the bot is not available to this user (availability range)
        case 230027:    // lacks permission for this operation
        case 230101:    // sending to this user is unavailable
            outcome.permission = true;
            return fail(SendError::Kind::unauthorized);
        case 230011:  // the message being answered was withdrawn
        case 231003:  // message not found
            return fail(SendError::Kind::bad_request);
        default:
            break;
    }
    if (status == 429)
        return fail(SendError::Kind::rate_limited,
                    seconds_of(retry_after, std::chrono::seconds(1)));
    if (status == 401) {
        outcome.kind = ApiOutcome::Kind::token_refused;
        return outcome;
    }
    if (status >= 500 || status == 0) return fail(SendError::Kind::transient);
    if (status == 403) {
        outcome.permission = true;
        return fail(SendError::Kind::unauthorized);
    }
    if (status >= 200 && status < 300) {
        // 200 with a code we do not know: Feishu's own errors (1-99) are retryable server
        // states ("system busy"); the rest are refusals of this request.
        return fail(code > 0 && code < 100 ? SendError::Kind::transient
                                           : SendError::Kind::bad_request);
    }
    return fail(SendError::Kind::bad_request);
}

std::string permission_fix(std::int64_t code) {
    switch (code) {
        case 99991672:
        case 99991679:
        case 230027:
            return "grant the app the scopes im:message, im:message:send_as_bot and "
                   "cardkit:card:write (Developer Console > Permissions & Scopes), then publish "
                   "a new app version";
        case 230002:
            return "add the bot to the chat";
        case 230006:
            return "enable the Bot feature (Developer Console > Features > Bot) and publish a "
                   "new app version";
        case 230013:
        case 230101:
            return "widen the app's availability range to include this user (Developer "
                   "Console > Version Management > Availability) and publish";
        default:
            return "check the app's scopes and availability in the Developer Console";
    }
}

boost::system::result<TenantToken, std::string> parse_tenant_token(int status,
                                                                   std::string_view body) {
    using Result = boost::system::result<TenantToken, std::string>;
    ScratchJson<1024> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer) {
        return Result(boost::system::in_place_error,
                      "HTTP " + std::to_string(status) + ", not a JSON object");
    }
    TenantToken token;
    token.token = string_field(*answer, "tenant_access_token");
    auto code = int_field(*answer, "code");
    if (status < 200 || status >= 300 || code != 0 || token.token.empty()) {
        return Result(boost::system::in_place_error,
                      "HTTP " + std::to_string(status) + ", code " + std::to_string(code) + ": " +
                          string_field(*answer, "msg").substr(0, 200));
    }
    auto expire = int_field(*answer, "expire");
    if (expire > 0) token.expires_in = std::chrono::seconds(std::min<std::int64_t>(expire, 86400));
    return token;
}

std::string answer_data_string(std::string_view body, std::string_view key) {
    ScratchJson<2048> scratch;
    const auto* answer = scratch.parse_object(body);
    const auto* data = answer ? object_field(*answer, "data") : nullptr;
    return data ? string_field(*data, key) : std::string();
}

std::string parse_bot_open_id(std::string_view body) {
    ScratchJson<2048> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer || int_field(*answer, "code") != 0) return {};
    const auto* bot = object_field(*answer, "bot");
    if (!bot) {  // (some gateways nest it in data)
        const auto* data = object_field(*answer, "data");
        bot = data ? object_field(*data, "bot") : nullptr;
    }
    return bot ? string_field(*bot, "open_id") : std::string();
}

// --- request bodies ----------------------------------------------------------------------

std::string post_content(std::string_view markdown) {
    // One "md" element renders the markdown (bold, italic, strike, links, lists, code blocks,
    // quotes): im-v1 message-content-description create_json, "富文本 post", tag md.
    json element{{"tag", "md"}, {"text", markdown}};
    json paragraph = json::array({element});
    json content{{"zh_cn", {{"title", ""}, {"content", json::array({paragraph})}}}};
    return dump_json(content);
}

std::string post_reply_body(std::string_view markdown, std::string_view uuid) {
    json body{{"msg_type", "post"}, {"content", post_content(markdown)}};
    if (!uuid.empty()) body["uuid"] = uuid;
    return dump_json(body);
}

std::string card_reply_body(std::string_view card_id, std::string_view uuid) {
    json content{{"type", "card"}, {"data", {{"card_id", card_id}}}};
    json body{{"msg_type", "interactive"}, {"content", dump_json(content)}};
    if (!uuid.empty()) body["uuid"] = uuid;
    return dump_json(body);
}

std::string create_card_body(std::string_view element_id, std::string_view placeholder) {
    // Card JSON 2.0 with streaming_mode on, one markdown element that is rewritten as the
    // answer grows (node-sdk MarkdownStreamControllerImpl, longconn-protocols.md §1.6).
    json card{
        {"schema", "2.0"},
        {"config",
         {{"streaming_mode", true},
          {"summary", {{"content", "…"}}},
          {"streaming_config",
           {{"print_frequency_ms", {{"default", 30}}},
            {"print_step", {{"default", 2}}},
            {"print_strategy", "fast"}}}}},
        {"body",
         {{"elements",
           json::array(
               {{{"tag", "markdown"}, {"element_id", element_id}, {"content", placeholder}}})}}}};
    return dump_json({{"type", "card_json"}, {"data", dump_json(card)}});
}

std::string card_content_body(std::string_view text, std::int64_t sequence, std::string_view uuid) {
    return dump_json({{"content", text}, {"sequence", sequence}, {"uuid", uuid}});
}

std::string card_finish_body(std::int64_t sequence, std::string_view uuid) {
    json settings{{"config", {{"streaming_mode", false}}}};
    return dump_json({{"settings", dump_json(settings)}, {"sequence", sequence}, {"uuid", uuid}});
}

// --- long connection ---------------------------------------------------------------------

void apply_client_config(ClientConfig& config, std::string_view text) {
    ScratchJson<1024> scratch;
    const auto* document = scratch.parse_object(text);
    if (!document) return;
    auto read = [&](std::string_view key, int& field, int min, int max) {
        const auto* found = document->if_contains(key);
        if (!found || !(found->is_int64() || found->is_uint64())) return;
        field = static_cast<int>(std::clamp<std::int64_t>(int_field(*document, key), min, max));
    };
    read("ReconnectCount", config.reconnect_count, -1, 1000000);
    read("ReconnectInterval", config.reconnect_interval_s, 0, 3600);
    read("ReconnectNonce", config.reconnect_nonce_s, 0, 3600);
    read("PingInterval", config.ping_interval_s, 1, 3600);
}

Endpoint parse_endpoint(int status, std::string_view body, const ClientConfig& current) {
    Endpoint endpoint;
    endpoint.config = current;
    if (status != 200) {  // go-sdk getConnURL l.256: any other status is "system busy"
        endpoint.reason = "HTTP " + std::to_string(status);
        return endpoint;
    }
    ScratchJson<2048> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer) {
        endpoint.reason = "the answer is not a JSON object";
        return endpoint;
    }
    endpoint.code = int_field(*answer, "code");
    auto msg = string_field(*answer, "msg").substr(0, 200);
    switch (endpoint.code) {
        case 0:
            break;
        case 1:           // system busy
        case 1000040343:  // internal error
            endpoint.reason = "code " + std::to_string(endpoint.code) + ": " + msg;
            return endpoint;
        default:
            // 403 forbidden, 514 auth failed, 1000040344 no credential, 1000040350 too many
            // connections, and whatever else: go-sdk stops (getConnURL l.273-281).
            endpoint.kind = Endpoint::Kind::operator_error;
            endpoint.reason = "code " + std::to_string(endpoint.code) + ": " + msg;
            return endpoint;
    }
    const auto* data = object_field(*answer, "data");
    endpoint.url = data ? string_field(*data, "URL") : std::string();
    if (!endpoint.url.starts_with("wss://") && !endpoint.url.starts_with("ws://")) {
        endpoint.url.clear();
        endpoint.reason = "no websocket URL in the answer";
        return endpoint;
    }
    // service_id: an int32 every frame carries (go-sdk client.go l.149-150).
    auto service = query_param(endpoint.url, "service_id");
    std::int64_t service_id = 0;
    if (!service ||
        std::from_chars(service->data(), service->data() + service->size(), service_id).ec !=
            std::errc() ||
        service_id < INT32_MIN || service_id > INT32_MAX) {
        endpoint.url.clear();
        endpoint.reason = "no service_id in the websocket URL";
        return endpoint;
    }
    endpoint.service_id = static_cast<std::int32_t>(service_id);
    endpoint.device_id = query_param(endpoint.url, "device_id").value_or("");
    if (const auto* config = object_field(*data, "ClientConfig")) {
        apply_client_config(endpoint.config, boost::json::serialize(*config));
    }
    endpoint.kind = Endpoint::Kind::ok;
    return endpoint;
}

std::string endpoint_body(std::string_view app_id, std::string_view app_secret) {
    return dump_json({{"AppID", app_id}, {"AppSecret", app_secret}});
}

Fragments::Result Fragments::add(std::string_view message_id, std::string_view sum_text,
                                 std::string_view seq_text, std::string payload,
                                 Clock::time_point now) {
    sweep(now);
    auto number = [](std::string_view text, int& out) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc() && end == text.data() + text.size();
    };
    int sum = 1;
    int seq = 0;
    if (!sum_text.empty() && !number(sum_text, sum)) return {.reason = "sum is not a number"};
    if (!seq_text.empty() && !number(seq_text, seq)) return {.reason = "seq is not a number"};
    if (sum < 1 || sum > kMaxSum) return {.reason = "sum out of range"};
    if (seq < 0 || seq >= sum) return {.reason = "seq out of range"};
    if (sum == 1) return {.kind = Result::Kind::complete, .payload = std::move(payload)};
    if (message_id.empty()) return {.reason = "a fragment without message_id"};
    auto it = sets_.find(message_id);
    if (it == sets_.end()) {
        if (sets_.size() >= kMaxPending) return {.reason = "too many split messages pending"};
        Set set;
        set.sum = sum;
        set.parts.resize(static_cast<std::size_t>(sum));
        set.first = now;
        it = sets_.emplace(std::string(message_id), std::move(set)).first;
    }
    auto& set = it->second;
    if (set.sum != sum) return {.reason = "fragments disagree on sum"};
    if (bytes_ + payload.size() > kMaxPendingBytes) {
        bytes_ -= [&] {
            std::size_t held = 0;
            for (const auto& part : set.parts) held += part ? part->size() : 0;
            return held;
        }();
        sets_.erase(it);
        return {.reason = "split messages exceed the buffer"};
    }
    auto& slot = set.parts[static_cast<std::size_t>(seq)];
    if (slot) return {.kind = Result::Kind::pending};  // a repeated fragment
    bytes_ += payload.size();
    slot = std::move(payload);
    if (++set.filled < set.sum) return {.kind = Result::Kind::pending};
    Result result{.kind = Result::Kind::complete};
    for (auto& part : set.parts) {
        bytes_ -= part->size();
        result.payload += *part;
    }
    sets_.erase(it);
    return result;
}

void Fragments::sweep(Clock::time_point now) {
    for (auto it = sets_.begin(); it != sets_.end();) {
        if (now - it->second.first < kMaxAge) {
            ++it;
            continue;
        }
        for (const auto& part : it->second.parts) bytes_ -= part ? part->size() : 0;
        it = sets_.erase(it);
    }
}

}  // namespace bot::adapters::feishu
