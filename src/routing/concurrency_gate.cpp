#include "routing/concurrency_gate.h"

#include <boost/asio/post.hpp>

namespace kh::routing {

bool ConcurrencyGate::tryAcquire() {
  std::lock_guard lock(mutex_);
  if (in_flight_ >= limit_ || !queue_.empty()) return false;
  ++in_flight_;
  return true;
}

bool ConcurrencyGate::enqueue(std::shared_ptr<Waiter> waiter, std::size_t max_waiting) {
  std::lock_guard lock(mutex_);
  // Waiters that left are dropped lazily; count only those still waiting.
  while (!queue_.empty() && queue_.front()->abandoned.load()) queue_.pop_front();
  if (in_flight_ < limit_ && queue_.empty()) {
    ++in_flight_;
    waiter->granted = true;
    return true;
  }
  std::size_t live = 0;
  for (const auto& w : queue_) live += w->abandoned.load() ? 0 : 1;
  if (live >= max_waiting) return false;
  queue_.push_back(std::move(waiter));
  return true;
}

void ConcurrencyGate::release() {
  std::shared_ptr<Waiter> next;
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty()) {
      auto w = std::move(queue_.front());
      queue_.pop_front();
      if (!w->abandoned.load()) {
        next = std::move(w);
        break;
      }
    }
    if (!next) {
      --in_flight_;
      return;
    }
  }
  boost::asio::post(next->executor, [this, next] { grant(next); });
}

void ConcurrencyGate::grant(const std::shared_ptr<Waiter>& waiter) {
  if (waiter->abandoned.load()) {
    release();
    return;
  }
  waiter->granted = true;
  waiter->timer.cancel();
}

int ConcurrencyGate::inFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::size_t ConcurrencyGate::waiting() const {
  std::lock_guard lock(mutex_);
  std::size_t live = 0;
  for (const auto& w : queue_) live += w->abandoned.load() ? 0 : 1;
  return live;
}

}  // namespace kh::routing
