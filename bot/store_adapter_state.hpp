// AdapterState over the core's Store: what adapters get in AdapterDeps, and what the CLI uses
// to write state a running server then picks up (ilink-login).
#pragma once

#include "bot/adapter.hpp"
#include "storage/store.hpp"

namespace bot {

class StoreAdapterState final : public AdapterState {
public:
    StoreAdapterState(storage::Store& store, std::string adapter_id)
        : store_(store), adapter_id_(std::move(adapter_id)) {}

    net::awaitable<void> put(std::string kind, std::string key, std::string value) override {
        return store_.put_state(adapter_id_, std::move(kind), std::move(key), std::move(value));
    }
    net::awaitable<std::optional<std::string>> get(std::string kind, std::string key) override {
        return store_.get_state(adapter_id_, std::move(kind), std::move(key));
    }
    net::awaitable<std::vector<Entry>> changes(std::string kind,
                                               std::int64_t after_version) override {
        auto rows = co_await store_.list_state(adapter_id_, std::move(kind), after_version);
        std::vector<Entry> entries;
        entries.reserve(rows.size());
        for (auto& row : rows) {
            entries.push_back(Entry{
                .key = std::move(row.key), .value = std::move(row.value), .version = row.version});
        }
        co_return entries;
    }
    net::awaitable<void> erase(std::string kind, std::string key) override {
        return store_.erase_state(adapter_id_, std::move(kind), std::move(key));
    }

private:
    storage::Store& store_;
    std::string adapter_id_;
};

}  // namespace bot
