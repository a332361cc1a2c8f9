// The renderers of base/markdown.hpp: plain text, Telegram's HTML and the markdown dialects.
#include "base/markdown.hpp"

#include <algorithm>
#include <initializer_list>

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

bool link_scheme_is(std::string_view url, std::initializer_list<std::string_view> schemes) {
    for (std::string_view scheme : schemes) {
        if (url.size() <= scheme.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < scheme.size() && same; ++i) {
            const char c = url[i];
            same = ((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c) == scheme[i];
        }
        if (same) return true;
    }
    return false;
}

void percent_encode(std::string& url, std::string_view unsafe) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : url) {
        if (unsafe.find(c) == std::string_view::npos) {
            out += c;
            continue;
        }
        out += '%';
        out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
        out += kHex[static_cast<unsigned char>(c) & 0xF];
    }
    url = std::move(out);
}

// A markdown dialect's inline text: styles as markers, links in the dialect's form.
class DialectWriter {
public:
    DialectWriter(const Dialect& dialect, const Document& document)
        : dialect_(dialect), document_(document) {}

    std::string inline_text(const std::vector<Run>& runs) const {
        std::string out;
        for_each_segment(runs, [&](auto begin, auto end, int link) {
            const Link* target =
                link > 0 && static_cast<std::size_t>(link) <= document_.links.size()
                    ? &document_.links[static_cast<std::size_t>(link) - 1]
                    : nullptr;
            const bool linkable = target && link_scheme_is(target->url, {"http://", "https://"});
            const std::string text = joined_text(begin, end);
            if (linkable && dialect_.slack) {
                // Slack's <url|text>: the text is plain; a '|' or '>' in the url would end it.
                std::string url = target->url;
                percent_encode(url, "|> ");
                out += "<" + url;
                if (!text.empty() && !text_is_url(text, target->url)) out += "|" + escape(text);
                out += ">";
                return;
            }
            if (linkable && (text.empty() || text_is_url(text, target->url))) {
                out += target->url;  // a bare url: every dialect links it by itself
                return;
            }
            if (linkable) out += "[";
            styled(out, begin, end);
            if (linkable) {
                std::string url = target->url;
                percent_encode(url, "() <>");
                out += "](" + url + ")";
            } else if (target && !target->url.empty() && !text_is_url(text, target->url)) {
                // Never a link to javascript:, data: or a relative path: shown, not linked.
                out += text.empty() ? escape(target->url) : " (" + escape(target->url) + ")";
            }
        });
        return out;
    }

    std::string escape(std::string_view text) const {
        std::string out;
        out.reserve(text.size());
        for (char c : text) {
            if (dialect_.slack && (c == '&' || c == '<' || c == '>')) {
                out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : "&gt;";
            } else if (c == '`' && !dialect_.backslash_escapes) {
                // A literal backtick could open code, or at a line's start a code block, that
                // the text never meant: a look-alike instead (U+02CB).
                out += "ˋ";
            } else if (dialect_.backslash_escapes &&
                       std::string_view("\\*_~`[]|<>#").find(c) != std::string_view::npos) {
                out += '\\';
                out += c;
            } else {
                out += c;
            }
        }
        return out;
    }

private:
    std::string_view marker(std::uint8_t style) const {
        switch (style) {
            case Run::bold:
                return dialect_.bold;
            case Run::italic:
                return dialect_.italic;
            case Run::strike:
                return dialect_.strike;
            default:
                return "`";
        }
    }

    // Styles as nested markers, changed at run boundaries as StyleTags does. Markers never
    // touch whitespace on their inner side (CommonMark and Slack ignore "** bold**"): a run's
    // leading spaces go before the markers it opens, trailing ones after those that close.
    template <typename It>
    void styled(std::string& out, It begin, It end) const {
        std::vector<std::uint8_t> open;
        auto close_to = [&](std::size_t keep) {
            std::size_t spaces = 0;
            while (spaces < out.size() && out[out.size() - 1 - spaces] == ' ') ++spaces;
            out.resize(out.size() - spaces);
            while (open.size() > keep) {
                out += marker(open.back());
                open.pop_back();
            }
            out.append(spaces, ' ');
        };
        for (auto it = begin; it != end; ++it) {
            std::string_view text = it->text;
            if (text.empty()) continue;
            // Inside code no other style applies and nothing is escaped.
            const std::uint8_t wanted =
                (it->style & Run::code) ? std::uint8_t{Run::code} : it->style;
            std::size_t keep = 0;
            while (keep < open.size() && (wanted & open[keep])) ++keep;
            if (keep < open.size()) close_to(keep);
            const auto lead = std::min(text.find_first_not_of(' '), text.size());
            out.append(text.substr(0, lead));
            text.remove_prefix(lead);
            if (text.empty()) continue;
            for (std::uint8_t style : {Run::bold, Run::italic, Run::strike, Run::code}) {
                if ((wanted & style) && std::find(open.begin(), open.end(), style) == open.end()) {
                    out += marker(style);
                    open.push_back(style);
                }
            }
            if (wanted & Run::code) {
                // A backtick inside code becomes a look-alike: a longer fence is not known to
                // every dialect (Slack).
                for (char c : text) out += c == '`' ? '\'' : c;
            } else {
                out += escape(text);
            }
        }
        close_to(0);
    }

    const Dialect& dialect_;
    const Document& document_;
};

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

std::string render_dialect(const Document& document, const Dialect& dialect) {
    const DialectWriter writer(dialect, document);
    const std::string bold(dialect.bold);
    std::string out;
    const Block* previous = nullptr;
    for (const Block& block : document.blocks) {
        std::string text;
        std::string first, rest;
        const std::string lead =
            indent(block.list_depth - (block.kind == Block::Kind::list_item ? 1 : 0));
        first = rest = lead;
        switch (block.kind) {
            case Block::Kind::paragraph:
                text = writer.inline_text(block.runs);
                break;
            case Block::Kind::heading:
                text = writer.inline_text(block.runs);
                if (dialect.headings && block.heading_level <= 3) {
                    first += std::string(static_cast<std::size_t>(block.heading_level), '#') + " ";
                } else if (!text.empty()) {
                    text = bold + text + bold;
                }
                break;
            case Block::Kind::list_item: {
                // Slack has no list syntax: its bullet is a character, numbers are text.
                std::string marker = block.ordered   ? std::to_string(block.ordinal) + ". "
                                     : dialect.slack ? "• "
                                                     : "- ";
                if (block.task == 1) marker += "☐ ";
                if (block.task == 2) marker += "☑ ";
                text = writer.inline_text(block.runs);
                first = lead + marker;
                rest = lead + std::string(display_width(marker), ' ');
                break;
            }
            case Block::Kind::code: {
                std::string code = trim_newlines(block.code);
                // A fence inside the code would end the block early.
                for (auto at = code.find("```"); at != std::string::npos;
                     at = code.find("```", at + 3)) {
                    code.replace(at, 3, "'''");
                }
                text = "```\n" + (dialect.slack ? writer.escape(code) : code) + "\n```";
                break;
            }
            case Block::Kind::table_row:
                // None of the dialects has tables: a row per line, the head's cells bold.
                for (std::size_t i = 0; i < block.cells.size(); ++i) {
                    if (i > 0) text += " | ";
                    std::string cell = writer.inline_text(block.cells[i]);
                    text += block.header && !cell.empty() ? bold + cell + bold : cell;
                }
                break;
            case Block::Kind::rule:
                text = kRule;
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

const Dialect& dialect_of(TextFormat format) {
    // Feishu's post "md" element and card markdown: **bold**, *italic*, ~~strike~~, [t](url),
    // lists, code blocks, quotes; posts show no headings and neither shows tables. Backslash
    // escapes are not documented there, so none are written.
    static constexpr Dialect kFeishu{.bold = "**", .italic = "*", .strike = "~~"};
    // Discord's message markdown: also # headings (levels 1-3) and backslash escapes.
    static constexpr Dialect kDiscord{
        .bold = "**", .italic = "*", .strike = "~~", .headings = true, .backslash_escapes = true};
    // Slack's mrkdwn: *bold*, _italic_, ~strike~, <url|text>, & < > escaped; no headings, lists.
    static constexpr Dialect kSlack{.bold = "*", .italic = "_", .strike = "~", .slack = true};
    switch (format) {
        case TextFormat::slack_mrkdwn:
            return kSlack;
        case TextFormat::discord_markdown:
            return kDiscord;
        default:
            return kFeishu;
    }
}

}  // namespace bot::markdown
