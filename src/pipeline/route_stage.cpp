#include "pipeline/stages.h"

namespace kh::pipeline {

core::Status routeStage(RequestContext& ctx) {
  auto route = ctx.catalog->resolve(ctx.info.model);
  if (!route) return std::move(route).error();
  ctx.route = std::move(*route);
  return core::Ok{};
}

}  // namespace kh::pipeline
