// Helpers for the storage tests: a throw-away directory and a way to run one awaitable to
// completion from a plain test body.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace bot::storage::testing {
namespace net = boost::asio;

// A fresh directory under /tmp, removed with everything in it when the test ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = "/tmp/contactbot-storage-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Runs the awaitable on its own io_context and returns its result (or rethrows its exception).
template <class T>
T run(net::awaitable<T> operation) {
    net::io_context io;
    auto result = net::co_spawn(io, std::move(operation), net::use_future);
    io.run();
    return result.get();
}

}  // namespace bot::storage::testing
