#include "bench/report.hpp"

#include "bench/ilink_bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace bench {

double Point::messages_per_second() const {
    return load.seconds > 0 ? static_cast<double>(load.replied) / load.seconds : 0;
}

double Point::cpu_per_1000(double cpu_s) const {
    return load.replied > 0 ? cpu_s * 1000.0 / static_cast<double>(load.replied) : 0;
}

double Point::percentile_ms(double q) const {
    if (load.latency_us.empty()) return 0;
    // Nearest rank on a sorted copy; the list is at most a few hundred thousand entries.
    std::vector<std::uint32_t> sorted = load.latency_us;
    std::sort(sorted.begin(), sorted.end());
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1] / 1000.0;
}

bool Point::ok() const {
    return failure.empty() && load.lost == 0 && load.duplicated == 0 && load.unexpected == 0 &&
           exit_status == 0;
}

namespace {

std::string fixed(double value, int digits) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(digits) << value;
    return out.str();
}

// Prints rows as an aligned text table or a Markdown table.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 bool markdown) {
    if (rows.empty()) return;
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto& row = rows[r];
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (markdown) out << "| ";
            // Names left, figures right.
            if (i == 0) {
                out << std::left << std::setw(static_cast<int>(width[i])) << row[i];
            } else {
                out << std::right << std::setw(static_cast<int>(width[i])) << row[i];
            }
            if (markdown || i + 1 < row.size()) out << (markdown ? " " : "  ");
        }
        out << (markdown ? "|\n" : "\n");
        if (markdown && r == 0) {
            for (std::size_t i = 0; i < row.size(); ++i) {
                out << "|" << std::string(width[i] + 1, '-') << (i == 0 ? "-" : ":");
            }
            out << "|\n";
        }
    }
}

std::string status_of(const Point& p) {
    if (!p.failure.empty()) return "FAILED";
    if (p.exit_status != 0) return std::string("exit ").append(std::to_string(p.exit_status));
    return p.ok() ? "ok" : "LOSS";
}

std::string megabytes(long kb) {
    return fixed(static_cast<double>(kb) / 1024.0, 1);
}

}  // namespace

void print_throughput(std::ostream& out, const std::vector<Point>& points, bool markdown) {
    std::vector<std::vector<std::string>> rows{
        {"path", "users", "msgs/user", "conns", "messages", "msgs/s", "p50 ms", "p95 ms", "p99 ms",
         "peak RSS MB", "threads", "server CPU s/1k", "of it kernel", "bench CPU s/1k", "lost",
         "dup", "errors", "status"}};
    for (const auto& p : points) {
        rows.push_back({to_string(p.path), std::to_string(p.users), std::to_string(p.messages),
                        std::to_string(p.connections), std::to_string(p.load.messages),
                        fixed(p.messages_per_second(), 0), fixed(p.percentile_ms(0.50), 2),
                        fixed(p.percentile_ms(0.95), 2), fixed(p.percentile_ms(0.99), 2),
                        megabytes(p.peak_rss_kb), std::to_string(p.peak_threads),
                        fixed(p.cpu_per_1000(p.server_cpu_s), 3),
                        fixed(p.cpu_per_1000(p.server_kernel_cpu_s), 3),
                        fixed(p.cpu_per_1000(p.bench_cpu_s), 3),
                        std::to_string(p.load.lost + p.load.unexpected),
                        std::to_string(p.load.duplicated), std::to_string(p.load.errors),
                        status_of(p)});
    }
    print_table(out, rows, markdown);
}

void print_inflight(std::ostream& out, const std::vector<Point>& points, bool markdown) {
    std::vector<std::vector<std::string>> rows{
        {"path", "conversations", "LLM s/reply", "completed", "lost", "dup", "waiting peak",
         "LLM peak in flight", "all replied s", "p50 s", "p99 s", "peak RSS MB", "threads",
         "server CPU s", "bench CPU s", "status"}};
    for (const auto& p : points) {
        rows.push_back(
            {to_string(p.path), std::to_string(p.users), fixed(p.llm_delay_ms / 1000.0, 1),
             std::to_string(p.load.replied), std::to_string(p.load.lost + p.load.unexpected),
             std::to_string(p.load.duplicated), std::to_string(p.load.peak_waiting),
             std::to_string(p.llm_peak_in_flight), fixed(p.load.seconds, 2),
             fixed(p.percentile_ms(0.50) / 1000.0, 2), fixed(p.percentile_ms(0.99) / 1000.0, 2),
             megabytes(p.peak_rss_kb), std::to_string(p.peak_threads), fixed(p.server_cpu_s, 2),
             fixed(p.bench_cpu_s, 2), status_of(p)});
    }
    print_table(out, rows, markdown);
}

void print_ilink(std::ostream& out, const std::vector<IlinkPoint>& points, bool markdown) {
    std::vector<std::vector<std::string>> rows{
        {"accounts", "all polling s", "idle RSS MB", "idle threads", "idle CPU %", "chatting",
         "msgs/user", "msgs/s", "p50 ms", "p99 ms", "peak RSS MB", "peak threads",
         "server CPU s/1k", "bench CPU s/1k", "lost", "dup", "status"}};
    for (const auto& p : points) {
        const Point& c = p.chat;
        rows.push_back(
            {std::to_string(p.accounts), fixed(p.all_polling_s, 1), megabytes(p.idle_rss_kb),
             std::to_string(p.idle_threads), fixed(p.idle_cpu_per_s * 100, 1),
             std::to_string(c.users), std::to_string(c.messages), fixed(c.messages_per_second(), 0),
             fixed(c.percentile_ms(0.50), 2), fixed(c.percentile_ms(0.99), 2),
             megabytes(c.peak_rss_kb), std::to_string(c.peak_threads),
             fixed(c.cpu_per_1000(c.server_cpu_s), 3), fixed(c.cpu_per_1000(c.bench_cpu_s), 3),
             std::to_string(c.load.lost + c.load.unexpected), std::to_string(c.load.duplicated),
             status_of(c)});
    }
    print_table(out, rows, markdown);
}

}  // namespace bench
