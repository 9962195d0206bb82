#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/clock.h"

namespace kh::http {

// A coarse deadline for one connection. Moving it later is a plain store: the timer is only
// re-armed when it fires before the current deadline (or when the deadline moves earlier), so a
// stream of many small reads and writes costs no timer system calls. On expiry `on_expire` runs on
// the connection's executor, typically closing its socket so pending I/O fails at once.
// Not thread-safe: the owner and the timer share one io_context thread.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  Deadline(boost::asio::any_io_executor ex, std::function<void()> on_expire);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void expiresAt(Clock::time_point at);
  // Timeouts are seconds long: the coarse clock is precise enough.
  void expiresAfter(Clock::duration d) { expiresAt(core::coarseNow() + d); }
  void clear();
  // The deadline passed (and on_expire ran) since the last expiresAt().
  bool expired() const { return s_->expired; }

 private:
  struct State {
    explicit State(boost::asio::any_io_executor ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point armed_for = Clock::time_point::max();
    bool waiting = false;
    bool expired = false;
    bool alive = true;
    std::function<void()> on_expire;
  };
  static void arm(const std::shared_ptr<State>& s);

  std::shared_ptr<State> s_;
};

}  // namespace kh::http
