#include "api/client_api.h"
#include "pipeline/stages.h"

namespace kh::pipeline {

core::Status parseStage(RequestContext& ctx) {
  static_assert(http::kBodyPadding >= api::kJsonPadding);
  ctx.body = ctx.ex.request.body;
  // A request translated for its provider is mostly read from the body's document, and
  // validating the body with that document spares a pass; one that goes as it is, or an OpenAI
  // chat (read as text, see RequestContext::readTextChat), needs only the scan. The first target
  // of the model named first decides, and its route is kept for routeStage.
  api::BodyReading reading = api::BodyReading::kScan;
  if (const std::string_view model = api::leadingModel(ctx.body); !model.empty()) {
    if (auto route = ctx.catalog->resolve(model); route && !route->targets.empty()) {
      if (ctx.op != providers::Operation::kEmbedding &&
          route->targets.front().provider->wire() != api::wireOf(ctx.client) &&
          !api::readsChatAsText(ctx.client, ctx.op))
        reading = api::BodyReading::kDocument;
      ctx.route = std::move(*route);
      ctx.route_model = model;
    }
  }
  auto info =
      api::inspectPaddedBody(ctx.body, ctx.op, ctx.client == api::ClientApi::kAnthropic, reading);
  if (!info) return std::move(info).error();
  ctx.info = std::move(*info);
  return core::Ok{};
}

}  // namespace kh::pipeline
