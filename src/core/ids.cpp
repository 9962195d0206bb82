#include "core/ids.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>

#include <fmt/format.h>

namespace kh::core {

namespace {

std::uint64_t nextRandom() {
  // xorshift128+: fast, and ids need uniqueness rather than secrecy.
  thread_local std::uint64_t s0 = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9E3779B97F4A7C15ULL;
  }();
  thread_local std::uint64_t s1 = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ 0xD1B54A32D192ED03ULL;
  }();
  std::uint64_t x = s0;
  const std::uint64_t y = s1;
  s0 = y;
  x ^= x << 23;
  s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
  return s1 + y;
}

}  // namespace

std::string newRequestId() {
  // Written digit by digit: this runs once per request, and a format call costs ten times more.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(4 + 32, '\0');
  char* out = id.data();
  std::memcpy(out, "req_", 4);
  out += 4;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = nextRandom();
    for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xF];
    out += 16;
  }
  return id;
}

long long nowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

long long coarseUnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

long long nowUnixSeconds() {
  return nowUnixMs() / 1000;
}

std::string isoTimestampMs(long long ms) {
  std::string out;
  out.reserve(24);
  appendIsoTimestampMs(out, ms);
  return out;
}

char* writeIsoTimestampMs(char* p, long long ms) {
  const long long secs = ms / 1000;
  // Formatting the date is the expensive part and changes once a second; keep it per thread.
  thread_local long long cached_secs = -1;
  thread_local char cached[24];
  if (secs != cached_secs) {
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    fmt::format_to_n(cached, sizeof cached, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    cached_secs = secs;
  }
  const int milli = static_cast<int>(ms % 1000);
  std::memcpy(p, cached, 19);
  p[19] = '.';
  p[20] = static_cast<char>('0' + milli / 100);
  p[21] = static_cast<char>('0' + milli / 10 % 10);
  p[22] = static_cast<char>('0' + milli % 10);
  p[23] = 'Z';
  return p + kIsoTimestampMsSize;
}

void appendIsoTimestampMs(std::string& out, long long ms) {
  char text[kIsoTimestampMsSize];
  out.append(text, static_cast<std::size_t>(writeIsoTimestampMs(text, ms) - text));
}

}  // namespace kh::core
