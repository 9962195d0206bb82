#include "model/gemini_codec.h"

namespace kh::model {}  // namespace kh::model
