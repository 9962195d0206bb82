#pragma once

#include <memory>

#include "routing/model_catalog.h"

namespace kh::routing {

// The current catalog for every thread. Writers publish a new one; readers on the hot path check
// one atomic counter and only touch the shared pointer (and its lock) when it changed.
class CatalogHolder {
 public:
  void publish(std::shared_ptr<const ModelCatalog> catalog);
  std::shared_ptr<const ModelCatalog> current() const;

 private:
  mutable std::atomic<std::shared_ptr<const ModelCatalog>> catalog_;
  std::atomic<unsigned long long> version_{0};
};

}  // namespace kh::routing
