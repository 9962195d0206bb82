#include "routing/routing_state.h"

#include "core/ids.h"

namespace kh::routing {

void ProviderHealth::recordSuccess(std::chrono::microseconds latency) {
  last_check_ms_.store(core::coarseUnixMs(), std::memory_order_relaxed);
  last_latency_us_.store(latency.count(), std::memory_order_relaxed);
  failures_.store(0, std::memory_order_relaxed);
  successes_.fetch_add(1, std::memory_order_relaxed);
}

void ProviderHealth::recordFailure() {
  last_check_ms_.store(core::nowUnixMs(), std::memory_order_relaxed);
  failures_.fetch_add(1, std::memory_order_relaxed);
  total_failures_.fetch_add(1, std::memory_order_relaxed);
}

ProviderHealth& RoutingState::health(std::string_view provider) {
  std::lock_guard lock(mutex_);
  auto it = health_.find(provider);
  if (it == health_.end())
    it = health_.emplace(std::string(provider), std::make_unique<ProviderHealth>()).first;
  return *it->second;
}

ConcurrencyGate* RoutingState::gate(std::string_view provider, int limit) {
  if (limit <= 0) return nullptr;
  std::lock_guard lock(mutex_);
  auto it = gates_.find(provider);
  if (it == gates_.end())
    it = gates_.emplace(std::string(provider), std::make_unique<ConcurrencyGate>(limit)).first;
  return it->second.get();
}

}  // namespace kh::routing
