#include "pipeline/stages.h"

namespace kh::pipeline {

core::Status parseStage(RequestContext& ctx) {
  static_assert(http::kBodyPadding >= api::kJsonPadding);
  ctx.body = ctx.ex.request.body;
  auto info = api::inspectPaddedBody(ctx.body, ctx.op, ctx.client == api::ClientApi::kAnthropic);
  if (!info) return std::move(info).error();
  ctx.info = std::move(*info);
  return core::Ok{};
}

}  // namespace kh::pipeline
