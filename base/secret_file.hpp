// Secrets the operator did not set: generated once and kept in a file only the owner can
// read, so "not configured" never means "open to everyone".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace bot {

// Reads the secret in file (first line, at least min_length characters), or writes a fresh
// random one (2 * bytes hex digits) with mode 0600. Throws std::runtime_error when the file
// cannot be written.
std::string load_or_create_secret(const std::filesystem::path& file, std::size_t bytes = 24,
                                  std::size_t min_length = 32);

// Compares a presented secret with the expected one in constant time (no timing oracle).
bool secret_equals(std::string_view given, std::string_view expected);

}  // namespace bot
