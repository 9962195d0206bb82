#include "observability/log.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/ids.h"
#include "core/json_text.h"

namespace kh::obs {

using namespace std::string_view_literals;

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

// Waits until `fd`, an output someone else opened non-blocking, has room again.
void waitWritable(int fd) {
  pollfd pfd{fd, POLLOUT, 0};
  ::poll(&pfd, 1, -1);
}

// Writes all of `text` to `fd`, retrying what the kernel took only in part. A failing output
// (closed pipe, full disk) loses the text, not the process.
void writeOut(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n > 0) {
      text.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      waitWritable(fd);
    } else {
      return;
    }
  }
}

// How an event loop can write to the log output itself, without ever waiting on it.
struct DirectOutput {
  // A regular file (or /dev/null) takes text into the page cache at once, as nginx's access log
  // does: written in place, no thread and no wake-up involved.
  bool in_place = false;
  // For a pipe or terminal: the same output opened a second time, non-blocking, so that a full
  // pipe turns into EAGAIN here without changing how anyone else sharing it writes. -1: none.
  int nonblocking_fd = -1;
  // A socket (a journal's stream): send() with MSG_DONTWAIT needs no second descriptor.
  bool socket = false;
};

DirectOutput probeOutput(int fd) {
  DirectOutput out;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return out;
  if (S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) {
    out.in_place = true;
  } else if (S_ISSOCK(st.st_mode)) {
    out.socket = true;
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    const std::string path = fmt::format("/proc/self/fd/{}", fd);
    out.nonblocking_fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  }
  return out;
}

// Where log text goes. An event loop's batch is written by that thread itself when the output
// takes it at once (almost always: a file, or a pipe or socket with room), so logging costs no
// thread switch on the request path. What the output cannot take now, and everything after it
// until that is out, goes to a writer thread of its own that waits on the output instead, so no
// event loop ever waits on a slow terminal or pipe and lines from every thread come out whole and
// in order. Text is handed over by move and its buffer comes back for a later batch: a line is
// never copied on its way out. The writer lets text gather for a few milliseconds and writes it in
// one call.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd), direct_(probeOutput(fd)) {
    if (!direct_.in_place) thread_ = std::thread([this] { run(); });
  }
  ~Writer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    if (direct_.nonblocking_fd >= 0) ::close(direct_.nonblocking_fd);
  }

  // Writes or queues `text` (whole lines, each ending in '\n') and leaves an empty buffer in its
  // place: `text`'s own when it was written, else one that earlier text was written from.
  void write(std::string& text) {
    std::string spare;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (direct_.in_place) {
        writeOut(fd_, text);
        text.clear();
        return;
      }
      if (queue_.empty() && !writing_) {
        const std::size_t done = tryWrite(text);
        if (done == text.size()) {
          text.clear();
          return;
        }
        // The rest of a line cut short comes next from the writer: nothing may go in between.
        text.erase(0, done);
      }
      if (queued_bytes_ + text.size() > kMaxQueuedBytes) {
        // Output that does not keep up loses lines rather than holding requests or memory.
        text.clear();
        return;
      }
      queued_bytes_ += text.size();
      queue_.push_back(std::move(text));
      wake = queue_.size() == 1 || queued_bytes_ >= kWriteNowBytes;
      if (!spare_.empty()) {
        spare = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (wake) wake_.notify_one();
    text = std::move(spare);
    text.clear();
  }

  // Returns once everything queued so far is written.
  void flush() {
    std::unique_lock lock(mutex_);
    ++flushes_;
    wake_.notify_one();
    idle_.wait(lock, [&] { return queue_.empty() && !writing_; });
    --flushes_;
  }

 private:
  static constexpr std::size_t kMaxQueuedBytes = 64u << 20;
  static constexpr std::size_t kWriteNowBytes = 1u << 20;
  static constexpr std::size_t kMaxSpares = 32;
  static constexpr std::size_t kMaxSpareCapacity = 256u << 10;
  static constexpr auto kGather = std::chrono::milliseconds(5);

  // Writes as much of `text` as the output takes without waiting; the bytes written. A failing
  // output counts as written: the text is lost, as it would be from the writer.
  std::size_t tryWrite(std::string_view text) const {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = -1;
      if (direct_.socket) {
        n = ::send(fd_, text.data() + done, text.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else if (direct_.nonblocking_fd >= 0) {
        n = ::write(direct_.nonblocking_fd, text.data() + done, text.size() - done);
      } else {
        return done;
      }
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return done;
      } else {
        return text.size();
      }
    }
    return done;
  }

  void run() {
    std::vector<std::string> batch;
    std::vector<iovec> iov;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, with everything written
        wake_.wait_for(lock, kGather, [&] {
          return stopping_ || flushes_ > 0 || queued_bytes_ >= kWriteNowBytes;
        });
        batch.swap(queue_);
        writing_ = true;
      }
      writeAll(batch, iov);
      {
        std::lock_guard lock(mutex_);
        for (std::string& text : batch) {
          queued_bytes_ -= text.size();
          if (spare_.size() < kMaxSpares && text.capacity() <= kMaxSpareCapacity) {
            text.clear();
            spare_.push_back(std::move(text));
          }
        }
        batch.clear();
        writing_ = false;
      }
      idle_.notify_all();
    }
  }

  // One writev() for all of `batch` where the output takes it; what it leaves, piece by piece.
  void writeAll(const std::vector<std::string>& batch, std::vector<iovec>& iov) const {
    std::size_t i = 0;
    while (i < batch.size()) {
      iov.clear();
      std::size_t bytes = 0;
      for (std::size_t j = i; j < batch.size() && iov.size() < 512; ++j) {
        iov.push_back({const_cast<char*>(batch[j].data()), batch[j].size()});
        bytes += batch[j].size();
      }
      const ssize_t n = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
      if (n == static_cast<ssize_t>(bytes)) {
        i += iov.size();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        waitWritable(fd_);
        continue;
      }
      if (n < 0) return;  // a failing output (closed pipe, full disk) loses the text
      // A partial write: the rest of the piece it stopped in, then on with the next ones.
      std::size_t done = static_cast<std::size_t>(n);
      while (done >= batch[i].size()) done -= batch[i++].size();
      writeOut(fd_, std::string_view(batch[i]).substr(done));
      ++i;
    }
  }

  const int fd_;
  const DirectOutput direct_;
  std::mutex mutex_;
  std::condition_variable wake_;  // text queued after a quiet spell, a flush, or stopping
  std::condition_variable idle_;  // a round of writing ended
  std::vector<std::string> queue_;
  std::vector<std::string> spare_;
  std::size_t queued_bytes_ = 0;
  int flushes_ = 0;  // callers of flush() waiting
  bool writing_ = false;
  bool stopping_ = false;
  std::thread thread_;  // none where the output is written in place
};

std::unique_ptr<Writer> g_writer;

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
// big enough that writing it out is rare (one write per ~50 access lines).
constexpr std::size_t kBatchMaxBytes = 16 * 1024;

// One line (without its newline) from a thread that does not batch.
void writeLine(std::string_view line) {
  if (!g_writer) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
    return;
  }
  std::string text;
  text.reserve(line.size() + 1);
  text.append(line).push_back('\n');
  g_writer->write(text);
}

void flushBatch(ThreadBatch& b) {
  const std::size_t end = std::min(b.open_at, b.lines.size());
  if (end == 0) return;
  if (!g_writer) {
    fmt::print("{}", std::string_view(b.lines).substr(0, end));
    std::fflush(stdout);
    b.lines.erase(0, end);
  } else if (end == b.lines.size()) {
    // Written as it is, or its buffer goes to the writer thread and an earlier one comes back.
    g_writer->write(b.lines);
    if (b.lines.capacity() < kBatchMaxBytes + 1024) b.lines.reserve(kBatchMaxBytes + 1024);
  } else {
    std::string done = b.lines.substr(0, end);
    g_writer->write(done);
    b.lines.erase(0, end);
  }
  if (b.open_at != std::string::npos) b.open_at = 0;
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
  writeLine(line);
}

}  // namespace

std::optional<Level> parseLevel(std::string_view name) {
  for (int i = 0; i < 5; ++i)
    if (kNames[i] == name) return static_cast<Level>(i);
  return std::nullopt;
}

void initLogging(Level level) {
  setLevel(level);
  if (!g_writer) g_writer = std::make_unique<Writer>(STDOUT_FILENO);
}

void shutdownLogging() {
  if (!g_writer) return;
  g_writer->flush();
  g_writer.reset();
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
  // The line's start put together on the stack and appended at once.
  constexpr std::string_view kTs = "{\"ts\":\"", kLevel = "\",\"level\":\"", kMsg = "\",\"msg\":";
  char start[kMemberBytes];
  char* p = start;
  auto put = [&](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(kTs);
  p = core::writeIsoTimestampMs(p, core::nowUnixMs());
  put(kLevel);
  put(kNames[static_cast<int>(level)]);
  put(kMsg);
  const bool plain = msg.size() + 2 <= static_cast<std::size_t>(start + sizeof start - p) &&
                     core::isPlainJsonText(msg);
  if (plain) {
    *p++ = '"';
    put(msg);
    *p++ = '"';
  }
  out_->append(start, static_cast<std::size_t>(p - start));
  if (!plain) core::appendJsonString(*out_, msg);
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

char* LogLine::putMillis(char* p, long long micros) {
  if (micros < 0) {
    *p++ = '-';
    micros = -micros;
  }
  p = std::to_chars(p, p + 20, micros / 1000).ptr;
  const int frac = static_cast<int>(micros % 1000);
  p[0] = '.';
  p[1] = static_cast<char>('0' + frac / 100);
  p[2] = static_cast<char>('0' + frac / 10 % 10);
  p[3] = static_cast<char>('0' + frac % 10);
  return p + 4;
}

LogLine& LogLine::millis(std::string_view k, long long micros) {
  if (!out_) return *this;
  key(k);
  char text[25];
  out_->append(text, static_cast<std::size_t>(putMillis(text, micros) - text));
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
