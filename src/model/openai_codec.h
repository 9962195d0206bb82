#pragma once

#include <string>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "model/types.h"

namespace kh::model {

// OpenAI's chat/embeddings wire format ⇄ the canonical types. Parsing validates shapes and names
// the offending field in the Error's `param` (e.g. "messages[2].content"); rendering produces what
// OpenAI itself would send or accept.

core::Result<ChatRequest> parseOpenAIChatRequest(const boost::json::value& body);
boost::json::object toOpenAIJson(const ChatRequest& request);

core::Result<ChatResponse> parseOpenAIChatResponse(const boost::json::value& body);
boost::json::object toOpenAIJson(const ChatResponse& response);

core::Result<ChatChunk> parseOpenAIChatChunk(const boost::json::value& chunk);
boost::json::object toOpenAIJson(const ChatChunk& chunk);

boost::json::object toOpenAIJson(const Usage& usage);
Usage parseOpenAIUsage(const boost::json::value& usage);

core::Result<EmbeddingRequest> parseOpenAIEmbeddingRequest(const boost::json::value& body);
boost::json::object toOpenAIJson(const EmbeddingResponse& response);

}  // namespace kh::model
