#include "observability/log.h"

#include <atomic>
#include <memory>

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/ids.h"
#include "core/json_text.h"

namespace kh::obs {

using namespace std::string_view_literals;

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::shared_ptr<spdlog::logger> g_logger;

constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error"};

struct ThreadBatch {
  explicit ThreadBatch(boost::asio::io_context& ioc) : timer(ioc) {}
  boost::asio::steady_timer timer;
  std::string lines;
  // Where a LogLine being written into `lines` begins, or npos: a flush must leave it there.
  std::size_t open_at = std::string::npos;
  bool scheduled = false;
};
thread_local std::unique_ptr<ThreadBatch> t_batch;

constexpr auto kBatchInterval = std::chrono::milliseconds(10);
// Small enough that the batch stays in the core's cache between the lines written into it (under
// hundreds of concurrent requests a 64 KB batch was written to cold memory, line after line),
// big enough that the hand-over to the writer thread is rare (one per ~40 access lines).
constexpr std::size_t kBatchMaxBytes = 16 * 1024;

void write(const std::string& text) {
  if (g_logger) {
    g_logger->info(text);
  } else {
    fmt::print("{}\n", text);
    std::fflush(stdout);
  }
}

void flushBatch(ThreadBatch& b) {
  const std::size_t end = std::min(b.open_at, b.lines.size());
  if (end == 0) return;
  // The sink adds the final newline.
  if (end == b.lines.size()) {
    b.lines.pop_back();
    write(b.lines);
    b.lines.clear();
  } else {
    write(b.lines.substr(0, end - 1));
    b.lines.erase(0, end);
    b.open_at = 0;
  }
}

// A line just completed in the batch: flush when it is big, else make sure a flush is coming.
void lineAdded(ThreadBatch& b) {
  if (b.lines.size() >= kBatchMaxBytes) {
    flushBatch(b);
  } else if (!b.scheduled) {
    b.scheduled = true;
    b.timer.expires_after(kBatchInterval);
    b.timer.async_wait([&b](const boost::system::error_code&) {
      b.scheduled = false;
      flushBatch(b);
    });
  }
}

void emit(const std::string& line) {
  if (ThreadBatch* b = t_batch.get()) {
    if (b->open_at == std::string::npos) {
      b->lines.append(line).push_back('\n');
    } else {
      // A line is being written at the end of the batch: this one, complete first, goes before.
      b->lines.insert(b->open_at, line);
      b->lines.insert(b->open_at + line.size(), 1, '\n');
      b->open_at += line.size() + 1;
    }
    lineAdded(*b);
    return;
  }
  write(line);
}

}  // namespace

std::optional<Level> parseLevel(std::string_view name) {
  for (int i = 0; i < 5; ++i)
    if (kNames[i] == name) return static_cast<Level>(i);
  return std::nullopt;
}

void initLogging(Level level) {
  setLevel(level);
  if (g_logger) return;
  spdlog::init_thread_pool(8192, 1);
  g_logger = spdlog::create_async_nb<spdlog::sinks::stdout_sink_mt>("kakehashi");
  g_logger->set_pattern("%v");
  g_logger->set_level(spdlog::level::trace);
  g_logger->flush_on(spdlog::level::trace);
}

void shutdownLogging() {
  if (!g_logger) return;
  g_logger->flush();
  g_logger.reset();
  spdlog::shutdown();
}

void batchThreadLogs(boost::asio::io_context& ioc) {
  t_batch = std::make_unique<ThreadBatch>(ioc);
}

void flushThreadLogs() {
  if (!t_batch) return;
  flushBatch(*t_batch);
  // The timer belongs to an io_context that is about to go; it must not outlive it.
  t_batch.reset();
}

void setLevel(Level level) {
  g_level.store(static_cast<int>(level));
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

std::string maskSecret(std::string_view secret) {
  if (secret.empty()) return "(none)";
  if (secret.size() <= 8) return "****";
  return "****" + std::string(secret.substr(secret.size() - 4));
}

LogLine::LogLine(Level level, std::string_view msg) {
  if (!enabled(level)) return;
  ThreadBatch* b = t_batch.get();
  if (b && b->open_at == std::string::npos) {
    b->open_at = b->lines.size();
    out_ = &b->lines;
    batched_ = true;
  } else {
    // No batching on this thread, or another line is being written into it.
    own_.reserve(256);
    out_ = &own_;
  }
  out_->append("{\"ts\":\"");
  core::appendIsoTimestampMs(*out_, core::nowUnixMs());
  out_->append("\",\"level\":\"").append(kNames[static_cast<int>(level)]).append("\",\"msg\":"sv);
  core::appendJsonString(*out_, msg);
}

LogLine::~LogLine() {
  if (!out_) return;
  out_->push_back('}');
  if (!batched_) {
    emit(own_);
    return;
  }
  ThreadBatch& b = *t_batch;
  b.open_at = std::string::npos;
  b.lines.push_back('\n');
  lineAdded(b);
}

void LogLine::key(std::string_view k) {
  out_->append(",\"").append(k).append("\":"sv);
}

LogLine& LogLine::str(std::string_view k, std::string_view value) {
  if (!out_) return *this;
  key(k);
  core::appendJsonString(*out_, value);
  return *this;
}

LogLine& LogLine::num(std::string_view k, long long value) {
  if (!out_) return *this;
  key(k);
  core::appendJsonInt(*out_, value);
  return *this;
}

LogLine& LogLine::millis(std::string_view k, long long micros) {
  if (!out_) return *this;
  key(k);
  if (micros < 0) {
    out_->push_back('-');
    micros = -micros;
  }
  core::appendJsonInt(*out_, micros / 1000);
  const int frac = static_cast<int>(micros % 1000);
  const char digits[] = {'.', static_cast<char>('0' + frac / 100),
                         static_cast<char>('0' + frac / 10 % 10),
                         static_cast<char>('0' + frac % 10)};
  out_->append(digits, sizeof digits);
  return *this;
}

LogLine& LogLine::boolean(std::string_view k, bool value) {
  if (!out_) return *this;
  key(k);
  out_->append(value ? "true" : "false");
  return *this;
}

LogLine& LogLine::raw(std::string_view k, std::string_view json) {
  if (!out_) return *this;
  key(k);
  out_->append(json);
  return *this;
}

}  // namespace kh::obs
