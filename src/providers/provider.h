#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "http/upstream.h"

namespace kh::providers {

enum class WireFormat { kOpenAI, kAnthropic, kGemini };

// What an inbound request asks an upstream to do.
enum class Operation { kChat, kCompletion, kEmbedding };

// Per-type facts: how to reach a provider of that type when the config does not say.
struct ProviderType {
  std::string_view name;
  WireFormat wire;
  std::string_view default_base_url;
};

const ProviderType* findProviderType(std::string_view name);

// A configured upstream. Immutable after construction and shared by all threads; everything a
// request needs to mutate (stream decoders) is created per request. Pure transforms only: no I/O.
class Provider {
 public:
  virtual ~Provider() = default;

  const config::ProviderConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::string& baseUrl() const { return base_url_; }
  WireFormat wire() const { return type_.wire; }
  // Why this provider cannot send anything (a malformed base_url), or "".
  const std::string& targetError() const { return target_error_; }

  // An upstream request whose body is already in this provider's wire format (the pass-through
  // fast path). `stream` selects the SSE accept header.
  virtual http::UpstreamRequest passThrough(Operation op, std::string body, bool stream) const = 0;
  // The request that lists the provider's models, and the model ids in its answer.
  virtual http::UpstreamRequest listModels() const = 0;
  virtual std::vector<std::string> parseModelList(std::string_view body) const = 0;

 protected:
  Provider(config::ProviderConfig config, const ProviderType& type);

  // Resolves base_url + path once; an unusable URL leaves a target that fails every request.
  const http::UpstreamTarget* addTarget(std::string_view path);

  config::ProviderConfig config_;
  const ProviderType& type_;
  std::string base_url_;
  std::vector<std::unique_ptr<http::UpstreamTarget>> targets_;
  std::string target_error_;
};

// Builds the provider for a config entry; nullptr with a message for types not yet served.
std::unique_ptr<Provider> makeProvider(const config::ProviderConfig& config, std::string* why);

}  // namespace kh::providers
