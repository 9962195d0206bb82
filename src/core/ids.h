#pragma once

#include <cstddef>
#include <string>

namespace kh::core {

// A random 128-bit id as 32 hex characters, prefixed ("req_…"). Thread-safe and lock-free:
// each thread has its own generator seeded from the OS.
std::string newRequestId();

// Milliseconds / microseconds since the Unix epoch.
long long nowUnixMs();
long long nowUnixSeconds();
// nowUnixMs() to within a few milliseconds, read without the clock's costly precise path: for
// times shown to people ("last checked at"), not for durations.
long long coarseUnixMs();
// An ISO-8601 UTC timestamp with milliseconds, e.g. 2026-01-02T03:04:05.678Z, for a time in
// milliseconds since the Unix epoch.
std::string isoTimestampMs(long long unix_ms);
// The same, appended to `out` (log lines: no string of its own).
void appendIsoTimestampMs(std::string& out, long long unix_ms);
// The same, written at `p` (kIsoTimestampMsSize bytes); returns past it.
inline constexpr std::size_t kIsoTimestampMsSize = 24;
char* writeIsoTimestampMs(char* p, long long unix_ms);

}  // namespace kh::core
