// OneBot v11, the pure part: frames from an implementation (NapCat, Lagrange, LLOneBot) ->
// events and action answers, CQ strings <-> segments, actions to send, answers -> SendResult.
// No I/O here, so fixtures test it. The spec: github.com/botuniverse/onebot-11.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bot::adapters::onebot {

// One message segment {"type": ..., "data": {...}}, data values as text (the spec's values are
// strings; some implementations send ids as numbers, read here as their digits).
struct Segment {
    std::string type;
    std::vector<std::pair<std::string, std::string>> data;
    std::string_view get(std::string_view key) const;
};

// CQ-code escaping (message/string.md, "转义", lines 41-70): & [ ] in text, and also , inside a
// CQ code's parameter values.
std::string cq_escape(std::string_view text, bool in_param = false);
std::string cq_unescape(std::string_view text);
// A message in the string format ("[CQ:at,qq=1] hi") as segments; text runs become "text"
// segments. A "[CQ:" never closed is read as text. (message/string.md lines 21-39.)
std::vector<Segment> parse_cq_string(std::string_view message);

// What makes a message in a group addressed to the bot, besides an @ of its account.
struct AddressRules {
    std::string adapter_id;
    std::string command_prefix = "/";
};

// An answer to one of our actions (communication/ws.md lines 25-47; http.md lines 59-63).
struct ActionAnswer {
    std::string echo;    // as we sent it (ours are strings); empty when absent or null
    std::string status;  // "ok", "async", "failed"
    std::int64_t retcode = 0;
    std::string message_id;  // data.message_id, as digits; empty when absent
    std::string detail;      // "wording" or "message" of a failure, for the log
};

struct Frame {
    enum class Kind { message, heartbeat, lifecycle, answer, ignored };
    Kind kind = Kind::ignored;
    std::string reason;        // ignored: why (for the debug log; never the user's text)
    std::int64_t self_id = 0;  // the account the event is for (0 when absent)
    Inbound inbound;           // message
    std::chrono::milliseconds interval{0};  // heartbeat: until the next one
    ActionAnswer answer;                    // answer
};

// Reads one text frame. Events for message_type private and group become Inbound facts:
// message_id "<self_id>:<message_id>" (ids are per account), chat_id "<self_id>:<id>" with the
// user's id (private) or the group's, so two accounts on one adapter never share a
// conversation; sender_id the user's. In groups mentions_me is set by an @ of self_id (removed
// from the text) or a command (text starting with the prefix); a reply segment quoting a
// message sets quotes_message_id "<self_id>:<id>", as send() names what it sent.
// connection_self_id stands in for an event without self_id. Anything else is ignored with a
// reason; nothing here throws for any input.
Frame parse_frame(std::string_view text, std::int64_t connection_self_id,
                  const AddressRules& rules);

// "123" -> 123 (QQ numbers and group ids are positive); nullopt for anything else.
std::optional<std::int64_t> parse_id(std::string_view text);
// Splits a stored id "<self_id>:<message id>".
struct StoredId {
    std::int64_t self_id = 0;
    std::string message_id;
};
std::optional<StoredId> parse_stored_id(std::string_view id);
// The QQ number or group id a chat id "<self_id>:<id>" sends to.
std::optional<std::int64_t> chat_target(std::string_view chat_id);

// send_private_msg / send_group_msg for one part of a reply, as JSON text. The message is a
// segment array (no CQ escaping needed); in groups the first part quotes the user's message
// (reply segment) and @s the user. Returns nullopt when the chat or user id is not a number.
std::optional<std::string> send_action(const Outbound& message, std::string_view echo);

// The answer to a send action as the outbox sees it, mapped in one place: ok -> the platform's
// id "<self_id>:<message_id>"; async (retcode 1, no id known) -> delivered, empty id; 1400 and
// 1404 (unsupported action) -> bad_request; 1401 and 1403 -> unauthorized; anything else
// failed -> transient.
SendResult to_send_result(const ActionAnswer& answer, std::int64_t self_id);

}  // namespace bot::adapters::onebot
