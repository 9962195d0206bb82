#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.h"
#include "routing/balancer.h"
#include "routing/breaker.h"
#include "routing/concurrency_gate.h"

namespace kh::routing {

// Passive health of one provider, from the outcomes of real requests. Lock-free: each field is a
// statistic read on its own.
class ProviderHealth {
 public:
  void recordSuccess(std::chrono::microseconds latency);
  void recordFailure();

  long long lastCheckUnixMs() const { return last_check_ms_.load(std::memory_order_relaxed); }
  long long lastLatencyUs() const { return last_latency_us_.load(std::memory_order_relaxed); }
  int consecutiveFailures() const { return failures_.load(std::memory_order_relaxed); }
  long long successes() const { return successes_.load(std::memory_order_relaxed); }
  long long totalFailures() const { return total_failures_.load(std::memory_order_relaxed); }

 private:
  std::atomic<long long> last_check_ms_{0};
  std::atomic<long long> last_latency_us_{-1};
  std::atomic<int> failures_{0};
  std::atomic<long long> successes_{0};
  std::atomic<long long> total_failures_{0};
};

// What routing learns over the life of the process: per-target statistics and circuit breakers
// and per-provider health. It outlives every catalog (catalogs are rebuilt when model lists or the
// config change), so balancing and breakers carry on across rebuilds. Thread-safe.
class RoutingState {
 public:
  explicit RoutingState(const config::FailoverConfig& failover, ClockFn clock = {})
      : breakers_(failover, std::move(clock)) {}

  TargetStats& stats() { return stats_; }
  Breakers& breakers() { return breakers_; }
  // The entry for a provider; created on first use. The reference stays valid.
  ProviderHealth& health(std::string_view provider);
  // The provider's max_concurrency gate, created with `limit` on first use; null for limit 0.
  ConcurrencyGate* gate(std::string_view provider, int limit);

 private:
  TargetStats stats_;
  Breakers breakers_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ProviderHealth>, std::less<>> health_;
  std::map<std::string, std::unique_ptr<ConcurrencyGate>, std::less<>> gates_;
};

}  // namespace kh::routing
