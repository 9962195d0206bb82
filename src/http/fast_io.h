#pragma once

#include <algorithm>
#include <cstddef>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace kh::http::fastio {

// Socket I/O for plain TCP on the hot path. Asio completes every asynchronous operation through
// its scheduler, even one that finished at once: a round through the event loop per operation.
// Writes are first tried without waiting on the non-blocking socket (the kernel buffer nearly
// always has room), and only what is left goes through the event loop; reads parse what is
// buffered before asking the socket for more. The socket must be in non-blocking mode
// (socket.non_blocking(true)).

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

inline bool wouldBlock(const error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

// Writes all of `bufs`.
template <class Buffers>
net::awaitable<error_code> write(tcp::socket& s, const Buffers& bufs) {
  error_code ec;
  const std::size_t total = net::buffer_size(bufs);
  const std::size_t n = s.write_some(bufs, ec);
  if (!ec && n == total) co_return error_code{};
  if (ec && !wouldBlock(ec)) co_return ec;
  beast::buffers_suffix<Buffers> rest(bufs);
  rest.consume(ec ? 0 : n);
  auto [wec, wn] = co_await net::async_write(s, rest, net::as_tuple(net::use_awaitable));
  co_return wec;
}

// Reads into `buf` and feeds `parser` until `done(parser)`, with Beast's error conventions:
// end_of_stream when the peer closed before sending anything, partial_message when it closed
// half-way, the parser's own errors (header_limit, body_limit, bad syntax) as they come. What is
// already buffered is parsed first, so a message that arrived whole costs no further read; reads
// are Asio's own (a speculative recv, else a wait in the reactor without an epoll_ctl).
template <class Parser, class Done>
net::awaitable<error_code> readParsed(tcp::socket& s, beast::flat_buffer& buf, Parser& parser,
                                      Done done) {
  error_code ec;
  for (;;) {
    while (buf.size() > 0 && !done(parser)) {
      const std::size_t used = parser.put(buf.data(), ec);
      buf.consume(used);
      if (ec == beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) co_return ec;
      if (used == 0) break;
    }
    if (done(parser)) co_return error_code{};
    const std::size_t room = std::clamp<std::size_t>(buf.capacity() - buf.size(), 4096, 65536);
    auto [rec, n] =
        co_await s.async_read_some(buf.prepare(room), net::as_tuple(net::use_awaitable));
    if (!rec) {
      buf.commit(n);
      continue;
    }
    if (rec != net::error::eof) co_return rec;
    if (!parser.got_some()) co_return beast::http::error::end_of_stream;
    parser.put_eof(ec);
    if (ec) co_return ec;
    co_return done(parser) ? error_code{} : error_code(beast::http::error::partial_message);
  }
}

}  // namespace kh::http::fastio
