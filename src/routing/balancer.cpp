#include "routing/balancer.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace kh::routing {
namespace {

std::string targetKey(std::string_view provider, std::string_view model) {
  std::string key;
  key.reserve(provider.size() + 1 + model.size());
  key.append(provider).push_back('\0');
  key.append(model);
  return key;
}

// Smooth weighted round robin (nginx): each step every member gains its weight, the richest is
// picked and pays the total. Over one cycle of sum(weights) steps each member is picked exactly
// weight times, spread out rather than in runs.
std::vector<std::uint16_t> smoothSchedule(const std::vector<int>& weights) {
  const std::int64_t total = std::accumulate(weights.begin(), weights.end(), std::int64_t{0});
  std::vector<std::uint16_t> schedule;
  schedule.reserve(static_cast<std::size_t>(total));
  std::vector<std::int64_t> current(weights.size(), 0);
  for (std::int64_t step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    schedule.push_back(static_cast<std::uint16_t>(best));
  }
  return schedule;
}

}  // namespace

std::optional<Strategy> parseStrategy(std::string_view name) {
  if (name == "priority") return Strategy::kPriority;
  if (name == "round_robin") return Strategy::kRoundRobin;
  if (name == "weighted") return Strategy::kWeighted;
  if (name == "least_busy") return Strategy::kLeastBusy;
  if (name == "lowest_latency") return Strategy::kLowestLatency;
  if (name == "lowest_cost") return Strategy::kLowestCost;
  return std::nullopt;
}

std::string_view strategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kPriority:
      return "priority";
    case Strategy::kRoundRobin:
      return "round_robin";
    case Strategy::kWeighted:
      return "weighted";
    case Strategy::kLeastBusy:
      return "least_busy";
    case Strategy::kLowestLatency:
      return "lowest_latency";
    case Strategy::kLowestCost:
      return "lowest_cost";
  }
  return "round_robin";
}

// ---- TargetStats ----------------------------------------------------------------------------

TargetStats::Entry::InFlight& TargetStats::Entry::InFlight::operator=(InFlight&& other) noexcept {
  if (this != &other) {
    release();
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

void TargetStats::Entry::InFlight::release() {
  if (entry_) entry_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
  entry_ = nullptr;
}

TargetStats::Entry::InFlight TargetStats::Entry::track() {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  return InFlight(this);
}

void TargetStats::Entry::recordSuccess(std::chrono::microseconds latency,
                                       std::optional<std::chrono::microseconds> ttft) {
  blend(latency_us_, latency);
  if (ttft) blend(ttft_us_, *ttft);
}

void TargetStats::Entry::blend(std::atomic<std::int64_t>& average,
                               std::chrono::microseconds sample) {
  const std::int64_t s = std::max<std::int64_t>(0, sample.count());
  std::int64_t old = average.load(std::memory_order_relaxed);
  // CAS loop rather than load+store so concurrent samples are all folded in, none lost.
  while (true) {
    const std::int64_t next = old < 0 ? s : old + (s - old) / 5;
    if (average.compare_exchange_weak(old, next, std::memory_order_relaxed)) return;
  }
}

std::optional<std::chrono::microseconds> TargetStats::Entry::read(
    const std::atomic<std::int64_t>& us) {
  const std::int64_t v = us.load(std::memory_order_relaxed);
  if (v < 0) return std::nullopt;
  return std::chrono::microseconds(v);
}

TargetStats::Entry& TargetStats::get(std::string_view provider, std::string_view model) {
  std::string key = targetKey(provider, model);
  std::lock_guard lock(mutex_);
  auto& node = targets_[std::move(key)];
  if (!node) node = std::make_unique<Node>(provider, model);
  return node->entry;
}

std::atomic<std::uint64_t>& TargetStats::groupCounter(std::string_view group) {
  std::lock_guard lock(mutex_);
  auto& counter = groups_[std::string(group)];
  if (!counter) counter = std::make_unique<std::atomic<std::uint64_t>>(0);
  return *counter;
}

std::vector<TargetStats::Info> TargetStats::snapshot() const {
  std::vector<Info> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(targets_.size());
    for (const auto& [key, n] : targets_)
      out.push_back(
          {n->provider, n->model, n->entry.inFlight(), n->entry.latency(), n->entry.ttft()});
  }
  std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) {
    return a.provider != b.provider ? a.provider < b.provider : a.model < b.model;
  });
  return out;
}

// ---- Balancer -------------------------------------------------------------------------------

Balancer::Balancer(std::string_view group, std::span<const Target> targets, Strategy strategy,
                   TargetStats& stats, Breakers* breakers)
    : strategy_(strategy) {
  // Stable by priority, so truncation keeps the tiers tried first.
  std::vector<std::size_t> by_priority(targets.size());
  std::iota(by_priority.begin(), by_priority.end(), 0);
  std::stable_sort(by_priority.begin(), by_priority.end(), [&](std::size_t a, std::size_t b) {
    return targets[a].priority < targets[b].priority;
  });
  if (by_priority.size() > kMaxTargets) {
    truncated_ = true;
    by_priority.resize(kMaxTargets);
  }
  std::sort(by_priority.begin(), by_priority.end());  // back to config order: slot i = target i

  slots_.reserve(by_priority.size());
  for (std::size_t source : by_priority) {
    const Target& t = targets[source];
    Slot slot;
    slot.target = t;
    slot.weight = std::max(0, t.weight);
    const std::string_view provider_name = t.provider ? std::string_view(t.provider->name()) : "";
    slot.stats = &stats.get(provider_name, t.model);
    if (breakers) slot.breaker = &breakers->get(provider_name, t.model);
    if (t.provider) {
      const auto& pricing = t.provider->config().pricing;
      if (auto it = pricing.find(t.model); it != pricing.end()) {
        slot.input_price = std::max(0.0, it->second.input);
        slot.output_price = std::max(0.0, it->second.output);
      }
    }
    slots_.push_back(std::move(slot));
  }

  std::vector<std::uint16_t> order(slots_.size());
  std::iota(order.begin(), order.end(), std::uint16_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::uint16_t a, std::uint16_t b) {
    return slots_[a].target.priority < slots_[b].target.priority;
  });
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || slots_[order[i]].target.priority != slots_[order[i - 1]].target.priority)
      tiers_.emplace_back();
    tiers_.back().members.push_back(order[i]);
  }

  if (strategy_ == Strategy::kWeighted) {
    for (Tier& tier : tiers_) {
      std::vector<int> weights;
      for (auto m : tier.members) weights.push_back(slots_[m].weight);
      std::uint64_t total = std::accumulate(weights.begin(), weights.end(), std::uint64_t{0});
      if (total == 0) {
        std::fill(weights.begin(), weights.end(), 1);  // all zero: plain round robin
      } else if (total > kMaxSchedule) {
        // Keep proportions roughly; every positive weight stays at least 1.
        for (int& w : weights)
          if (w > 0)
            w = std::max<int>(
                1, static_cast<int>(static_cast<std::uint64_t>(w) * kMaxSchedule / total));
      }
      tier.schedule = smoothSchedule(weights);
    }
  }

  if (strategy_ == Strategy::kRoundRobin || strategy_ == Strategy::kPriority ||
      strategy_ == Strategy::kWeighted)
    counter_ = &stats.groupCounter(group);
}

void Balancer::order(IndexList& out, const PickHints& hints, TargetMask excluded) const {
  out.clear();
  const std::uint64_t counter = counter_ ? counter_->fetch_add(1, std::memory_order_relaxed) : 0;
  for (const Tier& tier : tiers_) orderTier(tier, counter, hints, excluded, out);
}

void Balancer::orderTier(const Tier& tier, std::uint64_t counter, const PickHints& hints,
                         TargetMask excluded, IndexList& out) const {
  const std::size_t begin = out.size();
  for (auto m : tier.members)
    if (!excluded.test(m)) out.push_back(m);
  const std::size_t n = out.size() - begin;
  if (n <= 1) return;
  const auto first = out.begin() + static_cast<std::ptrdiff_t>(begin);

  switch (strategy_) {
    case Strategy::kPriority:
    case Strategy::kRoundRobin:
      std::rotate(first, first + static_cast<std::ptrdiff_t>(counter % n), out.end());
      return;
    case Strategy::kWeighted: {
      // The scheduled member, or, when it is excluded, the next one the schedule names that is
      // not; only zero-weight members left: config order.
      std::size_t pick = 0;
      const std::size_t len = tier.schedule.size();
      for (std::size_t step = 0; step < len; ++step) {
        const std::uint16_t slot = tier.members[tier.schedule[(counter + step) % len]];
        if (excluded.test(slot)) continue;
        pick = static_cast<std::size_t>(std::find(first, out.end(), slot) - first);
        break;
      }
      std::rotate(first, first + static_cast<std::ptrdiff_t>(pick), out.end());
      return;
    }
    case Strategy::kLeastBusy:
    case Strategy::kLowestLatency:
    case Strategy::kLowestCost:
      break;
  }

  // Snapshot each key once: the atomics move under us, and a sort whose keys change mid-way is
  // not a sort. Insertion sort: tiers are tiny, it is stable, and it needs no extra buffer.
  boost::container::small_vector<double, 8> keys;
  for (auto it = first; it != out.end(); ++it) {
    const Slot& s = slots_[*it];
    double key = 0;
    if (strategy_ == Strategy::kLeastBusy) {
      key = s.stats->inFlight();
    } else if (strategy_ == Strategy::kLowestLatency) {
      const auto latency = s.stats->latency();
      key = latency ? static_cast<double>(latency->count()) : -1.0;
    } else if (s.input_price < 0) {
      key = std::numeric_limits<double>::infinity();
    } else {
      double in = hints.prompt_tokens_estimate, out_tokens = hints.expected_output_tokens;
      if (in == 0 && out_tokens == 0) in = out_tokens = 1;  // no estimate: compare the prices
      key = s.input_price * in + s.output_price * out_tokens;
    }
    keys.push_back(key);
  }
  for (std::size_t i = 1; i < n; ++i) {
    const double key = keys[i];
    const std::uint16_t index = first[static_cast<std::ptrdiff_t>(i)];
    std::size_t j = i;
    for (; j > 0 && keys[j - 1] > key; --j) {
      keys[j] = keys[j - 1];
      first[static_cast<std::ptrdiff_t>(j)] = first[static_cast<std::ptrdiff_t>(j - 1)];
    }
    keys[j] = key;
    first[static_cast<std::ptrdiff_t>(j)] = index;
  }
}

TargetMask Balancer::unavailable(SteadyTime now) const {
  TargetMask mask;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].breaker && !slots_[i].breaker->allows(now)) mask.set(i);
  return mask;
}

std::optional<SteadyTime> Balancer::earliestOpenUntil(SteadyTime now) const {
  std::optional<SteadyTime> earliest;
  for (const Slot& s : slots_) {
    if (!s.breaker || s.breaker->state(now) != BreakerState::kOpen) continue;
    const SteadyTime until = s.breaker->openUntil();
    if (!earliest || until < *earliest) earliest = until;
  }
  return earliest;
}

}  // namespace kh::routing
