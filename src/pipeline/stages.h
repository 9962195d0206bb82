#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include "pipeline/request_context.h"

namespace kh::pipeline {

// The stages of a proxied request, in order (DESIGN.md): parse → route → dispatch → record.
// Authentication, limits, cache and privacy guards arrive as stages of their own.

// Validates the inbound body and reads what routing needs (model, stream, stream_options).
core::Status parseStage(RequestContext& ctx);

// Resolves the requested model to the targets to try.
core::Status routeStage(RequestContext& ctx);

// Tries targets in order until one answers, and relays that answer to the client: whole bodies
// as they are, streams event by event. An error is returned only while nothing has been sent.
boost::asio::awaitable<core::Status> dispatchStage(RequestContext& ctx);

// Fills ctx.plan from ctx.route: the balancer's order for groups, targets with open breakers
// left out. With all of them cooling down: a 503, or (within failover's wait_s) cooling_until.
core::Status planTargets(RequestContext& ctx);

// Writes the access-log line.
void recordStage(const RequestContext& ctx);

// The access-log line of any answer; `routed` adds what the pipeline learnt. Requests answered
// without the pipeline (health, models, unknown routes) log through here too, in the same shape.
void logAccess(const http::Exchange& ex, std::string_view request_id, int status,
               std::chrono::steady_clock::time_point start, std::size_t bytes_out,
               const RequestContext* routed);

// Runs the stages for one request, whose context lives in this coroutine's frame, and answers
// errors in the client API's shape.
boost::asio::awaitable<void> runPipeline(http::Exchange& ex, std::string request_id,
                                         api::ClientApi client, providers::Operation op,
                                         std::shared_ptr<const routing::ModelCatalog> catalog);

}  // namespace kh::pipeline
