#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.h"
#include "http/cancel.h"
#include "http/http1.h"
#include "http/upstream.h"

namespace kh::http {

// Readable bytes that follow a request body (see Request::body).
inline constexpr std::size_t kBodyPadding = 64;

// One request, as a handler sees it, valid while it is handled. The head's views point into the
// connection's buffer or its own copy of the head.
struct Request {
  h1::Head head;
  // At least kBodyPadding readable bytes follow the body, so that a JSON parser reads it in
  // place. It lies in the connection's buffer when it came whole with the head (the usual case),
  // else in body_storage.
  std::string_view body;
  std::string body_storage;
  std::string remote_ip;

  std::string_view method() const { return head.method; }
  std::string_view target() const { return head.target; }
  // The first field named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const { return head.field(name); }
};

// One response header field, as views into strings that outlive the write.
struct HeaderRef {
  std::string_view name;
  std::string_view value;
};

// The header fields of one response, gathered without copying a string or allocating: the
// names and values must outlive the write (numbers are kept in the block itself). Not movable,
// since what it keeps points into itself.
class HeaderBlock {
 public:
  static constexpr std::size_t kMaxFields = 16;
  HeaderBlock() = default;
  HeaderBlock(const HeaderBlock&) = delete;
  HeaderBlock& operator=(const HeaderBlock&) = delete;

  // Beyond kMaxFields a field is a programming error, not an input one: it throws.
  void add(std::string_view name, std::string_view value);
  void addNumber(std::string_view name, long long value);
  std::span<const HeaderRef> fields() const {
    return {std::launder(reinterpret_cast<const HeaderRef*>(storage_)), size_};
  }

 private:
  // Raw room, not arrays of values: a block lives in a coroutine frame, and initialising all of
  // it (some 600 bytes) for the few fields a response has wrote ten cache lines per response.
  alignas(HeaderRef) unsigned char storage_[kMaxFields * sizeof(HeaderRef)];
  std::size_t size_ = 0;
  char digits_[96];
  std::size_t digits_used_ = 0;
};

// Where a handler writes its answer; it never sees the socket (DESIGN.md). Every method returns
// false once the client is gone, after which further calls are no-ops.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // A whole response with Content-Length.
  virtual net::awaitable<bool> send(int status, std::span<const HeaderRef> headers,
                                    std::string_view content_type, std::string_view body) = 0;
  // A streamed response (chunked): begin(), any number of write(), end(). The head goes out with
  // the first write (or end) so that it and the first data share one packet; `final_data` lets
  // the last piece share one with the terminating chunk. A piece may come in two parts, `data`
  // then `more`, so that text kept elsewhere (an upstream's buffer) need not be copied first.
  virtual net::awaitable<bool> begin(int status, std::span<const HeaderRef> headers,
                                     std::string_view content_type) = 0;
  virtual net::awaitable<bool> write(std::string_view data, std::string_view more = {}) = 0;
  virtual net::awaitable<bool> end(std::string_view final_data = {},
                                   std::string_view more = {}) = 0;
  virtual bool started() const = 0;
};

// Everything a handler gets for one request. All of it belongs to the current io_context thread.
struct Exchange {
  Request& request;
  ResponseSink& sink;
  CancelSignal& cancel;
  UpstreamPool& upstream;
};

using Handler = std::function<net::awaitable<void>(Exchange&)>;
// Renders an error the server itself detects (oversized header or body, unparsable request) in
// the API's error shape; returns the body and content type.
using ErrorRenderer = std::function<std::pair<std::string, std::string>(const core::Error&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int threads = 1;
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds request_timeout{60};
  std::chrono::seconds write_timeout{60};
  // Run on each worker thread before and after it serves its io_context.
  std::function<void(net::io_context&)> thread_start;
  std::function<void()> thread_stop;
};

// The proxy listener: one io_context and one SO_REUSEPORT acceptor per worker thread, so a
// connection, its requests and their upstream connections stay on one thread without locks.
class Server {
 public:
  Server(ServerOptions options, Handler handler, ErrorRenderer render_error,
         net::ssl::context& client_tls);
  ~Server();

  // Binds and starts the worker threads; returns the bound port. Throws on bind errors.
  std::uint16_t start();
  // Stops accepting and closes idle keep-alive connections; requests in flight go on.
  void beginDrain();
  // Requests being handled right now, across all workers.
  int inflight() const { return inflight_.load(std::memory_order_relaxed); }
  // Ends all work at once and joins the threads.
  void stop();

  struct Worker;

 private:
  ServerOptions options_;
  Handler handler_;
  ErrorRenderer render_error_;
  net::ssl::context& client_tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<int> inflight_{0};
  std::atomic<bool> draining_{false};
};

}  // namespace kh::http
