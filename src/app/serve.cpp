#include "app/serve.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/discovery.h"
#include "app/router.h"
#include "core/json_text.h"
#include "http/server.h"
#include "http/url.h"
#include "observability/log.h"
#include "routing/catalog_holder.h"
#include "routing/routing_state.h"

namespace kh::app {

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

bool isLoopbackAddress(const std::string& host) {
  boost::system::error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  return ec ? http::isLoopbackHost(host) : addr.is_loopback();
}

// Retries discovery for providers whose model list could not be fetched at startup (a local
// runtime started after the gateway, a network blip), publishing a new catalog on success.
class Rediscovery {
 public:
  Rediscovery(routing::CatalogHolder& holder, std::vector<std::string> failed)
      : holder_(holder), failed_(std::move(failed)) {
    if (!failed_.empty()) thread_ = std::thread([this] { loop(); });
  }
  ~Rediscovery() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!failed_.empty()) {
      if (cv_.wait_for(lock, 30s, [this] { return stop_; })) return;
      lock.unlock();
      const auto current = holder_.current();
      routing::ProviderSet retry;
      for (const auto& p : current->providers())
        if (std::find(failed_.begin(), failed_.end(), p->name()) != failed_.end())
          retry.push_back(p);
      std::vector<std::string> still_failed;
      auto found = discoverModels(retry, 10s, &still_failed);
      if (!found.empty()) {
        routing::DiscoveredModels merged = current->discovered();
        for (auto& [name, ids] : found) merged[name] = std::move(ids);
        holder_.publish(std::make_shared<routing::ModelCatalog>(
            current->configPtr(), current->providers(), merged, current->stateShared()));
      }
      lock.lock();
      failed_ = std::move(still_failed);
    }
  }

  routing::CatalogHolder& holder_;
  std::vector<std::string> failed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// health_check.interval_s: asks every provider for its model list now and then (no tokens spent)
// so /health/services knows about providers no request has used lately.
class ActiveProbe {
 public:
  ActiveProbe(routing::CatalogHolder& holder, const config::HealthCheckConfig& cfg)
      : holder_(holder), interval_(cfg.interval_s), timeout_(cfg.timeout_s) {
    if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
  }
  ~ActiveProbe() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      const auto catalog = holder_.current();
      for (const auto& r : fetchModelLists(catalog->providers(), timeout_)) {
        const providers::Provider* p = catalog->provider(r.provider);
        routing::ProviderHealth* health = p ? catalog->health(p) : nullptr;
        if (!health) continue;
        if (r.ids) {
          health->recordSuccess(r.latency);
        } else {
          health->recordFailure();
          obs::warn("health check failed")
              .str("provider", r.provider)
              .str("error", r.ids.error().message);
        }
      }
      lock.lock();
    }
  }

  routing::CatalogHolder& holder_;
  std::chrono::seconds interval_;
  std::chrono::seconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int serve(const config::Overrides& overrides) {
  std::shared_ptr<const config::Config> cfg;
  try {
    cfg = std::make_shared<const config::Config>(config::loadConfig(overrides));
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) fmt::print(stderr, "config error: {}\n", issue.str());
    return 1;
  }
  obs::initLogging(obs::parseLevel(cfg->log_level).value_or(obs::Level::kInfo));
  struct LogShutdown {
    ~LogShutdown() { obs::shutdownLogging(); }
  } log_shutdown;
  for (const auto& w : cfg->warnings) obs::warn("config").str("warning", w);

  // Signals are caught from the start: a SIGTERM during model discovery or right after the
  // listener opens must mean a graceful stop, never the default action.
  net::io_context main_ioc(1);
  net::signal_set signals(main_ioc, SIGINT, SIGTERM);

  if (!isLoopbackAddress(cfg->server.host) && !cfg->auth.require_api_key) {
    if (!cfg->auth.allow_anonymous) {
      obs::error("refusing to start")
          .str("reason", fmt::format("host {} is not loopback: set auth.require_api_key: true, or "
                                     "auth.allow_anonymous: true to serve without keys",
                                     cfg->server.host));
      return 1;
    }
    obs::warn("serving without API keys on a non-loopback address").str("host", cfg->server.host);
  }

  routing::ProviderSet providers;
  for (const auto& pc : cfg->providers) {
    std::string why;
    auto p = providers::makeProvider(pc, &why);
    if (!p) {
      obs::warn("provider skipped").str("provider", pc.name).str("reason", why);
      continue;
    }
    providers.push_back(std::move(p));
  }

  std::vector<std::string> failed;
  routing::DiscoveredModels discovered = discoverModels(providers, 5s, &failed);
  routing::CatalogHolder catalogs;
  auto routing_state = std::make_shared<routing::RoutingState>(cfg->failover);
  catalogs.publish(std::make_shared<routing::ModelCatalog>(cfg, providers, std::move(discovered),
                                                           routing_state));

  auto client_tls = http::makeClientTlsContext();
  const int threads = cfg->server.threads > 0 ? cfg->server.threads
                                              : std::max(1u, std::thread::hardware_concurrency());
  http::ServerOptions opts;
  opts.host = cfg->server.host;
  opts.port = static_cast<std::uint16_t>(cfg->server.port);
  opts.threads = threads;
  opts.max_header_bytes = cfg->server.max_header_bytes;
  opts.max_body_bytes = cfg->server.max_body_bytes;
  opts.idle_timeout = std::chrono::seconds(cfg->server.idle_timeout_s);
  opts.request_timeout = std::chrono::seconds(cfg->server.request_timeout_s);
  opts.write_timeout = std::chrono::seconds(cfg->server.write_timeout_s);
  opts.thread_start = [](net::io_context& ioc) { obs::batchThreadLogs(ioc); };
  opts.thread_stop = [] { obs::flushThreadLogs(); };

  ProxyRouter router(catalogs);
  http::Server server(
      opts, [&router](http::Exchange& ex) { return router.handle(ex); }, renderServerError,
      *client_tls);
  std::uint16_t port = 0;
  try {
    port = server.start();
  } catch (const std::exception& e) {
    obs::error("cannot listen")
        .str("address", fmt::format("{}:{}", cfg->server.host, cfg->server.port))
        .str("error", e.what());
    return 1;
  }

  const std::string host_for_url = cfg->server.host.find(':') != std::string::npos
                                       ? "[" + cfg->server.host + "]"
                                       : cfg->server.host;
  const auto catalog = catalogs.current();
  std::string provider_list = "[";
  for (const auto& p : catalog->providers()) {
    if (provider_list.size() > 1) provider_list += ',';
    std::string entry = "{\"name\":";
    core::appendJsonString(entry, p->name());
    entry += ",\"type\":";
    core::appendJsonString(entry, p->config().type);
    entry += ",\"base_url\":";
    core::appendJsonString(entry, p->baseUrl());
    entry += ",\"api_key\":";
    core::appendJsonString(entry, obs::maskSecret(p->config().api_key));
    entry += fmt::format(",\"models\":{}}}", catalog->modelsOf(p->name()).size());
    provider_list += entry;
  }
  provider_list += "]";
  obs::info("kakehashi started")
      .str("version", KH_VERSION)
      .num("threads", threads)
      .str("config", cfg->source_path)
      .raw("providers", provider_list)
      .num("models", static_cast<long long>(catalog->listedCount()));
  obs::info("listening")
      .str("api", "proxy")
      .str("url", fmt::format("http://{}:{}", host_for_url, port))
      .num("port", port);

  Rediscovery rediscovery(catalogs, std::move(failed));
  ActiveProbe probe(catalogs, cfg->health_check);

  // The main thread only waits for signals and supervises the drain.
  net::steady_timer drain_timer(main_ioc);
  bool draining = false;
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> poll_drain = [&] {
    if (server.inflight() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (server.inflight() > 0)
        obs::warn("grace period over; closing requests in flight")
            .num("inflight", server.inflight());
      main_ioc.stop();
      return;
    }
    drain_timer.expires_after(50ms);
    drain_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) poll_drain();
    });
  };
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    if (draining) {
      obs::warn("second signal; stopping now").num("signal", sig);
      main_ioc.stop();
      return;
    }
    draining = true;
    obs::info("shutting down")
        .num("signal", sig)
        .num("inflight", server.inflight())
        .num("grace_s", cfg->server.shutdown_grace_s);
    server.beginDrain();
    drain_deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(cfg->server.shutdown_grace_s);
    signals.async_wait(on_signal);
    poll_drain();
  };
  signals.async_wait(on_signal);
  main_ioc.run();
  server.stop();
  obs::info("stopped");
  return 0;
}

}  // namespace kh::app
