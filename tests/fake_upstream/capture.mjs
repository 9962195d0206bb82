// Records what a fake upstream sends, so tests can compare relayed bytes with the original.
// Shared by every fake (server.mjs, and the Anthropic and Gemini fakes through common.mjs).

/** Wraps res.write/end/writeHead so `record` gets status and body as they go out. */
export function captureResponse(res, record) {
  const origWrite = res.write.bind(res);
  const origEnd = res.end.bind(res);
  res.write = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') record.responseBody += chunk.toString();
    return origWrite(chunk, ...rest);
  };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') record.responseBody += chunk.toString();
    return origEnd(chunk, ...rest);
  };
  const origWriteHead = res.writeHead.bind(res);
  res.writeHead = (status, ...rest) => {
    record.status = status;
    return origWriteHead(status, ...rest);
  };
}
