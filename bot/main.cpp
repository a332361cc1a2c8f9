// contactbot command line: run (default), check-config, chat, and the adapters' commands.
#include "adapters/registry.hpp"
#include "base/async.hpp"
#include "base/log.hpp"
#include "bot/adapter_commands.hpp"
#include "bot/app.hpp"
#include "bot/config.hpp"
#include "bot/terminal_chat.hpp"

#include <curl/curl.h>
#include <malloc.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#ifdef CONTACTBOT_MIMALLOC
#include <mimalloc.h>
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <cstdlib>
#include <iostream>

namespace {

constexpr int kConfigInvalid = 2;

void print_problems(const std::vector<std::string>& problems, const std::string& file) {
    std::cerr << "contactbot: " << file << " has problems:\n";
    for (const auto& line : problems) std::cerr << "  " << line << "\n";
}

// The allocator serving malloc, for --version. With mimalloc it is also the one call into it:
// nothing else names it, and the linker (--as-needed) would otherwise drop the library.
std::string allocator_name() {
#ifdef CONTACTBOT_MIMALLOC
    const int version = mi_version();  // 209 for 2.0.9
    return "mimalloc " + std::to_string(version / 100) + "." + std::to_string(version / 10 % 10) +
           "." + std::to_string(version % 10);
#else
    return "glibc malloc";
#endif
}

// Memory freed after a burst must go back to the OS, not stay resident for the next one.
// mimalloc 2.0 keeps wholly free segments (32 MiB each) committed in a cache and decommits
// expired ones only when a later segment is freed: after a burst nothing more is freed, so
// 1,000 requests of 1 MiB left 430 MB resident for good (bench/RESULTS.md). Decommitting a
// segment as it becomes free returns it at once; steady load rarely empties a whole segment,
// so it does not pay for this. An operator's MIMALLOC_SEGMENT_DECOMMIT_DELAY still wins.
void configure_allocator() {
#if defined(CONTACTBOT_MIMALLOC) && MI_MALLOC_VERSION < 210
    if (!std::getenv("MIMALLOC_SEGMENT_DECOMMIT_DELAY")) {
        mi_option_set(mi_option_segment_decommit_delay, 0);
    }
#endif
}

// Pages of a thread's heap whose blocks other threads freed are found empty only when that
// thread next allocates or collects, so an I/O thread that goes idle after a burst keeps them;
// glibc likewise keeps free pages inside its arenas. A collection every 10 s gives them back
// (no cost the throughput bench can see). It runs on one I/O thread: all of them by default on
// two cores; with more, the others' pages wait for their thread's next allocation.
void release_memory_periodically(bot::App& app) {
    boost::asio::co_spawn(
        app.executor(),
        []() -> boost::asio::awaitable<void> {
            for (;;) {
                co_await bot::sleep_for(std::chrono::seconds(10));
#ifdef CONTACTBOT_MIMALLOC
                mi_collect(true);
#else
                malloc_trim(0);
#endif
            }
        },
        boost::asio::detached);
}

std::string default_user() {
    const char* user = std::getenv("USER");
    return user && *user ? user : "terminal";
}

// Every connection (users' webhooks and websockets, LLM and platform calls) is a descriptor;
// the usual soft limit of 1024 would cap a busy server far below what it can do.
void raise_descriptor_limit(bot::Logger& log) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
        log.debug("main", "open files limit raised from ", before, " to ", limit.rlim_cur);
    }
}

}  // namespace

int main(int argc, char** argv) {
#ifndef CONTACTBOT_MIMALLOC
    // glibc gives busy threads arenas of their own (up to 8 per core) and memory freed in one
    // arena cannot serve another: with thousands of replies in flight that fragmentation cost
    // ~20% of the resident memory in the benchmark. Two arenas serve our few threads well.
    mallopt(M_ARENA_MAX, 2);
#endif
    configure_allocator();
    // SQLite counts every allocation under a process-wide mutex unless told not to; nothing
    // here reads those counts, and they cost ~17K instructions per message under load (the
    // writer allocates for each statement). Must precede any other SQLite call.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    CLI::App cli{"contactbot: an AI contact on the messaging apps people already use"};
    cli.set_version_flag("--version", std::string("contactbot ") + CONTACTBOT_VERSION + " (" +
                                          allocator_name() + ")");
    std::string config_path = "contactbot.json";
    std::string user = default_user();
    cli.add_option("-c,--config", config_path, "config file (JSON with comments)")
        ->capture_default_str();
    auto* run = cli.add_subcommand("run", "run the server (the default)")->fallthrough();
    auto* check =
        cli.add_subcommand("check-config", "validate the config file and exit")->fallthrough();
    auto* chat = cli.add_subcommand("chat", "talk to the bot in this terminal")->fallthrough();
    chat->add_option("-u,--user", user, "your user name (each has its own memory)")
        ->capture_default_str();
    // The commands adapter types add (ilink-login...), each run for one adapter of its type.
    std::string adapter_id;
    std::vector<std::pair<CLI::App*, const bot::AdapterTypeCommand*>> adapter_commands;
    for (const auto& entry : bot::adapters::builtin_commands()) {
        auto* command =
            cli.add_subcommand(std::string(entry.command.name), std::string(entry.command.summary))
                ->fallthrough();
        command
            ->add_option("-a,--adapter", adapter_id,
                         "the id of a " + std::string(entry.adapter_type) + " adapter")
            ->required();
        adapter_commands.emplace_back(command, &entry);
    }
    cli.require_subcommand(0, 1);
    CLI11_PARSE(cli, argc, argv);
    (void)run;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    bot::ConfigErrors errors;
    bot::Config config = bot::load_config_file(config_path, bot::process_environment(), errors);
    bot::App::validate(config, errors);
    if (!errors.empty()) {
        print_problems(errors.list(), config_path);
        return kConfigInvalid;
    }
    if (check->parsed()) {
        std::cout << config_path << ": OK (" << config.adapters.size() << " adapters, "
                  << config.llm.providers.size() << " LLM providers"
                  << (config.llm.default_provider.empty() ? ", none selected" : "") << ")\n";
        return 0;
    }

    auto level = bot::parse_log_level(config.log.level);
    if (chat->parsed() && level < bot::LogLevel::warn) level = bot::LogLevel::warn;
    bot::Logger log(level);
    const auto per_minute = static_cast<std::size_t>(config.log.lines_per_minute);
    log.set_throttle({.lines_per_shape = per_minute, .lines_per_component = per_minute * 15});
    raise_descriptor_limit(log);
    try {
        for (const auto& [command, entry] : adapter_commands) {
            if (!command->parsed()) continue;
            const char* lang = std::getenv("LANG");
            bool unicode = lang && std::string_view(lang).find("UTF-8") != std::string_view::npos;
            return bot::run_adapter_command(*entry, config, adapter_id, log, std::cin, std::cout,
                                            std::cerr, unicode);
        }
        if (chat->parsed()) {
            bot::App app(config, log, bot::AppOptions{.listen = false});
            bot::add_terminal_adapter(app, std::cout);
            app.start();
            int status =
                bot::run_terminal_chat(app, user, std::cin, std::cout, isatty(STDIN_FILENO));
            app.shutdown();
            return status;
        }
        bot::App app(config, log);
        app.start();
        release_memory_periodically(app);
        app.run_until_signal();
        return 0;
    } catch (const bot::ConfigError& error) {
        print_problems(error.problems(), config_path);
        return kConfigInvalid;
    } catch (const std::exception& error) {
        log.error("main", error.what());
        return 1;
    }
}
