#include "model/types.h"

#include "core/text_search.h"
#include "model/json_scan.h"

namespace kh::model {

ContentPart ContentPart::textPart(std::string text) {
  ContentPart p;
  p.kind = Kind::kText;
  p.text = std::move(text);
  return p;
}

std::string Message::text() const {
  std::string out;
  for (const auto& part : content)
    if (part.kind == ContentPart::Kind::kText) out += part.text;
  return out;
}

std::string_view toString(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kContentFilter:
      return "content_filter";
    case FinishReason::kNone:
      break;
  }
  return "";
}

FinishReason finishReasonFromString(std::string_view s) {
  if (s == "stop") return FinishReason::kStop;
  if (s == "length") return FinishReason::kLength;
  if (s == "tool_calls" || s == "function_call") return FinishReason::kToolCalls;
  if (s == "content_filter") return FinishReason::kContentFilter;
  return FinishReason::kNone;
}

std::string_view toString(Role r) {
  switch (r) {
    case Role::kSystem:
      return "system";
    case Role::kDeveloper:
      return "developer";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
    case Role::kTool:
      return "tool";
  }
  return "user";
}

std::optional<Role> roleFromString(std::string_view s) {
  if (s == "system") return Role::kSystem;
  if (s == "developer") return Role::kDeveloper;
  if (s == "user") return Role::kUser;
  if (s == "assistant") return Role::kAssistant;
  if (s == "tool" || s == "function") return Role::kTool;
  return std::nullopt;
}

ChatChunk& ChunkBuffer::next() {
  if (size_ == chunks_.size()) chunks_.emplace_back();
  return chunks_[size_++];
}

ChatChunk& ChunkBuffer::add(std::string_view id, std::string_view model, long long created) {
  ChatChunk& c = next();
  c.choices.clear();
  c.usage.reset();
  if (!core::sameBytes(c.id, id)) c.id.assign(id);
  if (!core::sameBytes(c.model, model)) c.model.assign(model);
  c.created = created;
  return c;
}

ChatChunk& ChunkBuffer::add(const TextDelta& delta) {
  ChatChunk& c = add(delta.id, delta.model, delta.created);
  ChunkChoice& choice = c.choices.emplace_back();
  choice.index = delta.index;
  // Decoders hand over only text their scanner checked, which decodes.
  JsonString{delta.json_text, delta.escaped}.appendTo(choice.content.emplace());
  return c;
}

ChatChunk& ChunkBuffer::add() {
  ChatChunk& c = next();
  c.clear();
  return c;
}

std::size_t ChunkBuffer::heldBytes() const {
  std::size_t n = chunks_.capacity() * sizeof(ChatChunk);
  for (const ChatChunk& c : chunks_) {
    n += c.id.capacity() + c.model.capacity() + c.choices.capacity() * sizeof(ChunkChoice);
    for (const ChunkChoice& ch : c.choices) {
      if (ch.content) n += ch.content->capacity();
      n += ch.tool_calls.capacity() * sizeof(ToolCallDelta);
      for (const ToolCallDelta& t : ch.tool_calls)
        n += t.id.capacity() + t.name.capacity() + t.arguments.capacity();
    }
  }
  return n;
}

}  // namespace kh::model
