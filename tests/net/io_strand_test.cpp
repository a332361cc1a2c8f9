// make_io_strand: a strand where threads share an io_context, none where one thread runs it.
#include "base/async.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

namespace net = boost::asio;

TEST_CASE("make_io_strand serializes a shared io_context and skips the strand for one thread") {
    using Strand = net::strand<net::io_context::executor_type>;
    net::io_context shared;  // any number of threads may run it
    auto guarded = bot::make_io_strand(shared.get_executor());
    CHECK(guarded.target<Strand>() != nullptr);

    net::io_context single{1};  // declared to run on one thread
    auto plain = bot::make_io_strand(single.get_executor());
    CHECK(plain.target<Strand>() == nullptr);
    CHECK(plain == net::any_io_executor(single.get_executor()));
}
