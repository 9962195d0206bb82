#include "routing/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace kh::routing {
namespace {

using std::chrono::milliseconds;

class BalancerTest : public ::testing::Test {
 protected:
  // Providers "a".."f" (openai type); "a" and "b" have prices for model "m".
  void SetUp() override {
    for (const char* name : {"a", "b", "c", "d", "e", "f"}) {
      config::ProviderConfig pc;
      pc.name = name;
      pc.type = "openai";
      pc.api_key = "k";
      if (pc.name == "a") pc.pricing["m"] = {2.0, 10.0, 1.0};   // cheap input, dear output
      if (pc.name == "b") pc.pricing["m"] = {5.0, 5.0, 2.5};    // even
      if (pc.name == "c") pc.pricing["other"] = {0.1, 0.1, 0};  // prices, but not for "m"
      if (pc.name == "d") pc.pricing["m"] = {0, 0, 0};          // free (e.g. local)
      auto p = providers::makeProvider(pc, nullptr);
      ASSERT_TRUE(p) << name;
      providers_[name] = std::move(p);
    }
  }

  Target target(const std::string& provider, int priority = 1, int weight = 1) {
    return Target{providers_.at(provider).get(), "m", priority, weight};
  }

  std::string names(const IndexList& order, const Balancer& b) {
    std::string s;
    for (auto i : order) s += b.target(i).provider->name();
    return s;
  }

  // The order of one request, as provider names ("abc").
  std::string next(const Balancer& b, const PickHints& hints = {}, TargetMask excluded = {}) {
    IndexList order;
    b.order(order, hints, excluded);
    return names(order, b);
  }

  std::map<std::string, int> firstPicks(const Balancer& b, int requests) {
    std::map<std::string, int> picks;
    IndexList order;
    for (int i = 0; i < requests; ++i) {
      b.order(order);
      if (!order.empty()) ++picks[b.target(order.front()).provider->name()];
    }
    return picks;
  }

  std::map<std::string, std::unique_ptr<providers::Provider>> providers_;
  TargetStats stats_;
};

TEST_F(BalancerTest, StrategyNamesRoundTrip) {
  for (const char* name :
       {"priority", "round_robin", "weighted", "least_busy", "lowest_latency", "lowest_cost"}) {
    auto s = parseStrategy(name);
    ASSERT_TRUE(s) << name;
    EXPECT_EQ(strategyName(*s), name);
  }
  EXPECT_FALSE(parseStrategy("random"));
  EXPECT_FALSE(parseStrategy(""));
}

TEST_F(BalancerTest, RoundRobinSpreadsEvenlyAndRotatesTheRest) {
  std::vector<Target> targets{target("a"), target("b"), target("c")};
  Balancer b("g", targets, Strategy::kRoundRobin, stats_);
  EXPECT_EQ(next(b), "abc");
  EXPECT_EQ(next(b), "bca");
  EXPECT_EQ(next(b), "cab");
  EXPECT_EQ(next(b), "abc");
  auto picks = firstPicks(b, 999);
  EXPECT_EQ(picks["a"], 333);
  EXPECT_EQ(picks["b"], 333);
  EXPECT_EQ(picks["c"], 333);
}

TEST_F(BalancerTest, WeightedIsExactAndSmooth) {
  std::vector<Target> targets{target("a", 1, 3), target("b", 1, 1)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  // Interleaved, not "aaab"; the rest of each order is the failover.
  EXPECT_EQ(next(b), "ab");
  EXPECT_EQ(next(b), "ab");
  EXPECT_EQ(next(b), "ba");
  EXPECT_EQ(next(b), "ab");
  auto picks = firstPicks(b, 1000);
  EXPECT_EQ(picks["a"], 750);
  EXPECT_EQ(picks["b"], 250);
}

TEST_F(BalancerTest, WeightedThreeWaysAndSmoothWithinEveryCycle) {
  std::vector<Target> targets{target("a", 1, 5), target("b", 1, 3), target("c", 1, 2)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  std::string firsts;
  for (int i = 0; i < 10; ++i) firsts += next(b).front();
  EXPECT_EQ(firsts, "abcaabacba");  // nginx smooth WRR for 5:3:2
  auto picks = firstPicks(b, 1000);
  EXPECT_EQ(picks["a"], 500);
  EXPECT_EQ(picks["b"], 300);
  EXPECT_EQ(picks["c"], 200);
}

TEST_F(BalancerTest, WeightZeroIsOnlyAFailoverTarget) {
  std::vector<Target> targets{target("a", 1, 1), target("b", 1, 0), target("c", 1, 1)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  auto picks = firstPicks(b, 100);
  EXPECT_EQ(picks["a"], 50);
  EXPECT_EQ(picks["c"], 50);
  EXPECT_EQ(picks.count("b"), 0u);
  EXPECT_EQ(next(b).size(), 3u);
  // With the weighted ones excluded it is still tried.
  TargetMask ex;
  ex.set(0);
  ex.set(2);
  EXPECT_EQ(next(b, {}, ex), "b");
}

TEST_F(BalancerTest, HugeWeightsAreScaledButKeepProportions) {
  std::vector<Target> targets{target("a", 1, 300000), target("b", 1, 100000)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  auto picks = firstPicks(b, 4096);
  EXPECT_EQ(picks["a"], 3072);
  EXPECT_EQ(picks["b"], 1024);
}

TEST_F(BalancerTest, TiersGoByPriorityAndFailoverStaysInTheTierFirst) {
  // Config order mixes the tiers; priority 1 is tried first, then 2, then 3.
  std::vector<Target> targets{target("c", 2), target("a", 1), target("d", 3), target("b", 1),
                              target("e", 2)};
  for (Strategy s : {Strategy::kPriority, Strategy::kRoundRobin, Strategy::kWeighted,
                     Strategy::kLeastBusy, Strategy::kLowestLatency, Strategy::kLowestCost}) {
    Balancer b(std::string("g-") + std::string(strategyName(s)), targets, s, stats_);
    std::map<std::string, int> seen;
    for (int i = 0; i < 8; ++i) {
      const std::string o = next(b);
      ASSERT_EQ(o.size(), 5u) << strategyName(s);
      EXPECT_TRUE(o.substr(0, 2) == "ab" || o.substr(0, 2) == "ba") << strategyName(s) << o;
      EXPECT_TRUE(o.substr(2, 2) == "ce" || o.substr(2, 2) == "ec") << strategyName(s) << o;
      EXPECT_EQ(o[4], 'd') << strategyName(s);
      ++seen[o];
    }
    if (s == Strategy::kPriority || s == Strategy::kRoundRobin || s == Strategy::kWeighted) {
      // Round robin inside each tier (both tiers share the request counter).
      EXPECT_EQ(seen["abced"], 4) << strategyName(s);
      EXPECT_EQ(seen["baecd"], 4) << strategyName(s);
    }
  }
}

TEST_F(BalancerTest, IndexesReferToTheGivenTargets) {
  std::vector<Target> targets{target("c", 2), target("a", 1)};
  Balancer b("g", targets, Strategy::kPriority, stats_);
  IndexList order;
  b.order(order);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], 1);
  EXPECT_EQ(order[1], 0);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_FALSE(b.truncated());
}

TEST_F(BalancerTest, LeastBusyFollowsInFlight) {
  std::vector<Target> targets{target("a"), target("b"), target("c")};
  Balancer b("g", targets, Strategy::kLeastBusy, stats_);
  EXPECT_EQ(next(b), "abc");  // all idle: config order
  auto a1 = b.stats(0).track();
  EXPECT_EQ(b.stats(0).inFlight(), 1);
  EXPECT_EQ(next(b), "bca");
  auto b1 = b.stats(1).track();
  auto b2 = b.stats(1).track();
  EXPECT_EQ(next(b), "cab");
  auto c1 = b.stats(2).track();
  auto c2 = b.stats(2).track();
  auto c3 = b.stats(2).track();
  EXPECT_EQ(next(b), "abc");
  b2.release();
  b2.release();  // idempotent
  EXPECT_EQ(b.stats(1).inFlight(), 1);
  EXPECT_EQ(next(b), "abc");  // a=1, b=1: tie keeps config order
  {
    auto moved = std::move(a1);
    a1 = b.stats(0).track();  // move-assign over an empty guard
    EXPECT_EQ(b.stats(0).inFlight(), 2);
  }
  EXPECT_EQ(b.stats(0).inFlight(), 1);
  a1 = TargetStats::Entry::InFlight();  // move-assign releases the held slot
  EXPECT_EQ(b.stats(0).inFlight(), 0);
  EXPECT_EQ(next(b), "abc");
  // The same provider+model shares its count across balancers (another group, same target).
  Balancer other("h", std::vector<Target>{target("c"), target("a")}, Strategy::kLeastBusy, stats_);
  EXPECT_EQ(next(other), "ac");
}

TEST_F(BalancerTest, LowestLatencyMeasuresNewTargetsFirstThenFollowsTheEwma) {
  std::vector<Target> targets{target("a"), target("b"), target("c")};
  Balancer b("g", targets, Strategy::kLowestLatency, stats_);
  EXPECT_FALSE(b.stats(0).latency());
  b.stats(0).recordSuccess(milliseconds(100));
  EXPECT_EQ(next(b), "bca");  // b and c unmeasured
  b.stats(1).recordSuccess(milliseconds(300));
  EXPECT_EQ(next(b), "cab");
  b.stats(2).recordSuccess(milliseconds(200));
  EXPECT_EQ(next(b), "acb");
  // a slows down: 100 → 100 + (600-100)/5 = 200 → 200 + (600-200)/5 = 280
  b.stats(0).recordSuccess(milliseconds(600));
  EXPECT_EQ(*b.stats(0).latency(), milliseconds(200));
  b.stats(0).recordSuccess(milliseconds(600));
  EXPECT_EQ(*b.stats(0).latency(), milliseconds(280));
  EXPECT_EQ(next(b), "cab");
  // TTFT is tracked beside it, and only when given.
  EXPECT_FALSE(b.stats(2).ttft());
  b.stats(2).recordSuccess(milliseconds(200), milliseconds(50));
  b.stats(2).recordSuccess(milliseconds(200), milliseconds(100));
  EXPECT_EQ(*b.stats(2).ttft(), milliseconds(60));
  EXPECT_EQ(*b.stats(2).latency(), milliseconds(200));
}

TEST_F(BalancerTest, LowestCostUsesThePricingTableAndPutsUnknownLast) {
  // f has no pricing at all, c has pricing but not for "m".
  std::vector<Target> targets{target("f"), target("c"), target("a"), target("b")};
  Balancer b("g", targets, Strategy::kLowestCost, stats_);
  // No estimate: compare input+output prices: a = 12, b = 10.
  EXPECT_EQ(next(b), "bafc");
  // Input-heavy (a: 2*1000+10*10 = 2100; b: 5*1000+5*10 = 5050).
  EXPECT_EQ(next(b, {1000, 10}), "abfc");
  // Output-heavy (a: 2*10+10*1000 = 10020; b: 5*10+5*1000 = 5050).
  EXPECT_EQ(next(b, {10, 1000}), "bafc");
  // Free beats everything priced.
  Balancer with_free("g2", std::vector<Target>{target("a"), target("f"), target("d")},
                     Strategy::kLowestCost, stats_);
  EXPECT_EQ(next(with_free, {1000, 1000}), "daf");
}

TEST_F(BalancerTest, ExcludedTargetsAreLeftOut) {
  std::vector<Target> targets{target("a"), target("b"), target("c", 2)};
  for (Strategy s : {Strategy::kRoundRobin, Strategy::kWeighted, Strategy::kLeastBusy,
                     Strategy::kLowestLatency, Strategy::kLowestCost}) {
    Balancer b("x-" + std::string(strategyName(s)), targets, s, stats_);
    TargetMask ex;
    ex.set(0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(next(b, {}, ex), "bc") << strategyName(s);
    ex.set(1);
    EXPECT_EQ(next(b, {}, ex), "c") << strategyName(s);
    ex.set(2);
    EXPECT_EQ(next(b, {}, ex), "") << strategyName(s);
    TargetMask tier2;
    tier2.set(2);
    EXPECT_EQ(next(b, {}, tier2).size(), 2u) << strategyName(s);
  }
}

TEST_F(BalancerTest, WeightedSkipsAnExcludedPickToTheNextScheduled) {
  std::vector<Target> targets{target("a", 1, 2), target("b", 1, 1), target("c", 1, 1)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  TargetMask ex;
  ex.set(0);
  auto picks = std::map<std::string, int>();
  for (int i = 0; i < 400; ++i) ++picks[next(b, {}, ex).substr(0, 1)];
  EXPECT_EQ(picks["a"], 0);
  EXPECT_EQ(picks["b"] + picks["c"], 400);
  EXPECT_GT(picks["b"], 0);
  EXPECT_GT(picks["c"], 0);
}

TEST_F(BalancerTest, OpenBreakersAreUnavailableUntilTheirCooldownEnds) {
  SteadyTime now = SteadyTime{} + std::chrono::hours(1);
  config::FailoverConfig failover;
  failover.breaker_failures = 1;
  failover.breaker_cooldown_s = 30;
  Breakers breakers(failover, [&now] { return now; });
  std::vector<Target> targets{target("a"), target("b"), target("c", 2)};
  Balancer b("g", targets, Strategy::kPriority, stats_, &breakers);
  ASSERT_NE(b.breaker(0), nullptr);
  EXPECT_EQ(b.breaker(0), &breakers.get("a", "m"));
  EXPECT_FALSE(b.unavailable(now).any());
  EXPECT_FALSE(b.earliestOpenUntil(now));

  b.breaker(0)->onFailure(now);
  now += std::chrono::seconds(10);
  b.breaker(2)->onFailure(now);
  const TargetMask down = b.unavailable(now);
  EXPECT_TRUE(down.test(0));
  EXPECT_FALSE(down.test(1));
  EXPECT_TRUE(down.test(2));
  EXPECT_EQ(next(b, {}, down), "b");
  TargetMask tried;
  tried.set(1);
  EXPECT_EQ(next(b, {}, down | tried), "");  // every target down or already tried
  EXPECT_EQ(*b.earliestOpenUntil(now), now + std::chrono::seconds(20));

  // a's cooldown ends: half-open, one probe; while it is out, a is unavailable again.
  now += std::chrono::seconds(20);
  EXPECT_FALSE(b.unavailable(now).test(0));
  EXPECT_EQ(*b.earliestOpenUntil(now), now + std::chrono::seconds(10));
  ASSERT_TRUE(b.breaker(0)->tryAcquire(now));
  EXPECT_TRUE(b.unavailable(now).test(0));
  b.breaker(0)->onSuccess();
  EXPECT_FALSE(b.unavailable(now).test(0));

  Balancer without("g", targets, Strategy::kPriority, stats_);
  EXPECT_EQ(without.breaker(0), nullptr);
  EXPECT_FALSE(without.unavailable(now).any());
}

TEST_F(BalancerTest, RebuiltBalancersContinueTheGroupCounter) {
  std::vector<Target> targets{target("a"), target("b")};
  {
    Balancer b("g", targets, Strategy::kRoundRobin, stats_);
    EXPECT_EQ(next(b), "ab");
  }
  Balancer rebuilt("g", targets, Strategy::kRoundRobin, stats_);
  EXPECT_EQ(next(rebuilt), "ba");
  Balancer other_group("h", targets, Strategy::kRoundRobin, stats_);
  EXPECT_EQ(next(other_group), "ab");
}

TEST_F(BalancerTest, ConcurrentRequestsStayExact) {
  std::vector<Target> targets{target("a", 1, 3), target("b", 1, 1)};
  Balancer b("g", targets, Strategy::kWeighted, stats_);
  constexpr int kThreads = 4;
  constexpr int kEach = 2500;
  std::vector<std::map<std::string, int>> picks(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      IndexList order;
      for (int i = 0; i < kEach; ++i) {
        b.order(order);
        auto busy = b.stats(order.front()).track();
        ++picks[t][b.target(order.front()).provider->name()];
      }
    });
  }
  for (auto& th : threads) th.join();
  int a = 0, bb = 0;
  for (auto& p : picks) {
    a += p["a"];
    bb += p["b"];
  }
  EXPECT_EQ(a, 7500);
  EXPECT_EQ(bb, 2500);
  EXPECT_EQ(b.stats(0).inFlight(), 0);
  EXPECT_EQ(b.stats(1).inFlight(), 0);
}

TEST_F(BalancerTest, HugeGroupsAreTruncatedToTheFirstTiers) {
  std::vector<Target> targets;
  targets.push_back(target("b", 2));
  for (int i = 0; i < 70; ++i) targets.push_back(target("a", 1));
  Balancer b("g", targets, Strategy::kRoundRobin, stats_);
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(b.size(), Balancer::kMaxTargets);
  IndexList order;
  b.order(order);
  EXPECT_EQ(order.size(), Balancer::kMaxTargets);
  for (auto i : order) EXPECT_EQ(b.target(i).provider->name(), "a");
}

TEST_F(BalancerTest, SnapshotListsEveryTarget) {
  std::vector<Target> targets{target("b"), target("a")};
  Balancer b("g", targets, Strategy::kLeastBusy, stats_);
  auto busy = b.stats(0).track();
  b.stats(1).recordSuccess(milliseconds(5), milliseconds(2));
  auto snap = stats_.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].provider, "a");
  EXPECT_EQ(snap[0].model, "m");
  EXPECT_EQ(snap[0].in_flight, 0);
  EXPECT_EQ(*snap[0].latency, milliseconds(5));
  EXPECT_EQ(*snap[0].ttft, milliseconds(2));
  EXPECT_EQ(snap[1].provider, "b");
  EXPECT_EQ(snap[1].in_flight, 1);
  EXPECT_FALSE(snap[1].latency);
}

}  // namespace
}  // namespace kh::routing
