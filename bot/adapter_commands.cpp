#include "bot/adapter_commands.hpp"

#include "bot/log.hpp"
#include "bot/net/http_client.hpp"
#include "bot/store_adapter_state.hpp"
#include "storage/sqlite_store.hpp"
#include "wechat_ilink/login_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <thread>

namespace bot {

int run_ilink_login(const Config& config, const std::string& adapter_id, Logger& log,
                    std::istream& in, std::ostream& out, bool unicode) {
    namespace ilink = adapters::wechat_ilink;
    auto spec = std::find_if(config.adapters.begin(), config.adapters.end(),
                             [&](const auto& adapter) { return adapter.id == adapter_id; });
    if (spec == config.adapters.end() || spec->type != "wechat_ilink") {
        std::cerr << "contactbot: adapters." << adapter_id
                  << " is not configured (it must have \"type\": \"wechat_ilink\")\n";
        return ilink::kConfigInvalid;
    }
    ConfigErrors errors;
    ConfigReader reader(spec->section, "adapters." + adapter_id, errors);
    auto settings = ilink::read_settings(reader);
    reader.done();
    if (!errors.empty()) {
        std::cerr << errors.joined() << "\n";
        return ilink::kConfigInvalid;
    }

    storage::SqliteStore store({.path = config.storage.sqlite_path,
                                .synchronous_full = config.storage.synchronous_full,
                                .readers = 1});
    StoreAdapterState state(store, adapter_id);
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    int status = ilink::kLoginFailed;
    {
        auto http_client = make_http_client(io.get_executor(), log);
        HttpClient& http = *http_client;
        try {
            status = net::co_spawn(io,
                                   ilink::login_in_terminal({.settings = settings,
                                                             .http = http,
                                                             .state = state,
                                                             .in = in,
                                                             .out = out,
                                                             .unicode = unicode}),
                                   net::use_future)
                         .get();
        } catch (const std::exception& error) {
            log.error("ilink-login", error.what());
        }
        http.shutdown_and_wait(std::chrono::seconds(2));
    }
    work.reset();
    runner.join();
    store.close();
    return status;
}

}  // namespace bot
