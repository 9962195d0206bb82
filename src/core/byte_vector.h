#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kh::core::bytes16 {

// Sixteen bytes as one vector, for the scans of hot paths: GCC and Clang lower the operations to
// SSE2 or NEON, with no target flags and no intrinsics. A comparison sets a lane to 0xFF.
using Bytes = unsigned char __attribute__((vector_size(16)));

// Lane k of a comparison lands in byte k of the 64-bit halves read below.
static_assert(std::endian::native == std::endian::little);

inline Bytes load(const char* p) {
  Bytes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline Bytes splat(unsigned char c) {
  Bytes v;
  std::memset(&v, c, sizeof v);
  return v;
}

inline bool any(const Bytes& v) {
  std::uint64_t lo, hi;
  std::memcpy(&lo, &v, 8);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + 8, 8);
  return (lo | hi) != 0;
}

// The first lane set in `v`; 16 when none is.
inline std::size_t firstLane(const Bytes& v) {
  std::uint64_t lo, hi;
  std::memcpy(&lo, &v, 8);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + 8, 8);
  if (lo != 0) return static_cast<std::size_t>(std::countr_zero(lo)) / 8;
  if (hi != 0) return 8 + static_cast<std::size_t>(std::countr_zero(hi)) / 8;
  return 16;
}

// Lanes k >= from set, the others clear.
inline Bytes lanesFrom(std::size_t from) {
  constexpr Bytes kIndex = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return kIndex >= splat(static_cast<unsigned char>(from));
}

}  // namespace kh::core::bytes16
