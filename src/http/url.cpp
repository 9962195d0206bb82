#include "http/url.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <boost/url/parse.hpp>

namespace kh::http {

std::string Endpoint::hostPort() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string Endpoint::origin() const {
  return fmt::format("{}://{}", tls ? "https" : "http", hostPort());
}

core::Result<Endpoint> parseEndpoint(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return core::Error::internal(fmt::format("invalid URL '{}'", url));
  const auto& u = *parsed;
  Endpoint e;
  const std::string scheme = u.scheme();
  if (scheme == "https") {
    e.tls = true;
    e.port = 443;
  } else if (scheme == "http") {
    e.port = 80;
  } else {
    return core::Error::internal(fmt::format("URL '{}' must use http or https", url));
  }
  e.host = u.encoded_host_address().decode();
  if (!e.host.empty() && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  if (e.host.empty()) return core::Error::internal(fmt::format("URL '{}' has no host", url));
  if (u.has_port()) e.port = u.port_number();
  e.path = std::string(u.encoded_path());
  if (e.path.empty()) e.path = "/";
  if (u.has_query()) e.path += "?" + std::string(u.encoded_query());
  if (u.has_userinfo()) e.userinfo = u.userinfo();
  return e;
}

std::string joinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string out(base);
  if (!path.empty() && path.front() != '/') out.push_back('/');
  out.append(path);
  return out;
}

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         host.ends_with(".localhost");
}

namespace {
std::string envAny(std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return v;
  return {};
}
}  // namespace

ProxySettings ProxySettings::fromEnvironment() {
  ProxySettings s;
  s.http_proxy = envAny({"HTTP_PROXY", "http_proxy"});
  s.https_proxy = envAny({"HTTPS_PROXY", "https_proxy"});
  const std::string no = envAny({"NO_PROXY", "no_proxy"});
  size_t i = 0;
  while (i <= no.size()) {
    size_t j = no.find(',', i);
    if (j == std::string::npos) j = no.size();
    std::string item = no.substr(i, j - i);
    item.erase(std::remove_if(item.begin(), item.end(), [](char c) { return c == ' '; }),
               item.end());
    std::transform(item.begin(), item.end(), item.begin(), ::tolower);
    if (!item.empty() && item.front() == '.') item.erase(0, 1);
    if (!item.empty()) s.no_proxy.push_back(item);
    i = j + 1;
  }
  return s;
}

std::string ProxySettings::proxyFor(const Endpoint& dest) const {
  const std::string& proxy = dest.tls ? https_proxy : http_proxy;
  if (proxy.empty() || isLoopbackHost(dest.host)) return {};
  std::string host = dest.host;
  std::transform(host.begin(), host.end(), host.begin(), ::tolower);
  for (const auto& n : no_proxy) {
    if (n == "*") return {};
    std::string_view entry = n;
    // "host:port" entries match only that port.
    if (const size_t colon = entry.rfind(':');
        colon != std::string_view::npos && entry.find(':') == colon) {
      if (entry.substr(colon + 1) != std::to_string(dest.port)) continue;
      entry = entry.substr(0, colon);
    }
    if (host == entry) return {};
    if (host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.')
      return {};
  }
  return proxy;
}

}  // namespace kh::http
