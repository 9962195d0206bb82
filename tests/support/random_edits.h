#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace kh::test_support {

// Edits `doc` at `edits` random places: a byte dropped, one of `noise` inserted, or a byte
// replaced by one of `noise`. Differential tests use it to turn valid documents into the nearly
// valid ones where two readers are most likely to part ways.
inline void editRandomly(std::string& doc, std::mt19937& rng, std::string_view noise,
                         std::size_t edits) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  for (std::size_t e = 0; e < edits && !doc.empty(); ++e) {
    const std::size_t at = pick(doc.size());
    const char c = noise[pick(noise.size())];
    switch (pick(3)) {
      case 0:
        doc.erase(at, 1);
        break;
      case 1:
        doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        doc[at] = c;
        break;
    }
  }
}

}  // namespace kh::test_support
