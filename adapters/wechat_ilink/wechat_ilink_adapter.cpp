// wechat_ilink: the bot as a contact ("微信ClawBot") in people's own WeChat, through Tencent's
// iLink bot API (/work/shared/reference/ilink.md). Any number of WeChat accounts bind to one
// adapter — from the terminal (`contactbot ilink-login`) or the self-service page — and each is
// long-polled by its own AccountSession. Bindings made by another process are picked up from
// the database without a restart. See adapters/wechat_ilink/README.md.
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "wechat_ilink/bind_service.hpp"
#include "wechat_ilink/ilink_account.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <atomic>
#include <thread>

namespace bot::adapters::wechat_ilink {

namespace {

constexpr auto kNotifyStopWait = std::chrono::seconds(2);

class IlinkAdapter final : public Adapter {
public:
    explicit IlinkAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          state_(deps.state),
          log_(deps.log),
          settings_(read_settings(deps.config)),
          api_(deps.http, settings_.client),
          services_{.adapter_id = id_,
                    .executor = executor_,
                    .api = api_,
                    .sink = deps.sink,
                    .state = state_,
                    .log = log_,
                    .settings = settings_,
                    .on_ended = [this](BoundAccount account) { return record(account); }},
          stopped_(executor_) {
        deps.config.done();
        if (!deps.config.errors().empty()) return;
        if (settings_.self_service) {
            bind_ = std::make_unique<BindService>(
                id_, settings_.title, executor_, api_, settings_, log_,
                BindHooks{.active_accounts = [this] { return active_accounts(); },
                          .bound = [this](BoundAccount account) { return record(account); }});
            bind_->mount(deps.routes);
        }
    }

    Capabilities capabilities() const override {
        // A whole reply in one send(): the session splits it at text_limit itself so it can
        // keep within the sends WeChat allows per user message.
        return {.max_text = {.max = settings_.text_limit *
                                    static_cast<std::size_t>(settings_.max_sends_per_message),
                             .unit = TextLimit::Unit::utf16_units},
                // WeChat shows markdown symbols as typed: replies arrive as plain text.
                .text_format = TextFormat::plain};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        auto chat = parse_chat_id(message.chat.chat_id);
        auto session = chat ? find(chat->first) : nullptr;
        if (!session) {
            co_return SendError{
                .kind = SendError::Kind::unauthorized,
                .detail = "no bound WeChat account for chat " + message.chat.chat_id};
        }
        co_return co_await session->send(chat->second, message.reply_to,
                                         std::move(message.delivery_key),
                                         message.part < message.parts, std::move(message.text));
    }

    net::awaitable<void> run() override {
        co_await restore_saved_state();
        co_await scan_accounts();
        saved_cursors_.clear();  // later bindings are new accounts, or resume from their session
        saved_contexts_.clear();
        log_.info("wechat_ilink", "'", id_, "': ", active_accounts(), " WeChat accounts polling");
        scanned_once_ = true;
        for (;;) {
            // (Not in the loop's condition: g++ 12 miscompiles a co_await there.)
            auto next_scan = std::chrono::steady_clock::now() + settings_.account_scan;
            if (co_await stopped_.wait_until(next_scan)) break;
            co_await scan_accounts();
        }
    }

    // Blocks (at most kNotifyStopWait) while iLink is told which accounts stop: App::shutdown
    // calls this before it cancels outbound calls.
    void stop() override {
        stopped_.set();
        if (bind_) bind_->stop();
        std::vector<std::shared_ptr<AccountSession>> running;
        {
            std::lock_guard lock(mutex_);
            for (auto& [bot_id, session] : sessions_) {
                if (!session->stopped()) running.push_back(session);
                session->stop();
            }
        }
        auto pending = std::make_shared<std::atomic<std::size_t>>(running.size());
        for (auto& session : running) {
            net::co_spawn(executor_, session->notify_stop(),
                          [pending](std::exception_ptr) { --*pending; });
        }
        auto deadline = std::chrono::steady_clock::now() + kNotifyStopWait;
        while (*pending > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

private:
    std::shared_ptr<AccountSession> find(const std::string& bot_id) const {
        std::lock_guard lock(mutex_);
        auto found = sessions_.find(bot_id);
        return found == sessions_.end() ? nullptr : found->second;
    }

    std::size_t active_accounts() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(
            std::count_if(sessions_.begin(), sessions_.end(),
                          [](const auto& e) { return !e.second->stopped(); }));
    }

    // Writes an account record; scan_accounts() acts on it (also on records of other processes).
    net::awaitable<void> record(BoundAccount account) {
        co_await state_.put(kAccountKind, account.bot_id, encode_account(account));
    }

    // What the previous run saved, read once up front instead of once per account.
    net::awaitable<void> restore_saved_state() {
        for (auto& entry : co_await state_.changes(kContextKind, 0)) {
            auto chat = parse_chat_id(entry.key);
            auto context = decode_context(entry.value);
            if (chat && context) saved_contexts_[chat->first].emplace_back(chat->second, *context);
        }
        for (auto& entry : co_await state_.changes(kCursorKind, 0))
            saved_cursors_[entry.key] = std::move(entry.value);
    }

    net::awaitable<void> scan_accounts() {
        auto entries = co_await state_.changes(kAccountKind, seen_version_);
        for (auto& entry : entries) {
            seen_version_ = std::max(seen_version_, entry.version);
            auto account = decode_account(entry.value);
            if (!account) {
                log_.warn("wechat_ilink", "ignoring an unreadable account record ", entry.key);
                continue;
            }
            if (account->active()) {
                co_await activate(std::move(*account));
            } else if (auto session = find(account->bot_id)) {
                session->stop();
                session->update(std::move(*account));
            }
        }
    }

    net::awaitable<void> activate(BoundAccount account) {
        log_.add_secret(account.token);
        if (auto running = find(account.bot_id); running && !running->stopped()) {
            running->update(std::move(account));  // bound again: a new token
            co_return;
        }
        if (stopped_.is_set()) co_return;
        std::string cursor;
        if (auto saved = saved_cursors_.find(account.bot_id); saved != saved_cursors_.end()) {
            cursor = saved->second;
        } else if (scanned_once_) {  // bound again while running: its old cursor, if any
            cursor = (co_await state_.get(kCursorKind, account.bot_id)).value_or("");
        }
        auto session = std::make_shared<AccountSession>(services_, account, std::move(cursor));
        for (auto& [user, context] : saved_contexts_[account.bot_id])
            session->restore_context(user, context);
        saved_contexts_.erase(account.bot_id);
        std::vector<std::shared_ptr<AccountSession>> replaced;
        {
            std::lock_guard lock(mutex_);
            sessions_[account.bot_id] = session;
            // One binding per WeChat user (§3.3): a new one retires the owner's older ones.
            for (auto& [bot_id, other] : sessions_) {
                if (other != session && !other->stopped() &&
                    other->account().owner == account.owner)
                    replaced.push_back(other);
            }
        }
        for (auto& old : replaced) {
            old->stop();
            auto record_of = old->account();
            record_of.status = BoundAccount::Status::replaced;
            record_of.status_detail = "its owner bound " + account.bot_id;
            co_await record(record_of);
        }
        if (scanned_once_) {  // (the first scan logs one line for all)
            log_.info("wechat_ilink", "account ", account.bot_id, " (owner ", account.owner,
                      ") is polling");
        }
        net::co_spawn(executor_, session->poll(), net::detached);
    }

    std::string id_;
    net::any_io_executor executor_;
    AdapterState& state_;
    Logger& log_;
    Settings settings_;
    IlinkApi api_;
    AccountServices services_;
    AsyncEvent stopped_;
    std::unique_ptr<BindService> bind_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<AccountSession>, std::less<>> sessions_;
    // Only touched by run(): what the last run saved, until the first scan has used it.
    std::map<std::string, std::vector<std::pair<std::string, ReplyContext>>> saved_contexts_;
    std::map<std::string, std::string> saved_cursors_;
    bool scanned_once_ = false;
    std::int64_t seen_version_ = 0;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<IlinkAdapter>(std::move(deps));
}

}  // namespace bot::adapters::wechat_ilink
