#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "http/cancel.h"
#include "http/deadline.h"
#include "http/http1.h"
#include "http/url.h"

namespace kh::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A destination resolved once (when a provider is built) rather than per request: the parsed
// URL, whether and how to go through a proxy, and the key of its connection pool.
struct UpstreamTarget {
  std::string url;  // absolute
  Endpoint endpoint;
  std::string proxy;       // proxy URL, or "" for a direct connection
  std::string proxy_auth;  // "Basic …" for plain-HTTP requests through an authenticating proxy
  std::string pool_key;
  std::string host_header;  // the Host field's value: host, and the port unless the default

  static core::Result<UpstreamTarget> make(std::string url, const ProxySettings& proxy);
};

struct UpstreamRequest {
  std::string_view method = "POST";
  // Owned by the provider, which outlives every request made from it.
  const UpstreamTarget* target = nullptr;
  // Appended to the target's path, for paths that name the model (Gemini's
  // "/models/{model}:generateContent"); the target then ends where the model id begins.
  std::string path_suffix;
  const HeaderList* fixed_headers = nullptr;  // the provider's own (auth, content type, extras)
  HeaderList headers;                         // per request, usually none
  std::string_view accept = "application/json";
  std::string body;
  // Sent instead of `body` when set: a body owned elsewhere that outlives the request (the
  // client's own, forwarded unchanged), which then need not be copied.
  std::optional<std::string_view> borrowed_body;
  std::string_view bodyBytes() const { return borrowed_body ? *borrowed_body : body; }
  Clock::time_point deadline = core::coarseNow() + std::chrono::seconds(600);
};

class UpstreamPool;

// One pooled keep-alive connection, plain or TLS, direct or through a proxy.
struct UpstreamConn {
  using Socket = net::ip::tcp::socket;
  using Tls = net::ssl::stream<Socket>;
  explicit UpstreamConn(const net::any_io_executor& ex);

  std::optional<Socket> plain;
  std::optional<Tls> tls;
  beast::flat_buffer buf;
  std::string request_head;  // heads that must wait for the socket, reused from request to request
  std::string pool_key;
  bool absolute_form = false;  // plain HTTP through a proxy: request-target is the full URL
  Clock::time_point idle_since{};
  Deadline deadline;  // closes the socket when the request's time is up
  // The answer's head (its views point into head_text, or into buf when the whole answer came
  // at once) and the decoded pieces of a chunked body: they live with the connection, so a
  // request allocates none of them.
  h1::Head head;
  std::string head_text;
  std::string chunk_out;

  Socket& socket() { return tls ? tls->next_layer() : *plain; }
  bool timedOut() const { return deadline.expired(); }
  void close();
};

// The status and headers of an upstream answer, and its body read piece by piece. Owns the
// connection until the body is finished; then gives it back to the pool if it can be reused.
class UpstreamResponse {
 public:
  UpstreamResponse(UpstreamPool& pool, std::unique_ptr<UpstreamConn> conn, CancelSignal* cancel);
  ~UpstreamResponse();
  UpstreamResponse(const UpstreamResponse&) = delete;
  UpstreamResponse& operator=(const UpstreamResponse&) = delete;

  int status() const { return conn_->head.status; }
  // The first header field named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const { return conn_->head.field(name); }
  bool done() const { return done_; }

  // The next piece of the body; an empty view means the body is complete. The view is valid
  // until the next call.
  net::awaitable<core::Result<std::string_view>> read();
  // The whole (rest of the) body, failing with 502 beyond `limit` bytes.
  net::awaitable<core::Result<std::string>> readAll(std::size_t limit);
  // The whole body when it came with the head (the usual case for a small answer), as a view
  // into the connection's buffer: nothing to await and nothing copied. It stays valid while this
  // response lives, and at least fastio::kReadPadding readable bytes follow it. nullopt when more
  // is to be read or it would exceed `limit`: then readBody().
  std::optional<std::string_view> takeBufferedBody(std::size_t limit);
  // The whole body read to its end, failing with 502 beyond `limit` bytes; valid while this
  // response lives and followed by fastio::kReadPadding readable bytes, like takeBufferedBody().
  net::awaitable<core::Result<std::string_view>> readBody(std::size_t limit);

 private:
  friend class UpstreamPool;
  net::awaitable<core::Status> readHeader();
  net::awaitable<boost::system::error_code> readMore();
  core::Error ioError(const boost::system::error_code& ec, std::string_view during) const;

  // How the body's end is known.
  enum class Framing { kNone, kLength, kChunked, kUntilClose };

  UpstreamPool& pool_;
  std::unique_ptr<UpstreamConn> conn_;
  CancelSignal* cancel_;
  Framing framing_ = Framing::kNone;
  std::uint64_t remaining_ = 0;  // kLength: body bytes still to come
  h1::ChunkedDecoder chunked_;
  std::size_t handed_out_ = 0;  // bytes of conn_->buf the last read() returned, consumed next
  bool done_ = false;
  std::string whole_;  // readBody()'s text when it did not come whole with the head
};

// Keep-alive connections per origin for one io_context thread: no locks, since every request on
// this thread uses it from this thread only.
class UpstreamPool {
 public:
  UpstreamPool(net::any_io_executor ex, net::ssl::context& tls);

  // Sends the request and reads the response header. Fails with a retryable Error on connect
  // errors (502) and timeouts (504); a non-2xx status is not an error here.
  net::awaitable<core::Result<std::unique_ptr<UpstreamResponse>>> send(const UpstreamRequest& req,
                                                                       CancelSignal* cancel);

  void release(std::unique_ptr<UpstreamConn> conn);
  const net::any_io_executor& executor() const { return ex_; }
  std::size_t idleCount() const;

  static constexpr std::chrono::seconds kConnectTimeout{10};
  static constexpr std::chrono::seconds kMaxIdle{50};
  static constexpr std::chrono::seconds kTrustedIdle{1};
  static constexpr std::size_t kMaxIdlePerOrigin = 256;

 private:
  std::unique_ptr<UpstreamConn> takeIdle(const std::string& key);
  net::awaitable<core::Result<std::unique_ptr<UpstreamConn>>> connect(const UpstreamTarget& target,
                                                                      Clock::time_point deadline,
                                                                      CancelSignal* cancel);

  net::any_io_executor ex_;
  net::ssl::context& tls_;
  net::ip::tcp::resolver resolver_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
  // Plain requests' heads are written here, in memory this thread used a moment ago, and moved to
  // the connection's request_head (which with hundreds of connections has left the cache) only
  // when the socket cannot take them at once.
  std::string head_scratch_;
};

// An ssl::context for upstream calls: system CA store (SSL_CERT_FILE / SSL_CERT_DIR honoured),
// peer verification on.
std::unique_ptr<net::ssl::context> makeClientTlsContext();

}  // namespace kh::http
