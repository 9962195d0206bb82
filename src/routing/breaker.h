#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"

namespace kh::routing {

using SteadyTime = std::chrono::steady_clock::time_point;
// Where "now" comes from; tests pass a manual clock so they drive cooldowns without sleeping.
using ClockFn = std::function<SteadyTime()>;

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view breakerStateName(BreakerState state);  // "closed" | "open" | "half_open"

struct BreakerPolicy {
  int failures = 5;  // failures inside `window` that open the breaker; <= 0 disables it
  std::chrono::seconds window{60};
  std::chrono::seconds cooldown{30};

  static BreakerPolicy from(const config::FailoverConfig& failover);
};

// The circuit breaker of one provider+model (SPEC §5). `failures` failures inside a sliding
// `window` open it for `cooldown`; then it is half-open and admits exactly one probe, whose
// outcome closes it (success) or opens it for another cooldown (failure).
//
// Successes while closed do not clear the failure history: the rule is "N failures in the
// window", not "N in a row", so a target failing every other request still trips it.
//
// Outcomes reported while half-open decide the state whoever reports them: with the bool permit
// of tryAcquire, a request admitted while the breaker was still closed and finishing late is
// indistinguishable from the probe, and its result is just as much evidence. Outcomes reported
// while open are ignored (late results of requests started before it opened neither extend nor
// shorten the cooldown).
//
// Thread-safety: every method may be called from any thread; one small mutex per breaker, held
// for a few comparisons. A request touches it once per attempt, so contention is negligible.
// Times are passed in (rather than read from a clock here) so the state machine is a pure
// function of its inputs; `Breakers` owns the clock.
class Breaker {
 public:
  explicit Breaker(BreakerPolicy policy = {});

  // Whether an attempt may go to this target now. False while open, and while half-open with the
  // probe already out. True while half-open hands out the single probe: the caller must report
  // its outcome with onSuccess, onFailure or onCancel, otherwise the breaker stays half-open with
  // the probe out and skips the target for good. Closed: always true, and idempotent (taking a
  // permit while closed reserves nothing, so an attempt that is never made costs nothing).
  bool tryAcquire(SteadyTime now);
  // Non-consuming check, for ordering and exclusion: what tryAcquire would answer right now.
  // Racy by nature (another thread may take the probe next); tryAcquire is the authority.
  bool allows(SteadyTime now) const;

  // Half-open with the probe out: closes it and clears the failure history. Otherwise nothing:
  // successes while closed do not erase failures (see above), and without a time an open breaker
  // cannot be told from a half-open one that nobody probes yet.
  void onSuccess();
  // Closed: records the failure and opens once `failures` of them fall inside `window`.
  // Half-open: re-opens for another cooldown from `now`. Open: ignored.
  void onFailure(SteadyTime now);
  // The admitted attempt ended without an outcome (client went away, request cancelled): frees
  // the probe slot so the next request probes instead. Harmless in other states.
  void onCancel();
  // The upstream asked to be left alone (Retry-After): open for `wait`, unless already open for
  // longer; after it, one probe decides as after any cooldown.
  void holdOff(SteadyTime now, std::chrono::seconds wait);

  // Open turns into half-open lazily: the state is a function of `now`.
  BreakerState state(SteadyTime now) const;
  // End of the current cooldown (what Retry-After reports); SteadyTime{} if it never opened.
  // Still returns the last cooldown end after it passed, so compare with now.
  SteadyTime openUntil() const;

  // Applies a new policy (config reload). Keeps the open/half-open state and its cooldown end,
  // and the most recent failures that still fit.
  void setPolicy(BreakerPolicy policy);

 private:
  bool openLocked(SteadyTime now) const { return opened_ && now < open_until_; }

  mutable std::mutex mutex_;
  BreakerPolicy policy_;
  // Ring of the most recent `policy_.failures` failure times while closed; the breaker opens when
  // it is full and its oldest entry is still inside the window.
  std::vector<SteadyTime> failures_;
  std::size_t next_ = 0;   // ring slot the next failure goes to
  std::size_t count_ = 0;  // valid entries, up to failures_.size()
  // Open or half-open (which one depends on now vs open_until_). Written under the mutex; read
  // without it first, so that a closed breaker (nearly always) costs every request no lock.
  std::atomic<bool> opened_{false};
  bool probe_out_ = false;
  SteadyTime open_until_{};
};

// One breaker per provider+model, shared by every io thread for the process lifetime.
//
// get() is the cold path (a mutex and a string key): call it when a catalog/balancer is built and
// keep the reference, which stays valid as long as the registry. Entries are never removed, so a
// config reload keeps each target's breaker state.
class Breakers {
 public:
  explicit Breakers(BreakerPolicy policy = {}, ClockFn clock = {});
  explicit Breakers(const config::FailoverConfig& failover, ClockFn clock = {})
      : Breakers(BreakerPolicy::from(failover), std::move(clock)) {}

  Breaker& get(std::string_view provider, std::string_view model);
  // Applies the policy to existing and future breakers (config reload).
  void configure(const config::FailoverConfig& failover);
  SteadyTime now() const { return clock_(); }

  struct Info {
    std::string provider;
    std::string model;
    BreakerState state;
    SteadyTime open_until;
  };
  // Every breaker that exists, sorted by provider then model: for /health/services and metrics.
  std::vector<Info> snapshot() const;

 private:
  struct Entry {
    Entry(std::string_view p, std::string_view m, BreakerPolicy policy)
        : provider(p), model(m), breaker(policy) {}
    std::string provider;
    std::string model;
    Breaker breaker;
  };

  ClockFn clock_;
  mutable std::mutex mutex_;
  BreakerPolicy policy_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;  // key: provider '\0' model
};

}  // namespace kh::routing
