#include "http/server.h"

#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>
#include <stdexcept>
#include <unordered_set>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/status.hpp>

#include "core/clock.h"
#include "core/ids.h"
#include "http/deadline.h"
#include "http/fast_io.h"

namespace kh::http {

using namespace std::string_view_literals;

void HeaderBlock::add(std::string_view name, std::string_view value) {
  if (size_ == kMaxFields) throw std::length_error("too many response header fields");
  ::new (storage_ + size_ * sizeof(HeaderRef)) HeaderRef{name, value};
  ++size_;
}

void HeaderBlock::addNumber(std::string_view name, long long value) {
  char* first = digits_ + digits_used_;
  const auto r = std::to_chars(first, digits_ + sizeof digits_, value);
  if (r.ec != std::errc()) throw std::length_error("too many numeric response header fields");
  digits_used_ = static_cast<std::size_t>(r.ptr - digits_);
  add(name, std::string_view(first, r.ptr));
}

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kSessionBufferBytes = 4096;

// A response head, written in one pass into `out` sized up front (a head is some twenty pieces,
// and appending them one at a time cost more than the bytes). The body's framing field
// (`framing` and its value: Content-Length or Transfer-Encoding) comes last, when there is one.
void writeResponseHead(std::string& out, int status, std::span<const HeaderRef> headers,
                       std::string_view content_type, bool keep_alive, std::string_view framing,
                       std::string_view framing_value) {
  std::string status_line_buffer;
  std::string_view status_line = "HTTP/1.1 200 OK\r\n"sv;  // nearly every answer
  if (status != 200) {
    const auto reason = beast::http::obsolete_reason(static_cast<beast::http::status>(status));
    status_line_buffer.append("HTTP/1.1 "sv).append(std::to_string(status)).append(" "sv);
    status_line_buffer.append(reason.data(), reason.size()).append("\r\n"sv);
    status_line = status_line_buffer;
  }
  constexpr std::string_view kClose = "Connection: close\r\n";
  std::size_t n = status_line.size() + 2;
  if (!framing.empty()) n += framing.size() + framing_value.size() + 2;
  for (const auto& h : headers) n += h.name.size() + h.value.size() + 4;
  if (!content_type.empty()) n += "Content-Type: \r\n"sv.size() + content_type.size();
  if (!keep_alive) n += kClose.size();
  out.resize(n);
  char* w = out.data();
  auto put = [&](std::string_view s) {
    std::memcpy(w, s.data(), s.size());
    w += s.size();
  };
  put(status_line);
  for (const auto& h : headers) {
    put(h.name);
    put(": "sv);
    put(h.value);
    put("\r\n"sv);
  }
  if (!content_type.empty()) {
    put("Content-Type: "sv);
    put(content_type);
    put("\r\n"sv);
  }
  if (!keep_alive) put(kClose);
  if (!framing.empty()) {
    put(framing);
    put(framing_value);
    put("\r\n"sv);
  }
  put("\r\n"sv);
  assert(w == out.data() + out.size());
}

class SessionSink final : public ResponseSink {
 public:
  // `head` is the connection's buffer for response heads, reused from request to request.
  // `scratch`, when given, is the thread's: a head that goes out at once is written there, in
  // memory the thread used a moment ago, instead of in the connection's, which with hundreds of
  // connections has long left the cache.
  SessionSink(tcp::socket& stream, std::string& head, Deadline& deadline, bool keep_alive,
              std::chrono::seconds write_timeout, bool head_only = false, bool http10 = false,
              std::string* scratch = nullptr)
      : stream_(stream),
        head_(head),
        scratch_(scratch ? *scratch : head),
        deadline_(deadline),
        keep_alive_(keep_alive && !http10),
        write_timeout_(write_timeout),
        head_only_(head_only),
        http10_(http10) {}

  net::awaitable<bool> send(int status, std::span<const HeaderRef> headers,
                            std::string_view content_type, std::string_view body) override {
    if (started_) co_return false;
    started_ = true;
    char digits[24];
    const char* const digits_end = std::to_chars(digits, digits + sizeof digits, body.size()).ptr;
    writeResponseHead(scratch_, status, headers, content_type, keep_alive_, "Content-Length: "sv,
                      std::string_view(digits, static_cast<std::size_t>(digits_end - digits)));
    // HEAD answers carry the length a GET would have, but no body.
    std::array<net::const_buffer, 2> bufs{net::buffer(scratch_),
                                          head_only_ ? net::const_buffer() : net::buffer(body)};
    std::size_t written = 0;
    if (writeAtOnce(bufs, written)) co_return ok_;
    if (&scratch_ != &head_) {
      // The rest goes out while other requests of this thread use the scratch buffer.
      head_ = scratch_;
      bufs[0] = net::buffer(head_);
    }
    co_return co_await writeRest(bufs, written);
  }

  net::awaitable<bool> begin(int status, std::span<const HeaderRef> headers,
                             std::string_view content_type) override {
    if (started_) co_return false;
    started_ = chunked_ = true;
    // HTTP/1.0 has no chunked encoding: the body simply ends when the connection closes.
    writeResponseHead(head_, status, headers, content_type, keep_alive_,
                      http10_ ? ""sv : "Transfer-Encoding: "sv, "chunked"sv);
    head_pending_ = true;
    co_return ok_;
  }

  net::awaitable<bool> write(std::string_view data, std::string_view more) override {
    if (!ok_ || !chunked_ || ended_) co_return false;
    if (data.empty() && more.empty()) co_return true;  // an empty chunk would end the body
    ChunkWrite w;
    if (writeChunkAtOnce(data, more, false, w)) co_return ok_;
    co_return co_await writeRest(w.used(), w.written);
  }

  net::awaitable<bool> end(std::string_view final_data, std::string_view more) override {
    if (!ok_ || !chunked_ || ended_) co_return false;
    ended_ = true;
    ChunkWrite w;
    if (writeChunkAtOnce(final_data, more, true, w)) co_return ok_;
    co_return co_await writeRest(w.used(), w.written);
  }

  bool started() const override { return started_; }
  bool ok() const { return ok_; }
  bool complete() const { return started_ && (!chunked_ || ended_); }
  bool keepAlive() const { return keep_alive_; }

 private:
  // One chunk's gather write; it lives in the awaiting frame, so a chunk the socket takes at once
  // (the usual case) costs no coroutine of its own.
  struct ChunkWrite {
    char size_line[24];
    std::array<net::const_buffer, 6> bufs;
    std::size_t n = 0;
    std::size_t written = 0;
    std::span<const net::const_buffer> used() const { return {bufs.data(), n}; }
  };

  // Writes the pending head, the chunk framing around `data` and `more`, and the last-chunk
  // marker when `last`, as far as the socket takes them now: true when done (see writeAtOnce()).
  bool writeChunkAtOnce(std::string_view data, std::string_view more, bool last, ChunkWrite& w) {
    if (head_pending_) {
      w.bufs[w.n++] = net::buffer(head_);
      head_pending_ = false;
    }
    if (const std::size_t size = data.size() + more.size(); size != 0) {
      if (!http10_) {
        const std::size_t size_len =
            fmt::format_to_n(w.size_line, sizeof w.size_line, "{:x}\r\n", size).size;
        w.bufs[w.n++] = net::buffer(w.size_line, size_len);
      }
      if (!data.empty()) w.bufs[w.n++] = net::buffer(data);
      if (!more.empty()) w.bufs[w.n++] = net::buffer(more);
      if (!http10_) w.bufs[w.n++] = net::buffer("\r\n", 2);
    }
    if (last && !http10_) w.bufs[w.n++] = net::buffer("0\r\n\r\n", 5);
    if (w.n == 0) return true;
    return writeAtOnce(w.used(), w.written);
  }

  // Writes `bufs` as far as the socket takes them now: true when all went out (or the sink had
  // already failed, ok_ then false). Otherwise writeRest() must send the rest.
  template <class Buffers>
  bool writeAtOnce(const Buffers& bufs, std::size_t& written) {
    if (!ok_) return true;
    error_code ec;
    if (fastio::writeAtOnce(stream_, bufs, ec, written)) return true;
    if (ec) {
      ok_ = false;
      return true;
    }
    return false;
  }

  template <class Buffers>
  net::awaitable<bool> writeRest(const Buffers& bufs, std::size_t written) {
    // A client that stops reading must not hold the stream (and its upstream) forever; between
    // writes (while the upstream thinks) no deadline runs.
    deadline_.expiresAfter(write_timeout_);
    const error_code ec = co_await fastio::writeRest(stream_, bufs, written);
    deadline_.clear();
    if (ec) ok_ = false;
    co_return ok_;
  }

  tcp::socket& stream_;
  std::string& head_;
  std::string& scratch_;
  Deadline& deadline_;
  bool keep_alive_;
  std::chrono::seconds write_timeout_;
  bool head_only_;
  bool http10_;
  bool head_pending_ = false;
  bool started_ = false, chunked_ = false, ended_ = false, ok_ = true;
};

enum class BodyRead { kDone, kTooLarge, kBad, kGone };

static_assert(fastio::kReadPadding >= kBodyPadding);

// Whether the request's whole body is in `buf` already (a Content-Length body that came with its
// head, the usual case): then the buffer is not read into again until the request is answered.
bool bodyBuffered(const beast::flat_buffer& buf, const Request& req) {
  return !req.head.chunked &&
         buf.size() >= static_cast<std::size_t>(req.head.content_length.value_or(0));
}

// Takes a body that is in `buf` already where it lies, without a copy or a coroutine: true when
// it was. readMore() keeps padding past whatever the buffer holds.
bool takeBufferedBody(beast::flat_buffer& buf, Request& req) {
  if (!bodyBuffered(buf, req)) return false;
  const auto want = static_cast<std::size_t>(req.head.content_length.value_or(0));
  req.body = std::string_view(static_cast<const char*>(buf.data().data()), want);
  buf.consume(want);
  return true;
}

// Reads the request's body into req.body_storage, with room for the JSON parser's padding.
net::awaitable<BodyRead> readBody(tcp::socket& stream, beast::flat_buffer& buf, Request& req,
                                  std::size_t max_bytes) {
  std::string& body = req.body_storage;
  body.clear();
  req.body = {};
  if (req.head.chunked) {
    h1::ChunkedDecoder decoder;
    for (;;) {
      if (buf.size() > 0) {
        const auto step = decoder.decode(fastio::view(buf), body);
        buf.consume(step.consumed);
        if (step.error) co_return BodyRead::kBad;
        if (body.size() > max_bytes) co_return BodyRead::kTooLarge;
        if (step.done) {
          body.reserve(body.size() + kBodyPadding);
          req.body = body;
          co_return BodyRead::kDone;
        }
      }
      const error_code ec = co_await fastio::readMore(stream, buf);
      if (ec) co_return BodyRead::kGone;
    }
  }
  const std::size_t want = static_cast<std::size_t>(req.head.content_length.value_or(0));
  if (want == 0) co_return BodyRead::kDone;
  body.reserve(want + kBodyPadding);
  for (;;) {
    const std::size_t take = std::min(buf.size(), want - body.size());
    body.append(static_cast<const char*>(buf.data().data()), take);
    buf.consume(take);
    if (body.size() == want) {
      req.body = body;
      co_return BodyRead::kDone;
    }
    const error_code ec = co_await fastio::readMore(stream, buf);
    if (ec) co_return BodyRead::kGone;
  }
}

struct SessionState {
  tcp::socket* stream;
  bool idle = true;  // waiting for the first byte of a request: safe to close on drain
};

// What the watch on a session's client socket reaches: the request in flight, if any. It outlives
// the session's requests (a watch can complete after its request is over), hence shared.
struct WatchState {
  std::uint64_t generation = 0;
  CancelSignal* cancel = nullptr;
  char peek[1];
};

// A request whose handler is running, in its worker's list until the handler returns. Its client
// is watched for a hang-up only once the request has run for a while: most answers take less,
// and arming a watch costs a system call and a cancellation per request.
struct InFlight {
  InFlight* prev = nullptr;
  InFlight* next = nullptr;
  tcp::socket* stream = nullptr;
  std::shared_ptr<WatchState> watch;
  std::chrono::steady_clock::time_point since;
  bool armed = false;
};

// Arms `f`'s watch: EOF or a reset on the client socket means the client hung up, and its
// upstream request must be cancelled now rather than at the next write. Readable data is a
// pipelined next request and stays in the socket.
void armWatch(InFlight& f) {
  f.armed = true;
  const std::uint64_t generation = f.watch->generation;
  f.stream->async_receive(net::buffer(f.watch->peek), tcp::socket::message_peek,
                          [watch = f.watch, generation](error_code ec, std::size_t n) {
                            if (watch->generation != generation || !watch->cancel) return;
                            // EOF (0 bytes) or an error other than our own cancellation.
                            if ((!ec && n == 0) || (ec && ec != net::error::operation_aborted))
                              watch->cancel->fire();
                          });
}

}  // namespace

struct Server::Worker {
  Worker(Server& server)
      // Each socket and timer of a worker is only ever used from the worker's own thread, so
      // the reactor need not lock around every read and write; posting from other threads (a
      // drain, a resolver) stays safe.
      : server(server),
        ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
        acceptor(ioc),
        upstream(ioc.get_executor(), server.client_tls_) {}

  net::awaitable<void> acceptLoop();
  net::awaitable<void> session(tcp::socket socket);
  net::awaitable<bool> reject(tcp::socket& stream, Deadline& deadline, const core::Error& error,
                              std::string_view request_id = {});

  // Requests in flight, oldest first; a tick arms the watch of those running since before it.
  void addInFlight(InFlight& f);
  void removeInFlight(InFlight& f);
  void scheduleWatchTick();
  void watchTick();

  Server& server;
  net::io_context ioc;
  tcp::acceptor acceptor;
  UpstreamPool upstream;
  std::string head_scratch;  // see SessionSink
  std::unordered_set<SessionState*> sessions;
  InFlight in_flight;  // the list's sentinel
  net::steady_timer watch_timer{ioc};
  bool watch_ticking = false;
};

// How long a request runs before its client is watched, and how often the list is looked at: a
// client that hangs up is noticed well within a second.
constexpr auto kWatchAfter = std::chrono::milliseconds(100);
constexpr auto kWatchTick = std::chrono::milliseconds(250);

void Server::Worker::addInFlight(InFlight& f) {
  if (!in_flight.next) in_flight.next = in_flight.prev = &in_flight;
  f.since = core::coarseNow();
  f.prev = in_flight.prev;
  f.next = &in_flight;
  in_flight.prev->next = &f;
  in_flight.prev = &f;
  // The tick stops when it finds nothing in flight, so under load it restarts at most once per
  // tick, and an idle server has no timer running.
  if (!watch_ticking) scheduleWatchTick();
}

void Server::Worker::scheduleWatchTick() {
  watch_ticking = true;
  watch_timer.expires_after(kWatchTick);
  watch_timer.async_wait([this](error_code ec) {
    if (ec) {
      watch_ticking = false;
      return;
    }
    watchTick();
  });
}

void Server::Worker::removeInFlight(InFlight& f) {
  f.prev->next = f.next;
  f.next->prev = f.prev;
  f.prev = f.next = nullptr;
}

void Server::Worker::watchTick() {
  const auto cutoff = core::coarseNow() - kWatchAfter;
  for (InFlight* f = in_flight.next; f != &in_flight && f->since <= cutoff; f = f->next)
    if (!f->armed) armWatch(*f);
  if (in_flight.next == &in_flight) {
    watch_ticking = false;
    return;
  }
  scheduleWatchTick();
}

net::awaitable<void> Server::Worker::acceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (!acceptor.is_open()) co_return;
      // Out of file descriptors and the like: back off instead of spinning.
      net::steady_timer t(ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);
    net::co_spawn(ioc, session(std::move(socket)), net::detached);
  }
}

net::awaitable<bool> Server::Worker::reject(tcp::socket& stream, Deadline& deadline,
                                            const core::Error& error, std::string_view request_id) {
  auto [body, type] = server.render_error_(error);
  std::string head;
  SessionSink sink(stream, head, deadline, false, server.options_.write_timeout);
  const std::string id = request_id.empty() ? core::newRequestId() : std::string(request_id);
  HeaderBlock headers;
  headers.add("x-request-id", id);
  co_return co_await sink.send(error.http_status, headers.fields(), type, body);
}

net::awaitable<void> Server::Worker::session(tcp::socket socket) {
  error_code ec0;
  const auto remote = socket.remote_endpoint(ec0);
  std::string remote_ip = ec0 ? std::string() : remote.address().to_string();
  tcp::socket stream(std::move(socket));
  // Idle, read and write timeouts: whichever phase the connection is in, time is up means close.
  Deadline deadline(ioc.get_executor(), [&stream] {
    error_code ignored;
    stream.close(ignored);
  });
  SessionState state{&stream};
  InFlight in_flight_entry;
  in_flight_entry.stream = &stream;
  in_flight_entry.watch = std::make_shared<WatchState>();
  WatchState& watch = *in_flight_entry.watch;
  sessions.insert(&state);
  beast::flat_buffer buf;
  // A read fills at most the buffer's free capacity: with room reserved, a request comes in one.
  buf.reserve(kSessionBufferBytes + fastio::kReadPadding);
  std::string response_head;  // streamed answers' heads, and what did not go out at once
  const ServerOptions& opt = server.options_;

  bool linger = false;  // we refused a body the client may still be sending
  // One request at a time, reused: its head's fields and the copy of the head keep their room.
  Request req;
  req.remote_ip = std::move(remote_ip);
  std::string head_text;
  head_text.reserve(1024);
  for (;;) {
    if (server.draining_.load(std::memory_order_relaxed)) break;
    state.idle = buf.size() == 0;
    deadline.expiresAfter(opt.idle_timeout);
    std::string_view why;
    h1::Parse parsed = h1::Parse::kNeedMore;
    bool gone = false;
    std::size_t scanned = 0;
    for (;;) {
      const std::string_view data = fastio::view(buf);
      if (std::size_t head_end = 0; h1::headComplete(data, scanned, &head_end)) {
        parsed = h1::parseRequest(data, opt.max_header_bytes, req.head, &why, head_end);
        if (parsed != h1::Parse::kNeedMore) break;
        scanned = data.size();  // blank lines before the request line: look further on
      } else if (data.size() >= opt.max_header_bytes) {
        parsed = h1::Parse::kTooLarge;
        break;
      }
      const error_code rec = co_await fastio::readMore(stream, buf);
      if (rec) {
        gone = true;
        break;
      }
      state.idle = false;
    }
    state.idle = false;
    if (gone) break;
    if (parsed == h1::Parse::kTooLarge) {
      const core::Error e{core::ErrorCode::kHeadersTooLarge,
                          431,
                          "Request headers are too large",
                          {},
                          false,
                          {},
                          {}};
      co_await reject(stream, deadline, e);
      break;
    }
    if (parsed == h1::Parse::kBad) {
      const core::Error e{core::ErrorCode::kInvalidRequest,
                          400,
                          "Malformed HTTP request: " + std::string(why),
                          {},
                          false,
                          {},
                          {}};
      co_await reject(stream, deadline, e);
      break;
    }
    const char* head_at = static_cast<const char*>(buf.data().data());
    buf.consume(req.head.size);
    if (!bodyBuffered(buf, req)) {
      // Reading the body may move what `buf` holds: the head moves to a buffer of its own first.
      head_text.assign(head_at, req.head.size);
      h1::rebase(req.head, head_at, head_text.data());
    }

    server.inflight_.fetch_add(1, std::memory_order_relaxed);
    struct InflightGuard {
      std::atomic<int>& n;
      ~InflightGuard() { n.fetch_sub(1, std::memory_order_relaxed); }
    } inflight_guard{server.inflight_};

    std::string_view client_request_id = req.header("x-request-id");
    if (client_request_id.size() > 200) client_request_id = {};
    if (req.head.content_length && *req.head.content_length > opt.max_body_bytes) {
      // Content-Length alone already says the body is too big.
      const core::Error too_large = core::Error::bodyTooLarge(opt.max_body_bytes);
      co_await reject(stream, deadline, too_large, client_request_id);
      linger = true;
      break;
    }
    if (req.head.expect_continue) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const error_code cec = co_await fastio::write(stream, net::buffer(kContinue));
      if (cec) break;
    }
    deadline.expiresAfter(opt.request_timeout);
    BodyRead body = BodyRead::kDone;
    if (!takeBufferedBody(buf, req)) body = co_await readBody(stream, buf, req, opt.max_body_bytes);
    if (body != BodyRead::kDone) {
      if (body == BodyRead::kTooLarge) {
        const core::Error too_large = core::Error::bodyTooLarge(opt.max_body_bytes);
        co_await reject(stream, deadline, too_large, client_request_id);
        linger = true;
      } else if (body == BodyRead::kBad) {
        const core::Error e{core::ErrorCode::kInvalidRequest,
                            400,
                            "Malformed HTTP request: a malformed chunked body",
                            {},
                            false,
                            {},
                            {}};
        co_await reject(stream, deadline, e, client_request_id);
      }
      break;
    }
    deadline.clear();

    const bool keep_alive = !req.head.close && !server.draining_.load();
    SessionSink sink(stream, response_head, deadline, keep_alive, opt.write_timeout,
                     req.method() == "HEAD", req.head.version_minor == 0, &head_scratch);
    CancelSignal cancel;

    // The client is watched while the handler runs (see InFlight). A watch can complete after
    // this request is over (it is cancelled below), so it reaches the request only through the
    // session's watch state and its generation.
    ++watch.generation;
    watch.cancel = &cancel;
    in_flight_entry.armed = false;
    addInFlight(in_flight_entry);

    Exchange exchange{req, sink, cancel, upstream};
    std::string failure;
    try {
      co_await server.handler_(exchange);
    } catch (const std::exception& e) {
      // Handlers report errors as values; this is a last line of defence, not a code path.
      failure = e.what();
    }
    if (!failure.empty() && !sink.started()) {
      const auto [body, type] = server.render_error_(core::Error::internal(failure));
      const std::span<const HeaderRef> none;
      co_await sink.send(500, none, type, body);
    }
    removeInFlight(in_flight_entry);
    watch.cancel = nullptr;
    if (in_flight_entry.armed) {
      error_code cancel_ec;
      stream.cancel(cancel_ec);
    }
    if (!sink.complete() || !sink.ok() || !sink.keepAlive() || cancel.fired()) break;
  }

  sessions.erase(&state);
  error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  if (linger) {
    // Closing with unread request bytes makes the kernel send a reset, which can destroy the 413
    // before the client reads it; so read and discard for a bounded time first.
    deadline.expiresAfter(std::chrono::seconds(2));
    std::size_t discarded = 0;
    // What is read is thrown away, so every lingering session of this thread may read into the
    // same buffer; one in the coroutine frame made every connection's frame 16 KB larger.
    thread_local char discard[16384];
    while (discarded < (64u << 20)) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(discard), kTuple);
      if (ec) break;
      discarded += n;
    }
  }
  stream.close(ignored);
}

// ---------------------------------------------------------------------------------------------

Server::Server(ServerOptions options, Handler handler, ErrorRenderer render_error,
               net::ssl::context& client_tls)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      render_error_(std::move(render_error)),
      client_tls_(client_tls) {}

Server::~Server() {
  stop();
}

std::uint16_t Server::start() {
  const int n = std::max(1, options_.threads);
  const auto address = net::ip::make_address(options_.host);
  std::uint16_t port = options_.port;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(*this);
    const tcp::endpoint ep(address, port);
    w->acceptor.open(ep.protocol());
    w->acceptor.set_option(tcp::acceptor::reuse_address(true));
    int one = 1;
    ::setsockopt(w->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    w->acceptor.bind(ep);
    w->acceptor.listen(net::socket_base::max_listen_connections);
    port = w->acceptor.local_endpoint().port();  // port 0: the others share what the first got
    net::co_spawn(w->ioc, w->acceptLoop(), net::detached);
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    threads_.emplace_back([this, worker = w.get()] {
      if (options_.thread_start) options_.thread_start(worker->ioc);
      // A handler exception escaping co_spawn(detached) would end the thread; keep serving.
      for (;;) {
        try {
          worker->ioc.run();
          break;
        } catch (const std::exception&) {
        }
      }
      if (options_.thread_stop) options_.thread_stop();
    });
  }
  return port;
}

void Server::beginDrain() {
  draining_.store(true);
  for (auto& w : workers_) {
    net::post(w->ioc, [worker = w.get()] {
      error_code ignored;
      worker->acceptor.close(ignored);
      for (SessionState* s : worker->sessions)
        if (s->idle) s->stream->close(ignored);
    });
  }
}

void Server::stop() {
  for (auto& w : workers_) w->ioc.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  workers_.clear();
}

}  // namespace kh::http
