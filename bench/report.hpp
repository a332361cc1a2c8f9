// Figures of one measured point and how they are printed (aligned text or Markdown).
#pragma once

#include "bench/load.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct Point {
    Path path = Path::http_api;
    int users = 0;
    int messages = 0;     // per user
    int connections = 0;  // generator connections
    int llm_delay_ms = 0;
    LoadResult load;
    double server_cpu_s = 0;         // during the load
    double server_kernel_cpu_s = 0;  // of it, in the kernel
    double bench_cpu_s = 0;          // the generator and the fakes, during the load
    long peak_rss_kb = 0;            // VmHWM at the end (includes start-up)
    long peak_threads = 0;           // sampled every 100 ms
    std::size_t llm_peak_in_flight = 0;
    int exit_status = 0;  // after SIGTERM; 0 is a clean shutdown
    std::string failure;  // set when the point could not run

    double messages_per_second() const;
    double cpu_per_1000(double cpu_s) const;  // CPU seconds per 1,000 replied messages
    double percentile_ms(double q) const;     // of the reply latency; 0 when none
    bool ok() const;                          // nothing lost, duplicated or unexpected; clean exit
};

void print_throughput(std::ostream& out, const std::vector<Point>& points, bool markdown);
void print_inflight(std::ostream& out, const std::vector<Point>& points, bool markdown);

struct IlinkPoint;
void print_ilink(std::ostream& out, const std::vector<IlinkPoint>& points, bool markdown);

}  // namespace bench
