#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/client_api.h"
#include "api/openai_body.h"
#include "http/server.h"
#include "providers/provider.h"
#include "routing/balancer.h"
#include "routing/breaker.h"
#include "routing/model_catalog.h"

namespace kh::pipeline {

// Everything one proxied request carries through the stages, and what they found out, which the
// record stage writes down. Lives on the request's coroutine frame; single-threaded.
struct RequestContext {
  RequestContext(http::Exchange& exchange, std::string request_id, api::ClientApi client,
                 providers::Operation op, std::shared_ptr<const routing::ModelCatalog> catalog);

  http::Exchange& ex;
  std::string request_id;
  api::ClientApi client;
  providers::Operation op;
  std::shared_ptr<const routing::ModelCatalog> catalog;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  std::string_view body;  // the inbound body: the request's, valid while it is handled
  api::OpenAIBodyInfo info;
  routing::Route route;
  std::string_view route_model;  // the model `route` was resolved for, when parseStage did
  // The targets to try, in order: the balancer's pick for groups, open breakers left out.
  struct Attempt {
    const routing::Target* target = nullptr;  // into `route` or the catalog's balancer
    routing::Breaker* breaker = nullptr;
    routing::TargetStats::Entry* stats = nullptr;
  };
  std::vector<Attempt> plan;
  // Every target was cooling down, the first until this time, within failover's wait_s: dispatch
  // waits for it and plans again.
  std::optional<std::chrono::steady_clock::time_point> cooling_until;
  // The SSE response went out early (keep-alive comments while queued for a provider slot).
  bool stream_open = false;
  // Model "auto": the rule that chose and why (response headers).
  std::string auto_rule;
  std::string auto_reason;
  // The canonical form of the body, built on the first attempt that needs translation. Without
  // its messages while chat_is_head: they are then text_messages.
  std::optional<model::ChatRequest> chat;
  bool chat_is_head = false;
  std::vector<model::TextMessage> text_messages;  // views into `body`
  bool text_tried = false;                        // the body was found not to be a text chat
  std::optional<model::EmbeddingRequest> embedding;

  // Outcome.
  int status = 0;
  std::string error;
  std::string provider;
  std::string upstream_model;
  int attempts = 0;
  api::UsageCounts usage;
  long long ttft_us = -1;
  std::size_t bytes_out = 0;

  // Adds x-request-id plus, once a target answered, which provider and model served the request.
  void addResponseHeaders(http::HeaderBlock& headers) const;
  // `chat`, read from the client's body the first time a stage needs it; an error (and `chat`
  // left empty) when the body is no valid request.
  core::Status readChat();
  // `chat` without its messages, text_messages and `info`, in one pass over the body, when the
  // body is the usual text chat that api::readChatAsText reads: for the parse stage, in place of
  // inspecting the body. false otherwise, with nothing read.
  bool readBodyAsText();
  // `chat` without its messages and text_messages, when the body is such a text chat (and `chat`
  // was not read whole already); false otherwise, with nothing read. readChat() later reads the
  // whole request if a stage needs it.
  bool readTextChat();

 private:
  bool readAsText(api::OpenAIBodyInfo& into);
};

}  // namespace kh::pipeline
