#include "model/anthropic_codec.h"

namespace kh::model {}  // namespace kh::model
