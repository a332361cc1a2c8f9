// The LLM's reply (base/markdown.*, base/html_split.*): parsed with md4c and rendered as plain
// text and Telegram's HTML, which is split into parts. No exception; the HTML uses only
// Telegram's tags, properly nested; every part is balanced and its visible text is exactly
// the plain split's part of the whole's visible text.
#include "base/html_split.hpp"
#include "base/markdown.hpp"
#include "fuzz_support.hpp"

#include <string>
#include <vector>

namespace {

bool balanced(std::string_view html) {
    static constexpr std::string_view kAllowed[] = {"b",   "i", "s",         "code",
                                                    "pre", "a", "blockquote"};
    std::vector<std::string_view> stack;
    std::size_t at = 0;
    while ((at = html.find('<', at)) != std::string_view::npos) {
        const std::size_t end = html.find('>', at);
        if (end == std::string_view::npos) return false;
        std::string_view tag = html.substr(at + 1, end - at - 1);
        at = end + 1;
        const bool closing = !tag.empty() && tag[0] == '/';
        if (closing) tag.remove_prefix(1);
        const std::string_view name = tag.substr(0, tag.find(' '));
        bool known = false;
        for (auto allowed : kAllowed) known = known || name == allowed;
        if (!known) return false;
        if (!closing) {
            stack.push_back(name);
        } else if (stack.empty() || stack.back() != name) {
            return false;
        } else {
            stack.pop_back();
        }
    }
    return stack.empty();
}

// Lines that open or close a code block, as split_markdown counts them.
std::size_t fence_lines(std::string_view text) {
    std::size_t count = 0;
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = text.substr(0, end);
        auto start = line.find_first_not_of(" >");
        if (start != std::string_view::npos && line.substr(start).starts_with("```")) ++count;
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1 || size > 64 * 1024) return 0;
    static constexpr bot::TextLimit::Unit kUnits[] = {
        bot::TextLimit::Unit::utf8_bytes, bot::TextLimit::Unit::utf16_units,
        bot::TextLimit::Unit::code_points, bot::TextLimit::Unit::utf16_units};
    const bot::TextLimit limit{.max = static_cast<std::size_t>(data[0] >> 2) + 1,
                               .unit = kUnits[data[0] & 3]};
    const auto text = fuzz::as_text(data + 1, size - 1);

    (void)bot::markdown::render(text, bot::TextFormat::plain);
    const std::string html = bot::markdown::render(text, bot::TextFormat::telegram_html);
    fuzz::require(balanced(html), "the rendered HTML is not balanced or uses a foreign tag");

    const auto parts = bot::split_html(html, limit);
    const auto expected = bot::split_text(bot::html_to_text(html), limit);
    fuzz::require(parts.size() == expected.size(), "split_html made another number of parts");
    for (std::size_t i = 0; i < parts.size(); ++i) {
        fuzz::require(balanced(parts[i]), "a part of the HTML is not balanced");
        fuzz::require(bot::html_to_text(parts[i]) == expected[i], "a part's visible text differs");
    }

    // The dialects, split with their code blocks closed and reopened: every part within the
    // limit (a larger one: below ~100 units split_markdown leaves fences to split_text, as no
    // platform's limit is that small) and with its fence lines paired.
    const bot::TextLimit wider{.max = limit.max * 16 + 97, .unit = limit.unit};
    for (auto format : {bot::TextFormat::feishu_markdown, bot::TextFormat::slack_mrkdwn,
                        bot::TextFormat::discord_markdown}) {
        const std::string rendered = bot::markdown::render(text, format);
        for (const auto& part : bot::markdown::split_markdown(rendered, wider)) {
            fuzz::require(bot::text_length(part, wider.unit) <= wider.max,
                          "a markdown part is longer than the limit");
            fuzz::require(fence_lines(part) % 2 == 0, "a markdown part leaves a code block open");
        }
    }
    return 0;
}
