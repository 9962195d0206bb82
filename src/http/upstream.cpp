#include "http/upstream.h"

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/base64.h"
#include "http/fast_io.h"

namespace kh::http {

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
using boost::system::error_code;

bool isHttpParseError(const error_code& ec) {
  return ec.category() ==
         beast::http::make_error_code(beast::http::error::end_of_stream).category();
}

// A peer that closed an idle keep-alive connection shows as readable EOF; one that sent anything
// while idle is in an unknown state. Either way the connection must not carry a new request.
bool stillUsable(UpstreamConn& c) {
  auto& sock = c.socket();
  if (!sock.is_open()) return false;
  char byte;
  const ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamConn::UpstreamConn(const net::any_io_executor& ex)
    : plain(std::in_place, ex), deadline(ex, [this] { close(); }) {
  // Room for whole bursts of SSE events per read (Beast reads only into free capacity).
  buf.reserve(16 * 1024);
}

void UpstreamConn::close() {
  error_code ec;
  socket().shutdown(Socket::shutdown_both, ec);
  socket().close(ec);
}

// ---------------------------------------------------------------------------------------------

UpstreamResponse::UpstreamResponse(UpstreamPool& pool, std::unique_ptr<UpstreamConn> conn,
                                   CancelSignal* cancel)
    : pool_(pool), conn_(std::move(conn)), cancel_(cancel) {
  parser_.header_limit(64 * 1024);
  parser_.body_limit(boost::none);
  // Parse everything a socket read brought in one go, so a burst of SSE events is relayed as
  // one batch instead of one client write per HTTP chunk.
  parser_.eager(true);
  if (cancel_) {
    UpstreamConn* raw = conn_.get();
    cancel_->setHook([raw] { raw->close(); });
  }
}

UpstreamResponse::~UpstreamResponse() {
  if (cancel_) cancel_->clearHook();
  if (!conn_) return;
  if (parser_.is_done() && parser_.keep_alive() && !(cancel_ && cancel_->fired())) {
    pool_.release(std::move(conn_));
  } else {
    // An unfinished body would desynchronise the next exchange, so the connection goes.
    conn_->close();
  }
}

std::string_view UpstreamResponse::header(std::string_view name) const {
  const auto& fields = parser_.get();
  auto it = fields.find(beast::string_view(name.data(), name.size()));
  if (it == fields.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

core::Error UpstreamResponse::ioError(const error_code& ec, std::string_view during) const {
  if (cancel_ && cancel_->fired()) return core::Error::cancelled();
  if (conn_->timedOut()) return core::Error::timeout(fmt::format("Upstream timed out {}", during));
  return core::Error::badGateway(
      fmt::format("Upstream connection failed {}: {}", during, ec.message()));
}

net::awaitable<core::Status> UpstreamResponse::readHeader() {
  error_code ec;
  if (!conn_->tls) {
    parser_.eager(false);
    ec = co_await fastio::readParsed(*conn_->plain, conn_->buf, parser_,
                                     [](const auto& p) { return p.is_header_done(); });
  } else {
    co_await beast::http::async_read_header(*conn_->tls, conn_->buf, parser_,
                                            net::redirect_error(net::use_awaitable, ec));
  }
  if (ec) {
    if (isHttpParseError(ec) && !(cancel_ && cancel_->fired()) &&
        ec != beast::http::error::end_of_stream)
      co_return core::Error::badGateway(
          fmt::format("Upstream answered something that is not HTTP: {}", ec.message()));
    co_return ioError(ec, "while waiting for the response header");
  }
  co_return core::Ok{};
}

net::awaitable<core::Result<std::string_view>> UpstreamResponse::read() {
  while (!parser_.is_done()) {
    auto& body = parser_.get().body();
    body.data = conn_->body_scratch.data();
    body.size = conn_->body_scratch.size();
    error_code ec;
    if (!conn_->tls) {
      ec = co_await readBodyPlain();
    } else {
      co_await beast::http::async_read_some(*conn_->tls, conn_->buf, parser_,
                                            net::redirect_error(net::use_awaitable, ec));
    }
    if (ec == beast::http::error::need_buffer) ec = {};
    const std::size_t n = conn_->body_scratch.size() - parser_.get().body().size;
    if (ec) {
      if (isHttpParseError(ec) && ec != beast::http::error::partial_message &&
          !(cancel_ && cancel_->fired()))
        co_return core::Error::badGateway(
            fmt::format("Upstream sent a malformed body: {}", ec.message()));
      co_return ioError(ec, "while reading the response body");
    }
    if (n > 0) co_return std::string_view(conn_->body_scratch.data(), n);
  }
  co_return std::string_view{};
}

// Beast's async_read_some, without the round through the event loop when bytes are already
// buffered: parses what is buffered into the body scratch first, and reads only when that gave
// no body bytes and the body is not over.
net::awaitable<error_code> UpstreamResponse::readBodyPlain() {
  beast::flat_buffer& buf = conn_->buf;
  parser_.eager(true);
  error_code ec;
  for (;;) {
    if (buf.size() > 0) {
      const std::size_t used = parser_.put(buf.data(), ec);
      buf.consume(used);
      if (ec == beast::http::error::need_more) ec = {};
      if (ec) co_return ec;
      if (parser_.get().body().size < conn_->body_scratch.size() || parser_.is_done())
        co_return error_code{};
      if (used > 0) continue;
    }
    const std::size_t room = std::clamp<std::size_t>(buf.capacity() - buf.size(), 4096, 65536);
    auto [rec, n] = co_await conn_->plain->async_read_some(buf.prepare(room), kTuple);
    if (!rec) {
      buf.commit(n);
      continue;
    }
    if (rec == net::error::eof) {
      parser_.put_eof(ec);
      co_return ec;
    }
    co_return rec;
  }
}

net::awaitable<core::Result<std::string>> UpstreamResponse::readAll(std::size_t limit) {
  std::string out;
  if (auto len = parser_.content_length(); len && *len <= limit) out.reserve(*len + 64);
  for (;;) {
    auto piece = co_await read();
    if (!piece) co_return std::move(piece).error();
    if (piece->empty()) break;
    if (out.size() + piece->size() > limit)
      co_return core::Error::badGateway(
          fmt::format("Upstream response exceeds the limit of {} bytes", limit));
    out.append(*piece);
  }
  co_return out;
}

// ---------------------------------------------------------------------------------------------

core::Result<UpstreamTarget> UpstreamTarget::make(std::string url, const ProxySettings& proxy) {
  auto endpoint = parseEndpoint(url);
  if (!endpoint) return std::move(endpoint).error();
  UpstreamTarget t;
  t.url = std::move(url);
  t.endpoint = std::move(*endpoint);
  t.proxy = proxy.proxyFor(t.endpoint);
  if (!t.proxy.empty()) {
    auto p = parseEndpoint(t.proxy);
    if (!p) return core::Error::internal(fmt::format("invalid proxy URL '{}'", t.proxy));
    if (!t.endpoint.tls && !p->userinfo.empty())
      t.proxy_auth = "Basic " + core::base64Encode(p->userinfo);
  }
  t.pool_key = t.proxy + "|" + t.endpoint.origin();
  const bool default_port =
      (t.endpoint.tls && t.endpoint.port == 443) || (!t.endpoint.tls && t.endpoint.port == 80);
  t.host_header = default_port ? t.endpoint.host : t.endpoint.hostPort();
  return t;
}

UpstreamPool::UpstreamPool(net::any_io_executor ex, net::ssl::context& tls)
    : ex_(ex), tls_(tls), resolver_(ex) {}

std::size_t UpstreamPool::idleCount() const {
  std::size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  return n;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConn> conn) {
  auto& list = idle_[conn->pool_key];
  if (list.size() >= kMaxIdlePerOrigin) {
    conn->close();
    return;
  }
  conn->deadline.clear();
  conn->idle_since = Clock::now();
  list.push_back(std::move(conn));
}

std::unique_ptr<UpstreamConn> UpstreamPool::takeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = Clock::now();
  while (!list.empty()) {
    // Most recently used first: it is the least likely to have been closed by the server.
    std::unique_ptr<UpstreamConn> c = std::move(list.back());
    list.pop_back();
    const auto idle = now - c->idle_since;
    // Servers close idle connections after seconds, not sooner (one that means to close after an
    // answer says "Connection: close", and such a connection never comes back to the pool); so a
    // connection idle for less than a second skips the liveness check and its system call. The
    // rare stale one is caught by the retry in send().
    if (idle < kMaxIdle && (idle < kTrustedIdle || stillUsable(*c))) return c;
    c->close();
  }
  return nullptr;
}

net::awaitable<core::Result<std::unique_ptr<UpstreamConn>>> UpstreamPool::connect(
    const UpstreamTarget& target, Clock::time_point deadline, CancelSignal* cancel) {
  const Endpoint& dest = target.endpoint;
  const std::string& proxy_url = target.proxy;
  Endpoint hop = dest;
  if (!proxy_url.empty()) {
    auto p = parseEndpoint(proxy_url);
    if (!p) co_return core::Error::badGateway(fmt::format("Invalid proxy URL '{}'", proxy_url));
    hop = std::move(*p);
  }
  auto conn = std::make_unique<UpstreamConn>(ex_);
  const std::string where = hop.hostPort();
  auto fail = [&](const error_code& ec, std::string_view what) -> core::Error {
    if (cancel && cancel->fired()) return core::Error::cancelled();
    if (conn->timedOut()) return core::Error::timeout(fmt::format("Timed out {} {}", what, where));
    return core::Error::badGateway(
        fmt::format("Cannot reach upstream {}: {} ({})", where, ec.message(), what));
  };

  const std::string port = std::to_string(hop.port);
  auto [rec, endpoints] = co_await resolver_.async_resolve(hop.host, port, kTuple);
  if (rec) co_return fail(rec, "resolving");
  if (cancel && cancel->fired()) co_return core::Error::cancelled();
  if (cancel) {
    UpstreamConn* raw = conn.get();
    cancel->setHook([raw] { raw->close(); });
  }
  struct ClearHook {
    CancelSignal* c;
    ~ClearHook() {
      if (c) c->clearHook();
    }
  } clear_hook{cancel};

  conn->deadline.expiresAt(std::min(deadline, Clock::now() + kConnectTimeout));
  auto [cec, ep] = co_await net::async_connect(*conn->plain, endpoints, kTuple);
  if (cec) co_return fail(cec, "connecting to");
  conn->deadline.expiresAt(deadline);
  error_code nodelay_ec;
  conn->plain->set_option(net::ip::tcp::no_delay(true), nodelay_ec);
  conn->plain->non_blocking(true, nodelay_ec);

  const std::string proxy_auth =
      hop.userinfo.empty() ? std::string() : "Basic " + core::base64Encode(hop.userinfo);
  if (!proxy_url.empty() && dest.tls) {
    // HTTPS through a proxy: open a CONNECT tunnel, then speak TLS inside it.
    std::string connect_req = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", dest.hostPort());
    if (!proxy_auth.empty()) connect_req += fmt::format("Proxy-Authorization: {}\r\n", proxy_auth);
    connect_req += "\r\n";
    auto [wec, wn] = co_await net::async_write(*conn->plain, net::buffer(connect_req), kTuple);
    if (wec) co_return fail(wec, "writing CONNECT to proxy");
    beast::http::response_parser<beast::http::empty_body> p;
    p.skip(true);  // a successful CONNECT answer has no body
    auto [rec2, rn] = co_await beast::http::async_read_header(*conn->plain, conn->buf, p, kTuple);
    if (rec2) co_return fail(rec2, "reading the CONNECT answer from proxy");
    if (p.get().result_int() != 200)
      co_return core::Error::badGateway(fmt::format("Proxy {} refused CONNECT to {}: HTTP {}",
                                                    where, dest.hostPort(), p.get().result_int()));
    conn->buf.clear();
  } else if (!proxy_url.empty()) {
    conn->absolute_form = true;
  }

  if (dest.tls) {
    UpstreamConn::Socket tcp = std::move(*conn->plain);
    conn->plain.reset();
    conn->tls.emplace(std::move(tcp), tls_);
    boost::system::error_code ip_ec;
    net::ip::make_address(dest.host, ip_ec);
    if (ip_ec && !SSL_set_tlsext_host_name(conn->tls->native_handle(), dest.host.c_str()))
      co_return core::Error::badGateway("Cannot set TLS server name");
    conn->tls->set_verify_mode(net::ssl::verify_peer);
    conn->tls->set_verify_callback(net::ssl::host_name_verification(dest.host));
    auto [hec] = co_await conn->tls->async_handshake(net::ssl::stream_base::client, kTuple);
    if (hec) co_return fail(hec, "in the TLS handshake with");
  }
  co_return conn;
}

net::awaitable<core::Result<std::unique_ptr<UpstreamResponse>>> UpstreamPool::send(
    const UpstreamRequest& req, CancelSignal* cancel) {
  const UpstreamTarget& target = *req.target;
  const Endpoint& dest = target.endpoint;

  // A reused connection may have been closed by the server a moment ago; such a failure before
  // any response byte is retried once on a fresh connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (cancel && cancel->fired()) co_return core::Error::cancelled();
    std::unique_ptr<UpstreamConn> conn = attempt == 0 ? takeIdle(target.pool_key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto fresh = co_await connect(target, req.deadline, cancel);
      if (!fresh) co_return std::move(fresh).error();
      conn = std::move(*fresh);
      conn->pool_key = target.pool_key;
    }
    std::string& head = conn->head;
    head.clear();
    head.reserve(512);
    head.append(req.method).append(" ");
    head.append(conn->absolute_form ? std::string_view(target.url) : std::string_view(dest.path));
    head.append(req.path_suffix);
    head.append(" HTTP/1.1\r\nHost: ").append(target.host_header).append("\r\n");
    if (req.fixed_headers)
      for (const auto& [name, value] : *req.fixed_headers)
        head.append(name).append(": ").append(value).append("\r\n");
    for (const auto& [name, value] : req.headers)
      head.append(name).append(": ").append(value).append("\r\n");
    head.append("Accept: ").append(req.accept).append("\r\n");
    if (!target.proxy_auth.empty())
      head.append("Proxy-Authorization: ").append(target.proxy_auth).append("\r\n");
    const std::string_view body = req.bodyBytes();
    if (!body.empty() || req.method == "POST")
      head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    head.append("\r\n");

    auto resp = std::make_unique<UpstreamResponse>(*this, std::move(conn), cancel);
    UpstreamConn& c = *resp->conn_;
    c.deadline.expiresAt(req.deadline);
    const std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
    error_code wec;
    if (!c.tls) {
      wec = co_await fastio::write(*c.plain, bufs);
    } else {
      co_await net::async_write(*c.tls, bufs, net::redirect_error(net::use_awaitable, wec));
    }
    if (wec) {
      if (reused && !(cancel && cancel->fired()) && !c.timedOut()) continue;
      co_return resp->ioError(wec, "while sending the request");
    }
    core::Status header = co_await resp->readHeader();
    if (!header) {
      const bool stale =
          reused && c.buf.size() == 0 && header.error().code == core::ErrorCode::kBadGateway;
      if (stale) continue;
      co_return std::move(header).error();
    }
    co_return resp;
  }
  co_return core::Error::badGateway("Upstream closed the connection before answering");
}

std::unique_ptr<net::ssl::context> makeClientTlsContext() {
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
  ctx->set_default_verify_paths();
  ctx->set_verify_mode(net::ssl::verify_peer);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1);
  return ctx;
}

}  // namespace kh::http
