// The storage threads' job queues and the operations on them: a caller's coroutine queues a job,
// a storage thread runs it with its own connection and hands the result back to the caller's
// executor. Internal to sqlite_store.cpp (it pulls in Asio's completion machinery).
#pragma once

#include "storage/sqlite_db.hpp"
#include "storage/store.hpp"  // net

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/system_executor.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace bot::storage {

namespace detail {

// One queued operation: run() on a worker thread with that thread's connection, then finish()
// hands the result or the error back to the caller.
class Job {
public:
    virtual ~Job() = default;
    virtual void run(Database& db) = 0;
    virtual void finish(std::exception_ptr error) = 0;
};
using JobPtr = std::unique_ptr<Job>;

class JobQueue {
public:
    // After close() a job fails at once instead of waiting for a worker that will never come.
    void push(JobPtr job) {
        std::unique_lock lock(mutex_);
        if (closed_) {
            lock.unlock();
            job->finish(std::make_exception_ptr(std::runtime_error("sqlite store is closed")));
            return;
        }
        jobs_.push_back(std::move(job));
        lock.unlock();
        ready_.notify_one();
    }

    // Blocks until there is work; false once closed and drained.
    bool take_all(std::vector<JobPtr>& batch) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !jobs_.empty(); });
        std::move(jobs_.begin(), jobs_.end(), std::back_inserter(batch));
        jobs_.clear();
        return !batch.empty();
    }

    JobPtr take_one() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !jobs_.empty(); });
        if (jobs_.empty()) return nullptr;
        JobPtr job = std::move(jobs_.front());
        jobs_.pop_front();
        return job;
    }

    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<JobPtr> jobs_;
    bool closed_ = false;
};

// How an operation producing T completes: the error first, as use_awaitable expects.
template <class T>
struct Completes {
    using signature = void(std::exception_ptr, T);
};
template <>
struct Completes<void> {
    using signature = void(std::exception_ptr);
};
template <class T>
using SignatureFor = typename Completes<T>::signature;

template <class T, class Work>
class Operation final : public Job {
public:
    using Handler = net::any_completion_handler<SignatureFor<T>>;

    explicit Operation(Work&& work) : work_(std::move(work)) {}

    // The caller's completion, once the operation is initiated.
    void complete_with(Handler handler) {
        // Not handler_ = std::move(handler): Asio 1.81's move assignment wraps the handler in
        // another any_completion_handler, which recurses without end.
        handler.swap(handler_);
        // Tracked, so the caller's io_context does not run out of work while we are away.
        executor_ = net::prefer(net::get_associated_executor(handler_, net::system_executor()),
                                net::execution::outstanding_work.tracked);
    }

    void run(Database& db) override {
        if constexpr (std::is_void_v<T>)
            work_(db);
        else
            result_ = work_(db);
    }

    // Handed to the caller's executor: the coroutine resumes there, never on a storage thread.
    // dispatch rather than post because any_completion_executor (Asio 1.81) cannot require
    // blocking.never; from a storage thread, which runs no io_context, dispatch only queues.
    void finish(std::exception_ptr error) override {
        // Moved, not copied: the storage thread keeps no reference to the result or the error.
        net::dispatch(executor_, [handler = std::move(handler_), error = std::move(error),
                                  result = std::move(result_)]() mutable {
            if constexpr (std::is_void_v<T>)
                std::move(handler)(error);
            else
                std::move(handler)(error, std::move(result));
        });
    }

private:
    Work work_;
    Handler handler_;
    net::any_completion_executor executor_;
    std::conditional_t<std::is_void_v<T>, std::monostate, T> result_{};
};

}  // namespace detail

}  // namespace bot::storage
