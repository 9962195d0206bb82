#include "http/http1.h"

#include <string>

#include <gtest/gtest.h>

namespace kh::http::h1 {
namespace {

Parse request(std::string_view text, Head& head, std::string_view* why = nullptr,
              std::size_t limit = 64 * 1024) {
  return parseRequest(text, limit, head, why);
}

TEST(Http1, ParsesARequestHead) {
  const std::string text =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
      "Content-Length: 12\r\nX-Request-Id:   abc  \r\n\r\n{\"model\":1}\n";
  Head h;
  ASSERT_EQ(request(text, h), Parse::kDone);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.size, text.find("{"));
  ASSERT_EQ(h.fields.size(), 4u);
  EXPECT_EQ(h.field("x-request-id"), "abc");
  EXPECT_EQ(h.field("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(h.field("missing"), "");
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.close);
  EXPECT_FALSE(h.expect_continue);
}

// Names match in any case and only in case: bytes that differ by the case bit but are not letters
// ('^' and '~', '_' and DEL) do not make two names equal.
TEST(Http1, NamesMatchInAnyCaseOnly) {
  Head h;
  ASSERT_EQ(request("POST / HTTP/1.1\r\ncOnTeNt-LeNgTh: 5\r\nX-Long-Header-Name^: a\r\n"
                    "CONNECTION: CLOSE\r\nx_y: b\r\n\r\n",
                    h),
            Parse::kDone);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_TRUE(h.close);
  EXPECT_EQ(h.field("x-long-header-name~"), "");
  EXPECT_EQ(h.field("X-LONG-HEADER-NAME^"), "a");
  EXPECT_EQ(h.field("x-y"), "");
  EXPECT_EQ(h.field("X_Y"), "b");
}

// The end headComplete found is the one the parser would find.
TEST(Http1, HeadCompleteFindsTheEndTheParserUses) {
  for (const std::string text :
       {"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", "GET / HTTP/1.1\nA: b\n\nrest",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}) {
    std::size_t scanned = 0, end = 0;
    ASSERT_TRUE(headComplete(text, scanned, &end)) << text;
    Head with, without;
    std::string_view why;
    const bool response = text.starts_with("HTTP/");
    const Parse a = response ? parseResponse(text, 4096, with, &why, end)
                             : parseRequest(text, 4096, with, &why, end);
    const Parse b = response ? parseResponse(text, 4096, without, &why)
                             : parseRequest(text, 4096, without, &why);
    ASSERT_EQ(a, Parse::kDone) << text;
    ASSERT_EQ(b, Parse::kDone) << text;
    EXPECT_EQ(with.size, without.size) << text;
    EXPECT_EQ(with.fields.size(), without.fields.size()) << text;
  }
  // Searched from further on, the first blank line found may not be the head's end.
  std::size_t scanned = 10, end = 0;
  ASSERT_TRUE(headComplete("GET / HTTP/1.1\r\nHost: a\r\n\r\n", scanned, &end));
  EXPECT_EQ(end, std::string_view::npos);
}

TEST(Http1, ConnectionPersistence) {
  Head h;
  ASSERT_EQ(request("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", h), Parse::kDone);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(request("GET / HTTP/1.0\r\n\r\n", h), Parse::kDone);
  EXPECT_EQ(h.version_minor, 0);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", h), Parse::kDone);
  EXPECT_FALSE(h.close);
  ASSERT_EQ(request("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", h),
            Parse::kDone);
  EXPECT_TRUE(h.expect_continue);
}

TEST(Http1, BareLineFeedsAndLeadingBlankLines) {
  Head h;
  ASSERT_EQ(request("\r\n\nGET /health HTTP/1.1\nHost: x\n\n", h), Parse::kDone);
  EXPECT_EQ(h.target, "/health");
  EXPECT_EQ(h.field("host"), "x");
}

TEST(Http1, IncompleteHeadsNeedMoreAtEverySplit) {
  const std::string text = "POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
  Head h;
  for (std::size_t n = 0; n < text.size(); ++n)
    EXPECT_EQ(request(text.substr(0, n), h), Parse::kNeedMore) << n;
  EXPECT_EQ(request(text, h), Parse::kDone);
}

// Only what arrived since the last look is searched (a terminator split across two arrivals is
// still found), so a head sent a byte at a time costs one pass, not one per byte.
TEST(Http1, HeadCompleteSearchesOnlyWhatIsNew) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (const std::string& t : {text, std::string("GET / HTTP/1.1\nHost: a\n\n")}) {
    std::size_t scanned = 0;
    std::size_t done_at = 0;
    for (std::size_t n = 1; n <= t.size(); ++n) {
      const std::size_t before = scanned;
      if (headComplete(std::string_view(t).substr(0, n), scanned)) {
        done_at = n;
        break;
      }
      EXPECT_EQ(scanned, n) << n;
      EXPECT_GE(scanned, before);
    }
    EXPECT_EQ(done_at, t.size()) << t;
  }
  std::size_t scanned = 0;
  EXPECT_FALSE(headComplete("GET / HTTP/1.1\r\nHost: a\r\n", scanned));
  EXPECT_TRUE(headComplete("GET / HTTP/1.1\r\nHost: a\r\n\r\n", scanned));
}

TEST(Http1, HeadsBeyondTheLimitAreTooLarge) {
  Head h;
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n";
  EXPECT_EQ(request(big, h, nullptr, 100), Parse::kTooLarge);
  EXPECT_EQ(request(big.substr(0, 150), h, nullptr, 100), Parse::kTooLarge);
  EXPECT_EQ(request(big.substr(0, 50), h, nullptr, 100), Parse::kNeedMore);
  EXPECT_EQ(request(big, h, nullptr, big.size()), Parse::kDone);
}

TEST(Http1, MalformedRequestsSayWhy) {
  const struct {
    std::string text;
    std::string_view why;
  } cases[] = {
      {"GET /\r\n\r\n", "a malformed request line"},
      {"G(T / HTTP/1.1\r\n\r\n", "an invalid method"},
      {"GET /a\x01 HTTP/1.1\r\n\r\n", "an invalid request target"},
      {"GET / HTTP/2.0\r\n\r\n", "an unsupported HTTP version"},
      {"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", "obsolete line folding in a header field"},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "a header line without a colon"},
      {"GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n", "an invalid header field name"},
      {"GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", "a control character in a header field value"},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "an invalid Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "an invalid Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       "conflicting Content-Length fields"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "an unsupported Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       "both Content-Length and Transfer-Encoding"},
  };
  for (const auto& c : cases) {
    Head h;
    std::string_view why;
    EXPECT_EQ(request(c.text, h, &why), Parse::kBad) << c.text;
    EXPECT_EQ(why, c.why) << c.text;
  }
  Head h;
  ASSERT_EQ(request("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", h),
            Parse::kDone);
  EXPECT_EQ(h.content_length, 3u);
}

// Values are checked sixteen bytes at a time, the rest as their last sixteen: every length and
// place of a control character or DEL is refused, tabs and high bytes are not.
TEST(Http1, ControlCharactersAnywhereInAValueAreRefused) {
  for (std::size_t len = 1; len <= 40; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      for (const char c : {'\x01', '\x1f', '\x7f', '\t', '\xe3'}) {
        std::string value(len, 'v');
        value[at] = c;
        // Leading and trailing tabs are whitespace around the value, not in it.
        if (c == '\t' && (at == 0 || at + 1 == len)) continue;
        const std::string text = "GET / HTTP/1.1\r\nX-A: " + value + "\r\n\r\n";
        Head h;
        std::string_view why;
        const bool allowed = c == '\t' || c == '\xe3';
        EXPECT_EQ(request(text, h, &why), allowed ? Parse::kDone : Parse::kBad) << len << " " << at;
        if (!allowed) {
          EXPECT_EQ(why, "a control character in a header field value");
        }
      }
    }
  }
}

TEST(Http1, ParsesResponseHeads) {
  Head h;
  std::string_view why;
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n",
                          4096, h, &why),
            Parse::kDone);
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.chunked);
  EXPECT_FALSE(h.content_length);
  EXPECT_FALSE(h.close);

  // The reason phrase may be missing; HTTP/1.0 closes unless told otherwise.
  ASSERT_EQ(parseResponse("HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", 4096, h, &why),
            Parse::kDone);
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.close);

  // Transfer-Encoding beats Content-Length; one that is not chunked ends with the connection.
  ASSERT_EQ(
      parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    4096, h, &why),
      Parse::kDone);
  EXPECT_TRUE(h.chunked);
  EXPECT_FALSE(h.content_length);
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 4096, h, &why),
            Parse::kDone);
  EXPECT_FALSE(h.chunked);
  EXPECT_TRUE(h.close);

  EXPECT_EQ(parseResponse("<html>\r\n\r\n", 4096, h, &why), Parse::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 2x0 OK\r\n\r\n", 4096, h, &why), Parse::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 200OK\r\n\r\n", 4096, h, &why), Parse::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\n", 4096, h, &why), Parse::kNeedMore);
}

TEST(Http1, RebaseMovesEveryView) {
  const std::string text = "GET /a HTTP/1.1\r\nA: 1\r\nB:\r\n\r\n";
  Head h;
  ASSERT_EQ(request(text, h), Parse::kDone);
  const std::string copy = text;
  rebase(h, text.data(), copy.data());
  EXPECT_EQ(h.method.data(), copy.data());
  EXPECT_EQ(h.target, "/a");
  EXPECT_EQ(h.field("a"), "1");
  EXPECT_EQ(h.field("b"), "");
  for (const Field& f : h.fields) {
    EXPECT_GE(f.name.data(), copy.data());
    EXPECT_LE(f.name.data() + f.name.size(), copy.data() + copy.size());
  }
}

// Decoding every way the body can be split gives the same data and stops right after the body.
TEST(Http1, ChunkedBodiesAtEverySplit) {
  const std::string body =
      "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  const std::size_t end = body.find("NEXT");
  for (std::size_t split = 0; split <= body.size(); ++split) {
    ChunkedDecoder d;
    std::string out;
    std::size_t used = 0;
    for (const std::string_view part :
         {std::string_view(body).substr(0, split), std::string_view(body).substr(split)}) {
      // The decoder keeps partial sizes and data in its state: every byte it gets is used.
      std::string_view rest = part;
      while (!rest.empty() && !d.done()) {
        const auto step = d.decode(rest, out);
        ASSERT_FALSE(step.error) << split;
        used += step.consumed;
        rest.remove_prefix(step.consumed);
        if (step.consumed == 0) break;
      }
      if (d.done()) break;
    }
    EXPECT_TRUE(d.done()) << split;
    EXPECT_EQ(out, "hello 0123456789") << split;
    EXPECT_EQ(used, end) << split;
  }
}

TEST(Http1, ChunkedBareLineFeedsAndErrors) {
  {
    ChunkedDecoder d;
    std::string out;
    const auto step = d.decode("3\nabc\n0\n\n", out);
    EXPECT_TRUE(step.done);
    EXPECT_EQ(out, "abc");
  }
  for (const std::string_view bad :
       {"x\r\n", "\r\n", "3\r\nabcX", "3\r\nabc\rX", "1000000000000000\r\n"}) {
    ChunkedDecoder d;
    std::string out;
    EXPECT_TRUE(d.decode(bad, out).error) << bad;
  }
}

}  // namespace
}  // namespace kh::http::h1
