// Splitting a reply in Telegram's HTML into parts that are each valid HTML on their own.
#pragma once

#include "base/text_split.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace bot {

// Splits html into parts whose visible text (tags removed, entities decoded: what Telegram
// counts, "1-4096 characters after entities parsing") is at most limit.max units each. The
// cuts are the ones split_text makes in the visible text. A tag open at a cut is closed at the
// end of the part and opened again at the start of the next; no cut falls inside a tag or an
// entity; tags that would enclose nothing in a part are left out of it. html is expected to be
// well-formed UTF-8 (markdown::render's is); otherwise the parts are still balanced, but a cut
// may move to the next character boundary.
std::vector<std::string> split_html(std::string_view html, TextLimit limit);

// The visible text of html: tags removed, entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;)
// decoded. For sending a part as plain text when the platform refuses its markup.
std::string html_to_text(std::string_view html);

}  // namespace bot
