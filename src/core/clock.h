#pragma once

#include <time.h>

#include <chrono>

namespace kh::core {

// The monotonic clock read at the kernel's tick (a few ms) instead of exactly: cheaper than
// steady_clock::now() (no TSC read and scaling), and on the same time line, so the two compare.
// For deadlines and timeouts measured in seconds, never for latencies.
inline std::chrono::steady_clock::time_point coarseNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                               std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace kh::core
