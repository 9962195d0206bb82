#pragma once

#include <functional>
#include <utility>

namespace kh::http {

// Tells a request's work that its client has gone. The session fires it when the client socket
// reports EOF or an error while the handler runs; whoever holds an upstream socket registers a
// hook that closes it, so pending upstream I/O completes at once with an error. Single-threaded:
// a request and its session live on one io_context thread.
class CancelSignal {
 public:
  bool fired() const { return fired_; }

  void fire() {
    if (fired_) return;
    fired_ = true;
    if (hook_) std::exchange(hook_, nullptr)();
  }

  // At most one hook at a time: a request talks to one upstream at a time.
  void setHook(std::function<void()> hook) { hook_ = std::move(hook); }
  void clearHook() { hook_ = nullptr; }

 private:
  bool fired_ = false;
  std::function<void()> hook_;
};

}  // namespace kh::http
