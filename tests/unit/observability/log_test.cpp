#include "observability/log.h"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace kh::obs {
namespace {

TEST(Log, SecretsAreMasked) {
  EXPECT_EQ(maskSecret(""), "(none)");
  EXPECT_EQ(maskSecret("short"), "****");
  EXPECT_EQ(maskSecret("sk-proj-abcdefghijklmnop1234"), "****1234");
}

TEST(Log, LevelsParse) {
  EXPECT_EQ(parseLevel("debug"), Level::kDebug);
  EXPECT_EQ(parseLevel("error"), Level::kError);
  EXPECT_FALSE(parseLevel("loud"));
}

std::vector<std::string> linesOf(const std::string& out) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < out.size()) {
    const std::size_t nl = out.find('\n', at);
    lines.push_back(out.substr(at, nl - at));
    at = nl == std::string::npos ? out.size() : nl + 1;
  }
  return lines;
}

TEST(Log, FieldsAreJson) {
  setLevel(Level::kInfo);
  testing::internal::CaptureStdout();
  info("hello \"world\"")
      .str("path", "/v1/x\n")
      .num("n", -5)
      .millis("latency_ms", 1234567)
      .millis("tiny_ms", 7)
      .boolean("stream", true)
      .raw("list", "[1,2]");
  debug("not shown").str("a", "b");
  const auto lines = linesOf(testing::internal::GetCapturedStdout());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("{\"ts\":\"")) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(
      R"("level":"info","msg":"hello \"world\"","path":"/v1/x\n","n":-5,"latency_ms":1234.567,)"
      R"("tiny_ms":0.007,"stream":true,"list":[1,2]})"))
      << lines[0];
}

// Plain short members are put together on the stack; values that need escaping and members too
// long for that take the general path, with the same text.
TEST(Log, LongAndEscapedMembersAreJson) {
  setLevel(Level::kInfo);
  const std::string long_key(300, 'k');
  const std::string long_value(1000, 'v');
  testing::internal::CaptureStdout();
  info("m")
      .str("plain", "eight by")
      .str("tab", "a\tb\\c\"d\x01")
      .str(long_key, "x")
      .str("long", long_value)
      .num(long_key, 42)
      .millis(long_key, -1500)
      .millis("neg_ms", -2)
      .num("min", -9223372036854775807LL - 1);
  const auto lines = linesOf(testing::internal::GetCapturedStdout());
  ASSERT_EQ(lines.size(), 1u);
  const std::string k = "\"" + long_key + "\":";
  EXPECT_TRUE(lines[0].ends_with(R"("msg":"m","plain":"eight by","tab":"a\tb\\c\"d\u0001",)" + k +
                                 R"("x","long":")" + long_value + "\"," + k + "42," + k +
                                 R"(-1.500,"neg_ms":-0.002,"min":-9223372036854775808})"))
      << lines[0];
}

// On a batching thread lines are written straight into the batch; a flush while one is half
// written, and a line completed while another is open, must still give whole lines.
TEST(Log, BatchedLinesStayWhole) {
  setLevel(Level::kInfo);
  boost::asio::io_context ioc;
  batchThreadLogs(ioc);
  testing::internal::CaptureStdout();
  info("first");
  {
    LogLine open(Level::kInfo, "open");
    open.str("k", "v");
    // The batch timer fires now, with "open" half written.
    ioc.run_for(std::chrono::milliseconds(40));
    info("inner").num("n", 1);
    open.num("after", 2);
  }
  info("last");
  flushThreadLogs();
  const auto lines = linesOf(testing::internal::GetCapturedStdout());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(lines[0].ends_with(R"("msg":"first"})")) << lines[0];
  EXPECT_TRUE(lines[1].ends_with(R"("msg":"inner","n":1})")) << lines[1];
  EXPECT_TRUE(lines[2].ends_with(R"("msg":"open","k":"v","after":2})")) << lines[2];
  EXPECT_TRUE(lines[3].ends_with(R"("msg":"last"})")) << lines[3];
}

constexpr int kThreads = 4;
constexpr int kLines = 3000;  // a batching thread writes several full batches

// kThreads threads log kLines lines each, the even ones batching; then logging shuts down.
void logFromThreads() {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      boost::asio::io_context ioc;
      if (t % 2 == 0) batchThreadLogs(ioc);
      for (int i = 0; i < kLines; ++i)
        info("line").num("thread", t).num("i", i).str("pad", std::string(40, 'x'));
      if (t % 2 == 0) flushThreadLogs();
    });
  }
  for (auto& th : threads) th.join();
}

// Every line whole, and each thread's lines all there and in order.
void expectWholeAndInOrder(const std::string& out) {
  const auto lines = linesOf(out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    const std::size_t at = line.find("\"thread\":");
    ASSERT_NE(at, std::string::npos) << line;
    const int t = line[at + 9] - '0';
    ASSERT_TRUE(line.ends_with(",\"i\":" + std::to_string(next[t]) + ",\"pad\":\"" +
                               std::string(40, 'x') + "\"}"))
        << line;
    ++next[t];
  }
}

// Into a file (what gtest captures stdout in) each thread writes its own batches; lines from
// threads that batch and threads that do not all come out whole and in order.
TEST(Log, FileOutputKeepsLinesWholeAndInOrder) {
  testing::internal::CaptureStdout();  // first: the output is looked at when logging starts
  initLogging(Level::kInfo);
  logFromThreads();
  shutdownLogging();
  expectWholeAndInOrder(testing::internal::GetCapturedStdout());
}

// Puts `fd` in the place of stdout until restore(); nothing may be printed in between.
class StdoutSwap {
 public:
  explicit StdoutSwap(int fd) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  ~StdoutSwap() { restore(); }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

 private:
  int saved_ = -1;
};

// Reads `fd` to its end in small pieces, so that the writing side keeps finding it full.
std::string readAll(int fd) {
  std::string out;
  char piece[1000];
  for (;;) {
    const ssize_t n = ::read(fd, piece, sizeof piece);
    if (n > 0) {
      out.append(piece, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return out;
    }
  }
}

// A terminal: its side for the program, set raw so that lines arrive as written (no "\r\n").
// The test reads from `controller`.
struct Terminal {
  int controller = -1;
  int terminal = -1;
};
Terminal openTerminal() {
  Terminal t;
  t.controller = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (t.controller < 0 || ::grantpt(t.controller) != 0 || ::unlockpt(t.controller) != 0) return t;
  t.terminal = ::open(::ptsname(t.controller), O_RDWR | O_NOCTTY);
  termios raw{};
  if (t.terminal < 0 || ::tcgetattr(t.terminal, &raw) != 0) return t;
  ::cfmakeraw(&raw);
  ::tcsetattr(t.terminal, TCSANOW, &raw);
  return t;
}

// Pipes and sockets (a container's log pipe, a journal's socket) are written by the logging thread
// while they have room; what finds them full waits in the writer thread, and every line after it
// queues behind: whole lines, in order, with a reader slower than the writers.
void expectWholeAndInOrderThrough(int read_fd, int write_fd) {
  std::string out;
  std::thread reader([&] { out = readAll(read_fd); });
  {
    StdoutSwap swap(write_fd);
    initLogging(Level::kInfo);
    logFromThreads();
    shutdownLogging();
  }  // the last writing end closes: the reader sees the end
  reader.join();
  ::close(read_fd);
  expectWholeAndInOrder(out);
}

TEST(Log, PipeOutputKeepsLinesWholeAndInOrder) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  expectWholeAndInOrderThrough(fds[0], fds[1]);
}

TEST(Log, SocketOutputKeepsLinesWholeAndInOrder) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  expectWholeAndInOrderThrough(fds[0], fds[1]);
}

TEST(Log, TerminalOutputKeepsLinesWholeAndInOrder) {
  const Terminal t = openTerminal();
  if (t.controller < 0) GTEST_SKIP() << "this machine offers no pseudo-terminals";
  ASSERT_GE(t.terminal, 0);
  expectWholeAndInOrderThrough(t.controller, t.terminal);
}

// An output nobody reads from never holds up a thread that logs: once it is full, the rest waits
// in the writer thread. Here the reader starts only when the logging thread is done (or after
// 10 s, which the test then fails); all of it arrives after that.
void expectNeverHeldBy(int read_fd, int write_fd) {
  std::mutex mutex;
  std::condition_variable done_logging;
  bool logged = false;
  bool logged_before_reading = false;
  std::string out;
  std::thread reader([&] {
    {
      std::unique_lock lock(mutex);
      logged_before_reading =
          done_logging.wait_for(lock, std::chrono::seconds(10), [&] { return logged; });
    }
    out = readAll(read_fd);
  });
  constexpr int kMany = 4000;  // about 500 KB: several times what a pipe or terminal holds
  {
    StdoutSwap swap(write_fd);
    initLogging(Level::kInfo);
    std::thread logger([] {
      boost::asio::io_context ioc;
      batchThreadLogs(ioc);
      for (int i = 0; i < kMany; ++i) info("line").num("i", i).str("pad", std::string(80, 'y'));
      flushThreadLogs();
    });
    logger.join();
    {
      std::lock_guard lock(mutex);
      logged = true;
    }
    done_logging.notify_one();
    shutdownLogging();
  }
  reader.join();
  ::close(read_fd);
  EXPECT_TRUE(logged_before_reading);
  const auto lines = linesOf(out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kMany));
  for (int i = 0; i < kMany; ++i)
    ASSERT_TRUE(lines[i].ends_with(",\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                                   std::string(80, 'y') + "\"}"))
        << lines[i];
}

TEST(Log, FullPipeNeverHoldsTheLoggingThread) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  expectNeverHeldBy(fds[0], fds[1]);
}

TEST(Log, FullTerminalNeverHoldsTheLoggingThread) {
  const Terminal t = openTerminal();
  if (t.controller < 0) GTEST_SKIP() << "this machine offers no pseudo-terminals";
  ASSERT_GE(t.terminal, 0);
  expectNeverHeldBy(t.controller, t.terminal);
}

}  // namespace
}  // namespace kh::obs
