#include "http/upstream.h"

#include <sys/socket.h>

#include <cassert>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "core/base64.h"
#include "http/fast_io.h"

namespace kh::http {

using namespace std::string_view_literals;

namespace {

// The request head, written in one pass into `head` sized up front: a head is some twenty
// pieces, and appending them one at a time cost more than the bytes.
void writeRequestHead(std::string& head, const UpstreamRequest& req, const UpstreamTarget& target,
                      std::string_view path, std::size_t content_length, bool with_length) {
  using namespace std::string_view_literals;
  char digits[24];
  const std::string_view length(
      digits, static_cast<std::size_t>(
                  std::to_chars(digits, digits + sizeof digits, content_length).ptr - digits));
  auto fieldSize = [](const auto& nv) { return nv.first.size() + nv.second.size() + 4; };
  std::size_t n = req.method.size() + 1 + path.size() + req.path_suffix.size() +
                  " HTTP/1.1\r\nHost: \r\n"sv.size() + target.host_header.size() +
                  "Accept: \r\n"sv.size() + req.accept.size() + 2;
  if (req.fixed_headers)
    for (const auto& nv : *req.fixed_headers) n += fieldSize(nv);
  for (const auto& nv : req.headers) n += fieldSize(nv);
  if (!target.proxy_auth.empty())
    n += "Proxy-Authorization: \r\n"sv.size() + target.proxy_auth.size();
  if (with_length) n += "Content-Length: \r\n"sv.size() + length.size();
  head.resize(n);
  char* w = head.data();
  auto put = [&](std::string_view s) {
    std::memcpy(w, s.data(), s.size());
    w += s.size();
  };
  auto field = [&](std::string_view name, std::string_view value) {
    put(name);
    put(": "sv);
    put(value);
    put("\r\n"sv);
  };
  put(req.method);
  put(" "sv);
  put(path);
  put(req.path_suffix);
  put(" HTTP/1.1\r\n"sv);
  field("Host"sv, target.host_header);
  if (req.fixed_headers)
    for (const auto& [name, value] : *req.fixed_headers) field(name, value);
  for (const auto& [name, value] : req.headers) field(name, value);
  field("Accept"sv, req.accept);
  if (!target.proxy_auth.empty()) field("Proxy-Authorization"sv, target.proxy_auth);
  if (with_length) field("Content-Length"sv, length);
  put("\r\n"sv);
  assert(w == head.data() + head.size());
}

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
using boost::system::error_code;

// Larger heads are refused: no real API answers with one.
constexpr std::size_t kMaxHeadBytes = 64 * 1024;

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
  // Room for whole bursts of SSE events per read (a read fills only the free capacity).
  buf.reserve(16 * 1024 + fastio::kReadPadding);
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
  if (cancel_) {
    UpstreamConn* raw = conn_.get();
    cancel_->setHook([raw] { raw->close(); });
  }
}

UpstreamResponse::~UpstreamResponse() {
  if (cancel_) cancel_->clearHook();
  if (!conn_) return;
  conn_->buf.consume(handed_out_);
  // Reused only when the answer ended where its framing said and nothing followed it: anything
  // else would desynchronise the next exchange.
  const bool clean = done_ && framing_ != Framing::kUntilClose && !conn_->head.close &&
                     conn_->buf.size() == 0 && !(cancel_ && cancel_->fired());
  if (clean) {
    pool_.release(std::move(conn_));
  } else {
    conn_->close();
  }
}

core::Error UpstreamResponse::ioError(const error_code& ec, std::string_view during) const {
  if (cancel_ && cancel_->fired()) return core::Error::cancelled();
  if (conn_->timedOut()) return core::Error::timeout(fmt::format("Upstream timed out {}", during));
  return core::Error::badGateway(
      fmt::format("Upstream connection failed {}: {}", during, ec.message()));
}

// Not a coroutine itself: it hands out the read's own awaitable (lazy, begun when awaited),
// which saves a coroutine frame per read.
net::awaitable<error_code> UpstreamResponse::readMore() {
  if (!conn_->tls) return fastio::readMore(*conn_->plain, conn_->buf);
  return fastio::readMore(*conn_->tls, conn_->buf);
}

net::awaitable<core::Status> UpstreamResponse::readHeader() {
  beast::flat_buffer& buf = conn_->buf;
  h1::Head& head = conn_->head;
  std::size_t scanned = 0;
  for (;;) {
    std::string_view why;
    const std::string_view data = fastio::view(buf);
    h1::Parse parsed = data.size() >= kMaxHeadBytes ? h1::Parse::kTooLarge : h1::Parse::kNeedMore;
    if (std::size_t head_end = 0; h1::headComplete(data, scanned, &head_end)) {
      parsed = h1::parseResponse(data, kMaxHeadBytes, head, &why, head_end);
      if (parsed == h1::Parse::kNeedMore) scanned = data.size();
    }
    if (parsed == h1::Parse::kDone) {
      // Interim answers (103 Early Hints and the like) come before the real one.
      if (head.status >= 200 || head.status == 101) break;
      buf.consume(head.size);
      scanned = 0;
      continue;
    }
    if (parsed == h1::Parse::kBad)
      co_return core::Error::badGateway(
          fmt::format("Upstream answered something that is not HTTP: {}", why));
    if (parsed == h1::Parse::kTooLarge)
      co_return core::Error::badGateway("Upstream answered with a header that is too large");
    const error_code ec = co_await readMore();
    if (ec) co_return ioError(ec, "while waiting for the response header");
  }
  if (head.status == 204 || head.status == 304) {
    framing_ = Framing::kNone;
  } else if (head.chunked) {
    framing_ = Framing::kChunked;
  } else if (head.content_length) {
    framing_ = Framing::kLength;
    remaining_ = *head.content_length;
  } else {
    framing_ = Framing::kUntilClose;
  }
  done_ = framing_ == Framing::kNone || (framing_ == Framing::kLength && remaining_ == 0);
  // Reading the body may move what `buf` holds, so the head moves to a buffer of its own first,
  // unless the whole answer is in `buf` already (the usual small answer): then nothing is read
  // into `buf` again while this response lives, and the head's views stay where they point.
  const bool whole_answer_here =
      framing_ == Framing::kNone ||
      (framing_ == Framing::kLength && buf.size() - head.size >= remaining_);
  if (!whole_answer_here) {
    conn_->head_text.assign(static_cast<const char*>(buf.data().data()), head.size);
    h1::rebase(head, static_cast<const char*>(buf.data().data()), conn_->head_text.data());
  }
  buf.consume(head.size);
  co_return core::Ok{};
}

net::awaitable<core::Result<std::string_view>> UpstreamResponse::read() {
  beast::flat_buffer& buf = conn_->buf;
  // The piece handed out last time is done with.
  buf.consume(handed_out_);
  handed_out_ = 0;
  while (!done_) {
    if (buf.size() > 0) {
      const std::string_view data = fastio::view(buf);
      if (framing_ == Framing::kChunked) {
        // Every chunk that arrived goes out as one piece, so a burst of SSE events is relayed
        // in one batch.
        conn_->chunk_out.clear();
        const auto step = chunked_.decode(data, conn_->chunk_out);
        buf.consume(step.consumed);
        if (step.error)
          co_return core::Error::badGateway("Upstream sent a malformed body: bad chunked encoding");
        done_ = step.done;
        if (!conn_->chunk_out.empty()) co_return std::string_view(conn_->chunk_out);
        if (done_) break;
      } else {
        // Handed out in place: no copy.
        std::size_t take = data.size();
        if (framing_ == Framing::kLength) {
          take = static_cast<std::size_t>(std::min<std::uint64_t>(take, remaining_));
          remaining_ -= take;
          done_ = remaining_ == 0;
        }
        handed_out_ = take;
        co_return data.substr(0, take);
      }
    }
    const error_code ec = co_await readMore();
    if (!ec) continue;
    if (ec == net::error::eof && framing_ == Framing::kUntilClose) {
      done_ = true;
      break;
    }
    co_return ioError(ec, "while reading the response body");
  }
  co_return std::string_view{};
}

std::optional<std::string_view> UpstreamResponse::takeBufferedBody(std::size_t limit) {
  beast::flat_buffer& buf = conn_->buf;
  if (framing_ != Framing::kLength || handed_out_ != 0 || buf.size() < remaining_ ||
      remaining_ > limit)
    return std::nullopt;
  const std::string_view body(static_cast<const char*>(buf.data().data()),
                              static_cast<std::size_t>(remaining_));
  // The bytes stay where they are until the connection reads again, which is after this
  // response has handed the connection back.
  buf.consume(body.size());
  remaining_ = 0;
  done_ = true;
  return body;
}

net::awaitable<core::Result<std::string_view>> UpstreamResponse::readBody(std::size_t limit) {
  if (auto whole = takeBufferedBody(limit)) co_return *whole;
  auto all = co_await readAll(limit);
  if (!all) co_return std::move(all).error();
  whole_ = std::move(*all);
  whole_.reserve(whole_.size() + fastio::kReadPadding);
  co_return std::string_view(whole_);
}

net::awaitable<core::Result<std::string>> UpstreamResponse::readAll(std::size_t limit) {
  // The whole body came with the head (the usual case for a small answer): no reads to await.
  if (auto whole = takeBufferedBody(limit)) co_return std::string(*whole);
  std::string out;
  if (framing_ == Framing::kLength && remaining_ <= limit)
    out.reserve(static_cast<std::size_t>(remaining_) + fastio::kReadPadding);
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
  conn->idle_since = core::coarseNow();
  list.push_back(std::move(conn));
}

std::unique_ptr<UpstreamConn> UpstreamPool::takeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = core::coarseNow();
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
    // A successful CONNECT answer has no body: the tunnel starts right after its head.
    h1::Head& answer = conn->head;
    std::size_t scanned = 0;
    for (;;) {
      std::string_view why;
      const std::string_view data = fastio::view(conn->buf);
      h1::Parse parsed = data.size() >= kMaxHeadBytes ? h1::Parse::kTooLarge : h1::Parse::kNeedMore;
      if (std::size_t head_end = 0; h1::headComplete(data, scanned, &head_end))
        parsed = h1::parseResponse(data, kMaxHeadBytes, answer, &why, head_end);
      if (parsed == h1::Parse::kDone) break;
      if (parsed != h1::Parse::kNeedMore)
        co_return core::Error::badGateway(
            fmt::format("Proxy {} answered CONNECT with something that is not HTTP", where));
      const error_code rec2 = co_await fastio::readMore(*conn->plain, conn->buf);
      if (rec2) co_return fail(rec2, "reading the CONNECT answer from proxy");
    }
    if (answer.status != 200)
      co_return core::Error::badGateway(fmt::format("Proxy {} refused CONNECT to {}: HTTP {}",
                                                    where, dest.hostPort(), answer.status));
    conn->buf.consume(answer.size);
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
    const std::string_view body = req.bodyBytes();
    // A TLS write may wait in the middle of its records: its head is written where it can wait.
    std::string& head = conn->tls ? conn->request_head : head_scratch_;
    writeRequestHead(
        head, req, target,
        conn->absolute_form ? std::string_view(target.url) : std::string_view(dest.path),
        body.size(), !body.empty() || req.method == "POST");

    auto resp = std::make_unique<UpstreamResponse>(*this, std::move(conn), cancel);
    UpstreamConn& c = *resp->conn_;
    c.deadline.expiresAt(req.deadline);
    std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
    error_code wec;
    if (!c.tls) {
      // Most requests go out at once, without a coroutine for the write.
      std::size_t written = 0;
      if (!fastio::writeAtOnce(*c.plain, bufs, wec, written) && !wec) {
        // The rest goes out while other requests of this thread use the scratch buffer.
        c.request_head = head;
        bufs[0] = net::buffer(c.request_head);
        wec = co_await fastio::writeRest(*c.plain, bufs, written);
      }
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
