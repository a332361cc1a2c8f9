// The LLM's markdown, parsed once (md4c: CommonMark + GFM tables, strikethrough, autolinks,
// task lists; raw HTML is taken as text) into a small neutral form, and rendered per platform.
// Nothing here throws on any input: malformed markdown is still text.
#pragma once

#include "base/text_format.hpp"
#include "base/text_split.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bot::markdown {

// A run of inline text with one set of styles.
struct Run {
    enum Style : std::uint8_t { bold = 1, italic = 2, strike = 4, code = 8 };
    std::string text;
    std::uint8_t style = 0;
    int link = 0;  // > 0: part of links[link - 1]; adjacent runs of one link share it
};

struct Link {
    std::string url;
    bool image = false;
};

struct Block {
    enum class Kind { paragraph, heading, list_item, code, table_row, rule };
    Kind kind = Kind::paragraph;
    std::vector<Run> runs;                // paragraph, heading, list_item
    std::string code;                     // code: its lines, each ending in '\n'
    std::vector<std::vector<Run>> cells;  // table_row
    bool header = false;                  // table_row: of the table's head
    int heading_level = 0;                // heading: 1-6
    int list_depth = 0;    // list_item (1 = top level); others: the depth of the item they are in
    bool ordered = false;  // list_item: numbered (ordinal), else a bullet
    int ordinal = 0;       // list_item: its number in an ordered list
    int task = 0;          // list_item: 0 none, 1 open "[ ]", 2 done "[x]"
    int quote_depth = 0;
    // Blocks with the same non-zero group belong to one top-level list or table: they are
    // separated by one line break, other blocks by a blank line.
    int group = 0;
};

struct Document {
    std::vector<Block> blocks;
    std::vector<Link> links;
};

// Parses markdown. Never throws (on allocation failure std::bad_alloc, as any string does).
Document parse(std::string_view text);

// Readable plain text: "• " bullets and "1. " numbers, headings as their own line, code blocks
// indented 4 spaces, links as "text (url)" (only the url when the text is it), tables as
// "a | b" lines, quotes with "> "; no emphasis marks.
std::string render_plain(const Document& document);

// Telegram's HTML (parse_mode HTML): only b, i, s, code, pre, a href, blockquote; & < > "
// escaped; only http, https and tg links become <a>, others are shown as "text (url)".
std::string render_telegram_html(const Document& document);

// A markdown dialect of a platform that shows styles from marks in the text (Feishu, Discord,
// Slack): the LLM's markdown normalised to what the platform renders. Headings it lacks become
// bold lines, tables "a | b" rows, images links; only http(s) urls are linked.
struct Dialect {
    std::string_view bold, italic, strike;
    bool headings = false;           // "# " headings (levels 1-3); else bold lines
    bool backslash_escapes = false;  // markdown's special characters in text get a backslash
    bool slack = false;              // <url|text> links, & < > as entities, "• " bullets
};
const Dialect& dialect_of(TextFormat format);
std::string render_dialect(const Document& document, const Dialect& dialect);

// The reply as the platform shows it: markdown is returned unchanged; the others are rendered
// from well-formed UTF-8 (any other byte becomes U+FFFD).
std::string render(std::string_view markdown_text, TextFormat format);

// split_text for markdown: a code block cut between parts is closed at the end of one part
// and opened again (with its info string) at the start of the next, so every part renders.
std::vector<std::string> split_markdown(std::string_view text, TextLimit limit);

}  // namespace bot::markdown
