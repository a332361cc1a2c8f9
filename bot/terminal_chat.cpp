#include "bot/terminal_chat.hpp"

#include "bot/app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <mutex>

namespace bot {

namespace {

// Replies normally stream straight to the terminal; send() only sees one that arrived after
// the chat stopped waiting for it (a very slow model).
class TerminalAdapter final : public Adapter {
public:
    explicit TerminalAdapter(std::ostream& out) : out_(out) {}
    Capabilities capabilities() const override { return {}; }
    net::awaitable<SendResult> send(Outbound message) override {
        out_ << "\n[late reply] " << message.text << std::endl;
        co_return std::string();
    }

private:
    std::ostream& out_;
};

// Sends one line and prints the reply as it streams; false when it did not come in time.
net::awaitable<bool> ask(InboundSink& sink, std::string user, std::string text, std::ostream& out,
                         bool interactive) {
    Inbound inbound;
    inbound.chat = {.adapter_id = kTerminalAdapterId, .chat_id = user, .is_group = false};
    inbound.sender_id = user;
    inbound.sender_name = user;
    inbound.text = std::move(text);
    SubmitOptions options{.wait = std::chrono::minutes(10), .claim = true};
    auto submission = co_await sink.submit(std::move(inbound), options);
    if (interactive) out << "bot> " << std::flush;
    bool streamed = false;
    for (;;) {
        auto event = co_await submission.watch.next();
        if (event.kind == ReplyEvent::Kind::delta) {
            out << event.text << std::flush;
            streamed = true;
        } else if (event.kind == ReplyEvent::Kind::done) {
            // Nothing was streamed for commands and stored replies: print it whole.
            if (!streamed) out << event.text;
            out << std::endl;
            co_return true;
        } else {
            out << "\n(no reply yet; it will be printed when it arrives)" << std::endl;
            co_return false;
        }
    }
}

}  // namespace

void add_terminal_adapter(App& app, std::ostream& out) {
    app.add_adapter(kTerminalAdapterId, std::make_unique<TerminalAdapter>(out));
}

int run_terminal_chat(App& app, const std::string& user, std::istream& in, std::ostream& out,
                      bool interactive) {
    int status = 0;
    std::string line;
    for (;;) {
        if (interactive) out << "you> " << std::flush;
        if (!std::getline(in, line)) break;
        if (line.empty()) continue;
        auto answered = net::co_spawn(app.executor(), ask(app.sink(), user, line, out, interactive),
                                      net::use_future);
        if (!answered.get()) status = 1;
    }
    if (interactive) out << std::endl;
    return status;
}

}  // namespace bot
