// An OpenAI-compatible chat completions server for tests, running in-process on loopback on
// its own thread: records every request and answers deterministically ("echo: <last user
// message>"), streamed token by token when asked; failures and delays can be scripted.
#pragma once

#include "fakes/fake_embeddings.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bot::testing {

class FakeLlm {
public:
    struct Scripted {
        int status = 200;
        std::string body;                    // non-200: sent as is
        std::string retry_after;             // Retry-After header when non-empty
        std::chrono::milliseconds delay{0};  // before answering
    };

    FakeLlm();
    ~FakeLlm();

    std::string base_url() const;  // "http://127.0.0.1:<port>/v1"

    // The next answers, in order, before the default behaviour resumes.
    void script(Scripted answer);
    // Replaces the default reply text (argument: the request JSON).
    void reply_with(std::function<std::string(const nlohmann::json&)> make_reply);
    // Delay between streamed chunks; a plain answer waits as long as its stream would take.
    void chunk_delay(std::chrono::milliseconds delay);
    // How long every answer takes in total (a slow model): a plain answer waits this long, a
    // streamed one spreads it evenly over its chunks. Adds to chunk_delay.
    void reply_delay(std::chrono::milliseconds total);
    // false: answers carry no "usage" (10 prompt and 5 completion tokens otherwise), as some
    // local servers do.
    void send_usage(bool on);
    // false: stop storing requests (request_count goes on), so memory stays flat in benches.
    void record(bool on);
    // Fails this fraction of requests (0..1) at random, each in one of four ways (at random): 500;
    // 429 with Retry-After: 1; no answer for `hang` (longer than the client's timeout); or the
    // answer cut off mid-way (a stream loses its end, a plain answer its second half) and the
    // connection closed. Scripted answers go first. Chaos benches, not tests: it is random.
    void fail_randomly(double fraction, std::chrono::milliseconds hang, std::uint32_t seed = 1);
    std::size_t failures_injected() const;

    // A second kind of request (e.g. the memory's summary requests, told apart by `matches`)
    // is answered by its own function, and can be held or failed on its own: a slow or failing
    // summariser next to instant replies.
    void route(std::function<bool(const nlohmann::json&)> matches,
               std::function<std::string(const nlohmann::json&)> make_reply);
    // While on, routed requests wait (held() counts them); off lets them all go.
    void hold_routed(bool on);
    std::size_t held() const;
    // The next `count` routed requests are answered 500.
    void fail_routed(int count);
    // Routed requests answered (not held, not failed) so far.
    std::size_t routed_answered() const;

    std::vector<nlohmann::json> requests() const;
    std::size_t request_count() const;
    // Most requests being answered at the same time so far (benches: how many LLM calls the
    // server really had in flight).
    std::size_t peak_in_flight() const;
    // Headers of the last request (lower-case names).
    std::string last_header(const std::string& name) const;
    // POST /v1/embeddings: deterministic vectors, failures and delays (fake_embeddings.hpp).
    FakeEmbeddings& embeddings();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
