#include "bot/adapter_commands.hpp"

#include "base/log.hpp"
#include "bot/net/http_client.hpp"
#include "bot/store_adapter_state.hpp"
#include "storage/sqlite_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <ostream>
#include <thread>

namespace bot {

int run_adapter_command(const AdapterTypeCommand& command, const Config& config,
                        const std::string& adapter_id, Logger& log, std::istream& in,
                        std::ostream& out, std::ostream& err, bool unicode) {
    auto spec = std::find_if(config.adapters.begin(), config.adapters.end(),
                             [&](const auto& adapter) { return adapter.id == adapter_id; });
    if (spec == config.adapters.end() || spec->type != command.adapter_type) {
        err << "contactbot: adapters." << adapter_id
            << " is not configured (it must have \"type\": \"" << command.adapter_type << "\")\n";
        return kCommandConfigInvalid;
    }

    storage::SqliteStore store({.path = config.storage.sqlite_path,
                                .synchronous_full = config.storage.synchronous_full,
                                .readers = 1});
    StoreAdapterState state(store, adapter_id);
    ConfigErrors errors;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    int status = 1;
    {
        auto http_client = make_http_client(io.get_executor(), log);
        HttpClient& http = *http_client;
        try {
            status = net::co_spawn(
                         io,
                         command.command.run({.adapter_id = adapter_id,
                                              .config = ConfigReader(
                                                  spec->section, "adapters." + adapter_id, errors),
                                              .http = http,
                                              .log = log,
                                              .state = state,
                                              .in = in,
                                              .out = out,
                                              .unicode = unicode}),
                         net::use_future)
                         .get();
        } catch (const std::exception& error) {
            log.error(std::string(command.command.name), error.what());
        }
        http.shutdown_and_wait(std::chrono::seconds(2));
    }
    work.reset();
    runner.join();
    store.close();
    if (!errors.empty()) {
        err << errors.joined() << "\n";
        return kCommandConfigInvalid;
    }
    return status;
}

}  // namespace bot
