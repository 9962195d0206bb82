#include "routing/catalog_holder.h"

namespace kh::routing {

void CatalogHolder::publish(std::shared_ptr<const ModelCatalog> catalog) {
  catalog_.store(std::move(catalog));
  version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const ModelCatalog> CatalogHolder::current() const {
  struct Cache {
    const CatalogHolder* owner = nullptr;
    unsigned long long version = ~0ULL;
    std::shared_ptr<const ModelCatalog> catalog;
  };
  thread_local Cache cache;
  const auto v = version_.load(std::memory_order_acquire);
  if (cache.owner != this || cache.version != v) {
    cache.catalog = catalog_.load();
    cache.owner = this;
    cache.version = v;
  }
  return cache.catalog;
}

}  // namespace kh::routing
