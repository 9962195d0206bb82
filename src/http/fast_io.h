#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>

// After the socket headers, which it needs and does not include itself.
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

namespace kh::http::fastio {

// The one buffer of a read from a TCP socket that tells the reactor when it emptied the socket.
struct DrainingRead {
  boost::asio::mutable_buffer buffer;
  const boost::asio::mutable_buffer* begin() const { return &buffer; }
  const boost::asio::mutable_buffer* end() const { return &buffer + 1; }
};

}  // namespace kh::http::fastio

namespace boost::asio::detail {

// Asio tries every read on a socket at once unless the last one found the peer closed, so the
// read that waits for a client's next request, or for an upstream's answer right after its
// request went out, is a system call that fails. A TCP read that returns less than it asked for
// has taken all the socket held: it reports the socket drained (as a short write already does),
// and the next read is queued for the reactor's next readiness event without being tried. The
// reactor is edge-triggered, and data that arrives after the read raises a new event, so nothing
// is missed. Specialized for DrainingRead only: every other read behaves as Asio's own.
template <>
class reactive_socket_recv_op_base<kh::http::fastio::DrainingRead> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state,
                               const kh::http::fastio::DrainingRead& read,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(read.buffer),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    const bool is_stream = (o->state_ & socket_ops::stream_oriented) != 0;
    if (!socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(), o->flags_,
                                        is_stream, o->ec_, o->bytes_transferred_))
      return not_done;
    if (is_stream && o->bytes_transferred_ < o->buffer_.size()) return done_and_exhausted;
    return done;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  mutable_buffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail

namespace kh::http::fastio {

// Socket I/O for plain TCP on the hot path. Asio completes every asynchronous operation through
// its scheduler, even one that finished at once: a round through the event loop per operation.
// Writes are first tried without waiting on the non-blocking socket (the kernel buffer nearly
// always has room), and only what is left goes through the event loop; callers parse what is
// buffered before asking the socket for more. The socket must be in non-blocking mode
// (socket.non_blocking(true)).

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

inline bool wouldBlock(const error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

// Writes as much of `bufs` as the socket takes now: true when that was all of it. Otherwise `ec`
// is set for a failure, and `written` counts what went out (writeRest() sends the rest).
template <class Buffers>
bool writeAtOnce(tcp::socket& s, const Buffers& bufs, error_code& ec, std::size_t& written) {
  written = s.write_some(bufs, ec);
  if (ec) {
    written = 0;
    if (wouldBlock(ec)) ec = {};
    return false;
  }
  return written == net::buffer_size(bufs);
}

// Sends what follows the first `written` bytes of `bufs`, through the event loop.
template <class Buffers>
net::awaitable<error_code> writeRest(tcp::socket& s, const Buffers& bufs, std::size_t written) {
  beast::buffers_suffix<Buffers> rest(bufs);
  rest.consume(written);
  auto [wec, wn] = co_await net::async_write(s, rest, net::as_tuple(net::use_awaitable));
  co_return wec;
}

// Writes all of `bufs`.
template <class Buffers>
net::awaitable<error_code> write(tcp::socket& s, const Buffers& bufs) {
  error_code ec;
  std::size_t written = 0;
  if (writeAtOnce(s, bufs, ec, written) || ec) co_return ec;
  co_return co_await writeRest(s, bufs, written);
}

// What `buf` holds, as text.
inline std::string_view view(const beast::flat_buffer& buf) {
  return {static_cast<const char*>(buf.data().data()), buf.size()};
}

// Allocated bytes that follow whatever readMore() put in a buffer, so that text in it can be
// handed to the JSON parser in place (simdjson reads up to 64 bytes past the end).
inline constexpr std::size_t kReadPadding = 64;

// Reads what the peer sent next into `buf`: at least one byte, or an error (eof when the peer
// closed). Asio tries the read at once and waits in the reactor only when nothing is there,
// with no epoll_ctl; on a plain socket whose last read emptied it, it waits without trying
// (DrainingRead). `Stream` is a TCP socket or a TLS stream over one. Every byte the buffer
// holds is followed by at least kReadPadding allocated bytes (consume() does not move data).
template <class Stream>
net::awaitable<error_code> readMore(Stream& s, beast::flat_buffer& buf) {
  // A read only fills the buffer's free room: keep enough that a request or a burst of events
  // comes in one read.
  const std::size_t free_room = buf.capacity() - buf.size();
  const std::size_t room =
      std::clamp<std::size_t>(free_room > kReadPadding ? free_room - kReadPadding : 0, 4096, 65536);
  const auto space = buf.prepare(room + kReadPadding);
  const net::mutable_buffer into(space.data(), room);
  auto [ec, n] = co_await [&] {
    if constexpr (std::is_same_v<Stream, tcp::socket>)
      return s.async_read_some(DrainingRead{into}, net::as_tuple(net::use_awaitable));
    else
      return s.async_read_some(into, net::as_tuple(net::use_awaitable));
  }();
  if (!ec) buf.commit(n);
  co_return ec;
}

}  // namespace kh::http::fastio
