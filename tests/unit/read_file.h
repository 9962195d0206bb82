#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace kh::test_support {

// A test data file's bytes as they are; empty when it cannot be read.
inline std::string readFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kh::test_support
