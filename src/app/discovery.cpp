#include "app/discovery.h"

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "observability/log.h"

namespace kh::app {

namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxListBytes = 16 << 20;

}  // namespace

std::vector<ModelListResult> fetchModelLists(const routing::ProviderSet& providers,
                                             std::chrono::milliseconds budget) {
  net::io_context ioc(1);
  // Shared with the coroutines: one still pending when time is up is destroyed together with
  // the io_context, and its connection goes back to a pool that must still exist then.
  struct State {
    std::unique_ptr<net::ssl::context> tls = http::makeClientTlsContext();
    http::UpstreamPool pool;
    std::vector<ModelListResult> results;
    std::size_t running = 0;
    // The io_context is going away; coroutines destroyed with it must not touch it.
    bool over = false;
    explicit State(net::io_context& ioc) : pool(ioc.get_executor(), *tls) {}
  };
  auto state = std::make_shared<State>(ioc);
  const auto start = http::Clock::now();
  const auto deadline = start + budget;
  state->results.resize(providers.size());
  for (std::size_t i = 0; i < providers.size(); ++i) {
    const auto& provider = providers[i];
    ModelListResult& result = state->results[i];
    result.provider = provider->name();
    result.ids = core::Error::timeout(fmt::format("no answer within {} ms", budget.count()));
    if (!provider->targetError().empty()) {
      result.ids = core::Error::internal(provider->targetError());
      continue;
    }
    ++state->running;
    net::co_spawn(
        ioc,
        [state, i, start, deadline, provider, &ioc]() -> net::awaitable<void> {
          // Pooled connections keep timers armed; the last answer ends the wait, not the budget.
          struct Done {
            State& s;
            net::io_context& ioc;
            ~Done() {
              if (--s.running == 0 && !s.over) ioc.stop();
            }
          } done{*state, ioc};
          ModelListResult& out = state->results[i];
          http::UpstreamRequest req = provider->listModels();
          req.deadline = std::min(req.deadline, deadline);
          auto resp = co_await state->pool.send(req, nullptr);
          if (!resp) {
            out.ids = std::move(resp).error();
          } else {
            const int status = (*resp)->status();
            auto body = co_await (*resp)->readAll(kMaxListBytes);
            if (!body) {
              out.ids = std::move(body).error();
            } else if (status != 200) {
              core::Error e = provider->parseError(status, std::move(*body));
              e.message = fmt::format("HTTP {}: {}", status, e.message);
              out.ids = std::move(e);
            } else {
              boost::system::error_code ec;
              (void)boost::json::parse(*body, ec);
              if (ec)
                out.ids = core::Error::badGateway("the model list is not JSON");
              else
                out.ids = provider->parseModelList(*body);
            }
          }
          out.latency =
              std::chrono::duration_cast<std::chrono::microseconds>(http::Clock::now() - start);
        },
        net::detached);
  }
  if (state->running > 0) ioc.run_for(budget + std::chrono::milliseconds(200));
  state->over = true;
  return state->results;
}

routing::DiscoveredModels discoverModels(const routing::ProviderSet& providers,
                                         std::chrono::milliseconds budget,
                                         std::vector<std::string>* failed) {
  routing::ProviderSet wanted;
  for (const auto& p : providers)
    if (!p->config().models_configured) wanted.push_back(p);
  routing::DiscoveredModels found;
  for (auto& r : fetchModelLists(wanted, budget)) {
    if (r.ids) {
      obs::info("models discovered")
          .str("provider", r.provider)
          .num("count", static_cast<long long>(r.ids->size()));
      found[r.provider] = std::move(*r.ids);
    } else {
      obs::warn("model discovery failed")
          .str("provider", r.provider)
          .str("error", r.ids.error().message);
      if (failed) failed->push_back(r.provider);
    }
  }
  return found;
}

}  // namespace kh::app
