#include "pipeline/stages.h"

namespace kh::pipeline {

core::Status parseStage(RequestContext& ctx) {
  ctx.body = std::move(ctx.ex.request.body);
  auto info = api::inspectBody(ctx.body, ctx.op, ctx.client == api::ClientApi::kAnthropic);
  if (!info) return std::move(info).error();
  ctx.info = std::move(*info);
  return core::Ok{};
}

}  // namespace kh::pipeline
