#include "http/url.h"

#include <gtest/gtest.h>

namespace kh::http {
namespace {

TEST(Url, ParsesSchemesPortsAndPaths) {
  auto e = parseEndpoint("https://api.openai.com/v1");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "api.openai.com");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->path, "/v1");

  e = parseEndpoint("http://127.0.0.1:8080/v1/models?x=1");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->path, "/v1/models?x=1");
  EXPECT_EQ(e->hostPort(), "127.0.0.1:8080");

  e = parseEndpoint("http://[::1]:9000");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->path, "/");
  EXPECT_EQ(e->hostPort(), "[::1]:9000");

  e = parseEndpoint("http://user:p%40ss@proxy.local:3128");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->userinfo, "user:p@ss");

  EXPECT_FALSE(parseEndpoint("ftp://x"));
  EXPECT_FALSE(parseEndpoint("not a url"));
}

TEST(Url, JoinsBaseAndPath) {
  EXPECT_EQ(joinUrl("https://x/v1", "/chat/completions"), "https://x/v1/chat/completions");
  EXPECT_EQ(joinUrl("https://x/v1/", "/models"), "https://x/v1/models");
  EXPECT_EQ(joinUrl("https://x", "models"), "https://x/models");
}

TEST(Url, ProxySelectionHonoursNoProxyAndLoopback) {
  ProxySettings s;
  s.https_proxy = "http://proxy:3128";
  s.http_proxy = "http://plain-proxy:3128";
  s.no_proxy = {"internal.example", "10.0.0.5", "svc:8443"};
  auto dest = [](const char* url) { return *parseEndpoint(url); };
  EXPECT_EQ(s.proxyFor(dest("https://api.openai.com/v1")), "http://proxy:3128");
  EXPECT_EQ(s.proxyFor(dest("http://example.com")), "http://plain-proxy:3128");
  EXPECT_EQ(s.proxyFor(dest("https://a.internal.example")), "");
  EXPECT_EQ(s.proxyFor(dest("https://internal.example")), "");
  EXPECT_EQ(s.proxyFor(dest("https://notinternal.example")), "http://proxy:3128");
  EXPECT_EQ(s.proxyFor(dest("https://10.0.0.5")), "");
  EXPECT_EQ(s.proxyFor(dest("https://svc:8443")), "");
  EXPECT_EQ(s.proxyFor(dest("https://svc:443")), "http://proxy:3128");
  EXPECT_EQ(s.proxyFor(dest("http://127.0.0.1:11434")), "");
  EXPECT_EQ(s.proxyFor(dest("http://localhost:11434")), "");
  s.no_proxy = {"*"};
  EXPECT_EQ(s.proxyFor(dest("https://api.openai.com")), "");
}

}  // namespace
}  // namespace kh::http
