#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "routing/model_catalog.h"

namespace kh::app {

// One provider's answer to "list your models".
struct ModelListResult {
  std::string provider;
  core::Result<std::vector<std::string>> ids = core::Error::internal("not asked");
  std::chrono::microseconds latency{0};  // of the answer, successful or not
};

// Asks each provider for its model list (its own list endpoint, with its key), all at once,
// waiting at most `budget`; a provider that has not answered by then gets a timeout error.
// Results come in the order of `providers`.
std::vector<ModelListResult> fetchModelLists(const routing::ProviderSet& providers,
                                             std::chrono::milliseconds budget);

// Asks each provider without a configured model list for its models, waiting at most `budget`.
// Providers that fail or time out are absent from the result (and listed in `failed`); their
// prefixed names still route.
routing::DiscoveredModels discoverModels(const routing::ProviderSet& providers,
                                         std::chrono::milliseconds budget,
                                         std::vector<std::string>* failed);

}  // namespace kh::app
