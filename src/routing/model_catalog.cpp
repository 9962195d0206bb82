#include "routing/model_catalog.h"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "routing/auto_select.h"
#include "routing/balancer.h"
#include "routing/routing_state.h"

namespace kh::routing {

namespace {

const std::vector<std::string> kNoModels;

std::string jsonString(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

std::string modelObject(std::string_view id, std::string_view owned_by) {
  return fmt::format(R"({{"id":{},"object":"model","created":0,"owned_by":{}}})", jsonString(id),
                     jsonString(owned_by));
}

// Well-known prefixes and the provider type they stand for when no provider has that name.
std::string_view wellKnownType(std::string_view prefix) {
  if (prefix == "openai") return "openai";
  if (prefix == "anthropic" || prefix == "ahtnorpic") return "anthropic";
  if (prefix == "google" || prefix == "gemini") return "gemini";
  if (prefix == "openrouter") return "openrouter";
  return {};
}

}  // namespace

ModelCatalog::~ModelCatalog() = default;

ModelCatalog::ModelCatalog(std::shared_ptr<const config::Config> config, ProviderSet providers,
                           DiscoveredModels discovered, std::shared_ptr<RoutingState> state)
    : config_(std::move(config)),
      providers_(std::move(providers)),
      discovered_(std::move(discovered)),
      state_(std::move(state)) {
  if (state_) {
    for (const auto& p : providers_)
      runtime_.push_back({p.get(), &state_->health(p->name()),
                          state_->gate(p->name(), p->config().max_concurrency)});
  }
  for (const auto& g : config_->groups) {
    listed_.emplace(g.name, "kakehashi");
    std::vector<Target> targets;
    targets.reserve(g.targets.size());
    for (const auto& t : g.targets)
      if (const auto* p = provider(t.provider))
        targets.push_back({p, t.model, t.priority, t.weight});
    // The balancer keeps the config's order; routes list the targets by priority.
    if (state_ && !targets.empty()) {
      const Strategy strategy = parseStrategy(g.strategy).value_or(Strategy::kPriority);
      balancers_.emplace(g.name, std::make_unique<Balancer>(g.name, targets, strategy,
                                                            state_->stats(), &state_->breakers()));
    }
    std::stable_sort(targets.begin(), targets.end(),
                     [](const Target& a, const Target& b) { return a.priority < b.priority; });
    group_targets_.emplace(g.name, std::move(targets));
  }
  for (const auto& [alias, target] : config_->aliases) listed_.emplace(alias, "kakehashi");
  for (const auto& p : providers_) {
    for (const auto& m : modelsOf(p->name())) {
      listed_.emplace(p->name() + ":" + m, p->name());
      auto& owners = offered_by_[m];
      if (std::find(owners.begin(), owners.end(), p.get()) == owners.end())
        owners.push_back(p.get());
    }
  }
  for (const auto& [model, owners] : offered_by_)
    if (owners.size() == 1) listed_.emplace(model, owners.front()->name());

  // Model "auto" is listed when there is something to pick from and no group or alias took the
  // name (SPEC §4 resolves those first).
  config::AutoConfig auto_config =
      effectiveAutoConfig(config_->auto_select, availableModels(*config_, discovered_));
  const bool auto_available = !auto_config.default_target.empty() || !auto_config.rules.empty();
  if (auto_available) listed_.emplace("auto", "kakehashi");

  list_json_ = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& [id, owner] : listed_) {
    if (!first) list_json_ += ',';
    first = false;
    list_json_ += modelObject(id, owner);
  }
  list_json_ += "]}";
  if (auto_available) {
    auto setup = std::make_unique<AutoSetup>();
    setup->config = std::move(auto_config);
    setup->candidates = candidatesFor(setup->config, *this);
    auto_ = std::move(setup);
  }
}

const providers::Provider* ModelCatalog::provider(std::string_view name) const {
  for (const auto& p : providers_)
    if (p->name() == name) return p.get();
  return nullptr;
}

const std::vector<std::string>& ModelCatalog::modelsOf(std::string_view name) const {
  const providers::Provider* p = provider(name);
  if (!p) return kNoModels;
  if (p->config().models_configured) return p->config().models;
  auto it = discovered_.find(name);
  return it == discovered_.end() ? kNoModels : it->second;
}

const providers::Provider* ModelCatalog::providerForPrefix(std::string_view prefix) const {
  if (const auto* p = provider(prefix)) return p;
  const std::string_view type = wellKnownType(prefix);
  if (type.empty()) return nullptr;
  // "google:" also finds a provider named "gemini" and vice versa.
  if (type == "gemini") {
    if (const auto* p = provider(prefix == "google" ? "gemini" : "google")) return p;
  }
  if (type == "anthropic") {
    if (const auto* p = provider("anthropic")) return p;
  }
  for (const auto& p : providers_)
    if (p->config().type == type) return p.get();
  return nullptr;
}

core::Result<Route> ModelCatalog::resolve(std::string_view model) const {
  return resolveDepth(model, 0);
}

core::Result<Route> ModelCatalog::resolveDepth(std::string_view model, int depth) const {
  if (model.empty()) return core::Error::invalidField("model", "'model' must not be empty");
  if (depth > 4) return core::Error::modelNotFound(model);

  if (auto g = group_targets_.find(model); g != group_targets_.end()) {
    if (g->second.empty())
      return core::Error::unavailable(fmt::format("Group '{}' has no usable target", model));
    Route r{g->second, "group", g->first, nullptr};
    if (auto b = balancers_.find(model); b != balancers_.end()) r.balancer = b->second.get();
    return r;
  }

  if (auto it = config_->aliases.find(model); it != config_->aliases.end()) {
    auto r = resolveDepth(it->second, depth + 1);
    if (!r) {
      if (r.error().code == core::ErrorCode::kModelNotFound)
        return core::Error::modelNotFound(model);
      return r;
    }
    r->via = "alias";
    return r;
  }

  if (const size_t colon = model.find(':'); colon != std::string_view::npos) {
    if (const auto* p = providerForPrefix(model.substr(0, colon))) {
      const std::string_view rest = model.substr(colon + 1);
      if (rest.empty()) return core::Error::modelNotFound(model);
      const auto& known = modelsOf(p->name());
      // With a known list, a name outside it is a typo to report now, not an upstream round trip.
      if (!known.empty() && std::find(known.begin(), known.end(), rest) == known.end())
        return core::Error::modelNotFound(model);
      return Route{{Target{p, std::string(rest)}}, "prefix", {}, nullptr};
    }
  }

  if (auto it = offered_by_.find(std::string(model)); it != offered_by_.end()) {
    if (it->second.size() == 1)
      return Route{{Target{it->second.front(), std::string(model)}}, "model", {}, nullptr};
    std::string names;
    for (const auto* p : it->second) names += (names.empty() ? "" : ", ") + p->name();
    core::Error e = core::Error::modelNotFound(model);
    e.message = fmt::format(
        "The model '{}' is offered by several providers ({}); name one as 'provider:{}'", model,
        names, model);
    return e;
  }
  return core::Error::modelNotFound(model);
}

ProviderHealth* ModelCatalog::health(const providers::Provider* provider) const {
  for (const auto& r : runtime_)
    if (r.provider == provider) return r.health;
  return nullptr;
}

ConcurrencyGate* ModelCatalog::gate(const providers::Provider* provider) const {
  for (const auto& r : runtime_)
    if (r.provider == provider) return r.gate;
  return nullptr;
}

core::Result<std::string> ModelCatalog::modelJson(std::string_view id) const {
  if (auto it = listed_.find(id); it != listed_.end()) return modelObject(id, it->second);
  auto r = resolve(id);
  if (!r) return core::Error::modelNotFound(id);
  return modelObject(id, r->targets.front().provider->name());
}

}  // namespace kh::routing
