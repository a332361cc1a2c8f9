// The WeChat iLink scenario: many bound accounts long-polling a fake iLink server, some of them
// chatting. Accounts are written into the server's database before it starts (as ilink-login
// would); the fake parks every empty getupdates like the real server, so the idle figures are
// those of thousands of open long polls.
#pragma once

#include "bench/report.hpp"

#include <string>

namespace bench {

struct IlinkSpec {
    int accounts = 10000;
    int chatting = 1000;  // of those, each sending `messages`, the next after the previous reply
    int messages = 5;
    int poll_hold_ms = 25000;  // how long the fake parks an empty getupdates
    int idle_s = 30;           // idle time measured once every account polls: one poll cycle
    int server_threads = 0;
    int reply_timeout_s = 60;
};

struct IlinkPoint {
    Point chat;  // the chatting phase (users = chatting accounts)
    int accounts = 0;
    double all_polling_s = 0;  // from start until every account's poll arrived
    long idle_rss_kb = 0;      // VmRSS after the idle period
    long idle_threads = 0;
    double idle_cpu_per_s = 0;  // server CPU seconds per second, idle
};

IlinkPoint run_ilink_point(const std::string& server_binary, bool keep, const IlinkSpec& spec);

}  // namespace bench
