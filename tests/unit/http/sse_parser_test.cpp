#include "http/sse_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
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

// The event stream as WHATWG HTML §9.2 reads it, the whole text at once, line by line: what the
// parser must deliver however its input is split, whichever way it reads each event.
std::vector<Seen> readLineByLine(std::string_view in) {
  std::vector<Seen> out;
  Seen cur{};
  bool pending = false;
  int data_lines = 0;
  std::size_t start = 0;  // where the event's raw bytes begin: past the last blank line
  auto dispatch = [&](std::size_t end) {
    if (pending) {
      cur.raw = std::string(in.substr(start, end - start));
      cur.has_data = data_lines > 0;
      out.push_back(cur);
    }
    cur = {};
    pending = false;
    data_lines = 0;
    start = end;
  };
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t end = in.find_first_of("\r\n", pos);
    std::size_t next;
    if (end == std::string_view::npos) {
      end = next = in.size();
    } else {
      next = in[end] == '\r' && end + 1 < in.size() && in[end + 1] == '\n' ? end + 2 : end + 1;
    }
    const std::string_view line = in.substr(pos, end - pos);
    pos = next;
    if (line.empty()) {
      dispatch(next);
      continue;
    }
    pending = true;
    if (line.front() == ':') continue;
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (name == "data") {
      if (data_lines++ > 0) cur.data.push_back('\n');
      cur.data.append(value);
    } else if (name == "event") {
      cur.event = std::string(value);
    } else if (name == "id") {
      cur.id = std::string(value);
    }
  }
  dispatch(in.size());
  return out;
}

// Streams of random lines (mostly the usual `event:`/`data:`/blank events, with every other field,
// comments and all three line ends mixed in), fed in random pieces: the same events as reading
// them line by line.
TEST(SseParser, RandomStreamsInRandomPiecesReadAsLineByLine) {
  static constexpr std::string_view kLines[] = {"event: message_start",
                                                "event: ping",
                                                "event: ",
                                                "event:x",
                                                "event",
                                                "data: {\"a\":1}",
                                                "data: [DONE]",
                                                "data: ",
                                                "data:",
                                                "data",
                                                "data:  two spaces",
                                                "id: 7",
                                                ": comment",
                                                "retry: 5",
                                                "",
                                                "",
                                                "",
                                                "data: {\"type\":\"content_block_delta\"}"};
  static constexpr std::string_view kEnds[] = {"\n", "\n", "\n", "\r\n", "\r\n", "\r"};
  std::mt19937 rng(20261201);
  for (int round = 0; round < 20000; ++round) {
    std::string in;
    const int lines = 1 + static_cast<int>(rng() % 10);
    // Half the streams end every line alike, as servers do.
    const bool one_end = rng() % 2 == 0;
    const std::string_view shared_end = kEnds[rng() % std::size(kEnds)];
    for (int i = 0; i < lines; ++i) {
      in.append(kLines[rng() % std::size(kLines)]);
      if (i + 1 < lines || rng() % 4 != 0)
        in.append(one_end ? shared_end : kEnds[rng() % std::size(kEnds)]);
    }
    std::vector<std::size_t> cuts;
    const int pieces = static_cast<int>(rng() % 4);
    for (int i = 0; i < pieces; ++i) cuts.push_back(rng() % (in.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    ASSERT_EQ(parseSplit(in, cuts), readLineByLine(in))
        << "stream: " << ::testing::PrintToString(in);
  }
}

}  // namespace
}  // namespace kh::http
