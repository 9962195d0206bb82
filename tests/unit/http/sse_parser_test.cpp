#include "http/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kh::http {
namespace {

struct Seen {
  std::string event, data, id, raw;
  bool has_data;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{event=" << s.event << " data=" << s.data << " id=" << s.id << " raw=" << s.raw
            << "}";
}

std::vector<Seen> parseSplit(std::string_view input, std::vector<size_t> cuts) {
  std::vector<Seen> out;
  SseParser p;
  auto on = [&](const SseEvent& e) {
    out.push_back({std::string(e.event), std::string(e.data), std::string(e.id), std::string(e.raw),
                   e.has_data});
  };
  size_t prev = 0;
  for (size_t c : cuts) {
    p.feed(input.substr(prev, c - prev), on);
    prev = c;
  }
  p.feed(input.substr(prev), on);
  p.finish(on);
  return out;
}

// Every split of the input into two and three pieces must give the same events as one piece.
void expectSplitInvariant(std::string_view input, const std::vector<Seen>& expected) {
  ASSERT_EQ(parseSplit(input, {}), expected);
  for (size_t i = 0; i <= input.size(); ++i) {
    ASSERT_EQ(parseSplit(input, {i}), expected) << "split at " << i;
    for (size_t j = i; j <= input.size(); ++j)
      ASSERT_EQ(parseSplit(input, {i, j}), expected) << "split at " << i << "," << j;
  }
  // And byte by byte.
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  ASSERT_EQ(parseSplit(input, every), expected);
}

TEST(SseParser, OpenAIStreamAnySplit) {
  const std::string input =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
      "data: [DONE]\n\n";
  expectSplitInvariant(input,
                       {{"", R"({"choices":[{"delta":{"content":"Hel"}}]})", "",
                         "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n", true},
                        {"", R"({"choices":[{"delta":{"content":"lo"}}]})", "",
                         "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n", true},
                        {"", "[DONE]", "", "data: [DONE]\n\n", true}});
}

TEST(SseParser, CrLfAndCrLineEndingsAnySplit) {
  const std::string input = "event: message_start\r\ndata: a\r\n\r\nevent: ping\rdata: b\r\r";
  expectSplitInvariant(input,
                       {{"message_start", "a", "", "event: message_start\r\ndata: a\r\n\r\n", true},
                        {"ping", "b", "", "event: ping\rdata: b\r\r", true}});
}

// Lines ended by '\n' alone are found another way than those that may end in '\r': a stream that
// turns from one to the other, at any split, still gives the same events.
TEST(SseParser, LineEndsThatChangeMidStreamAnySplit) {
  const std::string input =
      "data: a\n\nevent: e\r\ndata: b\r\n\r\ndata: c\n\ndata: d\r\rdata: f\n\n";
  expectSplitInvariant(input, {{"", "a", "", "data: a\n\n", true},
                               {"e", "b", "", "event: e\r\ndata: b\r\n\r\n", true},
                               {"", "c", "", "data: c\n\n", true},
                               {"", "d", "", "data: d\r\r", true},
                               {"", "f", "", "data: f\n\n", true}});
}

TEST(SseParser, MultiLineDataCommentsAndIdsAnySplit) {
  const std::string input = ": keep-alive\n\nid: 7\ndata: line1\ndata:line2\nretry: 10\n\n";
  expectSplitInvariant(
      input, {{"", "", "", ": keep-alive\n\n", false},
              {"", "line1\nline2", "7", "id: 7\ndata: line1\ndata:line2\nretry: 10\n\n", true}});
}

TEST(SseParser, UnterminatedLastEventIsDeliveredAtFinish) {
  const std::string input = "data: one\n\ndata: two";
  expectSplitInvariant(
      input, {{"", "one", "", "data: one\n\n", true}, {"", "two", "", "data: two", true}});
}

TEST(SseParser, EmptyDataFieldAndFieldWithoutColon) {
  const std::string input = "data\n\ndata:\n\n";
  expectSplitInvariant(input, {{"", "", "", "data\n\n", true}, {"", "", "", "data:\n\n", true}});
}

TEST(SseParser, KeepsOnlyTheIncompleteTail) {
  SseParser p;
  int n = 0;
  auto on = [&](const SseEvent&) { ++n; };
  for (int i = 0; i < 1000; ++i) p.feed("data: x\n\n", on);
  p.feed("data: partial", on);
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(p.buffered(), std::string_view("data: partial").size());
}

}  // namespace
}  // namespace kh::http
