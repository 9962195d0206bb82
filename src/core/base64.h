#pragma once

#include <string>
#include <string_view>

namespace kh::core {

// Standard base64 with padding (RFC 4648 §4): proxy credentials, image data, embeddings.
std::string base64Encode(std::string_view in);

}  // namespace kh::core
