#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/server.h"
#include "routing/catalog_holder.h"

namespace kh::app {

// The proxy port's routes (SPEC §3). Stateless apart from the catalog it reads per request.
class ProxyRouter {
 public:
  explicit ProxyRouter(const routing::CatalogHolder& catalogs) : catalogs_(catalogs) {}

  boost::asio::awaitable<void> handle(http::Exchange& ex) const;

 private:
  const routing::CatalogHolder& catalogs_;
};

// Renders errors that the HTTP server itself detects, in OpenAI's shape.
std::pair<std::string, std::string> renderServerError(const core::Error& error);

}  // namespace kh::app
