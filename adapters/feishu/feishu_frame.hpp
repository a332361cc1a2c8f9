// pbbp2.Frame, the protobuf message every binary websocket message of Feishu's long connection
// carries (longconn-protocols.md §1.2; larksuite/oapi-sdk-go ws/pbbp2.pb.go, node-sdk
// lib/index.js l.101274-101957), encoded and decoded by hand: nine fields of one proto2
// message do not need protoc, a generated file and libprotobuf's runtime.
//
//   message Header { required string key = 1; required string value = 2; }
//   message Frame {
//     required uint64 SeqID = 1; required uint64 LogID = 2;
//     required int32 service = 3; required int32 method = 4;   // 0 control, 1 data
//     repeated Header headers = 5;
//     optional string payload_encoding = 6; optional string payload_type = 7;
//     optional bytes payload = 8; optional string LogIDNew = 9; }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bot::adapters::feishu {

struct FrameHeader {
    std::string key;
    std::string value;
    bool operator==(const FrameHeader&) const = default;
};

struct Frame {
    enum Method : std::int32_t { control = 0, data = 1 };

    std::uint64_t seq_id = 0;  // 64 bits kept (node-sdk's Long-less decode would round them)
    std::uint64_t log_id = 0;
    std::int32_t service = 0;
    std::int32_t method = control;
    std::vector<FrameHeader> headers;
    std::string payload_encoding;
    std::string payload_type;
    std::string payload;
    std::string log_id_new;

    // The first header named key; empty when absent.
    std::string_view header(std::string_view key) const;
    void set_header(std::string key, std::string value);  // replaces or appends
    bool operator==(const Frame&) const = default;
};

// Largest frame read or written (a frame carries one fragment of an event; Feishu splits
// events into several frames well below this).
inline constexpr std::size_t kMaxFrameBytes = 1 << 20;

// The wire form as node-sdk's encoder writes it: fields 1-4 always (they are required), 5-9
// only when non-empty.
std::string encode_frame(const Frame& frame);
// nullopt for anything that is not one whole well-formed Frame: truncated or overlong
// varints, lengths past the end, a required field missing, wrong wire types for known fields,
// more than kMaxFrameBytes. Unknown fields are skipped by their wire type. Never throws.
std::optional<Frame> decode_frame(std::string_view bytes);

// A ping to the server (longconn-protocols.md §1.3: method 0, SeqID/LogID 0, type=ping).
Frame ping_frame(std::int32_t service);

}  // namespace bot::adapters::feishu
