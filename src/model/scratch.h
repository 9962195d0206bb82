#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kh::model {

// Text a request encoder writes into, kept per thread from request to request, so that a
// conversation of a usual size is written without allocating for every turn. A buffer that grew
// past kKeptScratchBytes for one large request is let go instead of kept.
inline constexpr std::size_t kKeptScratchBytes = 256 * 1024;

inline void trimScratch(std::string& s) {
  if (s.capacity() > kKeptScratchBytes) std::string().swap(s);
}

// The turns of the request being written, each a role and its buffers: `Turn` has
// `std::string_view role` and `forEachBuffer(f)`, which calls f on each of its strings.
template <class Turn>
class ScratchTurns {
 public:
  // This thread's list, emptied for a new request.
  static ScratchTurns& forThread() {
    thread_local ScratchTurns turns;
    turns.used_ = 0;
    for (Turn& t : turns.slots_) t.forEachBuffer(trimScratch);
    return turns;
  }

  bool empty() const { return used_ == 0; }
  std::size_t size() const { return used_; }
  const Turn& operator[](std::size_t i) const { return slots_[i]; }

  // The turn that `role` writes into: the last one if it has that role, else a new one (so that
  // neighbouring messages of one role become one turn).
  Turn& turnFor(std::string_view role) {
    if (used_ > 0 && slots_[used_ - 1].role == role) return slots_[used_ - 1];
    if (used_ == slots_.size()) slots_.emplace_back();
    Turn& t = slots_[used_++];
    t.role = role;
    t.forEachBuffer([](std::string& s) { s.clear(); });
    return t;
  }

 private:
  std::vector<Turn> slots_;  // the first used_ are this request's
  std::size_t used_ = 0;
};

}  // namespace kh::model
