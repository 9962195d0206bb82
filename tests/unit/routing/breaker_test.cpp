#include "routing/breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace kh::routing {
namespace {

using std::chrono::seconds;

// Time is driven by hand; it starts well after the epoch so "never opened" (SteadyTime{}) is
// distinguishable from any time a test uses.
struct ManualClock {
  SteadyTime now = SteadyTime{} + std::chrono::hours(1);
  void advance(std::chrono::steady_clock::duration d) { now += d; }
};

BreakerPolicy policy(int failures, int window_s, int cooldown_s) {
  return {failures, seconds(window_s), seconds(cooldown_s)};
}

void fail(Breaker& b, ManualClock& clock, int times) {
  for (int i = 0; i < times; ++i) b.onFailure(clock.now);
}

TEST(BreakerTest, OpensAfterNFailuresInsideTheWindow) {
  ManualClock clock;
  Breaker b(policy(3, 60, 30));
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  EXPECT_EQ(b.openUntil(), SteadyTime{});
  b.onFailure(clock.now);
  clock.advance(seconds(20));
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  EXPECT_TRUE(b.tryAcquire(clock.now));
  clock.advance(seconds(39));  // 59 s after the first failure: still inside the window
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
  EXPECT_EQ(b.openUntil(), clock.now + seconds(30));
}

TEST(BreakerTest, HoldOffOpensForTheUpstreamsWaitThenProbes) {
  ManualClock clock;
  Breaker b(policy(5, 60, 30));
  b.holdOff(clock.now, seconds(4));
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
  EXPECT_FALSE(b.tryAcquire(clock.now));
  EXPECT_EQ(b.openUntil(), clock.now + seconds(4));
  // A shorter wait does not shorten a longer one.
  b.holdOff(clock.now, seconds(1));
  EXPECT_EQ(b.openUntil(), clock.now + seconds(4));
  clock.advance(seconds(4));
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.tryAcquire(clock.now));
  EXPECT_FALSE(b.tryAcquire(clock.now));
  b.onSuccess();
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  b.holdOff(clock.now, seconds(0));
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
}

TEST(BreakerTest, FailuresOutsideTheWindowDoNotCount) {
  ManualClock clock;
  Breaker b(policy(3, 60, 30));
  fail(b, clock, 2);
  clock.advance(seconds(60));  // the first two are exactly one window old now: expired
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  clock.advance(seconds(10));
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  clock.advance(seconds(10));
  b.onFailure(clock.now);  // three within 20 s
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
}

TEST(BreakerTest, SuccessesWhileClosedDoNotClearFailures) {
  ManualClock clock;
  Breaker b(policy(3, 60, 30));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
    b.onSuccess();
    b.onFailure(clock.now);
    clock.advance(seconds(1));
  }
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
}

TEST(BreakerTest, SkipsEveryAttemptWhileOpen) {
  ManualClock clock;
  Breaker b(policy(2, 60, 30));
  fail(b, clock, 2);
  const SteadyTime until = b.openUntil();
  for (int i = 0; i < 29; ++i) {
    EXPECT_FALSE(b.tryAcquire(clock.now)) << i;
    EXPECT_FALSE(b.allows(clock.now));
    EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
    clock.advance(seconds(1));
  }
  // Late results of attempts started before it opened change nothing.
  b.onFailure(clock.now);
  b.onSuccess();
  EXPECT_EQ(b.openUntil(), until);
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
  clock.now = until - std::chrono::milliseconds(1);
  EXPECT_FALSE(b.tryAcquire(clock.now));
  clock.now = until;
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
}

TEST(BreakerTest, HalfOpenLetsExactlyOneProbeThrough) {
  ManualClock clock;
  Breaker b(policy(1, 60, 30));
  b.onFailure(clock.now);
  clock.advance(seconds(30));
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.allows(clock.now));
  EXPECT_TRUE(b.tryAcquire(clock.now));
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(b.tryAcquire(clock.now));
    EXPECT_FALSE(b.allows(clock.now));
    clock.advance(seconds(100));  // however long the probe takes
  }
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
}

TEST(BreakerTest, ProbeSuccessClosesAndForgetsOldFailures) {
  ManualClock clock;
  Breaker b(policy(2, 60, 30));
  fail(b, clock, 2);
  clock.advance(seconds(30));
  ASSERT_TRUE(b.tryAcquire(clock.now));
  b.onSuccess();
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.tryAcquire(clock.now));
  // A fresh history: one failure is not enough to re-open.
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
}

TEST(BreakerTest, ProbeFailureReopensForAnotherCooldown) {
  ManualClock clock;
  Breaker b(policy(2, 60, 30));
  fail(b, clock, 2);
  clock.advance(seconds(45));  // 15 s into half-open before a request comes
  ASSERT_TRUE(b.tryAcquire(clock.now));
  clock.advance(seconds(5));
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
  EXPECT_EQ(b.openUntil(), clock.now + seconds(30));
  EXPECT_FALSE(b.tryAcquire(clock.now));
  clock.advance(seconds(30));
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.tryAcquire(clock.now));  // a new probe
  b.onSuccess();
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
}

TEST(BreakerTest, CancelledProbeFreesTheSlot) {
  ManualClock clock;
  Breaker b(policy(1, 60, 30));
  b.onFailure(clock.now);
  clock.advance(seconds(30));
  ASSERT_TRUE(b.tryAcquire(clock.now));
  EXPECT_FALSE(b.tryAcquire(clock.now));
  b.onCancel();
  EXPECT_EQ(b.state(clock.now), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.tryAcquire(clock.now));
  EXPECT_FALSE(b.tryAcquire(clock.now));
  b.onCancel();
  b.onCancel();  // idempotent
  EXPECT_TRUE(b.tryAcquire(clock.now));
}

TEST(BreakerTest, ConcurrentTryAcquireLetsExactlyOneProbeThrough) {
  ManualClock clock;
  Breaker b(policy(1, 60, 30));
  for (int round = 0; round < 20; ++round) {
    b.onFailure(clock.now);  // closed → open; half-open → re-open (the probe failed)
    ASSERT_EQ(b.state(clock.now), BreakerState::kOpen);
    clock.advance(seconds(30));
    const SteadyTime now = clock.now;
    std::atomic<int> admitted{0};
    constexpr int kThreads = 8;
    std::latch start(kThreads);  // all threads race for the probe at once
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 100; ++i)
          if (b.tryAcquire(now)) admitted.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(admitted.load(), 1) << "round " << round;
  }
}

TEST(BreakerTest, ZeroFailuresDisablesIt) {
  ManualClock clock;
  Breaker b(policy(0, 60, 30));
  fail(b, clock, 100);
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
  EXPECT_TRUE(b.tryAcquire(clock.now));
}

TEST(BreakerTest, SetPolicyKeepsTheMostRecentFailures) {
  ManualClock clock;
  Breaker b(policy(5, 60, 30));
  fail(b, clock, 3);
  b.setPolicy(policy(2, 60, 10));  // the three recorded already exceed the new threshold...
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);  // ...but only a new failure decides
  b.onFailure(clock.now);
  EXPECT_EQ(b.state(clock.now), BreakerState::kOpen);
  EXPECT_EQ(b.openUntil(), clock.now + seconds(10));
  b.setPolicy(policy(0, 60, 10));  // disabling releases it
  EXPECT_EQ(b.state(clock.now), BreakerState::kClosed);
}

TEST(BreakerTest, StateNames) {
  EXPECT_EQ(breakerStateName(BreakerState::kClosed), "closed");
  EXPECT_EQ(breakerStateName(BreakerState::kOpen), "open");
  EXPECT_EQ(breakerStateName(BreakerState::kHalfOpen), "half_open");
}

TEST(BreakersTest, OneBreakerPerProviderAndModelConfiguredFromFailover) {
  ManualClock clock;
  config::FailoverConfig failover;
  failover.breaker_failures = 2;
  failover.breaker_window_s = 10;
  failover.breaker_cooldown_s = 7;
  Breakers breakers(failover, [&clock] { return clock.now; });
  EXPECT_EQ(breakers.now(), clock.now);

  Breaker& a = breakers.get("openai", "gpt-4o");
  Breaker& b = breakers.get("openai", "gpt-4o-mini");
  Breaker& c = breakers.get("openai:gpt", "4o");  // no key collision with "openai" + "gpt:4o"
  Breaker& d = breakers.get("openai", "gpt:4o");
  EXPECT_EQ(&a, &breakers.get("openai", "gpt-4o"));
  EXPECT_NE(&a, &b);
  EXPECT_NE(&c, &d);

  a.onFailure(breakers.now());
  a.onFailure(breakers.now());
  EXPECT_EQ(a.state(breakers.now()), BreakerState::kOpen);
  EXPECT_EQ(a.openUntil(), clock.now + seconds(7));
  EXPECT_EQ(b.state(breakers.now()), BreakerState::kClosed);

  auto snap = breakers.snapshot();
  ASSERT_EQ(snap.size(), 4u);
  EXPECT_EQ(snap[0].provider, "openai");
  EXPECT_EQ(snap[0].model, "gpt-4o");
  EXPECT_EQ(snap[0].state, BreakerState::kOpen);
  EXPECT_EQ(snap[1].model, "gpt-4o-mini");
  EXPECT_EQ(snap[3].provider, "openai:gpt");

  clock.advance(seconds(7));
  EXPECT_EQ(breakers.snapshot()[0].state, BreakerState::kHalfOpen);

  // A reload applies to existing breakers and new ones alike.
  failover.breaker_failures = 1;
  breakers.configure(failover);
  b.onFailure(breakers.now());
  EXPECT_EQ(b.state(breakers.now()), BreakerState::kOpen);
  Breaker& e = breakers.get("anthropic", "claude");
  e.onFailure(breakers.now());
  EXPECT_EQ(e.state(breakers.now()), BreakerState::kOpen);
}

TEST(BreakersTest, DefaultClockIsSteady) {
  Breakers breakers;
  const SteadyTime before = std::chrono::steady_clock::now();
  EXPECT_GE(breakers.now(), before);
}

}  // namespace
}  // namespace kh::routing
