#include "feishu/feishu_frame.hpp"

namespace bot::adapters::feishu {

namespace {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, std::uint64_t value) {
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7f) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, std::uint32_t field, WireType type) {
    put_varint(out, (static_cast<std::uint64_t>(field) << 3) | type);
}

void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
    put_key(out, field, kLengthDelimited);
    put_varint(out, bytes.size());
    out.append(bytes);
}

// Reads from a view, refusing rather than throwing.
class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}
    bool empty() const { return pos_ == bytes_.size(); }

    std::optional<std::uint64_t> varint() {
        std::uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ == bytes_.size()) return std::nullopt;
            auto byte = static_cast<std::uint8_t>(bytes_[pos_++]);
            // The tenth byte may only carry the top bit of 64.
            if (shift == 63 && byte > 1) return std::nullopt;
            value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0) return value;
        }
        return std::nullopt;  // more than ten bytes
    }

    std::optional<std::string_view> bytes() {
        auto length = varint();
        if (!length || *length > bytes_.size() - pos_) return std::nullopt;
        auto out = bytes_.substr(pos_, static_cast<std::size_t>(*length));
        pos_ += static_cast<std::size_t>(*length);
        return out;
    }

    bool skip(std::uint64_t type) {
        switch (type) {
            case kVarint:
                return varint().has_value();
            case kLengthDelimited:
                return bytes().has_value();
            case kFixed64:
                return advance(8);
            case kFixed32:
                return advance(4);
            default:
                return false;  // groups (3, 4) are not in this schema; 6, 7 do not exist
        }
    }

private:
    bool advance(std::size_t count) {
        if (count > bytes_.size() - pos_) return false;
        pos_ += count;
        return true;
    }

    std::string_view bytes_;
    std::size_t pos_ = 0;
};

std::optional<FrameHeader> decode_header(std::string_view bytes) {
    Reader reader(bytes);
    FrameHeader header;
    bool has_key = false;
    bool has_value = false;
    while (!reader.empty()) {
        auto key = reader.varint();
        if (!key) return std::nullopt;
        auto field = *key >> 3;
        auto type = *key & 7;
        if ((field == 1 || field == 2) && type == kLengthDelimited) {
            auto text = reader.bytes();
            if (!text) return std::nullopt;
            (field == 1 ? header.key : header.value) = *text;
            (field == 1 ? has_key : has_value) = true;
        } else if (field == 1 || field == 2 || field == 0 || !reader.skip(type)) {
            return std::nullopt;
        }
    }
    if (!has_key || !has_value) return std::nullopt;  // both are required
    return header;
}

}  // namespace

std::string_view Frame::header(std::string_view key) const {
    for (const auto& header : headers)
        if (header.key == key) return header.value;
    return {};
}

void Frame::set_header(std::string key, std::string value) {
    for (auto& header : headers) {
        if (header.key == key) {
            header.value = std::move(value);
            return;
        }
    }
    headers.push_back({std::move(key), std::move(value)});
}

std::string encode_frame(const Frame& frame) {
    std::string out;
    put_key(out, 1, kVarint);
    put_varint(out, frame.seq_id);
    put_key(out, 2, kVarint);
    put_varint(out, frame.log_id);
    // int32 fields are sign-extended to 64 bits on the wire (proto2 int32, not sint32).
    put_key(out, 3, kVarint);
    put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(frame.service)));
    put_key(out, 4, kVarint);
    put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(frame.method)));
    for (const auto& header : frame.headers) {
        std::string nested;
        put_bytes(nested, 1, header.key);
        put_bytes(nested, 2, header.value);
        put_bytes(out, 5, nested);
    }
    if (!frame.payload_encoding.empty()) put_bytes(out, 6, frame.payload_encoding);
    if (!frame.payload_type.empty()) put_bytes(out, 7, frame.payload_type);
    if (!frame.payload.empty()) put_bytes(out, 8, frame.payload);
    if (!frame.log_id_new.empty()) put_bytes(out, 9, frame.log_id_new);
    return out;
}

std::optional<Frame> decode_frame(std::string_view bytes) {
    if (bytes.size() > kMaxFrameBytes) return std::nullopt;
    Reader reader(bytes);
    Frame frame;
    unsigned seen = 0;  // bit n: required field n was present
    while (!reader.empty()) {
        auto key = reader.varint();
        if (!key) return std::nullopt;
        auto field = *key >> 3;
        auto type = *key & 7;
        if (field == 0) return std::nullopt;
        if (field >= 1 && field <= 4) {
            if (type != kVarint) return std::nullopt;
            auto value = reader.varint();
            if (!value) return std::nullopt;
            switch (field) {
                case 1:
                    frame.seq_id = *value;
                    break;
                case 2:
                    frame.log_id = *value;
                    break;
                // int32: the low 32 bits (protobuf truncates a wider varint the same way).
                case 3:
                    frame.service = static_cast<std::int32_t>(static_cast<std::uint32_t>(*value));
                    break;
                case 4:
                    frame.method = static_cast<std::int32_t>(static_cast<std::uint32_t>(*value));
                    break;
            }
            seen |= 1u << field;
            continue;
        }
        if (field >= 5 && field <= 9) {
            if (type != kLengthDelimited) return std::nullopt;
            auto value = reader.bytes();
            if (!value) return std::nullopt;
            switch (field) {
                case 5: {
                    auto header = decode_header(*value);
                    if (!header) return std::nullopt;
                    frame.headers.push_back(std::move(*header));
                    break;
                }
                case 6:
                    frame.payload_encoding = *value;
                    break;
                case 7:
                    frame.payload_type = *value;
                    break;
                case 8:
                    frame.payload = *value;
                    break;
                case 9:
                    frame.log_id_new = *value;
                    break;
            }
            continue;
        }
        if (!reader.skip(type)) return std::nullopt;
    }
    if (seen != 0b11110) return std::nullopt;  // SeqID, LogID, service, method are required
    return frame;
}

Frame ping_frame(std::int32_t service) {
    Frame frame;
    frame.service = service;
    frame.method = Frame::control;
    frame.headers.push_back({"type", "ping"});
    return frame;
}

}  // namespace bot::adapters::feishu
