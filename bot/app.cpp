#include "bot/app.hpp"

#include "adapters/registry.hpp"
#include "base/log.hpp"
#include "bot/dispatcher.hpp"
#include "bot/embedding_worker.hpp"
#include "bot/group_context.hpp"
#include "bot/http/server.hpp"
#include "bot/net/http_client.hpp"
#include "bot/net/websocket_client.hpp"
#include "bot/outbox.hpp"
#include "bot/pipeline.hpp"
#include "bot/reply_tracker.hpp"
#include "bot/store_adapter_state.hpp"
#include "bot/user_pages.hpp"
#include "llm/embeddings.hpp"
#include "llm/openai_backend.hpp"
#include "storage/sqlite_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <future>
#include <thread>

namespace bot {

namespace {

constexpr const char* kNoProviderHint =
    "This bot has no AI model configured yet. Operator: choose a provider with llm.default "
    "and configure it under llm.providers in the config file (see "
    "deploy/contactbot.example.json), then restart.";

std::unique_ptr<llm::LlmBackend> make_backend(const ProviderConfig& provider, HttpClient& http,
                                              Logger& log) {
    log.info("app", "LLM provider '", provider.name, "': model ", provider.model, " at ",
             provider.base_url);
    return std::make_unique<llm::OpenAiBackend>(
        llm::OpenAiOptions{.name = provider.name,
                           .base_url = provider.base_url,
                           .api_key = provider.api_key,
                           .model = provider.model,
                           .timeout = provider.timeout,
                           .max_concurrency = provider.max_concurrency,
                           .context_tokens = provider.context_tokens,
                           .reply_tokens = provider.reply_tokens,
                           .retries = provider.retries,
                           .temperature = provider.temperature},
        http, log);
}

// memory.summary and memory.facts as the pipeline's Memory takes them. The summary provider is
// the default backend (shared, with its limits) unless another one is named (made by `make`).
MemoryOptions memory_options(const Config& config, llm::LlmBackend* default_backend,
                             const std::function<llm::LlmBackend*(const ProviderConfig&)>& make) {
    const auto& summary = config.memory.summary;
    MemoryOptions memory;
    if (summary.enabled) {
        const std::string& name =
            summary.provider.empty() ? config.llm.default_provider : summary.provider;
        if (default_backend && name == config.llm.default_provider) {
            memory.summary_backend = default_backend;
        } else if (const auto* provider = config.llm.find(name)) {
            memory.summary_backend = make(*provider);
        }
    }
    memory.summary_prompt = summary.prompt;
    memory.after_turns = summary.after_turns > 0 ? summary.after_turns : config.bot.history_turns;
    memory.summary_tokens = summary.max_tokens;
    // A summary longer than its share of a reply's prompt (NoteCaps: 20 %) would be left out.
    if (default_backend) {
        const int room = default_backend->context_tokens() - default_backend->reply_tokens();
        memory.summary_tokens = std::max(50, std::min(memory.summary_tokens, room * 15 / 100));
    }
    memory.max_turns_per_request = summary.max_turns_per_request;
    memory.retry = summary.retry;
    memory.workers = summary.workers;
    memory.facts = config.memory.facts.enabled;
    memory.max_facts = config.memory.facts.max;
    memory.max_fact_chars = config.memory.facts.max_chars;
    return memory;
}

// Used while validating: adapters only mount routes and read config then.
class NullSink final : public InboundSink {
public:
    net::awaitable<Submission> submit(Inbound, SubmitOptions) override { co_return Submission{}; }
    net::awaitable<std::vector<HistoryEntry>> history(ChatRef, std::string, int) override {
        co_return std::vector<HistoryEntry>{};
    }
};
class NullState final : public AdapterState {
public:
    net::awaitable<void> put(std::string, std::string, std::string) override { co_return; }
    net::awaitable<std::optional<std::string>> get(std::string, std::string) override {
        co_return std::nullopt;
    }
    net::awaitable<std::vector<Entry>> changes(std::string, std::int64_t) override {
        co_return std::vector<Entry>{};
    }
    net::awaitable<void> erase(std::string, std::string) override { co_return; }
};
class NullHttpClient final : public HttpClient {
public:
    net::awaitable<ClientResponse> request(ClientRequest) override {
        co_return ClientResponse{.failure = ClientResponse::Failure::cancelled};
    }
};

class NullWebSocketClient final : public WebSocketClient {
public:
    net::awaitable<std::shared_ptr<WebSocketConnection>> connect(WebSocketOptions) override {
        throw WebSocketConnectError("validating the configuration: no connections", 0);
        co_return nullptr;
    }
    void shutdown() override {}
};

struct AdapterServices {
    net::any_io_executor executor;
    InboundSink& sink;
    http::Router& routes;
    HttpClient& http;
    WebSocketClient& websockets;
    Logger& log;
    // The state each adapter gets: one per adapter id, owned by the caller.
    std::function<AdapterState&(const std::string& id)> state_for;
    std::filesystem::path data_dir;
    bool validate_only = false;
};

// Builds every configured adapter, adding every problem to errors.
AdapterMap build_adapters(const Config& config, const AdapterServices& services,
                          ConfigErrors& errors) {
    AdapterMap adapters;
    const auto& table = adapters::builtin_adapters();
    for (const auto& spec : config.adapters) {
        std::string path = "adapters." + spec.id;
        auto factory = std::find_if(table.begin(), table.end(),
                                    [&](const auto& entry) { return entry.first == spec.type; });
        if (factory == table.end()) {
            std::string known;
            for (const auto& [name, make] : table)
                known += (known.empty() ? "" : ", ") + std::string(name);
            errors.add(path + ".type",
                       "unknown adapter type \"" + spec.type + "\" (available: " + known + ")");
            continue;
        }
        std::size_t before = errors.list().size();
        try {
            auto adapter =
                factory->second(AdapterDeps{.id = spec.id,
                                            .config = ConfigReader(spec.section, path, errors),
                                            .executor = services.executor,
                                            .sink = services.sink,
                                            .routes = services.routes,
                                            .http = services.http,
                                            .websockets = services.websockets,
                                            .log = services.log,
                                            .state = services.state_for(spec.id),
                                            .data_dir = services.data_dir,
                                            .validate_only = services.validate_only,
                                            .command_prefix = config.bot.command_prefix,
                                            .user_pages = !config.server.public_url.empty()});
            if (spec.group_context && !adapter->capabilities().sees_group_chatter) {
                errors.add(path + ".group_context",
                           "the " + spec.type +
                               " platform delivers only messages addressed to the bot, so there "
                               "is no group context to keep");
            }
            if (errors.list().size() == before) adapters.emplace(spec.id, std::move(adapter));
        } catch (const std::exception& e) {
            errors.add(path, e.what());
        }
    }
    return adapters;
}

std::filesystem::path data_dir_of(const Config& config) {
    auto parent = std::filesystem::path(config.storage.sqlite_path).parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
}

void add_health_routes(http::Router& router, const std::atomic<bool>& ready) {
    router.add("GET", "/healthz",
               [](http::Request&, http::ResponseStream&) -> net::awaitable<http::Response> {
                   co_return http::Response::json(200, {{"status", "ok"}});
               });
    router.add("GET", "/readyz",
               [&ready](http::Request&, http::ResponseStream&) -> net::awaitable<http::Response> {
                   co_return ready ? http::Response::json(200, {{"status", "ready"}})
                                   : http::Response::json(503, {{"status", "not ready"}});
               });
}

// By default one I/O thread per core but one: the storage writer is a busy thread of its own
// under load. On two cores that leaves one I/O thread, whose io_context then needs no strands
// (make_io_strand): less CPU per message than two threads there (bench/RESULTS.md).
int io_threads(const Config& config) {
    if (config.server.threads > 0) return config.server.threads;
    return std::max(static_cast<int>(std::thread::hardware_concurrency()) - 1, 1);
}

}  // namespace

struct App::Parts {
    Parts(Config c, Logger& l, AppOptions o)
        : config(std::move(c)),
          log(l),
          options(o),
          io(std::make_unique<net::io_context>(io_threads(config))) {}

    Config config;
    Logger& log;
    AppOptions options;
    std::unique_ptr<net::io_context> io;
    std::unique_ptr<storage::SqliteStore> store;
    std::vector<std::unique_ptr<StoreAdapterState>> adapter_states;
    std::unique_ptr<HttpClient> http_client;
    std::unique_ptr<WebSocketClient> websockets;
    std::unique_ptr<llm::LlmBackend> backend;
    std::vector<std::unique_ptr<llm::LlmBackend>> user_backends;  // bot.user_models but the default
    std::unique_ptr<llm::Embeddings> embeddings;                  // memory.embeddings, when set
    std::unique_ptr<ReplyTracker> tracker;
    AdapterMap adapters;
    std::unique_ptr<Outbox> outbox;
    std::unique_ptr<GroupContext> group_context;  // issue 24: adapters' group_context
    std::unique_ptr<UserPages> user_pages;        // issue 24: /export, /share
    std::unique_ptr<Pipeline> pipeline;
    std::unique_ptr<Dispatcher> dispatcher;
    http::Router router;
    std::unique_ptr<http::Server> server;
    std::vector<std::thread> threads;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::atomic<bool> ready{false};
    bool started = false;
    bool stopped = false;
    // Adapters' run() loops still going; shutdown waits for them after stop() so that nothing
    // they await (their own events, a socket's close) is left suspended when the io_context
    // stops: a coroutine waiting on an event it co-owns would never be destroyed.
    std::atomic<int> running_adapters{0};
    std::atomic<bool> stopping{false};

    struct Running {
        explicit Running(std::atomic<int>& count) : count(count) { ++count; }
        ~Running() { --count; }
        std::atomic<int>& count;
    };

    net::awaitable<void> supervise(std::string id, Adapter& adapter) {
        auto delay = std::chrono::seconds(1);
        for (;;) {
            try {
                Running running(running_adapters);
                co_await adapter.run();
                co_return;
            } catch (const std::exception& e) {
                if (stopping) co_return;  // ended by stop(): nothing to restart
                log.error("app", "adapter '", id, "' stopped: ", e.what(), "; restarting in ",
                          delay.count(), " s");
            }
            co_await sleep_for(delay);
            if (stopping) co_return;
            delay = std::min(delay * 2, std::chrono::seconds(60));
        }
    }

    // Group context past its adapters' max_age_s goes even from quiet groups.
    net::awaitable<void> purge_group_context() {
        for (;;) {
            co_await sleep_for(std::chrono::seconds(60));
            try {
                co_await group_context->purge();
            } catch (const std::exception& e) {
                log.warn("app", "purging group context failed: ", e.what());
            }
        }
    }

    // Throttled log lines are counted and summarised at the first line after their window;
    // this writes the summary of a burst that ended in silence.
    net::awaitable<void> flush_log_summaries() {
        for (;;) {
            co_await sleep_for(std::chrono::seconds(10));
            log.flush_suppressed();
        }
    }
};

App::App(Config config, Logger& log, AppOptions options)
    : parts_(std::make_unique<Parts>(std::move(config), log, options)) {
    auto& p = *parts_;
    auto executor = p.io->get_executor();
    for (const auto& provider : p.config.llm.providers) log.add_secret(provider.api_key);

    p.store = std::make_unique<storage::SqliteStore>(
        storage::SqliteOptions{.path = p.config.storage.sqlite_path,
                               .synchronous_full = p.config.storage.synchronous_full,
                               .readers = p.config.storage.readers,
                               .recall_index = p.config.memory.recall.enabled,
                               .recall_vectors = p.config.memory.embeddings.has_value()});
    p.http_client = make_http_client(executor, log);
    p.websockets = make_websocket_client(executor, log);
    if (const auto* provider = p.config.llm.find(p.config.llm.default_provider)) {
        p.backend = make_backend(*provider, *p.http_client, log);
    } else {
        log.warn("app",
                 "no LLM provider selected (llm.default is empty): every message is "
                 "answered with instructions for the operator");
    }
    // The providers users may pick with /model; the default one is shared, with its limits.
    std::map<std::string, llm::LlmBackend*> user_backends;
    for (const auto& name : p.config.bot.user_models) {
        if (p.backend && name == p.config.llm.default_provider) {
            user_backends.emplace(name, p.backend.get());
        } else if (const auto* provider = p.config.llm.find(name)) {
            p.user_backends.push_back(make_backend(*provider, *p.http_client, log));
            user_backends.emplace(name, p.user_backends.back().get());
        }
    }
    std::map<std::string, std::string> adapter_personas;
    for (const auto& adapter : p.config.adapters) {
        if (!adapter.persona.empty()) adapter_personas.emplace(adapter.id, adapter.persona);
    }
    MemoryOptions memory = memory_options(p.config, p.backend.get(), [&](const ProviderConfig& c) {
        p.user_backends.push_back(make_backend(c, *p.http_client, log));
        return p.user_backends.back().get();
    });
    if (p.config.memory.summary.enabled && !memory.summary_backend) {
        log.warn("app", "memory.summary is on but has no provider: no summaries are made");
    }
    std::map<std::string, GroupContextConfig> group_contexts;
    for (const auto& adapter : p.config.adapters) {
        if (adapter.group_context) group_contexts.emplace(adapter.id, *adapter.group_context);
    }
    if (!group_contexts.empty()) {
        p.group_context = std::make_unique<GroupContext>(*p.store, log, std::move(group_contexts),
                                                         p.config.bot.command_prefix);
    }
    p.user_pages = std::make_unique<UserPages>(
        *p.store, p.router, log,
        UserPagesOptions{.public_url = p.config.server.public_url,
                         .export_ttl = p.config.server.export_link_ttl,
                         .max_export_links = 1000,
                         .command_prefix = p.config.bot.command_prefix});
    RecallOptions recall{.enabled = p.config.memory.recall.enabled,
                         .excerpts = p.config.memory.recall.excerpts};
    if (const auto& embeddings = p.config.memory.embeddings) {
        log.add_secret(embeddings->api_key);
        log.info("app", "recall ranks by embeddings: model ", embeddings->model, " at ",
                 embeddings->base_url);
        p.embeddings = std::make_unique<llm::OpenAiEmbeddings>(
            llm::OpenAiEmbeddingsOptions{.base_url = embeddings->base_url,
                                         .api_key = embeddings->api_key,
                                         .model = embeddings->model},
            *p.http_client, log);
        recall.embeddings = p.embeddings.get();
        recall.query_timeout = embeddings->query_timeout;
        recall.min_similarity = embeddings->min_similarity;
        recall.candidates = embeddings->candidates;
    }
    p.tracker = std::make_unique<ReplyTracker>(executor);
    p.outbox = std::make_unique<Outbox>(*p.store, p.adapters, log, OutboxOptions{});
    p.pipeline = std::make_unique<Pipeline>(
        *p.store, p.backend.get(), *p.tracker, *p.outbox, log,
        PipelineOptions{
            .persona = p.config.bot.persona,
            .personas = p.config.bot.personas,
            .adapter_personas = std::move(adapter_personas),
            .command_prefix = p.config.bot.command_prefix,
            .max_input_chars = p.config.bot.max_input_chars,
            .history_turns = p.config.bot.history_turns,
            .no_provider_hint = kNoProviderHint,
            .context_cache_bytes = static_cast<std::size_t>(p.config.bot.context_cache_mb) << 20,
            .memory = std::move(memory),
            .group_context = p.group_context.get(),
            .user_pages = p.user_pages.get(),

            .recall = recall},
        std::move(user_backends));
    p.dispatcher = std::make_unique<Dispatcher>(
        executor, *p.store, *p.pipeline, *p.outbox, *p.tracker, log,
        static_cast<std::size_t>(p.config.bot.queue_limit), p.group_context.get());
    add_health_routes(p.router, p.ready);
    ConfigErrors errors;
    p.adapters =
        build_adapters(p.config,
                       AdapterServices{.executor = executor,
                                       .sink = *p.dispatcher,
                                       .routes = p.router,
                                       .http = *p.http_client,
                                       .websockets = *p.websockets,
                                       .log = log,
                                       .state_for = [&p](const std::string& id) -> AdapterState& {
                                           return *p.adapter_states.emplace_back(
                                               std::make_unique<StoreAdapterState>(*p.store, id));
                                       },
                                       .data_dir = data_dir_of(p.config)},
                       errors);
    if (!errors.empty()) throw ConfigError(errors);
}

App::~App() {
    shutdown();
}

void App::validate(const Config& config, ConfigErrors& errors) {
    net::io_context io;
    NullSink sink;
    NullHttpClient client;
    NullWebSocketClient websockets;
    NullState state;
    http::Router router;
    Logger quiet(LogLevel::off);
    build_adapters(config,
                   AdapterServices{
                       .executor = io.get_executor(),
                       .sink = sink,
                       .routes = router,
                       .http = client,
                       .websockets = websockets,
                       .log = quiet,
                       .state_for = [&state](const std::string&) -> AdapterState& { return state; },
                       .data_dir = data_dir_of(config),
                       .validate_only = true},
                   errors);
}

void App::add_adapter(const std::string& id, std::unique_ptr<Adapter> adapter) {
    if (!parts_->adapters.emplace(id, std::move(adapter)).second) {
        throw std::runtime_error("adapter id '" + id + "' is already configured");
    }
}

void App::start() {
    auto& p = *parts_;
    if (p.started) return;
    p.started = true;
    p.work.emplace(p.io->get_executor());
    for (int i = 0; i < io_threads(p.config); ++i) {
        p.threads.emplace_back([io = p.io.get()] { io->run(); });
    }
    // Recovery reads what the previous run left before any new message can arrive, so a new
    // message is never mistaken for a left-over one (and answered twice).
    net::co_spawn(p.io->get_executor(), p.dispatcher->recover(), net::use_future).get();
    p.pipeline->memory().start(p.io->get_executor());  // also summaries a crash interrupted
    if (p.options.listen) {
        p.server = std::make_unique<http::Server>(
            p.io->get_executor(), p.router, p.log,
            http::ServerOptions{
                .host = p.config.server.host,
                .port = p.config.server.port,
                .body_limit = p.config.server.body_limit,
                .max_connections = p.config.server.max_connections,
                .max_connections_per_address = p.config.server.max_connections_per_address,
                .max_websockets_per_address = p.config.server.max_websockets_per_address,
                .body_budget_bytes = p.config.server.body_budget_bytes,
                .websocket_queue_bytes = p.config.server.websocket_queue_bytes,
                .trusted_proxies = p.config.server.trusted_proxies,
                .header_timeout = p.config.server.header_timeout,
                .read_timeout = p.config.server.read_timeout,
                .idle_timeout = p.config.server.idle_timeout});
        p.server->start();
        p.log.info("app", "listening on http://", p.config.server.host, ":", p.server->port());
    }
    for (auto& [id, adapter] : p.adapters) {
        net::co_spawn(p.io->get_executor(), p.supervise(id, *adapter), net::detached);
    }
    net::co_spawn(p.io->get_executor(), p.flush_log_summaries(), net::detached);
    if (p.group_context) {
        net::co_spawn(p.io->get_executor(), p.purge_group_context(), net::detached);
    }
    if (p.embeddings) {
        // Named, not a temporary in the call: see Dispatcher::submit.
        EmbeddingWorkerOptions worker{.timeout =
                                          std::chrono::duration_cast<std::chrono::milliseconds>(
                                              p.config.memory.embeddings->timeout)};
        net::co_spawn(p.io->get_executor(),
                      run_embedding_worker(*p.store, *p.embeddings, p.log, worker, p.stopping),
                      net::detached);
    }
    p.ready = true;
}

std::uint16_t App::port() const {
    return parts_->server ? parts_->server->port() : 0;
}

InboundSink& App::sink() {
    return *parts_->dispatcher;
}

net::any_io_executor App::executor() {
    return parts_->io->get_executor();
}

void App::run_until_signal() {
    int number = 0;
    {
        // Scoped: the signal set must be gone before shutdown() destroys the io_context.
        std::promise<int> signalled;
        net::signal_set signals(*parts_->io, SIGINT, SIGTERM);
        signals.async_wait(
            [&](boost::system::error_code ec, int n) { signalled.set_value(ec ? 0 : n); });
        number = signalled.get_future().get();
    }
    parts_->log.info("app", "signal ", number, " received; shutting down");
    shutdown();
}

void App::shutdown() {
    auto& p = *parts_;
    if (p.stopped) return;
    p.stopped = true;
    p.ready = false;
    if (p.started) {
        p.stopping = true;
        if (p.server) p.server->stop();
        for (auto& [id, adapter] : p.adapters) adapter->stop();
        // Close frames go out while the io_context still runs; a connect in progress fails.
        p.websockets->shutdown();
        // The adapters' run() loops end (within a close handshake).
        auto loops_end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (p.running_adapters > 0 && std::chrono::steady_clock::now() < loops_end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // Let accepted messages finish within the grace period.
        auto deadline = std::chrono::steady_clock::now() + p.config.server.shutdown_grace;
        while (p.dispatcher->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // Whatever is still running stays "received" in the inbox and is answered at the next
        // start; cancelling the outbound calls lets those jobs unwind now.
        if (auto left = p.dispatcher->in_flight()) {
            p.log.warn("app", left, " messages still in progress; they resume at the next start");
        }
        p.pipeline->stop();
        // Waited for: a request cancelled after the io_context stopped would keep the client
        // and its caller's coroutine alive forever (each holds the other).
        p.http_client->shutdown_and_wait(std::chrono::seconds(2));
        auto unwind = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while ((p.dispatcher->in_flight() > 0 || p.pipeline->memory().busy() > 0) &&
               std::chrono::steady_clock::now() < unwind) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        // The answers those jobs' callers get (an HTTP API call waiting for its reply hears
        // "not ready yet") are written before the io_context stops: the server closes each
        // connection once its response is out, and stopped ones are counted as closed.
        auto answered = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (p.server && p.server->open_connections() > 0 &&
               std::chrono::steady_clock::now() < answered) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        p.work.reset();
        p.io->stop();
        for (auto& thread : p.threads) thread.join();
        p.threads.clear();
    }
    // Objects owning I/O objects go before the io_context; the io_context goes before what
    // suspended coroutines still reference (store, backend, dispatcher). The store closes
    // first: its last completions hold executors of the io_context.
    p.server.reset();
    p.adapters.clear();
    p.http_client.reset();  // (its destructor shuts it down when start() never ran)
    p.websockets.reset();
    p.tracker.reset();
    p.store->close();
    p.io.reset();
    p.log.info("app", "stopped");
}

}  // namespace bot
