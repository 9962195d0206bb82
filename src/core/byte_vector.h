#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kh::core::bytes16 {

// Sixteen bytes as one vector, for the scans of hot paths: GCC and Clang lower the operations to
// SSE2 or NEON with no target flags. Only laneMask() names an instruction (SSE2's movemask), with
// a portable form beside it. A comparison sets a lane to 0xFF.
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

// The high bits of the eight bytes of `x`, byte k's as bit k.
constexpr unsigned gatherHighBits(std::uint64_t x) {
  return static_cast<unsigned>(((x & 0x8080808080808080ULL) * 0x0002040810204081ULL) >> 56);
}

// The high bit of each lane, lane k's as bit k: of a comparison, the lanes it set.
inline unsigned laneMask(const Bytes& v) {
#if defined(__SSE2__)
  return static_cast<unsigned>(_mm_movemask_epi8(std::bit_cast<__m128i>(v)));
#else
  std::uint64_t lo, hi;
  std::memcpy(&lo, &v, 8);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + 8, 8);
  return gatherHighBits(lo) | gatherHighBits(hi) << 8;
#endif
}

inline bool any(const Bytes& v) {
  return laneMask(v) != 0;
}

// The first lane set in `v`; 16 when none is.
inline std::size_t firstLane(const Bytes& v) {
  const unsigned m = laneMask(v);
  return m != 0 ? static_cast<std::size_t>(std::countr_zero(m)) : 16;
}

}  // namespace kh::core::bytes16
