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

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::shared_ptr<spdlog::logger> g_logger;

constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error"};

struct ThreadBatch {
  explicit ThreadBatch(boost::asio::io_context& ioc) : timer(ioc) {}
  boost::asio::steady_timer timer;
  std::string lines;
  bool scheduled = false;
};
thread_local std::unique_ptr<ThreadBatch> t_batch;

constexpr auto kBatchInterval = std::chrono::milliseconds(10);
constexpr std::size_t kBatchMaxBytes = 64 * 1024;

void flushBatch(ThreadBatch& b) {
  if (b.lines.empty()) return;
  b.lines.pop_back();  // the sink adds the final newline
  if (g_logger) {
    g_logger->info(b.lines);
  } else {
    fmt::print("{}\n", b.lines);
    std::fflush(stdout);
  }
  b.lines.clear();
}

void emit(const std::string& line) {
  if (ThreadBatch* b = t_batch.get()) {
    b->lines.append(line).push_back('\n');
    if (b->lines.size() >= kBatchMaxBytes) {
      flushBatch(*b);
    } else if (!b->scheduled) {
      b->scheduled = true;
      b->timer.expires_after(kBatchInterval);
      b->timer.async_wait([b](const boost::system::error_code&) {
        b->scheduled = false;
        flushBatch(*b);
      });
    }
    return;
  }
  if (g_logger) {
    g_logger->info(line);
  } else {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  }
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

LogLine::LogLine(Level level, std::string_view msg) : on_(enabled(level)) {
  if (!on_) return;
  line_.reserve(256);
  line_.append("{\"ts\":\"").append(core::isoTimestamp()).append("\",\"level\":\"");
  line_.append(kNames[static_cast<int>(level)]).append("\",\"msg\":");
  core::appendJsonString(line_, msg);
}

LogLine::~LogLine() {
  if (!on_) return;
  line_.push_back('}');
  emit(line_);
}

void LogLine::key(std::string_view k) {
  line_.push_back(',');
  core::appendJsonString(line_, k);
  line_.push_back(':');
}

LogLine& LogLine::str(std::string_view k, std::string_view value) {
  if (!on_) return *this;
  key(k);
  core::appendJsonString(line_, value);
  return *this;
}

LogLine& LogLine::num(std::string_view k, long long value) {
  if (!on_) return *this;
  key(k);
  line_.append(std::to_string(value));
  return *this;
}

LogLine& LogLine::real(std::string_view k, double value) {
  if (!on_) return *this;
  key(k);
  fmt::format_to(std::back_inserter(line_), "{:.3f}", value);
  return *this;
}

LogLine& LogLine::boolean(std::string_view k, bool value) {
  if (!on_) return *this;
  key(k);
  line_.append(value ? "true" : "false");
  return *this;
}

LogLine& LogLine::raw(std::string_view k, std::string_view json) {
  if (!on_) return *this;
  key(k);
  line_.append(json);
  return *this;
}

}  // namespace kh::obs
