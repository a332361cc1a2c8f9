#include "base/text_spans.hpp"

#include <algorithm>
#include <limits>

namespace bot {

namespace {

struct ByteRange {
    std::size_t begin = 0, end = 0;
};

std::size_t skip_separator(std::string_view text, std::size_t at) {
    for (std::string_view mark : {",", ":", "，", "："}) {
        if (text.substr(at).starts_with(mark)) {
            at += mark.size();
            break;
        }
    }
    // Spaces, tabs and the ideographic space CJK input methods type after a mention.
    while (at < text.size()) {
        if (text[at] == ' ' || text[at] == '\t') {
            ++at;
        } else if (text.substr(at).starts_with("\u3000")) {
            at += 3;
        } else {
            break;
        }
    }
    return at;
}

}  // namespace

std::size_t byte_offset(std::string_view text, std::size_t position, TextLimit::Unit unit) {
    return prefix_within(text, TextLimit{.max = position, .unit = unit});
}

std::string without_spans(std::string_view text, const std::vector<TextSpan>& spans,
                          TextLimit::Unit unit) {
    std::vector<ByteRange> ranges;
    ranges.reserve(spans.size());
    for (TextSpan span : spans) {
        // (Lengths near SIZE_MAX from a hostile client must not wrap around.)
        std::size_t end =
            span.offset +
            std::min(span.length, std::numeric_limits<std::size_t>::max() - span.offset);
        ranges.push_back({byte_offset(text, span.offset, unit), byte_offset(text, end, unit)});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](ByteRange a, ByteRange b) { return a.begin < b.begin; });
    std::string out;
    out.reserve(text.size());
    std::size_t kept_from = 0;  // text before this was copied or removed
    for (ByteRange range : ranges) {
        if (range.end <= range.begin || range.end <= kept_from) continue;  // empty, or covered
        // A span overlapping what was removed (an entity repeated longer) extends the removal.
        if (range.begin >= kept_from) out.append(text.substr(kept_from, range.begin - kept_from));
        kept_from = skip_separator(text, range.end);
    }
    out.append(text.substr(kept_from));
    auto first = out.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    auto last = out.find_last_not_of(" \t\r\n");
    return out.substr(first, last - first + 1);
}

}  // namespace bot
