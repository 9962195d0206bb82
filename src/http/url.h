#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace kh::http {

// An absolute http(s) URL split into the parts a connection needs.
struct Endpoint {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string path;      // path + query, never empty ("/" at least)
  std::string userinfo;  // "user:pass" for proxies, percent-decoded

  std::string hostPort() const;  // "host:port" with brackets for IPv6, for Host / CONNECT
  std::string origin() const;    // "https://host:port"
};

core::Result<Endpoint> parseEndpoint(std::string_view url);

// Joins a provider base URL ("https://api.openai.com/v1") and an API path ("/chat/completions").
std::string joinUrl(std::string_view base, std::string_view path);

bool isLoopbackHost(std::string_view host);

// HTTP(S)_PROXY and NO_PROXY as curl understands them. Loopback destinations never use a proxy:
// local runtimes (llama.cpp, Ollama) sit there and a corporate proxy cannot reach them.
struct ProxySettings {
  std::string http_proxy;
  std::string https_proxy;
  std::vector<std::string> no_proxy;  // lower-case host suffixes; "*" matches everything

  static ProxySettings fromEnvironment();
  // The proxy URL to use for a destination, or "" for a direct connection.
  std::string proxyFor(const Endpoint& dest) const;
};

}  // namespace kh::http
