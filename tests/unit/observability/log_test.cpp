#include "observability/log.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

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

// With the writer thread running, lines from threads that batch and threads that do not all come
// out whole, each thread's in its order, and shutting down writes whatever was still queued.
TEST(Log, WriterKeepsLinesWholeAndInOrder) {
  initLogging(Level::kInfo);
  testing::internal::CaptureStdout();
  constexpr int kThreads = 4;
  constexpr int kLines = 3000;  // a batching thread hands over several full batches
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
  shutdownLogging();
  const auto lines = linesOf(testing::internal::GetCapturedStdout());
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

}  // namespace
}  // namespace kh::obs
