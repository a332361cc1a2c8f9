// Does memory freed after a burst go back to the OS? Bursts load at contactbot, then samples
// its VmRSS every few seconds while it sits idle. See README.md.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

namespace bench {

struct BurstSpec {
    // bodies: `count` authenticated POSTs of `body_bytes` each to /api/v1/messages at once;
    // conversations: `count` Telegram conversations whose replies stream for 2 s, all at once;
    // websockets: `count` web chat pages at once, each sending one message (streamed for 2 s).
    std::string kind = "bodies";
    int count = 1000;
    std::size_t body_bytes = 1 << 20;
    std::chrono::seconds watch{70};        // idle time watched after the burst
    std::chrono::seconds sample_every{5};  // VmRSS samples while idle
    int server_threads = 0;
    bool keep = false;
};

// Runs one burst and prints RSS before, at the peak and while idle; false when the run failed.
bool run_memory_return(const std::string& server_binary, const BurstSpec& spec, bool markdown,
                       std::ostream& out);

}  // namespace bench
