#include "base/async.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <random>

namespace bot {

net::any_io_executor make_io_strand(const net::any_io_executor& executor) {
    if (const auto* io = executor.target<net::io_context::executor_type>()) {
        // No public accessor; io_context_impl is the scheduler the context itself runs.
        if (net::use_service<net::detail::io_context_impl>(io->context()).concurrency_hint() == 1)
            return executor;
        return net::make_strand(*io);
    }
    return net::make_strand(executor);
}

std::chrono::milliseconds backoff_delay(std::chrono::milliseconds first,
                                        std::chrono::milliseconds most, int attempt) {
    auto ceiling = std::min<std::chrono::milliseconds>(
        first * (std::int64_t{1} << std::clamp(attempt, 0, 20)), most);
    thread_local std::minstd_rand random{std::random_device{}()};
    std::uniform_int_distribution<long long> pick(ceiling.count() / 2, ceiling.count());
    return std::chrono::milliseconds(pick(random));
}

}  // namespace bot
