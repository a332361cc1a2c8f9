// The renderers of base/markdown.hpp: plain text and Telegram's HTML.
#include "base/markdown.hpp"

#include <algorithm>

namespace bot::markdown {

namespace {

constexpr std::string_view kRule = "──────────";

std::string_view separator(const Block& previous, const Block& block) {
    return previous.group != 0 && previous.group == block.group ? "\n" : "\n\n";
}

// The runs of one link, or a stretch of runs outside any link.
template <typename Visit>
void for_each_segment(const std::vector<Run>& runs, Visit visit) {
    std::size_t begin = 0;
    while (begin < runs.size()) {
        std::size_t end = begin + 1;
        while (end < runs.size() && runs[end].link == runs[begin].link) ++end;
        visit(runs.begin() + static_cast<std::ptrdiff_t>(begin),
              runs.begin() + static_cast<std::ptrdiff_t>(end), runs[begin].link);
        begin = end;
    }
}

template <typename It>
std::string joined_text(It begin, It end) {
    std::string out;
    for (auto it = begin; it != end; ++it) out += it->text;
    return out;
}

// Whether a link's text already says its url, so "text (url)" would say it twice.
bool text_is_url(std::string_view text, std::string_view url) {
    if (text == url) return true;
    for (std::string_view scheme : {"mailto:", "http://", "https://"}) {
        if (url.size() == scheme.size() + text.size() && url.substr(0, scheme.size()) == scheme &&
            url.substr(scheme.size()) == text) {
            return true;
        }
    }
    return false;
}

std::string plain_inline(const std::vector<Run>& runs, const Document& document) {
    std::string out;
    for_each_segment(runs, [&](auto begin, auto end, int link) {
        std::string text = joined_text(begin, end);
        if (link <= 0 || static_cast<std::size_t>(link) > document.links.size()) {
            out += text;
            return;
        }
        const std::string& url = document.links[static_cast<std::size_t>(link) - 1].url;
        if (url.empty() || text_is_url(text, url)) {
            out += text;
        } else if (text.empty()) {
            out += url;
        } else {
            out += text + " (" + url + ")";
        }
    });
    return out;
}

// Prefixes every line of text: the first with first, the rest with rest.
std::string prefix_lines(std::string_view text, std::string_view first, std::string_view rest) {
    std::string out(first);
    for (char c : text) {
        out += c;
        if (c == '\n') out += rest;
    }
    return out;
}

std::string indent(int depth) {
    return std::string(static_cast<std::size_t>(std::max(depth, 0)) * 2, ' ');
}

std::string item_marker(const Block& block) {
    std::string marker = block.ordered ? std::to_string(block.ordinal) + ". " : "• ";
    if (block.task == 1) marker += "☐ ";
    if (block.task == 2) marker += "☑ ";
    return marker;
}

// Measured in UTF-8 characters, which is what the eye counts in a monospaced-ish chat font.
std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

std::string trim_newlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::string escape_html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

bool telegram_link_allowed(std::string_view url) {
    auto starts = [&](std::string_view scheme) {
        if (url.size() <= scheme.size()) return false;
        for (std::size_t i = 0; i < scheme.size(); ++i) {
            const char c = url[i];
            const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            if (lower != scheme[i]) return false;
        }
        return true;
    };
    return starts("http://") || starts("https://") || starts("tg://");
}

// Telegram's styles as nested tags. Styles change at run boundaries: the tags no longer wanted
// are closed from the innermost out (and any opened after them), then the new ones opened.
class StyleTags {
public:
    explicit StyleTags(std::string& out) : out_(out) {}
    ~StyleTags() = default;

    void set(std::uint8_t wanted) {
        std::size_t keep = 0;
        while (keep < open_.size() && (wanted & open_[keep])) ++keep;
        while (open_.size() > keep) {
            out_ += closing(open_.back());
            open_.pop_back();
        }
        for (std::uint8_t style : {Run::bold, Run::italic, Run::strike, Run::code}) {
            if ((wanted & style) && std::find(open_.begin(), open_.end(), style) == open_.end()) {
                out_ += opening(style);
                open_.push_back(style);
            }
        }
    }

private:
    static std::string_view opening(std::uint8_t style) {
        switch (style) {
            case Run::bold:
                return "<b>";
            case Run::italic:
                return "<i>";
            case Run::strike:
                return "<s>";
            default:
                return "<code>";
        }
    }
    static std::string_view closing(std::uint8_t style) {
        switch (style) {
            case Run::bold:
                return "</b>";
            case Run::italic:
                return "</i>";
            case Run::strike:
                return "</s>";
            default:
                return "</code>";
        }
    }

    std::string& out_;
    std::vector<std::uint8_t> open_;
};

std::string html_inline(const std::vector<Run>& runs, const Document& document) {
    std::string out;
    for_each_segment(runs, [&](auto begin, auto end, int link) {
        const Link* target = link > 0 && static_cast<std::size_t>(link) <= document.links.size()
                                 ? &document.links[static_cast<std::size_t>(link) - 1]
                                 : nullptr;
        const bool anchor = target && telegram_link_allowed(target->url);
        const std::string text = joined_text(begin, end);
        if (anchor) out += "<a href=\"" + escape_html(target->url) + "\">";
        if (anchor && text.empty()) out += escape_html(target->url);  // an image without alt text
        {
            StyleTags tags(out);
            for (auto it = begin; it != end; ++it) {
                tags.set(it->style);
                out += escape_html(it->text);
            }
            tags.set(0);
        }
        if (anchor) {
            out += "</a>";
        } else if (target && !target->url.empty() && !text_is_url(text, target->url)) {
            // Not a link Telegram may open (javascript:, data:, relative): shown, never linked.
            out += text.empty() ? escape_html(target->url) : " (" + escape_html(target->url) + ")";
        }
    });
    return out;
}

}  // namespace

std::string render_plain(const Document& document) {
    std::string out;
    const Block* previous = nullptr;
    for (const Block& block : document.blocks) {
        std::string text;
        std::string first, rest;
        const std::string lead =
            indent(block.list_depth - (block.kind == Block::Kind::list_item ? 1 : 0));
        switch (block.kind) {
            case Block::Kind::paragraph:
            case Block::Kind::heading:
                text = plain_inline(block.runs, document);
                first = rest = lead;
                break;
            case Block::Kind::list_item: {
                const std::string marker = item_marker(block);
                text = plain_inline(block.runs, document);
                first = lead + marker;
                rest = lead + std::string(display_width(marker), ' ');
                break;
            }
            case Block::Kind::code:
                text = trim_newlines(block.code);
                first = rest = lead + "    ";
                break;
            case Block::Kind::table_row:
                for (std::size_t i = 0; i < block.cells.size(); ++i) {
                    if (i > 0) text += " | ";
                    text += plain_inline(block.cells[i], document);
                }
                first = rest = lead;
                break;
            case Block::Kind::rule:
                text = kRule;
                first = rest = lead;
                break;
        }
        std::string quote;
        for (int i = 0; i < block.quote_depth; ++i) quote += "> ";
        if (previous) out += separator(*previous, block);
        out += prefix_lines(text, quote + first, quote + rest);
        previous = &block;
    }
    return out;
}

std::string render_telegram_html(const Document& document) {
    std::string out;
    const Block* previous = nullptr;
    // Telegram does not nest blockquotes: quoted blocks in a row share one.
    bool quoting = false;
    for (const Block& block : document.blocks) {
        const bool quoted = block.quote_depth > 0;
        if (previous) {
            if (quoting && !quoted) out += "</blockquote>", quoting = false;
            out += separator(*previous, block);
        }
        if (quoted && !quoting) out += "<blockquote>", quoting = true;
        const std::string lead =
            indent(block.list_depth - (block.kind == Block::Kind::list_item ? 1 : 0));
        switch (block.kind) {
            case Block::Kind::paragraph:
                out += prefix_lines(html_inline(block.runs, document), lead, lead);
                break;
            case Block::Kind::heading:
                out += lead + "<b>" + html_inline(block.runs, document) + "</b>";
                break;
            case Block::Kind::list_item: {
                const std::string marker = item_marker(block);
                out += prefix_lines(html_inline(block.runs, document), lead + marker,
                                    lead + std::string(display_width(marker), ' '));
                break;
            }
            case Block::Kind::code:
                out += "<pre>" + escape_html(trim_newlines(block.code)) + "</pre>";
                break;
            case Block::Kind::table_row:
                out += lead;
                for (std::size_t i = 0; i < block.cells.size(); ++i) {
                    if (i > 0) out += " | ";
                    const std::string cell = html_inline(block.cells[i], document);
                    out += block.header ? "<b>" + cell + "</b>" : cell;
                }
                break;
            case Block::Kind::rule:
                out += lead + std::string(kRule);
                break;
        }
        previous = &block;
    }
    if (quoting) out += "</blockquote>";
    return out;
}

}  // namespace bot::markdown
