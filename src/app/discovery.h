#pragma once

#include <chrono>

#include "routing/model_catalog.h"

namespace kh::app {

// Asks each provider without a configured model list for its models (GET {base_url}/models), all
// at once, waiting at most `budget`. Providers that fail or time out are simply absent from the
// result; their prefixed names still route.
routing::DiscoveredModels discoverModels(const routing::ProviderSet& providers,
                                         std::chrono::milliseconds budget,
                                         std::vector<std::string>* failed);

}  // namespace kh::app
