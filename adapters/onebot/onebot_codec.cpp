#include "onebot/onebot_codec.hpp"

#include "base/json_fields.hpp"
#include "base/json_text.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace bot::adapters::onebot {

namespace bj = boost::json;

namespace {

// Later than any real event (year 2100): a larger "time" is not believed.
constexpr std::int64_t kLatestTime = 4102444800;
constexpr std::size_t kMaxDetail = 200;

// Segment types that carry something other than text (message/segment.md). The core answers a
// message made only of these with its text-only notice.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kMediaKinds{{
    {"image", "image"},
    {"face", "sticker"},
    {"mface", "sticker"},
    {"dice", "sticker"},
    {"rps", "sticker"},
    {"record", "voice"},
    {"video", "video"},
    {"file", "file"},
    {"share", "link"},
    {"location", "location"},
    {"contact", "contact"},
    {"music", "music"},
    {"forward", "forwarded messages"},
    {"json", "card"},
    {"xml", "card"},
    {"markdown", "card"},
}};

Frame ignored(std::string reason) {
    Frame frame;
    frame.reason = std::move(reason);
    return frame;
}

// A string as it is, a number as its digits; anything else reads as "".
std::string scalar_text(const bj::value* value) {
    if (!value) return {};
    if (const auto* text = value->if_string()) return std::string(*text);
    if (const auto* number = value->if_int64()) return std::to_string(*number);
    if (const auto* number = value->if_uint64()) return std::to_string(*number);
    return {};
}

// An id field: a positive number, or a string of digits (some implementations quote ids).
std::int64_t id_field(const bj::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found) return 0;
    if (found->is_string()) return parse_id(found->get_string()).value_or(0);
    std::int64_t id = int_field(object, key);
    return id > 0 ? id : 0;
}

std::vector<Segment> segments_of_array(const bj::array& array) {
    std::vector<Segment> out;
    out.reserve(array.size());
    for (const auto& element : array) {
        const auto* object = element.if_object();
        if (!object) continue;  // a malformed segment is skipped, the rest still read
        Segment segment;
        segment.type = string_field(*object, "type");
        if (segment.type.empty()) continue;
        if (const auto* data = object_field(*object, "data")) {
            for (const auto& [key, value] : *data)
                segment.data.emplace_back(std::string(key), scalar_text(&value));
        }
        out.push_back(std::move(segment));
    }
    return out;
}

void trim(std::string& text) {
    constexpr std::string_view kSpace = " \t\r\n";
    auto end = text.find_last_not_of(kSpace);
    if (end == std::string::npos) {
        text.clear();
        return;
    }
    text.erase(end + 1);
    text.erase(0, text.find_first_not_of(kSpace));
}

std::string_view media_kind(std::string_view type) {
    for (const auto& [segment_type, kind] : kMediaKinds)
        if (segment_type == type) return kind;
    return {};
}

Frame parse_message(const bj::object& event, std::int64_t self_id, const AddressRules& rules) {
    std::string message_type = string_field(event, "message_type");
    bool is_group = message_type == "group";
    if (!is_group && message_type != "private") return ignored("message_type " + message_type);
    std::int64_t message_number = int_field(event, "message_id");
    std::int64_t user_id = id_field(event, "user_id");
    std::int64_t group_id = is_group ? id_field(event, "group_id") : 0;
    if (message_number == 0 || user_id == 0 || (is_group && group_id == 0))
        return ignored("missing ids");
    if (user_id == self_id) return ignored("the bot's own message");

    std::vector<Segment> segments;
    const auto* message = event.if_contains("message");
    if (message && message->is_array()) {
        segments = segments_of_array(message->get_array());
    } else if (message && message->is_string()) {
        segments = parse_cq_string(message->get_string());
    } else {
        return ignored("malformed message");
    }

    const std::string self = std::to_string(self_id);
    Frame frame;
    frame.kind = Frame::Kind::message;
    frame.self_id = self_id;
    Inbound& inbound = frame.inbound;
    bool mentioned = false;
    std::string_view media;
    for (const auto& segment : segments) {
        if (segment.type == "text") {
            inbound.text.append(segment.get("text"));
        } else if (segment.type == "at") {
            auto qq = segment.get("qq");
            if (qq == self) {
                mentioned = true;  // removed: the bot reads what was said to it
            } else {
                auto name = segment.get("name");  // NapCat adds the member's name
                inbound.text.append("@").append(name.empty() ? qq : name);
            }
        } else if (segment.type == "reply") {
            if (auto quoted = segment.get("id"); !quoted.empty())
                inbound.quotes_message_id = self + ":" + std::string(quoted);
        } else if (media.empty()) {
            media = media_kind(segment.type);
        }
    }
    trim(inbound.text);
    if (inbound.text.empty()) {
        if (media.empty()) return ignored("no text");
        inbound.unsupported = std::string(media);
    }

    inbound.chat = {.adapter_id = rules.adapter_id,
                    .chat_id = self + ":" + std::to_string(is_group ? group_id : user_id),
                    .is_group = is_group};
    inbound.sender_id = std::to_string(user_id);
    inbound.message_id = self + ":" + std::to_string(message_number);
    if (const auto* sender = object_field(event, "sender")) {
        inbound.sender_name = string_field(*sender, "card");  // the name in this group
        if (inbound.sender_name.empty()) inbound.sender_name = string_field(*sender, "nickname");
    }
    inbound.mentions_me =
        is_group && (mentioned || (!rules.command_prefix.empty() &&
                                   inbound.text.starts_with(rules.command_prefix)));
    if (auto time = int_field(event, "time"); time > 0 && time <= kLatestTime)
        inbound.at = std::chrono::system_clock::time_point(std::chrono::seconds(time));
    return frame;
}

Frame parse_answer(const bj::object& object) {
    Frame frame;
    frame.kind = Frame::Kind::answer;
    ActionAnswer& answer = frame.answer;
    answer.echo = string_field(object, "echo");
    answer.status = string_field(object, "status");
    answer.retcode = int_field(object, "retcode");
    if (const auto* data = object_field(object, "data"))
        answer.message_id = scalar_text(data->if_contains("message_id"));
    answer.detail = string_field(object, "wording");
    if (answer.detail.empty()) answer.detail = string_field(object, "message");
    if (answer.detail.empty()) answer.detail = string_field(object, "msg");  // go-cqhttp
    answer.detail.resize(std::min(answer.detail.size(), kMaxDetail));
    return frame;
}

}  // namespace

std::string_view Segment::get(std::string_view key) const {
    for (const auto& [name, value] : data)
        if (name == key) return value;
    return {};
}

std::string cq_escape(std::string_view text, bool in_param) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '[':
                out += "&#91;";
                break;
            case ']':
                out += "&#93;";
                break;
            case ',':
                if (in_param) {
                    out += "&#44;";
                    break;
                }
                [[fallthrough]];
            default:
                out += c;
        }
    }
    return out;
}

std::string cq_unescape(std::string_view text) {
    // NapCat's helper/cqcode.ts unescapes these four, each on its own (no double decoding).
    static constexpr std::array<std::pair<std::string_view, char>, 4> kEntities{
        {{"&amp;", '&'}, {"&#91;", '['}, {"&#93;", ']'}, {"&#44;", ','}}};
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        bool replaced = false;
        if (text[i] == '&') {
            for (const auto& [entity, c] : kEntities) {
                if (text.substr(i).starts_with(entity)) {
                    out += c;
                    i += entity.size();
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced) out += text[i++];
    }
    return out;
}

std::vector<Segment> parse_cq_string(std::string_view message) {
    std::vector<Segment> out;
    auto add_text = [&out](std::string_view run) {
        if (run.empty()) return;
        out.push_back({.type = "text", .data = {{"text", cq_unescape(run)}}});
    };
    std::size_t pos = 0;
    while (pos < message.size()) {
        auto open = message.find("[CQ:", pos);
        auto close = open == std::string_view::npos ? open : message.find(']', open);
        if (close == std::string_view::npos) break;
        add_text(message.substr(pos, open - pos));
        // Function name up to the first ',' and parameters "k=v" split at ',' and at each
        // part's first '=' (message/string.md line 39).
        std::string_view code = message.substr(open + 4, close - open - 4);
        auto comma = code.find(',');
        Segment segment{.type = std::string(code.substr(0, comma)), .data = {}};
        while (comma != std::string_view::npos) {
            code.remove_prefix(comma + 1);
            comma = code.find(',');
            std::string_view part = code.substr(0, comma);
            auto equals = part.find('=');
            if (equals == std::string_view::npos) continue;
            segment.data.emplace_back(std::string(part.substr(0, equals)),
                                      cq_unescape(part.substr(equals + 1)));
        }
        if (!segment.type.empty()) out.push_back(std::move(segment));
        pos = close + 1;
    }
    if (pos < message.size()) add_text(message.substr(pos));
    return out;
}

Frame parse_frame(std::string_view text, std::int64_t connection_self_id,
                  const AddressRules& rules) {
    ScratchJson json;  // read once and dropped: the tree lives in this frame
    const bj::object* object = json.parse_object(text);
    if (!object) return ignored("not a JSON object");
    const auto* post_type_value = object->if_contains("post_type");
    if (!post_type_value) {
        // Answers to actions carry no post_type (communication/ws.md lines 27-36).
        if (object->contains("echo") || object->contains("retcode")) return parse_answer(*object);
        return ignored("neither an event nor an answer");
    }
    std::int64_t self_id = id_field(*object, "self_id");
    if (self_id == 0) self_id = connection_self_id;
    std::string post_type = string_field(*object, "post_type");
    if (post_type == "message") {
        if (self_id == 0) return ignored("no self_id");
        return parse_message(*object, self_id, rules);
    }
    if (post_type == "meta_event") {
        std::string type = string_field(*object, "meta_event_type");
        Frame frame;
        frame.self_id = self_id;
        if (type == "heartbeat") {  // event/meta.md lines 21-30
            frame.kind = Frame::Kind::heartbeat;
            frame.interval = std::chrono::milliseconds(std::max<std::int64_t>(
                0, std::min<std::int64_t>(int_field(*object, "interval"), 24 * 3600 * 1000)));
            return frame;
        }
        if (type == "lifecycle") {
            frame.kind = Frame::Kind::lifecycle;
            frame.reason = string_field(*object, "sub_type");
            return frame;
        }
        return ignored("meta_event " + type);
    }
    // notice, request, message_sent (NapCat reports the bot's own messages so): not for us.
    return ignored("post_type " + post_type);
}

std::optional<std::int64_t> parse_id(std::string_view text) {
    std::int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
}

std::optional<StoredId> parse_stored_id(std::string_view id) {
    auto colon = id.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto self = parse_id(id.substr(0, colon));
    if (!self || colon + 1 == id.size()) return std::nullopt;
    return StoredId{.self_id = *self, .message_id = std::string(id.substr(colon + 1))};
}

std::optional<std::int64_t> chat_target(std::string_view chat_id) {
    auto stored = parse_stored_id(chat_id);
    return stored ? parse_id(stored->message_id) : std::nullopt;
}

std::optional<std::string> send_action(const Outbound& message, std::string_view echo) {
    auto target = chat_target(message.chat.chat_id);
    if (!target) return std::nullopt;
    std::string body = message.chat.is_group
                           ? R"({"action":"send_group_msg","params":{"group_id":)"
                           : R"({"action":"send_private_msg","params":{"user_id":)";
    body.append(std::to_string(*target)).append(R"(,"message":[)");
    bool at_user = false;
    if (message.chat.is_group && message.part == 1) {
        // The group sees whom the bot answers, and which of their messages.
        if (auto quoted = parse_stored_id(message.reply_to)) {
            body.append(R"({"type":"reply","data":{"id":)");
            append_json_string(body, quoted->message_id);
            body.append("}},");
        }
        if (auto user = parse_id(message.user_id)) {
            body.append(R"({"type":"at","data":{"qq":")")
                .append(std::to_string(*user))
                .append(R"("}},)");
            at_user = true;
        }
    }
    body.append(R"({"type":"text","data":{"text":)");
    // (append, not " " + text: g++ 12 warns falsely about the latter in Release.)
    append_json_string(body, at_user ? std::string(" ").append(message.text) : message.text);
    body.append(R"(}}]},"echo":)");
    append_json_string(body, echo);
    return body.append("}");
}

SendResult to_send_result(const ActionAnswer& answer, std::int64_t self_id) {
    if (answer.status == "ok" || (answer.status.empty() && answer.retcode == 0)) {
        if (answer.message_id.empty()) return std::string();
        return std::to_string(self_id) + ":" + answer.message_id;
    }
    // Queued by the implementation (http.md line 62): delivered as far as we can know.
    if (answer.status == "async" || answer.retcode == 1) return std::string();
    std::string detail = "retcode " + std::to_string(answer.retcode);
    if (!answer.detail.empty()) detail += ": " + answer.detail;
    switch (answer.retcode) {
        case 1400:
        case 1404:  // the implementation does not have this action
            return SendError{.kind = SendError::Kind::bad_request, .detail = std::move(detail)};
        case 1401:
        case 1403:
            return SendError{.kind = SendError::Kind::unauthorized, .detail = std::move(detail)};
        default:
            return SendError{.kind = SendError::Kind::transient, .detail = std::move(detail)};
    }
}

}  // namespace bot::adapters::onebot
