#include "routing/breaker.h"

#include <algorithm>

namespace kh::routing {

std::string_view breakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

BreakerPolicy BreakerPolicy::from(const config::FailoverConfig& failover) {
  BreakerPolicy p;
  p.failures = failover.breaker_failures;
  p.window = std::chrono::seconds(std::max(0, failover.breaker_window_s));
  p.cooldown = std::chrono::seconds(std::max(0, failover.breaker_cooldown_s));
  return p;
}

Breaker::Breaker(BreakerPolicy policy) : policy_(policy) {
  failures_.resize(static_cast<std::size_t>(std::max(0, policy_.failures)));
}

bool Breaker::tryAcquire(SteadyTime now) {
  // Closed reserves nothing, so a breaker that opens meanwhile may still see this attempt: it
  // could as well have started a moment earlier.
  if (!opened_.load(std::memory_order_acquire)) return true;
  std::lock_guard lock(mutex_);
  if (!opened_) return true;
  if (openLocked(now) || probe_out_) return false;
  probe_out_ = true;
  return true;
}

bool Breaker::allows(SteadyTime now) const {
  if (!opened_.load(std::memory_order_acquire)) return true;
  std::lock_guard lock(mutex_);
  return !opened_ || (!openLocked(now) && !probe_out_);
}

void Breaker::onSuccess() {
  if (!opened_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mutex_);
  // Only a half-open breaker with its probe out closes: without a time we cannot tell an open
  // breaker from a half-open one that nobody probes yet, and both should stay as they are.
  if (!opened_ || !probe_out_) return;
  opened_ = false;
  probe_out_ = false;
  next_ = 0;
  count_ = 0;
}

void Breaker::onFailure(SteadyTime now) {
  std::lock_guard lock(mutex_);
  if (opened_) {
    if (openLocked(now)) return;
    open_until_ = now + policy_.cooldown;  // the probe (or a late attempt) failed: cool down again
    probe_out_ = false;
    return;
  }
  if (failures_.empty()) return;  // disabled
  failures_[next_] = now;
  next_ = (next_ + 1) % failures_.size();
  count_ = std::min(count_ + 1, failures_.size());
  // Full ring: next_ now points at the oldest of the last `failures` failures.
  if (count_ == failures_.size() && now - failures_[next_] < policy_.window) {
    opened_ = true;
    probe_out_ = false;
    open_until_ = now + policy_.cooldown;
    next_ = 0;
    count_ = 0;
  }
}

void Breaker::holdOff(SteadyTime now, std::chrono::seconds wait) {
  if (wait.count() <= 0) return;
  std::lock_guard lock(mutex_);
  const SteadyTime until = now + wait;
  if (opened_ && until <= open_until_) return;
  opened_ = true;
  probe_out_ = false;
  open_until_ = until;
}

void Breaker::onCancel() {
  std::lock_guard lock(mutex_);
  probe_out_ = false;
}

BreakerState Breaker::state(SteadyTime now) const {
  std::lock_guard lock(mutex_);
  if (!opened_) return BreakerState::kClosed;
  return openLocked(now) ? BreakerState::kOpen : BreakerState::kHalfOpen;
}

SteadyTime Breaker::openUntil() const {
  std::lock_guard lock(mutex_);
  return open_until_;
}

void Breaker::setPolicy(BreakerPolicy policy) {
  std::lock_guard lock(mutex_);
  // Oldest first, so the newest ones survive a smaller ring.
  std::vector<SteadyTime> recent;
  recent.reserve(count_);
  const std::size_t size = failures_.size();
  for (std::size_t i = 0; i < count_; ++i)
    recent.push_back(failures_[(next_ + size - count_ + i) % size]);

  policy_ = policy;
  failures_.assign(static_cast<std::size_t>(std::max(0, policy_.failures)), SteadyTime{});
  const std::size_t keep = std::min(recent.size(), failures_.size());
  std::copy(recent.end() - static_cast<std::ptrdiff_t>(keep), recent.end(), failures_.begin());
  count_ = keep;
  next_ = failures_.empty() ? 0 : keep % failures_.size();
  if (failures_.empty()) {
    // Disabled: nothing may stay blocked by a breaker that no longer exists.
    opened_ = false;
    probe_out_ = false;
  }
}

Breakers::Breakers(BreakerPolicy policy, ClockFn clock)
    : clock_(clock ? std::move(clock) : ClockFn([] { return std::chrono::steady_clock::now(); })),
      policy_(policy) {}

Breaker& Breakers::get(std::string_view provider, std::string_view model) {
  // Looked up on every request: the key is built in a reused buffer, and copied only when new.
  thread_local std::string key;
  key.clear();
  key.append(provider).push_back('\0');
  key.append(model);
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end())
    it = entries_.emplace(key, std::make_unique<Entry>(provider, model, policy_)).first;
  return it->second->breaker;
}

void Breakers::configure(const config::FailoverConfig& failover) {
  std::lock_guard lock(mutex_);
  policy_ = BreakerPolicy::from(failover);
  for (auto& [key, entry] : entries_) entry->breaker.setPolicy(policy_);
}

std::vector<Breakers::Info> Breakers::snapshot() const {
  const SteadyTime now = clock_();
  std::vector<Info> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(entries_.size());
    for (const auto& [key, e] : entries_)
      out.push_back({e->provider, e->model, e->breaker.state(now), e->breaker.openUntil()});
  }
  std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) {
    return a.provider != b.provider ? a.provider < b.provider : a.model < b.model;
  });
  return out;
}

}  // namespace kh::routing
