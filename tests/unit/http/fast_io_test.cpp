#include "http/fast_io.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace kh::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

// Every wait below is bounded: a read that never completes fails the test instead of hanging it.
constexpr auto kBound = std::chrono::seconds(10);

// A connected loopback pair: `ours` is read the gateway's way (non-blocking, in the reactor),
// `peer` is written to with blocking calls.
struct Pair {
  net::io_context ioc;
  tcp::socket ours{ioc};
  tcp::socket peer{ioc};

  Pair() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(ours);
    ours.non_blocking(true);
  }

  void send(std::string_view bytes) { net::write(peer, net::buffer(bytes)); }

  // Runs `read` on `ours` to completion (or until the bound) and returns its error.
  std::optional<error_code> run(std::function<net::awaitable<error_code>()> read) {
    std::optional<error_code> result;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { result = co_await read(); }, net::detached);
    ioc.restart();
    ioc.run_for(kBound);
    return result;
  }
};

std::string_view held(const boost::beast::flat_buffer& buf) {
  return fastio::view(buf);
}

TEST(FastIo, ReadsAfterOneThatEmptiedTheSocketWaitForTheNextData) {
  Pair p;
  boost::beast::flat_buffer buf;
  p.send("first");
  auto ec = p.run([&] { return fastio::readMore(p.ours, buf); });
  ASSERT_TRUE(ec);
  ASSERT_FALSE(*ec);
  EXPECT_EQ(held(buf), "first");
  buf.consume(buf.size());

  // The short read above emptied the socket, so this read is not tried at once: it must still
  // complete when the peer writes after it was queued.
  net::steady_timer later(p.ioc, std::chrono::milliseconds(20));
  later.async_wait([&](error_code) { p.send("second"); });
  ec = p.run([&] { return fastio::readMore(p.ours, buf); });
  ASSERT_TRUE(ec);
  ASSERT_FALSE(*ec);
  EXPECT_EQ(held(buf), "second");
  buf.consume(buf.size());

  // Data that arrived while no read was waiting is found by the next read.
  p.send("third");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ec = p.run([&] { return fastio::readMore(p.ours, buf); });
  ASSERT_TRUE(ec);
  ASSERT_FALSE(*ec);
  EXPECT_EQ(held(buf), "third");
  buf.consume(buf.size());

  p.peer.shutdown(tcp::socket::shutdown_send);
  ec = p.run([&] { return fastio::readMore(p.ours, buf); });
  ASSERT_TRUE(ec);
  EXPECT_EQ(*ec, net::error::eof);
}

// One draining read of at most `into.size()` bytes on `p.ours`: what it read, or nothing when it
// failed or did not complete within the bound.
std::optional<std::string> drainingRead(Pair& p, net::mutable_buffer into) {
  std::size_t n = 0;
  auto ec = p.run([&]() -> net::awaitable<error_code> {
    auto [rec, rn] = co_await p.ours.async_read_some(fastio::DrainingRead{into},
                                                     net::as_tuple(net::use_awaitable));
    n = rn;
    co_return rec;
  });
  if (!ec || *ec) return std::nullopt;
  return std::string(static_cast<const char*>(into.data()), n);
}

TEST(FastIo, AReadThatFillsItsBufferLeavesTheRestReadableAtOnce) {
  Pair p;
  p.send("0123456789abcdefghij");
  char chunk[8];
  // Two full reads (the socket may hold more, so nothing is assumed drained), then a short one.
  EXPECT_EQ(drainingRead(p, net::buffer(chunk)), "01234567");
  EXPECT_EQ(drainingRead(p, net::buffer(chunk)), "89abcdef");
  EXPECT_EQ(drainingRead(p, net::buffer(chunk)), "ghij");

  net::steady_timer later(p.ioc, std::chrono::milliseconds(20));
  later.async_wait([&](error_code) { p.send("k"); });
  EXPECT_EQ(drainingRead(p, net::buffer(chunk)), "k");
}

TEST(FastIo, ALargeBodyWrittenInPiecesArrivesWhole) {
  Pair p;
  std::string body(1 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    for (std::size_t at = 0; at < body.size(); at += 10'000)
      p.send(std::string_view(body).substr(at, 10'000));
  });
  boost::beast::flat_buffer buf;
  auto ec = p.run([&]() -> net::awaitable<error_code> {
    while (buf.size() < body.size())
      if (error_code rec = co_await fastio::readMore(p.ours, buf)) co_return rec;
    co_return error_code{};
  });
  writer.join();
  ASSERT_TRUE(ec);
  ASSERT_FALSE(*ec);
  EXPECT_TRUE(held(buf) == body);
}

}  // namespace
}  // namespace kh::http
