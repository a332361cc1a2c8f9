#include "storage/recall_terms.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_set>

namespace bot::storage {

namespace {

constexpr std::size_t kMaxWordBytes = 64;

enum class Kind { separator, word, cjk };

bool in(char32_t c, char32_t first, char32_t last) {
    return c >= first && c <= last;
}

Kind kind_of(char32_t c) {
    if (c < 0x80) {
        return (in(c, '0', '9') || in(c, 'a', 'z') || in(c, 'A', 'Z')) ? Kind::word
                                                                       : Kind::separator;
    }
    // Han (with extensions and compatibility forms), kana, Hangul syllables, bopomofo,
    // halfwidth katakana: written without spaces between words.
    if (in(c, 0x3040, 0x312F) || in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) ||
        in(c, 0xAC00, 0xD7AF) || in(c, 0xF900, 0xFAFF) || in(c, 0xFF66, 0xFF9F) ||
        in(c, 0x20000, 0x323AF)) {
        return Kind::cjk;
    }
    // Punctuation, symbols, CJK punctuation, private use, specials and emoji separate words;
    // every other letter (Latin, Greek, Cyrillic, Arabic, ...) and mark is part of one.
    if (in(c, 0x80, 0xBF) || c == 0xD7 || c == 0xF7 || in(c, 0x2000, 0x2BFF) ||
        in(c, 0x3000, 0x303F) || in(c, 0xE000, 0xF8FF) || in(c, 0xFE10, 0xFE6F) ||
        in(c, 0xFF00, 0xFF65) || c >= 0xFFF0) {
        return Kind::separator;
    }
    return Kind::word;
}

char32_t folded(char32_t c) {
    if (in(c, 0xFF01, 0xFF5E)) c -= 0xFEE0;  // fullwidth ASCII
    if (in(c, 'A', 'Z')) return c + 32;
    if ((in(c, 0xC0, 0xDE) && c != 0xD7) || in(c, 0x391, 0x3A9) || in(c, 0x410, 0x42F))
        return c + 32;
    if (in(c, 0x400, 0x40F)) return c + 80;
    return c;
}

// The next code point of text at pos (advanced); invalid bytes read as a separator.
char32_t next_code_point(std::string_view text, std::size_t& pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char lead = byte(pos);
    int length = lead < 0x80           ? 1
                 : (lead >> 5) == 0x6  ? 2
                 : (lead >> 4) == 0xE  ? 3
                 : (lead >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || pos + length > text.size()) {
        ++pos;
        return 0xFFFD;
    }
    char32_t c = length == 1 ? lead : lead & (0x7F >> length);
    for (int i = 1; i < length; ++i) {
        if ((byte(pos + i) & 0xC0) != 0x80) {
            ++pos;
            return 0xFFFD;
        }
        c = (c << 6) | (byte(pos + i) & 0x3F);
    }
    pos += length;
    // Overlong forms and surrogates are not characters (and must not be written back out).
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kSmallest[length] || (c >= 0xD800 && c <= 0xDFFF)) return 0xFFFD;
    return c;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// Words that say nothing about what a message is about. Short on purpose: bm25 already weighs
// a user's common words down; these are skipped so they cost neither index space nor query work.
const std::unordered_set<std::string_view>& stop_words() {
    static const std::unordered_set<std::string_view> words{
        "the", "and", "for", "are", "but", "not", "you", "your", "all", "any", "can", "had", "her",
        "was", "one", "our", "out", "has", "him", "his", "how", "its", "let", "she", "too", "use",
        "that", "with", "have", "this", "will", "what", "when", "where", "which", "who", "why",
        "from", "they", "them", "then", "than", "there", "their", "been", "were", "would", "could",
        "should", "about", "into", "just", "like", "some", "such", "also", "very", "does", "did",
        "doing", "is", "am", "an", "as", "at", "be", "by", "do", "if", "in", "it", "me", "my", "no",
        "of", "on", "or", "so", "to", "up", "us", "we", "yes", "i'm", "please", "thanks", "thank",
        "ok", "okay", "hi", "hello", "here", "these", "those", "der", "die", "das", "und", "les",
        "des", "est", "que", "una", "los", "las", "el", "la", "le", "de", "et", "en", "un", "une",
        "y",
        // CJK particles and pronouns, and the commonest pairs made of them.
        "的", "了", "是", "我", "你", "他", "她", "它", "在", "吗", "呢", "啊", "吧", "么", "着",
        "过", "和", "也", "都", "就", "很", "不", "这", "那", "个", "们", "什", "嗎", "の", "に",
        "は", "を", "が", "で", "て", "と", "も", "た", "し", "か", "な", "い", "我们", "你们",
        "他们", "什么", "一个", "这个", "那个", "没有", "可以", "就是", "不是", "知道", "怎么",
        "现在", "时候", "因为", "所以", "但是", "如果", "我的", "你的", "自己", "这样", "还是",
        "已经", "一下", "觉得", "请问", "谢谢", "です", "ます", "した", "して"};
    return words;
}

// Grammatical particles: a CJK pair with one of them crosses a word boundary ("的猫" in
// "我的猫"), so it is no term worth searching for.
bool is_particle(std::string_view character) {
    static constexpr std::array<std::string_view, 14> particles{
        "的", "了", "吗", "呢", "啊", "吧", "么", "着", "过", "们", "の", "は", "を", "が"};
    return std::find(particles.begin(), particles.end(), character) != particles.end();
}

struct Term {
    std::string text;
    int weight = 0;  // higher: more telling
};

// Calls emit(term) for each term of text, in order. Words of non-CJK letters and digits
// (single letters skipped); CJK runs as characters then pairs, singles kept only when
// keep_single(run_length) says so.
template <class Emit, class KeepSingles>
void for_each_term(std::string_view text, Emit&& emit, KeepSingles&& keep_singles) {
    std::string word;
    std::size_t word_chars = 0;
    std::vector<std::string> run;  // the current CJK run, one character each
    const auto flush_word = [&] {
        if (word_chars >= 2 && word.size() <= kMaxWordBytes) emit(word, Kind::word, word_chars);
        word.clear();
        word_chars = 0;
    };
    const auto flush_run = [&] {
        if (keep_singles(run.size())) {
            for (const auto& character : run) emit(character, Kind::cjk, 1);
        }
        for (std::size_t i = 0; i + 1 < run.size(); ++i) emit(run[i] + run[i + 1], Kind::cjk, 2);
        run.clear();
    };
    for (std::size_t pos = 0; pos < text.size();) {
        char32_t c = folded(next_code_point(text, pos));
        switch (kind_of(c)) {
            case Kind::word:
                flush_run();
                append_utf8(word, c);
                ++word_chars;
                break;
            case Kind::cjk: {
                flush_word();
                std::string character;
                append_utf8(character, c);
                run.push_back(std::move(character));
                break;
            }
            case Kind::separator:
                // Apostrophes split too: "cat's" is found as "cat".
                flush_word();
                flush_run();
                break;
        }
    }
    flush_word();
    flush_run();
}

}  // namespace

std::vector<std::string> index_terms(std::string_view text, std::size_t max_terms) {
    std::vector<std::string> terms;
    const auto& stops = stop_words();
    for_each_term(
        text,
        [&](const std::string& term, Kind, std::size_t) {
            if (terms.size() < max_terms && !stops.contains(term)) terms.push_back(term);
        },
        [](std::size_t) { return true; });
    return terms;
}

std::vector<std::string> query_terms(std::string_view text, std::size_t max_terms) {
    std::vector<Term> terms;
    std::unordered_set<std::string> seen;
    const auto& stops = stop_words();
    for_each_term(
        text,
        [&](const std::string& term, Kind kind, std::size_t chars) {
            if (stops.contains(term) || seen.contains(term)) return;
            int weight = static_cast<int>(std::min<std::size_t>(chars, 12));
            if (kind == Kind::cjk && chars == 2) {
                // Both halves of a pair: is_particle looks at whole characters.
                std::size_t half = 0;
                for (std::size_t pos = 0; half == 0 && pos < term.size();) {
                    next_code_point(term, pos);
                    half = pos;
                }
                if (is_particle(std::string_view(term).substr(0, half)) ||
                    is_particle(std::string_view(term).substr(half))) {
                    return;
                }
                weight = 5;  // a CJK pair says about as much as a five-letter word
            }
            seen.insert(term);
            terms.push_back(Term{term, weight});
        },
        [](std::size_t run_length) { return run_length == 1; });
    // The most telling first, in text order among equals; keep max_terms of them.
    std::stable_sort(terms.begin(), terms.end(),
                     [](const Term& a, const Term& b) { return a.weight > b.weight; });
    if (terms.size() > max_terms) terms.resize(max_terms);
    std::vector<std::string> out;
    out.reserve(terms.size());
    for (auto& term : terms) out.push_back(std::move(term.text));
    return out;
}

}  // namespace bot::storage
