// The inputs the fuzz targets found worth keeping (tests/fuzz/corpus, grown by scripts/fuzz.sh):
// each was new coverage once, most of them near-valid JSON, HTTP or SSE, where two readings are
// likeliest to part ways. Every run of the unit tests replays them all, in both builds.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "read_file.h"
#include "support/fuzz_targets.h"

namespace kh::test_support {
namespace {

// A pack is the inputs one after another, each after its length (4 bytes, little-endian).
TEST(FuzzCorpus, EveryKeptInputStillHolds) {
  for (const FuzzTarget& target : fuzzTargets()) {
    const std::filesystem::path file = std::filesystem::path(KH_TEST_DATA_DIR) / "fuzz" / "corpus" /
                                       (std::string(target.name) + ".pack");
    const std::string pack = readFile(file);
    std::size_t at = 0, inputs = 0;
    while (at + 4 <= pack.size()) {
      std::uint32_t size = 0;
      for (int i = 3; i >= 0; --i) size = size << 8 | static_cast<unsigned char>(pack[at + i]);
      at += 4;
      if (size > pack.size() - at) break;
      // A copy of its own, so that a read past its end is one the sanitizer build sees.
      const std::string input = pack.substr(at, size);
      EXPECT_EQ(target.check(input), "") << target.name << " input " << inputs;
      at += size;
      ++inputs;
    }
    EXPECT_EQ(at, pack.size()) << file << " ends inside an input";
    EXPECT_GE(inputs, 500u) << file;
  }
}

}  // namespace
}  // namespace kh::test_support
