#pragma once

#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_text.h"

namespace boost::asio {
class io_context;
}

namespace kh::obs {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError };

std::optional<Level> parseLevel(std::string_view name);
// Sets up the output: lines go to stdout, written by the logging thread itself when stdout takes
// them at once (a file always does; a pipe, terminal or socket when it has room) and otherwise by
// a writer thread, so that logging never blocks an event loop on a slow terminal or pipe.
void initLogging(Level level);
void setLevel(Level level);
bool enabled(Level level);
// Flushes and stops the writer; call before exit.
void shutdownLogging();

// Makes lines logged on the calling thread collect in a buffer that goes out every few
// milliseconds (run by `ioc`) or every 16 KB: a busy event loop writes batches, not lines.
// Call flushThreadLogs() when the thread stops running `ioc`.
void batchThreadLogs(boost::asio::io_context& ioc);
void flushThreadLogs();

// One structured JSON log line: {"ts":…,"level":…,"msg":…, fields…}, emitted on destruction.
// Keys are the caller's identifiers and are written unescaped. On a thread that batches its
// logs, the line is written straight into the batch: no string, no copy.
class LogLine {
 public:
  LogLine(Level level, std::string_view msg);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& str(std::string_view key, std::string_view value);
  LogLine& num(std::string_view key, long long value);

  // The same for a key that is a literal, as nearly all are: the member is put together on the
  // stack with the key copied at a size known when compiling, and appended at once.
  template <std::size_t N>
  LogLine& str(const char (&key)[N], std::string_view value) {
    if (!out_) return *this;
    if (value.size() + N + 6 > kMemberBytes || !core::isPlainJsonText(value))
      return str(std::string_view(key, N - 1), value);
    char member[kMemberBytes];
    char* p = putKey(member, key);
    *p++ = '"';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '"';
    out_->append(member, static_cast<std::size_t>(p - member));
    return *this;
  }
  template <std::size_t N>
  LogLine& num(const char (&key)[N], long long value) {
    static_assert(N + 4 + 20 <= kMemberBytes);
    if (!out_) return *this;
    char member[kMemberBytes];
    char* p = putKey(member, key);
    p = std::to_chars(p, member + kMemberBytes, value).ptr;
    out_->append(member, static_cast<std::size_t>(p - member));
    return *this;
  }
  // A duration given in microseconds, written in milliseconds with three decimals.
  LogLine& millis(std::string_view key, long long micros);
  template <std::size_t N>
  LogLine& millis(const char (&key)[N], long long micros) {
    static_assert(N + 4 + 25 <= kMemberBytes);
    if (!out_) return *this;
    char member[kMemberBytes];
    char* p = putMillis(putKey(member, key), micros);
    out_->append(member, static_cast<std::size_t>(p - member));
    return *this;
  }
  LogLine& boolean(std::string_view key, bool value);
  template <std::size_t N>
  LogLine& boolean(const char (&key)[N], bool value) {
    static_assert(N + 4 + 5 <= kMemberBytes);
    if (!out_) return *this;
    char member[kMemberBytes];
    char* p = putKey(member, key);
    const std::string_view text = value ? "true" : "false";
    std::memcpy(p, text.data(), text.size());
    p += text.size();
    out_->append(member, static_cast<std::size_t>(p - member));
    return *this;
  }
  // A value that is already JSON (an array or object built by the caller).
  LogLine& raw(std::string_view key, std::string_view json);

 private:
  static constexpr std::size_t kMemberBytes = 192;
  template <std::size_t N>
  static char* putKey(char* p, const char (&key)[N]) {
    static_assert(N + 4 <= kMemberBytes);
    *p++ = ',';
    *p++ = '"';
    std::memcpy(p, key, N - 1);
    p += N - 1;
    *p++ = '"';
    *p++ = ':';
    return p;
  }
  void key(std::string_view k);
  // `micros` as milliseconds with three decimals, at most 25 bytes.
  static char* putMillis(char* p, long long micros);
  std::string* out_ = nullptr;  // the thread's batch, or own_; null when the level is off
  bool batched_ = false;
  std::string own_;
};

inline LogLine info(std::string_view msg) {
  return LogLine(Level::kInfo, msg);
}
inline LogLine warn(std::string_view msg) {
  return LogLine(Level::kWarn, msg);
}
inline LogLine error(std::string_view msg) {
  return LogLine(Level::kError, msg);
}
inline LogLine debug(std::string_view msg) {
  return LogLine(Level::kDebug, msg);
}

// "sk-…abcd": enough to tell keys apart, never enough to use one.
std::string maskSecret(std::string_view secret);

}  // namespace kh::obs
