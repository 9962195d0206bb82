#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "routing/breaker.h"
#include "routing/model_catalog.h"

namespace kh::routing {

// How a group picks inside a priority tier (SPEC §1 `groups[].strategy`). Tiers always go by
// ascending priority; `priority` means "tiers only", which is round robin inside each tier.
enum class Strategy { kPriority, kRoundRobin, kWeighted, kLeastBusy, kLowestLatency, kLowestCost };
// nullopt for an unknown name: config validation reports it, the caller picks a fallback.
std::optional<Strategy> parseStrategy(std::string_view name);
std::string_view strategyName(Strategy strategy);

// Live per-target measurements, keyed by provider+model and shared by every io thread for the
// process lifetime. Entries are never removed, so they survive config reloads and catalog
// rebuilds; get() and groupCounter() are the cold path (a mutex and a string key): call them when
// a balancer is built and keep the references, which stay valid as long as the registry.
class TargetStats {
 public:
  // One target's counters. Lock-free: every member is an atomic with relaxed ordering, because
  // each is a statistic read on its own, never used to publish other memory.
  class Entry {
   public:
    // Holds one in-flight slot; releases it on destruction or release(). Move-only.
    class InFlight {
     public:
      InFlight() = default;
      InFlight(InFlight&& other) noexcept : entry_(std::exchange(other.entry_, nullptr)) {}
      InFlight& operator=(InFlight&& other) noexcept;
      InFlight(const InFlight&) = delete;
      InFlight& operator=(const InFlight&) = delete;
      ~InFlight() { release(); }
      // Idempotent: the second call does nothing.
      void release();

     private:
      friend class Entry;
      explicit InFlight(Entry* entry) : entry_(entry) {}
      Entry* entry_ = nullptr;
    };

    // Counts an attempt as in flight until the guard goes away (least_busy reads this).
    [[nodiscard]] InFlight track();
    int inFlight() const { return in_flight_.load(std::memory_order_relaxed); }

    // Folds a successful attempt into the moving averages (EWMA, alpha = 1/5). `ttft` is the
    // time to the first byte of a stream; leave it out for non-streamed answers. Failures are not
    // folded in: a fast 500 must not make a target look quick.
    void recordSuccess(std::chrono::microseconds latency,
                       std::optional<std::chrono::microseconds> ttft = std::nullopt);
    // nullopt until the first success: lowest_latency tries unmeasured targets first.
    std::optional<std::chrono::microseconds> latency() const { return read(latency_us_); }
    std::optional<std::chrono::microseconds> ttft() const { return read(ttft_us_); }

   private:
    static void blend(std::atomic<std::int64_t>& average, std::chrono::microseconds sample);
    static std::optional<std::chrono::microseconds> read(const std::atomic<std::int64_t>& us);

    std::atomic<std::int32_t> in_flight_{0};
    std::atomic<std::int64_t> latency_us_{-1};  // -1: not measured yet
    std::atomic<std::int64_t> ttft_us_{-1};
  };

  Entry& get(std::string_view provider, std::string_view model);
  // The request counter of a group, which round_robin and weighted turn into a pick. Kept here
  // (not in the balancer) so a catalog rebuild does not restart every group at its first target.
  std::atomic<std::uint64_t>& groupCounter(std::string_view group);

  struct Info {
    std::string provider;
    std::string model;
    int in_flight;
    std::optional<std::chrono::microseconds> latency;
    std::optional<std::chrono::microseconds> ttft;
  };
  // Every target measured so far, sorted by provider then model: for health and metrics.
  std::vector<Info> snapshot() const;

 private:
  struct Node {
    Node(std::string_view p, std::string_view m) : provider(p), model(m) {}
    std::string provider;
    std::string model;
    Entry entry;
  };

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Node>> targets_;  // key: provider '\0' model
  std::unordered_map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>> groups_;
};

// Indexes into the targets a Balancer was built from. Inline capacity covers ordinary groups, so
// ordering allocates nothing; the caller may also keep one per request and reuse it.
using IndexList = boost::container::small_vector<std::uint16_t, 8>;

// A set of target indexes (bit i = the balancer's target i) left out of an order: open breakers,
// targets already tried, targets over a request's max_cost. A value type, built per request.
class TargetMask {
 public:
  void set(std::size_t index) {
    if (index < 64) bits_ |= std::uint64_t{1} << index;
  }
  bool test(std::size_t index) const { return index < 64 && (bits_ >> index) & 1; }
  bool any() const { return bits_ != 0; }
  TargetMask& operator|=(TargetMask other) {
    bits_ |= other.bits_;
    return *this;
  }
  friend TargetMask operator|(TargetMask a, TargetMask b) { return a |= b; }

 private:
  std::uint64_t bits_ = 0;
};

// What lowest_cost needs to know about the request; estimates, in tokens.
struct PickHints {
  std::uint32_t prompt_tokens_estimate = 0;
  std::uint32_t expected_output_tokens = 0;  // e.g. max_tokens, or the provider default
};

// Orders the targets of one group for one request. Built once per group when a catalog is built
// (cold: resolves stats entries, breakers, prices and the weighted schedule), then used by every
// io thread at once: order() is const, takes no lock and allocates nothing for groups of up to
// 8 targets; the only shared writes are one relaxed fetch_add on the group counter
// (round_robin, weighted, priority).
//
// The order is: tiers by ascending priority; inside a tier the strategy makes the first pick and
// the rest follow, so failover tries the same tier before the next one (SPEC §5):
//   round_robin, priority  the group counter mod the tier size picks; the rest follow in config
//                          order, wrapping around.
//   weighted               smooth weighted round robin, precomputed as a schedule of length
//                          sum(weights) indexed by the group counter: deterministic, exact over
//                          every full cycle (3:1 gives 750/250 of 1000) and interleaved
//                          (A A B A, not A A A B). The rest follow as in round_robin. Weight 0
//                          is never the first pick, only a failover target.
//   least_busy             fewest in flight first; ties keep config order.
//   lowest_latency         unmeasured targets first (so they get measured), then by latency EWMA.
//   lowest_cost            by estimated cost from the provider's pricing table (input price x
//                          prompt estimate + output price x expected output; with no estimate at
//                          all, input + output price); unpriced last; ties keep config order.
//
// A typical attempt loop:
//   IndexList order;
//   balancer.order(order, hints, balancer.unavailable(now) | tried);
//   for (auto i : order) {
//     Breaker* b = balancer.breaker(i);
//     if (b && !b->tryAcquire(now)) continue;   // lost the half-open probe to another request
//     auto busy = balancer.stats(i).track();
//     ... attempt; report to b and balancer.stats(i).recordSuccess ...
//   }
class Balancer {
 public:
  // Larger groups keep their first kMaxTargets targets (by priority); see truncated().
  static constexpr std::size_t kMaxTargets = 64;
  // Weights are scaled down so one schedule has at most this many entries.
  static constexpr std::uint64_t kMaxSchedule = 4096;

  // `targets` in any order (tiers are formed here, stably); order() returns indexes into this
  // same sequence (into target(i) in every case; they differ only when truncated()).
  // `breakers` may be null: then nothing is excluded by breakers and breaker(i) is null.
  Balancer(std::string_view group, std::span<const Target> targets, Strategy strategy,
           TargetStats& stats, Breakers* breakers = nullptr);

  // Replaces `out` with the order to try the targets in, leaving out the `excluded` ones.
  // Thread-safe; each call is one request (it advances the group counter once).
  void order(IndexList& out, const PickHints& hints = {}, TargetMask excluded = {}) const;

  // Targets whose breaker would refuse an attempt now (open, or half-open with the probe out).
  // Takes each breaker's own small mutex in turn (see Breaker), never a shared one.
  TargetMask unavailable(SteadyTime now) const;
  // The earliest end of a cooldown among breakers open at `now`, for Retry-After when every
  // target is unavailable; nullopt when none is open (e.g. only probes are out).
  std::optional<SteadyTime> earliestOpenUntil(SteadyTime now) const;

  std::size_t size() const { return slots_.size(); }
  bool truncated() const { return truncated_; }
  Strategy strategy() const { return strategy_; }
  const Target& target(std::size_t index) const { return slots_[index].target; }
  TargetStats::Entry& stats(std::size_t index) const { return *slots_[index].stats; }
  Breaker* breaker(std::size_t index) const { return slots_[index].breaker; }

 private:
  struct Slot {
    Target target;
    TargetStats::Entry* stats = nullptr;
    Breaker* breaker = nullptr;
    int weight = 1;           // >= 0
    double input_price = -1;  // USD per 1M tokens; < 0: unknown
    double output_price = -1;
  };
  struct Tier {
    std::vector<std::uint16_t> members;   // slot indexes, config order
    std::vector<std::uint16_t> schedule;  // weighted: positions in `members`, smooth WRR
  };

  void orderTier(const Tier& tier, std::uint64_t counter, const PickHints& hints,
                 TargetMask excluded, IndexList& out) const;

  Strategy strategy_;
  std::vector<Slot> slots_;
  std::vector<Tier> tiers_;  // ascending priority
  std::atomic<std::uint64_t>* counter_ = nullptr;
  bool truncated_ = false;
};

}  // namespace kh::routing
