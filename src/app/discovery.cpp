#include "app/discovery.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "observability/log.h"

namespace kh::app {

namespace net = boost::asio;

routing::DiscoveredModels discoverModels(const routing::ProviderSet& providers,
                                         std::chrono::milliseconds budget,
                                         std::vector<std::string>* failed) {
  net::io_context ioc(1);
  // Shared with the coroutines: one still pending when time is up is destroyed together with
  // the io_context, and its connection goes back to a pool that must still exist then.
  struct State {
    std::unique_ptr<net::ssl::context> tls = http::makeClientTlsContext();
    http::UpstreamPool pool;
    routing::DiscoveredModels found;
    std::size_t running = 0;
    bool over =
        false;  // the io_context is going away; coroutines destroyed with it must not touch it
    explicit State(net::io_context& ioc) : pool(ioc.get_executor(), *tls) {}
  };
  auto state = std::make_shared<State>(ioc);
  const auto deadline = http::Clock::now() + budget;
  std::vector<std::string> pending;
  for (const auto& p : providers) {
    if (p->config().models_configured) continue;
    pending.push_back(p->name());
    ++state->running;
    net::co_spawn(
        ioc,
        [state, deadline, provider = p, &ioc]() -> net::awaitable<void> {
          // Pooled connections keep timers armed; the last answer ends the wait, not the budget.
          struct Done {
            State& s;
            net::io_context& ioc;
            ~Done() {
              if (--s.running == 0 && !s.over) ioc.stop();
            }
          } done{*state, ioc};
          http::UpstreamRequest req = provider->listModels();
          req.deadline = std::min(req.deadline, deadline);
          auto resp = co_await state->pool.send(req, nullptr);
          std::string why;
          if (!resp) {
            why = resp.error().message;
          } else if ((*resp)->status() != 200) {
            why = "HTTP " + std::to_string((*resp)->status());
          } else {
            auto body = co_await (*resp)->readAll(16 << 20);
            if (!body) {
              why = body.error().message;
            } else {
              auto ids = provider->parseModelList(*body);
              obs::info("models discovered")
                  .str("provider", provider->name())
                  .num("count", static_cast<long long>(ids.size()));
              state->found[provider->name()] = std::move(ids);
              co_return;
            }
          }
          obs::warn("model discovery failed").str("provider", provider->name()).str("error", why);
        },
        net::detached);
  }
  ioc.run_for(budget + std::chrono::milliseconds(200));
  state->over = true;
  if (failed)
    for (const auto& name : pending)
      if (!state->found.count(name)) failed->push_back(name);
  return state->found;
}

}  // namespace kh::app
