#include "bench/ilink_bench.hpp"

#include "bench/server_process.hpp"
#include "fakes/fake_ilink.hpp"
#include "fakes/fake_llm.hpp"
#include "storage/sqlite_store.hpp"
#include "wechat_ilink/ilink_accounts.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;
using bot::testing::FakeIlink;

std::string owner_of(int user) {
    return std::string("u").append(std::to_string(user)).append("@im.wechat");
}

// Every account as ilink-login stores it, in one transaction per batch of the store's writer.
void store_accounts(const std::filesystem::path& db,
                    const std::vector<FakeIlink::Account>& accounts, const std::string& base_url) {
    namespace ilink = bot::adapters::wechat_ilink;
    bot::storage::SqliteStore store({.path = db.string()});
    boost::asio::io_context io;
    for (const auto& account : accounts) {
        ilink::BoundAccount record{.bot_id = account.bot_id,
                                   .token = account.token,
                                   .base_url = base_url,
                                   .owner = account.owner,
                                   .bound_at_ms = 1};
        // Spawned together, so the writer group-commits them.
        boost::asio::co_spawn(io,
                              store.put_state(kIlinkAdapter, ilink::kAccountKind, account.bot_id,
                                              ilink::encode_account(record)),
                              boost::asio::detached);
    }
    io.run();
    store.close();
}

// The chatting users: user u sends message k+1 once the reply to k arrived.
class Chat {
public:
    Chat(FakeIlink& fake, std::vector<FakeIlink::Account> accounts, int messages)
        : fake_(fake),
          accounts_(std::move(accounts)),
          messages_(messages),
          users_(accounts_.size()) {}

    void start() {
        auto now = Clock::now();
        for (std::size_t u = 0; u < accounts_.size(); ++u) {
            {
                std::lock_guard lock(mutex_);
                users_[u].sent_at = now;
            }
            fake_.inject_text(accounts_[u].token, accounts_[u].owner,
                              message_text(static_cast<int>(u), 0));
        }
    }

    // Called by the fake for every accepted sendmessage.
    void on_send(const nlohmann::json& msg) {
        std::string to = msg.value("to_user_id", "");
        std::string text = msg["item_list"][0]["text_item"].value("text", "");
        int user = std::atoi(to.c_str() + 1);
        std::unique_lock lock(mutex_);
        if (user < 0 || static_cast<std::size_t>(user) >= users_.size()) {
            ++result_.unexpected;
            return;
        }
        auto& state = users_[user];
        if (state.next >= messages_ || text != reply_text(user, state.next)) {
            bool earlier = false;
            for (int k = 0; k < state.next && !earlier; ++k) earlier = text == reply_text(user, k);
            ++(earlier ? result_.duplicated : result_.unexpected);
            return;
        }
        result_.latency_us.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - state.sent_at)
                .count()));
        ++result_.replied;
        int next = ++state.next;
        if (next < messages_) {
            state.sent_at = Clock::now();
            lock.unlock();
            fake_.inject_text(accounts_[user].token, accounts_[user].owner,
                              message_text(user, next));
            return;
        }
        if (result_.replied == total()) done_.notify_all();
    }

    LoadResult wait(std::chrono::seconds timeout) {
        auto started = Clock::now();
        std::unique_lock lock(mutex_);
        done_.wait_for(lock, timeout, [&] { return result_.replied >= total(); });
        result_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        result_.messages = total();
        result_.lost = total() - result_.replied;
        return result_;
    }

private:
    struct User {
        int next = 0;
        Clock::time_point sent_at;
    };
    std::uint64_t total() const { return users_.size() * static_cast<std::uint64_t>(messages_); }

    FakeIlink& fake_;
    std::vector<FakeIlink::Account> accounts_;
    int messages_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<User> users_;
    LoadResult result_;
};

}  // namespace

IlinkPoint run_ilink_point(const std::string& server_binary, bool keep, const IlinkSpec& spec) {
    IlinkPoint point;
    point.accounts = spec.accounts;
    point.chat.path = Path::ilink;
    point.chat.users = spec.chatting;
    point.chat.messages = spec.messages;
    std::cerr << "bench: wechat_ilink accounts=" << spec.accounts << " chatting=" << spec.chatting
              << " msgs/user=" << spec.messages << "\n";
    WorkDir dir;
    std::unique_ptr<Chat> chat;  // outlives the fake: its threads report into it
    try {
        bot::testing::FakeLlm llm;
        llm.record(false);
        FakeIlink fake;
        fake.record(false);
        fake.set_poll_hold(std::chrono::milliseconds(spec.poll_hold_ms));
        std::vector<FakeIlink::Account> accounts;
        accounts.reserve(static_cast<std::size_t>(spec.accounts));
        for (int i = 0; i < spec.accounts; ++i) accounts.push_back(fake.add_account(owner_of(i)));
        store_accounts(dir.path() / "bot.db", accounts, fake.base_url());

        ServerSettings settings{.dir = dir.path(),
                                .port = free_port(),
                                .threads = spec.server_threads,
                                .path = Path::ilink,
                                .llm_base_url = llm.base_url(),
                                .ilink_api_base = fake.base_url(),
                                .llm_concurrency = 1000};
        auto started = Clock::now();
        ServerProcess server(server_binary, settings);
        server.wait_ready(std::chrono::seconds(60));
        Sampler sampler(server.pid());
        std::cerr << "bench:   contactbot pid " << server.pid() << ", work dir "
                  << dir.path().string() << "\n";
        auto polls = static_cast<std::size_t>(spec.accounts);
        while (fake.count("getupdates") < polls && Clock::now() - started < std::chrono::minutes(2))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (fake.count("getupdates") < polls) throw std::runtime_error("not every account polls");
        point.all_polling_s = std::chrono::duration<double>(Clock::now() - started).count();

        auto idle_before = read_proc_stats(server.pid());
        std::this_thread::sleep_for(std::chrono::seconds(spec.idle_s));
        auto idle_after = read_proc_stats(server.pid());
        point.idle_rss_kb = idle_after.rss_kb;
        point.idle_threads = idle_after.threads;
        point.idle_cpu_per_s = (idle_after.cpu_s - idle_before.cpu_s) / spec.idle_s;

        std::vector<FakeIlink::Account> talkers(
            accounts.begin(), accounts.begin() + std::min(spec.chatting, spec.accounts));
        chat = std::make_unique<Chat>(fake, std::move(talkers), spec.messages);
        fake.on_send([sink = chat.get()](const nlohmann::json& msg) { sink->on_send(msg); });
        double own_before = own_cpu_seconds();
        chat->start();
        point.chat.load = chat->wait(std::chrono::seconds(spec.reply_timeout_s));
        std::this_thread::sleep_for(std::chrono::seconds(1));  // stray duplicates
        auto after = read_proc_stats(server.pid());
        point.chat.server_cpu_s = after.cpu_s - idle_after.cpu_s;
        point.chat.bench_cpu_s = own_cpu_seconds() - own_before;
        point.chat.peak_rss_kb = after.hwm_kb;
        point.chat.peak_threads = std::max(sampler.peak_threads(), after.threads);
        point.chat.exit_status = server.stop(std::chrono::seconds(30));
        if (point.chat.exit_status != 0) {
            std::cerr << "bench:   contactbot exit status " << point.chat.exit_status << ":\n"
                      << server.log_tail();
        }
        fake.on_send(nullptr);
    } catch (const std::exception& error) {
        point.chat.failure = error.what();
        std::cerr << "bench:   FAILED: " << error.what() << "\n";
    }
    if (!point.chat.ok() || keep) {
        dir.keep();
        std::cerr << "bench:   kept " << dir.path().string() << "\n";
    }
    std::cerr << "bench:   " << point.chat.load.replied << "/" << point.chat.load.messages
              << " replied, lost " << point.chat.load.lost << ", dup " << point.chat.load.duplicated
              << "\n";
    return point;
}

}  // namespace bench
