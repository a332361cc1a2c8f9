#include "base/markdown.hpp"

#include "base/text_split.hpp"

#include <md4c.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace bot::markdown {

namespace {

// md4c hands entities over as written ("&amp;", "&#x4E2D;"). The named ones an LLM writes;
// any other stays as written, which is what a reader would see in a plain-text client anyway.
void append_entity(std::string& out, std::string_view entity) {
    static constexpr std::array<std::pair<std::string_view, std::uint32_t>, 16> kNamed{{
        {"&amp;", '&'},
        {"&lt;", '<'},
        {"&gt;", '>'},
        {"&quot;", '"'},
        {"&apos;", '\''},
        {"&nbsp;", 0xA0},
        {"&copy;", 0xA9},
        {"&reg;", 0xAE},
        {"&trade;", 0x2122},
        {"&hellip;", 0x2026},
        {"&mdash;", 0x2014},
        {"&ndash;", 0x2013},
        {"&laquo;", 0xAB},
        {"&raquo;", 0xBB},
        {"&middot;", 0xB7},
        {"&times;", 0xD7},
    }};
    for (const auto& [name, cp] : kNamed) {
        if (entity == name) return append_utf8(out, cp);
    }
    if (entity.size() > 3 && entity.substr(0, 2) == "&#" && entity.back() == ';') {
        std::string digits(entity.substr(2, entity.size() - 3));
        const bool hex = !digits.empty() && (digits[0] == 'x' || digits[0] == 'X');
        if (hex) digits.erase(0, 1);
        if (!digits.empty() && digits.size() <= 8) {
            char* end = nullptr;
            const unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
            if (end && *end == '\0') return append_utf8(out, static_cast<std::uint32_t>(cp));
        }
    }
    out.append(entity);
}

// text with every byte that is not part of well-formed UTF-8 (stray continuation bytes, cut or
// overlong sequences, surrogates, past U+10FFFF) replaced by U+FFFD, so the renderers and the
// splitters agree on where characters begin.
std::string well_formed_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        std::uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, min = 0x10000, cp = c & 0x07;
        } else {
            append_utf8(out, 0xFFFD);
            ++i;
            continue;
        }
        std::size_t n = 1;
        while (n <= extra && i + n < text.size() &&
               (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
            cp = (cp << 6) | (static_cast<unsigned char>(text[i + n]) & 0x3F);
            ++n;
        }
        if (n != extra + 1 || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            append_utf8(out, 0xFFFD);
            i += n;  // the lead byte and the continuation bytes it took
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

std::string attribute_text(const MD_ATTRIBUTE& attribute) {
    std::string out;
    if (attribute.text == nullptr) return out;
    for (int i = 0; attribute.substr_offsets[i] < attribute.size; ++i) {
        const MD_OFFSET begin = attribute.substr_offsets[i];
        const MD_OFFSET end = attribute.substr_offsets[i + 1];
        const std::string_view piece(attribute.text + begin, end - begin);
        switch (attribute.substr_types[i]) {
            case MD_TEXT_ENTITY:
                append_entity(out, piece);
                break;
            case MD_TEXT_NULLCHAR:
                append_utf8(out, 0xFFFD);
                break;
            default:
                out.append(piece);
        }
    }
    return out;
}

class Builder {
public:
    Document document;

    int enter_block(MD_BLOCKTYPE type, void* detail) {
        switch (type) {
            case MD_BLOCK_QUOTE:
                ++quote_depth_, close();
                break;
            case MD_BLOCK_UL:
            case MD_BLOCK_OL: {
                close();
                if (lists_.empty() && table_group_ == 0) group_ = ++groups_;
                const int start =
                    type == MD_BLOCK_OL
                        ? static_cast<int>(static_cast<MD_BLOCK_OL_DETAIL*>(detail)->start)
                        : 0;
                lists_.push_back({.ordered = type == MD_BLOCK_OL, .next = start});
                break;
            }
            case MD_BLOCK_LI: {
                auto& block = open(Block::Kind::list_item);
                auto& list = lists_.back();
                block.list_depth = static_cast<int>(lists_.size());
                block.ordered = list.ordered;
                if (list.ordered) block.ordinal = list.next++;
                const auto* item = static_cast<MD_BLOCK_LI_DETAIL*>(detail);
                if (item && item->is_task) {
                    block.task = (item->task_mark == 'x' || item->task_mark == 'X') ? 2 : 1;
                }
                fresh_item_ = true;
                break;
            }
            case MD_BLOCK_HR:
                open(Block::Kind::rule), close();
                break;
            case MD_BLOCK_H:
                open(Block::Kind::heading).heading_level =
                    static_cast<int>(static_cast<MD_BLOCK_H_DETAIL*>(detail)->level);
                break;
            case MD_BLOCK_CODE:
                open(Block::Kind::code);
                break;
            case MD_BLOCK_P:
                // A list item's first paragraph is the item's own text.
                if (!(fresh_item_ && current_ >= 0)) open(Block::Kind::paragraph);
                break;
            case MD_BLOCK_TABLE:
                close();
                table_group_ = lists_.empty() ? ++groups_ : group_;
                group_ = table_group_;
                break;
            case MD_BLOCK_THEAD:
                table_head_ = true;
                break;
            case MD_BLOCK_TBODY:
                table_head_ = false;
                break;
            case MD_BLOCK_TR:
                open(Block::Kind::table_row).header = table_head_;
                break;
            case MD_BLOCK_TH:
            case MD_BLOCK_TD:
                if (current_ >= 0) document.blocks[current_].cells.emplace_back();
                break;
            default:  // DOC; HTML blocks are off (MD_FLAG_NOHTML)
                if (type != MD_BLOCK_DOC) open(Block::Kind::paragraph);
                break;
        }
        if (type != MD_BLOCK_LI) fresh_item_ = false;
        return 0;
    }

    int leave_block(MD_BLOCKTYPE type) {
        switch (type) {
            case MD_BLOCK_QUOTE:
                --quote_depth_, close();
                break;
            case MD_BLOCK_UL:
            case MD_BLOCK_OL:
                close();
                if (!lists_.empty()) lists_.pop_back();
                if (lists_.empty() && table_group_ == 0) group_ = 0;
                break;
            case MD_BLOCK_TABLE:
                close();
                table_group_ = 0;
                if (lists_.empty()) group_ = 0;
                break;
            case MD_BLOCK_TH:
            case MD_BLOCK_TD:
            case MD_BLOCK_THEAD:
            case MD_BLOCK_TBODY:
            case MD_BLOCK_DOC:
                break;
            default:
                close();
                break;
        }
        fresh_item_ = false;
        return 0;
    }

    int enter_span(MD_SPANTYPE type, void* detail) {
        switch (type) {
            case MD_SPAN_EM:
                ++counts_[0];
                break;
            case MD_SPAN_STRONG:
                ++counts_[1];
                break;
            case MD_SPAN_DEL:
                ++counts_[2];
                break;
            case MD_SPAN_CODE:
                ++counts_[3];
                break;
            case MD_SPAN_A:
            case MD_SPAN_IMG: {
                // Links do not nest in CommonMark (an image's alt text may hold one: the outer
                // link wins).
                if (link_ == 0) {
                    const auto& href = type == MD_SPAN_A
                                           ? static_cast<MD_SPAN_A_DETAIL*>(detail)->href
                                           : static_cast<MD_SPAN_IMG_DETAIL*>(detail)->src;
                    document.links.push_back(
                        {.url = attribute_text(href), .image = type == MD_SPAN_IMG});
                    link_ = static_cast<int>(document.links.size());
                }
                ++link_depth_;
                break;
            }
            default:
                break;
        }
        return 0;
    }

    int leave_span(MD_SPANTYPE type) {
        auto down = [](int& count) { count = std::max(count - 1, 0); };
        switch (type) {
            case MD_SPAN_EM:
                down(counts_[0]);
                break;
            case MD_SPAN_STRONG:
                down(counts_[1]);
                break;
            case MD_SPAN_DEL:
                down(counts_[2]);
                break;
            case MD_SPAN_CODE:
                down(counts_[3]);
                break;
            case MD_SPAN_A:
            case MD_SPAN_IMG:
                down(link_depth_);
                if (link_depth_ == 0) link_ = 0;
                break;
            default:
                break;
        }
        return 0;
    }

    int text(MD_TEXTTYPE type, std::string_view text) {
        if (current_ < 0) open(Block::Kind::paragraph);
        Block& block = document.blocks[current_];
        if (block.kind == Block::Kind::code) {
            block.code.append(text);
            return 0;
        }
        std::string piece;
        switch (type) {
            case MD_TEXT_NULLCHAR:
                append_utf8(piece, 0xFFFD);
                break;
            case MD_TEXT_BR:
                piece.push_back('\n');
                break;
            // The LLM's line breaks are meant: a chat shows them as it wrote them.
            case MD_TEXT_SOFTBR:
                piece.push_back(counts_[3] > 0 ? ' ' : '\n');
                break;
            case MD_TEXT_ENTITY:
                append_entity(piece, text);
                break;
            default:
                piece = text;
                break;
        }
        std::vector<Run>& runs =
            block.kind == Block::Kind::table_row
                ? (block.cells.empty() ? block.cells.emplace_back() : block.cells.back())
                : block.runs;
        const auto style = static_cast<std::uint8_t>(
            (counts_[0] ? Run::italic : 0) | (counts_[1] ? Run::bold : 0) |
            (counts_[2] ? Run::strike : 0) | (counts_[3] ? Run::code : 0));
        if (!runs.empty() && runs.back().style == style && runs.back().link == link_) {
            runs.back().text += piece;
        } else {
            runs.push_back({.text = std::move(piece), .style = style, .link = link_});
        }
        return 0;
    }

private:
    struct List {
        bool ordered = false;
        int next = 0;
    };

    Block& open(Block::Kind kind) {
        close();
        Block& block = document.blocks.emplace_back();
        block.kind = kind;
        block.quote_depth = quote_depth_;
        block.list_depth = static_cast<int>(lists_.size());
        block.group = group_;
        current_ = static_cast<int>(document.blocks.size()) - 1;
        return block;
    }

    void close() {
        // An empty paragraph (a list item's text moved into a nested list) says nothing.
        if (current_ >= 0) {
            const Block& block = document.blocks[current_];
            if (block.kind == Block::Kind::paragraph && block.runs.empty())
                document.blocks.pop_back();
        }
        current_ = -1;
    }

    std::vector<List> lists_;
    std::array<int, 4> counts_{};  // em, strong, del, code
    int link_ = 0, link_depth_ = 0;
    int current_ = -1;
    int quote_depth_ = 0;
    int group_ = 0, groups_ = 0, table_group_ = 0;
    bool table_head_ = false;
    bool fresh_item_ = false;
};

Builder& builder(void* user) {
    return *static_cast<Builder*>(user);
}

}  // namespace

Document parse(std::string_view text) {
    Builder built;
    MD_PARSER parser{};
    parser.abi_version = 0;
    // GitHub's dialect; raw HTML is text, so nothing of it reaches a platform as markup.
    parser.flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
    parser.enter_block = [](MD_BLOCKTYPE type, void* detail, void* user) {
        return builder(user).enter_block(type, detail);
    };
    parser.leave_block = [](MD_BLOCKTYPE type, void*, void* user) {
        return builder(user).leave_block(type);
    };
    parser.enter_span = [](MD_SPANTYPE type, void* detail, void* user) {
        return builder(user).enter_span(type, detail);
    };
    parser.leave_span = [](MD_SPANTYPE type, void*, void* user) {
        return builder(user).leave_span(type);
    };
    parser.text = [](MD_TEXTTYPE type, const MD_CHAR* text, MD_SIZE size, void* user) {
        return builder(user).text(type, std::string_view(text, size));
    };
    // md4c measures in MD_SIZE (unsigned); a longer text than that is no chat reply.
    const auto size = static_cast<MD_SIZE>(std::min<std::size_t>(text.size(), 0x7fffffff));
    if (md_parse(text.data(), size, &parser, &built) != 0) {
        // Only an allocation failure inside md4c: keep the text as it is.
        Document fallback;
        fallback.blocks.push_back({.runs = {{.text = std::string(text)}}});
        return fallback;
    }
    return std::move(built.document);
}

std::string render(std::string_view markdown_text, TextFormat format) {
    switch (format) {
        case TextFormat::plain:
            return render_plain(parse(well_formed_utf8(markdown_text)));
        case TextFormat::telegram_html:
            return render_telegram_html(parse(well_formed_utf8(markdown_text)));
        case TextFormat::feishu_markdown:
        case TextFormat::slack_mrkdwn:
        case TextFormat::discord_markdown:
            return render_dialect(parse(well_formed_utf8(markdown_text)), dialect_of(format));
        case TextFormat::markdown:
            break;
    }
    return std::string(markdown_text);
}

std::vector<std::string> split_markdown(std::string_view text, TextLimit limit) {
    // Room for a part's reopened fence ("```" + a short info string + "\n") and its closing
    // "\n```"; ASCII, so one unit each in every TextLimit unit.
    constexpr std::size_t kMaxInfo = 16;
    constexpr std::size_t kFenceRoom = 3 + kMaxInfo + 1 + 4;
    if (limit.max <= 4 * kFenceRoom || text.find("```") == std::string_view::npos) {
        return split_text(text, limit);
    }
    auto parts = split_text(text, {.max = limit.max - kFenceRoom, .unit = limit.unit});
    std::string open_fence;  // the fence line a code block opened with; empty outside one
    for (auto& part : parts) {
        std::size_t line_start = 0;
        if (!open_fence.empty()) {
            part.insert(0, open_fence + "\n");
            line_start = open_fence.size() + 1;
        }
        while (line_start < part.size()) {
            auto line_end = part.find('\n', line_start);
            if (line_end == std::string::npos) line_end = part.size();
            std::string_view line(part.data() + line_start, line_end - line_start);
            // A fence line: "```" after indentation and quote marks.
            auto start = line.find_first_not_of(" >");
            if (start != std::string_view::npos && line.substr(start).starts_with("```")) {
                if (open_fence.empty()) {
                    auto fence = line.substr(start);
                    open_fence = fence.size() <= 3 + kMaxInfo ? std::string(fence) : "```";
                } else {
                    open_fence.clear();
                }
            }
            line_start = line_end + 1;
        }
        if (!open_fence.empty()) part += "\n```";
    }
    return parts;
}

}  // namespace bot::markdown
