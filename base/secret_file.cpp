#include "base/secret_file.hpp"

#include "base/crypto.hpp"
#include "base/random_id.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace bot {

std::string load_or_create_secret(const std::filesystem::path& file, std::size_t bytes,
                                  std::size_t min_length) {
    if (std::ifstream in(file); in) {
        std::string secret;
        std::getline(in, secret);
        if (secret.size() >= min_length) return secret;
    }
    std::filesystem::create_directories(file.parent_path().empty() ? "." : file.parent_path());
    std::string secret = random_hex(bytes);
    // Created 0600 from the start: no moment in which others could read it.
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + file.string());
    std::string line = secret + "\n";
    bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::fchmod(fd, 0600);
    ::close(fd);
    if (!written) throw std::runtime_error("cannot write " + file.string());
    return secret;
}

bool secret_equals(std::string_view given, std::string_view expected) {
    return !expected.empty() && crypto::constant_time_equal(given, expected);
}

}  // namespace bot
