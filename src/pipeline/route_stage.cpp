#include <fmt/format.h>

#include <boost/json/parse.hpp>

#include "api/client_api.h"
#include "pipeline/stages.h"
#include "routing/auto_select.h"
#include "routing/routing_state.h"

namespace kh::pipeline {

namespace {

// 503 for a route whose every target is cooling down after failures, with the wait until the
// first of them may be tried again.
core::Status coolingDown(RequestContext& ctx, std::string_view model,
                         std::optional<routing::SteadyTime> until, routing::SteadyTime now) {
  const int patience = ctx.catalog->config().failover.breaker_wait_s;
  if (until && patience > 0 && *until - now <= std::chrono::seconds(patience)) {
    ctx.cooling_until = *until;
    return core::Ok{};
  }
  core::Error e = core::Error::unavailable(fmt::format(
      "Every target of '{}' failed recently and is cooling down; try again later", model));
  e.retryable = false;
  if (until && *until > now) {
    const auto secs = std::chrono::ceil<std::chrono::seconds>(*until - now).count();
    e.retry_after = std::to_string(std::max<long long>(1, secs));
  }
  return e;
}

// Model "auto" (SPEC §5): the prompt's features and the client's preferences pick a target
// among the auto rules; the route is then the target's.
core::Result<routing::Route> resolveAuto(RequestContext& ctx) {
  const routing::AutoSetup* setup = ctx.catalog->autoSetup();
  if (!setup || ctx.op == providers::Operation::kEmbedding)
    return core::Error::modelNotFound("auto");
  if (auto read = ctx.readChat(); !read) return std::move(read).error();
  routing::UserPreferences prefs;
  if (ctx.info.has_user_preferences) {
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(ctx.body, ec);
    if (!ec && body.is_object()) {
      auto parsed = routing::parseUserPreferences(body.as_object());
      if (!parsed) return std::move(parsed).error();
      prefs = *parsed;
    }
  }
  const routing::AutoChoice choice = routing::chooseAuto(routing::detectFeatures(*ctx.chat),
                                                         setup->config, prefs, setup->candidates);
  if (!choice.ok()) {
    if (choice.reason == "cost:all_excluded")
      return core::Error::invalidField("user_preferences.max_cost", choice.detail);
    core::Error e = core::Error::modelNotFound("auto");
    if (!choice.detail.empty()) e.message = choice.detail;
    return e;
  }
  ctx.auto_rule = choice.rule;
  ctx.auto_reason = choice.reason;
  return ctx.catalog->resolve(choice.target);
}

}  // namespace

core::Status routeStage(RequestContext& ctx) {
  // parseStage resolved the model it found first; the body's last word may name another.
  if (!ctx.route_model.empty() && ctx.route_model == ctx.info.model) return planTargets(ctx);
  auto route = ctx.catalog->resolve(ctx.info.model);
  if (!route && ctx.info.model == "auto" && route.error().code == core::ErrorCode::kModelNotFound)
    route = resolveAuto(ctx);
  if (!route) return std::move(route).error();
  ctx.route = std::move(*route);
  return planTargets(ctx);
}

core::Status planTargets(RequestContext& ctx) {
  ctx.plan.clear();
  ctx.cooling_until.reset();
  routing::RoutingState* state = ctx.catalog->state();
  if (!state) {
    for (const auto& t : ctx.route.targets) ctx.plan.push_back({&t, nullptr, nullptr});
    return core::Ok{};
  }
  const routing::SteadyTime now = state->breakers().now();
  if (const routing::Balancer* b = ctx.route.balancer) {
    routing::IndexList order;
    routing::PickHints hints;
    // A cheap prompt size for lowest_cost: about four bytes of JSON per token.
    hints.prompt_tokens_estimate = static_cast<std::uint32_t>(ctx.body.size() / 4);
    b->order(order, hints, b->unavailable(now));
    if (order.empty()) return coolingDown(ctx, ctx.info.model, b->earliestOpenUntil(now), now);
    ctx.plan.reserve(order.size());
    for (const auto i : order) ctx.plan.push_back({&b->target(i), b->breaker(i), &b->stats(i)});
    return core::Ok{};
  }
  std::optional<routing::SteadyTime> earliest;
  for (const auto& t : ctx.route.targets) {
    routing::Breaker& breaker = state->breakers().get(t.provider->name(), t.model);
    if (!breaker.allows(now)) {
      if (breaker.state(now) == routing::BreakerState::kOpen &&
          (!earliest || breaker.openUntil() < *earliest))
        earliest = breaker.openUntil();
      continue;
    }
    ctx.plan.push_back({&t, &breaker, nullptr});
  }
  if (ctx.plan.empty()) return coolingDown(ctx, ctx.info.model, earliest, now);
  return core::Ok{};
}

}  // namespace kh::pipeline
