#include "bench/chaos_ledger.hpp"

#include <charconv>

namespace bench::chaos {

std::string message_text(char path, int user, int k) {
    return std::string(1, path).append(std::to_string(user)).append(" m").append(std::to_string(k));
}

std::optional<Said> parse_echo(std::string_view text) {
    constexpr std::string_view prefix = "echo: ";
    if (!text.starts_with(prefix) || text.size() < prefix.size() + 2) return std::nullopt;
    Said said{text[prefix.size()], 0, 0};
    const char* p = text.data() + prefix.size() + 1;
    const char* end = text.data() + text.size();
    auto [after_user, e1] = std::from_chars(p, end, said.user);
    if (e1 != std::errc{} || end - after_user < 3 || std::string_view(after_user, 2) != " m")
        return std::nullopt;
    auto [after_k, e2] = std::from_chars(after_user + 2, end, said.k);
    if (e2 != std::errc{} || !std::string_view(after_k, end - after_k).starts_with(" #"))
        return std::nullopt;
    return said;
}

bool is_apology(std::string_view text) {
    return text.starts_with("Sorry, ");
}

std::optional<int> id_number(std::string_view id) {
    int k = 0;
    if (!id.starts_with("m")) return std::nullopt;
    auto [end, error] = std::from_chars(id.data() + 1, id.data() + id.size(), k);
    if (error != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return k;
}

}  // namespace bench::chaos
