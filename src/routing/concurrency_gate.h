#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace kh::routing {

// A provider's max_concurrency (SPEC §5): at most `limit` requests in flight across all io
// threads; the rest wait in one FIFO queue. Thread-safe. A slot freed while someone waits is
// handed straight to the first waiter (never returned to the pool in between), so waiting
// requests cannot be overtaken by new arrivals.
class ConcurrencyGate {
 public:
  // One request waiting for a slot. Lives on its request's io thread; the gate only posts to
  // `executor` and reads `abandoned`.
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& executor)
        : executor(executor), timer(executor) {}
    boost::asio::any_io_executor executor;
    boost::asio::steady_timer timer;     // woken early (cancelled) when a slot is handed over
    bool granted = false;                // set on the waiter's thread when the slot arrives
    std::atomic<bool> abandoned{false};  // the waiter left (timeout, client gone)
  };

  explicit ConcurrencyGate(int limit) : limit_(limit) {}

  int limit() const { return limit_; }
  // A slot now, if one is free and nobody waits.
  bool tryAcquire();
  // Joins the queue; false when `max_waiting` requests already wait.
  bool enqueue(std::shared_ptr<Waiter> waiter, std::size_t max_waiting);
  // Frees a slot: to the first waiter still waiting, else to the pool.
  void release();

  int inFlight() const;
  std::size_t waiting() const;

 private:
  // Runs on the waiter's thread: either the waiter takes the slot, or it already left and the
  // slot moves on.
  void grant(const std::shared_ptr<Waiter>& waiter);

  const int limit_;
  mutable std::mutex mutex_;
  int in_flight_ = 0;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

}  // namespace kh::routing
