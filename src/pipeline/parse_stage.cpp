#include "api/client_api.h"
#include "pipeline/stages.h"

namespace kh::pipeline {

core::Status parseStage(RequestContext& ctx) {
  static_assert(http::kBodyPadding >= api::kJsonPadding);
  ctx.body = ctx.ex.request.body;
  // A request translated for its provider is read into the canonical form: the usual text chat
  // in one pass that also validates it, any other from the body's document, with which the body
  // is then validated too, sparing a pass. One that goes as it is needs only the scan. The first
  // target of the model named first decides, and its route is kept for routeStage.
  api::BodyReading reading = api::BodyReading::kScan;
  if (const std::string_view model = api::leadingModel(ctx.body); !model.empty()) {
    if (auto route = ctx.catalog->resolve(model); route && !route->targets.empty()) {
      const bool translated = ctx.op != providers::Operation::kEmbedding &&
                              route->targets.front().provider->wire() != api::wireOf(ctx.client);
      ctx.route = std::move(*route);
      ctx.route_model = model;
      if (translated && ctx.readBodyAsText()) return core::Ok{};
      if (translated) reading = api::BodyReading::kDocument;
    }
  }
  auto info =
      api::inspectPaddedBody(ctx.body, ctx.op, ctx.client == api::ClientApi::kAnthropic, reading);
  if (!info) return std::move(info).error();
  ctx.info = std::move(*info);
  return core::Ok{};
}

}  // namespace kh::pipeline
