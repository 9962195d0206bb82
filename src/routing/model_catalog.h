#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace kh::routing {

struct Target {
  const providers::Provider* provider = nullptr;
  std::string model;  // the name the upstream knows
  int priority = 1;
  int weight = 1;
};

class Balancer;
class RoutingState;
class ProviderHealth;
class ConcurrencyGate;
struct AutoSetup;

struct Route {
  std::vector<Target> targets;  // in the order to try them
  std::string via;              // group | alias | prefix | model
  std::string group;            // the group's name when the route is a group (also via an alias)
  // For groups: orders the targets per request (strategy, tiers, breakers). Owned by the catalog.
  const Balancer* balancer = nullptr;
};

using ProviderSet = std::vector<std::shared_ptr<const providers::Provider>>;
using DiscoveredModels = std::map<std::string, std::vector<std::string>, std::less<>>;

// Every routable model name, resolved per SPEC §4. Immutable; a new one is built whenever the
// config or a provider's discovered model list changes, and swapped in atomically.
class ModelCatalog {
 public:
  // `state` (shared by every catalog of the process) enables balancing and breakers; without it
  // group targets are tried in priority order.
  ModelCatalog(std::shared_ptr<const config::Config> config, ProviderSet providers,
               DiscoveredModels discovered, std::shared_ptr<RoutingState> state = nullptr);
  ~ModelCatalog();

  // Order: group → alias → provider prefix ("name:model", well-known prefixes) → a bare name
  // offered by exactly one provider → 404 model_not_found.
  core::Result<Route> resolve(std::string_view model) const;

  // The OpenAI list object of every listed name, rendered once.
  const std::string& listJson() const { return list_json_; }
  // One model object, or a 404 error for names that neither are listed nor resolve.
  core::Result<std::string> modelJson(std::string_view id) const;

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& configPtr() const { return config_; }
  const ProviderSet& providers() const { return providers_; }
  const providers::Provider* provider(std::string_view name) const;
  // Models of a provider: configured, else discovered; empty when unknown.
  const std::vector<std::string>& modelsOf(std::string_view provider) const;
  const DiscoveredModels& discovered() const { return discovered_; }
  RoutingState* state() const { return state_.get(); }
  const std::shared_ptr<RoutingState>& stateShared() const { return state_; }
  // The rules and candidate facts for model "auto" (configured, else built in); null when no
  // chat model is available to pick from.
  const AutoSetup* autoSetup() const { return auto_.get(); }
  // The provider's passive health record; null without routing state.
  ProviderHealth* health(const providers::Provider* provider) const;
  // The provider's max_concurrency gate; null when it has no limit (or without routing state).
  ConcurrencyGate* gate(const providers::Provider* provider) const;
  std::size_t listedCount() const { return listed_.size(); }

 private:
  core::Result<Route> resolveDepth(std::string_view model, int depth) const;
  const providers::Provider* providerForPrefix(std::string_view prefix) const;

  std::shared_ptr<const config::Config> config_;
  ProviderSet providers_;
  DiscoveredModels discovered_;
  std::unordered_map<std::string, std::vector<const providers::Provider*>> offered_by_;
  std::map<std::string, std::string, std::less<>> listed_;  // id → owned_by
  std::string list_json_;
  std::shared_ptr<RoutingState> state_;
  std::map<std::string, std::unique_ptr<Balancer>, std::less<>> balancers_;
  // Each group's usable targets, in priority order (stable for equal priorities).
  std::map<std::string, std::vector<Target>, std::less<>> group_targets_;
  struct ProviderRuntime {
    const providers::Provider* provider;
    ProviderHealth* health;
    ConcurrencyGate* gate;
  };
  std::vector<ProviderRuntime> runtime_;
  std::unique_ptr<const AutoSetup> auto_;
};

}  // namespace kh::routing
