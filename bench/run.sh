#!/usr/bin/env bash
# =============================================================================
# Kakehashi side-by-side load benchmark: direct upstream vs nginx vs kakehashi
# =============================================================================
#
# HOW TO RUN
#   bench/run.sh                      # from the repository root (or anywhere)
#
#   It installs what it lacks (Debian packages nginx-light and wrk, via apt-get;
#   uses sudo only when not root), then starts everything on 127.0.0.1 in a
#   temporary directory and tears it all down on exit:
#     1. mock upstream  - nginx returning a fixed OpenAI chat.completion JSON
#                         (one port) or a fixed SSE stream (another port) for
#                         POST /v1/chat/completions, and a model list for
#                         GET /v1/models
#     2. nginx proxy    - plain keep-alive reverse proxy in front of the mock,
#                         worker_processes 1 (proxy_buffering off for streams)
#     3. kakehashi      - build/kakehashi serve --threads 1 with two
#                         openai-compatible providers pointing at the mock
#                         (model gpt-4o-mini -> JSON mock,
#                          model gpt-4o-mini-stream -> SSE mock)
#   and drives each with wrk (a ~1 KB chat request; non-stream and stream;
#   1/16/64/256 connections).  The Markdown report goes to stdout and to
#   bench/results/latest.md.
#
# ENVIRONMENT (all optional)
#   KAKEHASHI_BIN     gateway binary            (default: <repo>/build/kakehashi)
#   BENCH_DURATION    seconds per wrk run       (default: 3)
#   BENCH_WARMUP      warm-up seconds per target and mode (default: 1)
#   BENCH_CONNS       connection counts         (default: "1 16 64 256")
#   BENCH_MODES       modes                     (default: "non-stream stream")
#   BENCH_REPEAT      runs per cell; the report shows the median of each metric,
#                     the median of the per-repeat CPU ratios (each repeat starts
#                     with another target) and the sum of errors   (default: 3)
#   BENCH_THREADS     wrk threads (capped at the connection count; default: 1)
#   BENCH_LOGS        1 = access logging on in both proxies (nginx access_log,
#                     kakehashi log_level info); 0 = off (nginx access_log off,
#                     kakehashi log_level warn)            (default: 1)
#   BENCH_OUT         report path               (default: <repo>/bench/results/latest.md)
#   BENCH_KEEP        1 = keep the temporary directory (configs, logs, raw wrk output)
#   BENCH_PIN         1 = pin wrk + mock to CPU 0 and the proxy under test to
#                     CPU 1 (taskset); steadier numbers on small VMs (default: 0)
#   BENCH_ONE_CORE    1 = after the other runs, measure the added latency at 1
#                     connection again with wrk, the mock and the proxy under
#                     test all on CPU 0 (taskset), where no request waits for a
#                     wake-up across cores; 0 = off            (default: 1)
#   BENCH_TRANSLATED  1 = also measure the translated paths through kakehashi
#                     (see TRANSLATED PATHS below); 0 = off, and the run and
#                     report are exactly the plain comparison      (default: 1)
#   BENCH_TRANSLATED_CONNS  connection counts for the translated paths
#   BENCH_TRANSLATED_PATHS  which of them (default: passthrough group openai-anthropic
#                           openai-gemini anthropic-openai; passthrough is always measured)
#                     (default: "1 16 64")
#
# TRANSLATED PATHS (BENCH_TRANSLATED=1; kakehashi only, nginx cannot translate)
#   The mock also answers in Anthropic's and Gemini's wire formats (same text,
#   same token counts as the OpenAI answers):
#     Anthropic Messages  POST /v1/messages -> a "message" (one port) or the
#                         message_start ... message_stop event stream (another
#                         port); GET /v1/models (Anthropic list shape)
#     Gemini v1beta       POST /v1beta/models/M:generateContent -> a
#                         GenerateContentResponse; POST ...:streamGenerateContent
#                         ?alt=sse -> "data: {...}" events framed with CRLF;
#                         GET /v1beta/models (one port for both)
#   kakehashi gets three more providers: anthropic-mock (type anthropic, model
#   claude-bench), anthropic-mock-stream (claude-bench-stream) and gemini-mock
#   (type gemini, models gemini-bench and gemini-bench-stream).  Paths, each
#   non-stream and stream, interleaved and repeated like the main targets:
#     pass-through       OpenAI request -> kakehashi -> OpenAI mock (baseline)
#     openai->anthropic  the same OpenAI request with model claude-bench[-stream]
#     openai->gemini     the same OpenAI request with model gemini-bench[-stream]
#     anthropic->openai  an Anthropic Messages request of the same content to
#                        kakehashi's /v1/messages, model gpt-4o-mini[-stream]
#   One answer per path and mode is checked first (client's wire format, the
#   mock's text, finish/stop reason, the event sequence; usage mismatches are
#   noted); a path that fails is reported and not loaded.  Needs jq.
#   Target: CPU per request of a translated path <= 1.3x the pass-through path, and of the
#   3-tier group path <= 1.05x
#   of the same mode and connection count.
#
# TARGETS (what kakehashi must meet; the report marks each as met / MISSED)
#   - CPU time per request     <= nginx's, at every connection count and mode
#   - added p99 latency at 1 connection (vs the direct mock) <= 50 us
#   - idle RSS                 <= 20 MB
#
# WHAT IS MEASURED
#   rps, p50, p99      from wrk (a Lua done() hook prints exact numbers)
#   CPU us/request     utime+stime of the proxy's processes (/proc/<pid>/stat,
#                      all threads; nginx = master + worker), read just before
#                      and after each wrk run, divided by wrk's request count
#   RSS idle / peak    VmRSS after start-up (before any load) and VmHWM after
#                      all runs (/proc/<pid>/status; nginx = master + worker)
#   errors             wrk's "Non-2xx or 3xx responses" and socket errors
#                      (connect/read/write/timeout)
#
# On a 2-core machine everything (wrk, mock, proxy) shares the cores, so the
# absolute numbers are contended; the comparison between nginx and kakehashi
# under identical conditions is the point.  The whole run takes about
# (#conns x #modes x 3 targets x BENCH_REPEAT x BENCH_DURATION) + warm-ups:
# about 4 minutes with the defaults; the translated paths add
# (#translated conns x #modes x 4 paths x BENCH_REPEAT x BENCH_DURATION) +
# warm-ups: about 4 more minutes with the defaults.
# =============================================================================
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"

KAKEHASHI_BIN="${KAKEHASHI_BIN:-$REPO_DIR/build/kakehashi}"
DURATION="${BENCH_DURATION:-3}"
WARMUP="${BENCH_WARMUP:-1}"
CONNS="${BENCH_CONNS:-1 16 64 256}"
MODES="${BENCH_MODES:-non-stream stream}"
WRK_THREADS="${BENCH_THREADS:-1}"
LOGS="${BENCH_LOGS:-1}"
OUT="${BENCH_OUT:-$REPO_DIR/bench/results/latest.md}"
KEEP="${BENCH_KEEP:-0}"
PIN="${BENCH_PIN:-0}"
REPEAT="${BENCH_REPEAT:-3}"
TRANSLATED="${BENCH_TRANSLATED:-1}"
ONE_CORE="${BENCH_ONE_CORE:-1}"
case "$ONE_CORE" in 0|1) ;; *) ONE_CORE=1 ;; esac
T_CONNS="${BENCH_TRANSLATED_CONNS:-1 16 64}"
case "$TRANSLATED" in 0|1) ;; *) TRANSLATED=1 ;; esac

say() { printf '[bench] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  if [ -n "${TMP:-}" ]; then
    local f
    for f in "$TMP"/mock/error.log "$TMP"/proxy/error.log; do
      if [ -s "$f" ]; then say "--- $f"; tail -n 5 "$f" >&2; fi
    done
  fi
  exit 1
}

# -----------------------------------------------------------------------------
# 0. Dependencies (idempotent, quiet)
# -----------------------------------------------------------------------------
install_deps() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ "$TRANSLATED" = 1 ]; then command -v jq >/dev/null 2>&1 || missing+=(jq); fi
  [ ${#missing[@]} -eq 0 ] && return 0
  local pkg need=()
  for pkg in "${missing[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get; install them by hand"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${need[*]}; run as root or install sudo"
    sudo=(sudo)
  fi
  say "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    # Newer Debian releases folded nginx-light into plain nginx.
    local alt=("${need[@]/nginx-light/nginx}")
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${alt[@]}" >/dev/null \
      || die "apt-get install ${need[*]} failed"
  fi
}
install_deps
NGINX="$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || die "nginx not found after install"
command -v wrk >/dev/null 2>&1 || die "wrk not found after install"
if [ "$TRANSLATED" = 1 ]; then command -v jq >/dev/null 2>&1 || die "jq not found after install (needed by BENCH_TRANSLATED=1)"; fi

CLK_TCK="$(getconf CLK_TCK)"

# How busy is the machine before we start?  Other load skews every number.
cpu_busy_pct() {   # over 1 s, all CPUs, from /proc/stat
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; i = y[2] - x[2];
    if (t > 0) printf "%.0f", 100 * (t - i) / t; else print 0 }'
}
BUSY_BEFORE=$(cpu_busy_pct)
if [ "$BUSY_BEFORE" -gt 20 ]; then
  say "warning: the machine is already ${BUSY_BEFORE}% busy before the benchmark; numbers will be skewed"
fi

# CPU pinning (BENCH_PIN=1): wrk and the mock on CPU 0, the proxy under test
# (nginx or kakehashi) alone on CPU 1.
PIN_LOAD=()
PIN_PROXY=()
if [ "$PIN" = 1 ]; then
  if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN_LOAD=(taskset -c 0)
    PIN_PROXY=(taskset -c 1)
  else
    say "BENCH_PIN=1 ignored (needs taskset and 2+ CPUs)"
    PIN=0
  fi
fi

# -----------------------------------------------------------------------------
# 1. Temp dir, process tracking, cleanup
# -----------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/kakehashi-bench.XXXXXX")"
chmod 755 "$TMP"
PIDS=()

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do                       # at most 5 s each
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then
    say "kept temporary directory $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# A port is free when nothing listens on it; ports are picked at random below
# the kernel's ephemeral range (so no outgoing connection can hold one) and
# checked with ss (or a /dev/tcp probe), never reused in one run.
USED_PORTS=" "
PORT_LO=10000
PORT_HI=$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
if [ "$PORT_HI" -lt $((PORT_LO + 1000)) ]; then PORT_LO=61000; PORT_HI=64999; fi
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( PORT_LO + (RANDOM * 32768 + RANDOM) % (PORT_HI - PORT_LO + 1) ))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! port_in_use "$p"; then
      USED_PORTS+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

wait_http() {   # url [tries (x0.1 s)] [pid]; succeeds on any HTTP answer < 500,
                # fails early when pid (the server) has exited
  local url=$1 tries=${2:-100} pid=${3:-} code
  for _ in $(seq 1 "$tries"); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)
    case "$code" in 2??|3??|4??) return 0 ;; esac
    sleep 0.1
  done
  return 1
}

# -----------------------------------------------------------------------------
# 2. Fixtures: upstream responses and the ~1 KB request bodies
# -----------------------------------------------------------------------------
MOCK_JSON='{"id":"chatcmpl-$request_id","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_bench0001","choices":[{"index":0,"message":{"role":"assistant","content":"A reverse proxy sits between clients and upstream servers. It accepts each request, picks an upstream, forwards the request over a pooled keep-alive connection, and relays the answer back, adding little latency of its own.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":231,"completion_tokens":44,"total_tokens":275,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}'

# The answer text: whole (non-stream) and in the 9 pieces every stream sends.
ANSWER_TEXT='A reverse proxy sits between clients and upstream servers. It accepts each request, picks an upstream, forwards the request over a pooled keep-alive connection, and relays the answer back, adding little latency of its own.'
PIECES=("A reverse" " proxy sits" " between clients" " and upstream" " servers, forwarding" " each request" " over pooled" " connections and" " relaying the answer.")
STREAM_TEXT=$(printf '%s' "${PIECES[@]}")

make_sse() {
  local id='chatcmpl-$request_id' created=1735689600 model='gpt-4o-mini-2024-07-18'
  local head="{\"id\":\"$id\",\"object\":\"chat.completion.chunk\",\"created\":$created,\"model\":\"$model\",\"system_fingerprint\":\"fp_bench0001\""
  local piece
  printf 'data: %s,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' "$head"
  for piece in "${PIECES[@]}"; do
    printf 'data: %s,"choices":[{"index":0,"delta":{"content":"%s"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' "$head" "$piece"
  done
  printf 'data: %s,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n' "$head"
  printf 'data: %s,"choices":[],"usage":{"prompt_tokens":231,"completion_tokens":19,"total_tokens":250,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}\n\n' "$head"
  printf 'data: [DONE]\n\n'
}

MODELS_JSON='{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},{"id":"gpt-4o-mini-stream","object":"model","created":1721172741,"owned_by":"system"}]}'

# Request text: a system prompt and a short multi-turn conversation, ~1 KB.
make_body() {   # model, stream(0|1)
  local model=$1 stream=$2 extra=''
  [ "$stream" = 1 ] && extra=',"stream":true,"stream_options":{"include_usage":true}'
  printf '%s' "{\"model\":\"$model\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a concise assistant for an infrastructure team. Answer in plain English, prefer short paragraphs, and mention trade-offs when they matter. When you are unsure, say so and suggest how to measure it instead of guessing.\"},{\"role\":\"user\",\"content\":\"We run several language model providers behind one endpoint. What does a gateway in front of them actually do on every request?\"},{\"role\":\"assistant\",\"content\":\"It authenticates the caller, resolves the requested model to a provider, forwards the request over a pooled connection, and records usage such as tokens, latency and cost.\"},{\"role\":\"user\",\"content\":\"And how is that different from an ordinary reverse proxy like nginx? Please keep the answer under one hundred words and focus on the extra work per request, because we care about latency and CPU cost at high request rates.\"}],\"temperature\":0.2,\"max_tokens\":256$extra}"
}

# --- Translated paths (BENCH_TRANSLATED=1): the same answer in Anthropic's and
# Gemini's wire formats (same text, same token counts), and an Anthropic
# Messages request with the same content as make_body's.
#
# Anthropic Messages API: a "message" object; the stream is `event: <type>` +
# `data: <json>` per event, LF line ends, in the API's order: message_start,
# content_block_start, ping, content_block_delta (text_delta) per piece,
# content_block_stop, message_delta (stop_reason, usage), message_stop.
ANTH_USAGE_IN='"input_tokens":231,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}'
ANTH_JSON="{\"id\":\"msg_\$request_id\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\",\"text\":\"$ANSWER_TEXT\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{$ANTH_USAGE_IN,\"output_tokens\":44,\"service_tier\":\"standard\"}}"
make_anth_sse() {
  local piece
  printf 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_$request_id","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{%s,"output_tokens":1,"service_tier":"standard"}}}\n\n' "$ANTH_USAGE_IN"
  printf 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
  printf 'event: ping\ndata: {"type": "ping"}\n\n'
  for piece in "${PIECES[@]}"; do
    printf 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"%s"}}\n\n' "$piece"
  done
  printf 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
  printf 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":19}}\n\n'
  printf 'event: message_stop\ndata: {"type":"message_stop"}\n\n'
}
ANTH_MODELS_JSON='{"data":[{"type":"model","id":"claude-bench","display_name":"Claude Bench","created_at":"2025-09-29T00:00:00Z"},{"type":"model","id":"claude-bench-stream","display_name":"Claude Bench (stream)","created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"first_id":"claude-bench","last_id":"claude-bench-stream"}'

# Gemini API v1beta: generateContent answers pretty-printed JSON (Google APIs
# default to prettyPrint=true); streamGenerateContent?alt=sse sends one
# `data: <GenerateContentResponse>` per event in Google's compact style
# (`": "` after keys), each ended by CRLF CRLF; every event carries
# usageMetadata, the last one finishReason and the full counts; no [DONE].
# The CRLFs are written as \r\n, which nginx turns into CR LF inside a quoted
# string.
GEM_JSON="{
  \"candidates\": [
    {
      \"content\": {
        \"parts\": [
          {
            \"text\": \"$ANSWER_TEXT\"
          }
        ],
        \"role\": \"model\"
      },
      \"finishReason\": \"STOP\",
      \"avgLogprobs\": -0.10790280004342397
    }
  ],
  \"usageMetadata\": {
    \"promptTokenCount\": 231,
    \"candidatesTokenCount\": 44,
    \"totalTokenCount\": 275,
    \"promptTokensDetails\": [
      {
        \"modality\": \"TEXT\",
        \"tokenCount\": 231
      }
    ],
    \"candidatesTokensDetails\": [
      {
        \"modality\": \"TEXT\",
        \"tokenCount\": 44
      }
    ]
  },
  \"modelVersion\": \"gemini-2.0-flash\",
  \"responseId\": \"\$request_id\"
}
"
make_gem_sse() {
  local i n=${#PIECES[@]} tail='"modelVersion": "gemini-2.0-flash","responseId": "$request_id"'
  for ((i = 0; i < n - 1; i++)); do
    printf 'data: {"candidates": [{"content": {"parts": [{"text": "%s"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 231,"totalTokenCount": 231,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 231}]},%s}\\r\\n\\r\\n' "${PIECES[$i]}" "$tail"
  done
  printf 'data: {"candidates": [{"content": {"parts": [{"text": "%s"}],"role": "model"},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 231,"candidatesTokenCount": 19,"totalTokenCount": 250,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 231}],"candidatesTokensDetails": [{"modality": "TEXT","tokenCount": 19}]},%s}\\r\\n\\r\\n' "${PIECES[$((n - 1))]}" "$tail"
}
GEM_MODELS_JSON='{
  "models": [
    {
      "name": "models/gemini-bench",
      "version": "001",
      "displayName": "Gemini Bench",
      "description": "Bench mock model",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": [
        "generateContent",
        "countTokens"
      ]
    },
    {
      "name": "models/gemini-bench-stream",
      "version": "001",
      "displayName": "Gemini Bench (stream)",
      "description": "Bench mock model",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": [
        "generateContent",
        "countTokens"
      ]
    }
  ]
}
'

# An Anthropic Messages request with make_body's content: the system prompt
# as top-level "system", the same three turns, max_tokens and temperature.
make_anth_body() {   # model, stream(0|1)
  local model=$1 stream=$2 extra=''
  [ "$stream" = 1 ] && extra=',"stream":true'
  printf '%s' "{\"model\":\"$model\",\"max_tokens\":256,\"system\":\"You are a concise assistant for an infrastructure team. Answer in plain English, prefer short paragraphs, and mention trade-offs when they matter. When you are unsure, say so and suggest how to measure it instead of guessing.\",\"messages\":[{\"role\":\"user\",\"content\":\"We run several language model providers behind one endpoint. What does a gateway in front of them actually do on every request?\"},{\"role\":\"assistant\",\"content\":\"It authenticates the caller, resolves the requested model to a provider, forwards the request over a pooled connection, and records usage such as tokens, latency and cost.\"},{\"role\":\"user\",\"content\":\"And how is that different from an ordinary reverse proxy like nginx? Please keep the answer under one hundred words and focus on the extra work per request, because we care about latency and CPU cost at high request rates.\"}],\"temperature\":0.2$extra}"
}

# nginx accepts multi-line single-quoted strings; the fixtures contain no
# single quotes and no '$' but for nginx's $request_id, so they can be embedded
# verbatim. Every answer's id is $request_id (32 hex digits, new for each
# answer), as a provider's ids are new for each answer: a reader that keeps the
# head of one stream's events cannot take it for the next stream's.
SSE_BODY="$(make_sse)"
SSE_BODY+=$'\n\n'        # restore the final blank line that $(...) strips
FIXTURES="$MOCK_JSON$SSE_BODY$MODELS_JSON"
case "${FIXTURES//\$request_id/}" in *\'*|*\$*) die "fixture contains ' or \$" ;; esac
if [ "$TRANSLATED" = 1 ]; then
  ANTH_SSE_BODY="$(make_anth_sse)"
  ANTH_SSE_BODY+=$'\n\n'
  GEM_SSE_BODY="$(make_gem_sse)"
  FIXTURES="$ANTH_JSON$ANTH_SSE_BODY$ANTH_MODELS_JSON$GEM_JSON$GEM_SSE_BODY$GEM_MODELS_JSON"
  case "${FIXTURES//\$request_id/}" in
    *\'*|*\$*) die "translated fixture contains ' or \$" ;;
  esac
fi

# -----------------------------------------------------------------------------
# 3. Configs
# -----------------------------------------------------------------------------
NGINX_USER_LINE=''
if [ "$(id -u)" -eq 0 ]; then
  NGINX_USER_LINE="user $(id -un) $(id -gn);"
fi

nginx_common() {   # name -> shared top of an nginx config (1 worker)
  local n=$1
  mkdir -p "$TMP/$n"
  cat <<EOF
$NGINX_USER_LINE
worker_processes 1;
pid $TMP/$n/nginx.pid;
error_log $TMP/$n/error.log warn;
events { worker_connections 8192; multi_accept on; }
worker_rlimit_nofile 20000;
EOF
}
nginx_http_common() {
  local n=$1
  cat <<EOF
  client_body_temp_path $TMP/$n/body;
  proxy_temp_path $TMP/$n/proxy;
  fastcgi_temp_path $TMP/$n/fastcgi;
  uwsgi_temp_path $TMP/$n/uwsgi;
  scgi_temp_path $TMP/$n/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_buffer_size 64k;
  server_tokens off;
EOF
}

MOCK_JSON_PORT=$(free_port)
MOCK_SSE_PORT=$(free_port)
NGINX_JSON_PORT=$(free_port)
NGINX_SSE_PORT=$(free_port)
KK_PORT=$(free_port)
KK_ADMIN_PORT=$(free_port)
if [ "$TRANSLATED" = 1 ]; then
  ANTH_JSON_PORT=$(free_port)
  ANTH_SSE_PORT=$(free_port)
  GEM_PORT=$(free_port)
fi

# Translated paths: Anthropic (two ports: nginx cannot tell a stream request
# from the JSON body, so each mode gets its own server) and Gemini (one port:
# the method in the path tells the modes apart).  Like the real APIs they
# refuse requests without their key header (Anthropic also wants
# anthropic-version), and streamGenerateContent without ?alt=sse (which would
# be a JSON array, not SSE), with the provider's error shape.
mock_translated_servers() {
  local anth_401='{"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"},"request_id":"req_bench"}'
  local anth_400='{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header is required"},"request_id":"req_bench"}'
  # (\' is nginx's escape for a quote inside a single-quoted string)
  # shellcheck disable=SC1003
  local gem_403='{"error":{"code":403,"message":"Method doesn\'"'"'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.","status":"PERMISSION_DENIED"}}'
  local gem_400='{"error":{"code":400,"message":"bench mock: streamGenerateContent is answered as SSE only with ?alt=sse","status":"INVALID_ARGUMENT"}}'
  local mode port
  for mode in json sse; do
    if [ "$mode" = json ]; then port=$ANTH_JSON_PORT; else port=$ANTH_SSE_PORT; fi
    cat <<EOF
  server {
    listen 127.0.0.1:$port;
    error_page 401 @anth_401;
    error_page 400 @anth_400;
    location @anth_401 { default_type application/json; return 401 '$anth_401'; }
    location @anth_400 { default_type application/json; return 400 '$anth_400'; }
EOF
    if [ "$mode" = json ]; then
      cat <<EOF
    location = /v1/messages {
      if (\$http_x_api_key = "") { return 401; }
      if (\$http_anthropic_version = "") { return 400; }
      default_type application/json;
      return 200 '$ANTH_JSON';
    }
EOF
    else
      cat <<EOF
    location = /v1/messages {
      if (\$http_x_api_key = "") { return 401; }
      if (\$http_anthropic_version = "") { return 400; }
      default_type text/event-stream; charset utf-8; charset_types text/event-stream;
      add_header Cache-Control no-cache;
      ssi on; ssi_types text/event-stream;
      return 200 '$ANTH_SSE_BODY';
    }
EOF
    fi
    cat <<EOF
    location = /v1/models { default_type application/json; return 200 '$ANTH_MODELS_JSON'; }
    location / { return 404; }
  }
EOF
  done
  cat <<EOF
  map "\$http_x_goog_api_key\$arg_key" \$bench_gemini_no_key { "" 1; default 0; }
  server {
    listen 127.0.0.1:$GEM_PORT;
    charset utf-8; charset_types application/json text/event-stream;
    error_page 403 @gem_403;
    error_page 400 @gem_400;
    location @gem_403 { default_type application/json; return 403 '$gem_403'; }
    location @gem_400 { default_type application/json; return 400 '$gem_400'; }
    location ~ ^/v1beta/models/[^/]+:generateContent\$ {
      if (\$bench_gemini_no_key) { return 403; }
      default_type application/json;
      return 200 '$GEM_JSON';
    }
    location ~ ^/v1beta/models/[^/]+:streamGenerateContent\$ {
      if (\$bench_gemini_no_key) { return 403; }
      if (\$arg_alt != sse) { return 400; }
      default_type text/event-stream;
      add_header Cache-Control no-cache;
      ssi on; ssi_types text/event-stream;
      return 200 '$GEM_SSE_BODY';
    }
    location = /v1beta/models { default_type application/json; return 200 '$GEM_MODELS_JSON'; }
    location / { return 404; }
  }
EOF
}

{
  nginx_common mock
  echo "http {"
  nginx_http_common mock
  cat <<EOF
  access_log off;
  server {
    listen 127.0.0.1:$MOCK_JSON_PORT;
    location = /v1/chat/completions { default_type application/json; return 200 '$MOCK_JSON'; }
    location = /v1/models { default_type application/json; return 200 '$MODELS_JSON'; }
    location / { return 404; }
  }
  server {
    listen 127.0.0.1:$MOCK_SSE_PORT;
    # ssi on (with no SSI commands in the body) drops Content-Length, so the
    # stream goes out chunked like a real provider's.
    location = /v1/chat/completions {
      default_type text/event-stream; add_header Cache-Control no-cache;
      ssi on; ssi_types text/event-stream;
      return 200 '$SSE_BODY';
    }
    location = /v1/models { default_type application/json; return 200 '$MODELS_JSON'; }
    location / { return 404; }
  }
EOF
  if [ "$TRANSLATED" = 1 ]; then mock_translated_servers; fi
  echo "}"
} >"$TMP/mock.conf"

if [ "$LOGS" = 1 ]; then
  NGINX_ACCESS_LOG="access_log $TMP/proxy/access.log;"
  KK_LOG_LEVEL=info
else
  NGINX_ACCESS_LOG="access_log off;"
  KK_LOG_LEVEL=warn
fi

{
  nginx_common proxy
  echo "http {"
  nginx_http_common proxy
  cat <<EOF
  $NGINX_ACCESS_LOG
  upstream mock_json {
    server 127.0.0.1:$MOCK_JSON_PORT;
    keepalive 1024;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
  }
  upstream mock_sse {
    server 127.0.0.1:$MOCK_SSE_PORT;
    keepalive 1024;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:$NGINX_JSON_PORT;
    location / {
      proxy_pass http://mock_json;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:$NGINX_SSE_PORT;
    location / {
      proxy_pass http://mock_sse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
} >"$TMP/proxy.conf"

mkdir -p "$TMP/kk-data"
cat >"$TMP/kakehashi.yaml" <<EOF
server: { host: 127.0.0.1, port: $KK_PORT, admin_port: $KK_ADMIN_PORT }
data_dir: $TMP/kk-data
log_level: $KK_LOG_LEVEL
providers:
  - name: mock
    type: openai-compatible
    base_url: http://127.0.0.1:$MOCK_JSON_PORT/v1
    api_key: bench
    models: [gpt-4o-mini]
  - name: mock-stream
    type: openai-compatible
    base_url: http://127.0.0.1:$MOCK_SSE_PORT/v1
    api_key: bench
    models: [gpt-4o-mini-stream]
EOF
# Translated paths: the Anthropic and Gemini mocks as native providers, with
# explicit model lists (no start-up discovery).  Kept apart so the plain config
# can be restored if this kakehashi build rejects them (see section 5).
cp "$TMP/kakehashi.yaml" "$TMP/kakehashi-plain.yaml"
if [ "$TRANSLATED" = 1 ]; then
  cat >>"$TMP/kakehashi.yaml" <<EOF
  - name: anthropic-mock
    type: anthropic
    base_url: http://127.0.0.1:$ANTH_JSON_PORT
    api_key: bench-anthropic-key
    models: [claude-bench]
  - name: anthropic-mock-stream
    type: anthropic
    base_url: http://127.0.0.1:$ANTH_SSE_PORT
    api_key: bench-anthropic-key
    models: [claude-bench-stream]
  - name: gemini-mock
    type: gemini
    base_url: http://127.0.0.1:$GEM_PORT/v1beta
    api_key: bench-gemini-key
    models: [gemini-bench, gemini-bench-stream]
groups:
  # Three priority tiers over the same mock: every request is answered by tier 1, so the
  # difference to pass-through is what routing through a group costs.
  - name: tiered
    strategy: round_robin
    targets:
      - { provider: mock, model: gpt-4o-mini, priority: 1 }
      - { provider: mock, model: gpt-4o-mini, priority: 2 }
      - { provider: mock, model: gpt-4o-mini, priority: 3 }
  - name: tiered-stream
    strategy: round_robin
    targets:
      - { provider: mock-stream, model: gpt-4o-mini-stream, priority: 1 }
      - { provider: mock-stream, model: gpt-4o-mini-stream, priority: 2 }
      - { provider: mock-stream, model: gpt-4o-mini-stream, priority: 3 }
EOF
fi

make_body gpt-4o-mini 0        >"$TMP/body-non-stream.json"
make_body gpt-4o-mini-stream 1 >"$TMP/body-stream.json"
BODY_BYTES=$(wc -c <"$TMP/body-non-stream.json")
if [ "$TRANSLATED" = 1 ]; then   # body-<path>-<mode>.json
  cp "$TMP/body-non-stream.json" "$TMP/body-passthrough-non-stream.json"
  cp "$TMP/body-stream.json"     "$TMP/body-passthrough-stream.json"
  make_body claude-bench 0            >"$TMP/body-openai-anthropic-non-stream.json"
  make_body claude-bench-stream 1     >"$TMP/body-openai-anthropic-stream.json"
  make_body gemini-bench 0            >"$TMP/body-openai-gemini-non-stream.json"
  make_body gemini-bench-stream 1     >"$TMP/body-openai-gemini-stream.json"
  make_body tiered 0                  >"$TMP/body-group-non-stream.json"
  make_body tiered-stream 1           >"$TMP/body-group-stream.json"
  make_anth_body gpt-4o-mini 0        >"$TMP/body-anthropic-openai-non-stream.json"
  make_anth_body gpt-4o-mini-stream 1 >"$TMP/body-anthropic-openai-stream.json"
  ANTH_BODY_BYTES=$(wc -c <"$TMP/body-anthropic-openai-non-stream.json")
fi

cat >"$TMP/post.lua" <<'EOF'
-- POST a fixed chat request; print exact numbers for the report in done().
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "application/json"
-- Optional extra headers, "Name: value|Name: value" (translated paths).
for name, value in string.gmatch(os.getenv("BENCH_EXTRA_HEADERS") or "", "([^:|]+):%s*([^|]*)") do
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d bytes=%d\n",
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
EOF

# -----------------------------------------------------------------------------
# 4. /proc helpers
# -----------------------------------------------------------------------------
nginx_pids() {   # master pid -> "master worker..."
  local m=$1
  echo "$m $(cat "/proc/$m/task/$m/children" 2>/dev/null || true)"
}
cpu_ticks() {    # pids... -> utime+stime summed (clock ticks)
  local p t=0 v
  for p in "$@"; do
    # Fields after the ")" that closes comm: state is field 3, so utime (14)
    # and stime (15) are the 12th and 13th words.
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
    t=$(( t + ${v:-0} ))
  done
  echo "$t"
}
status_kb() {    # field pids... -> summed kB
  local f=$1 p t=0 v
  shift
  for p in "$@"; do
    v=$(awk -v f="$f:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null) || v=0
    t=$(( t + ${v:-0} ))
  done
  echo "$t"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# -----------------------------------------------------------------------------
# 5. Start the servers
# -----------------------------------------------------------------------------
start_nginx() {   # name pin... -> sets STARTED_PID to the master (foreground, so $! is the master)
  local n=$1
  shift
  "$NGINX" -q -t -p "$TMP/$n" -e "$TMP/$n/error.log" -c "$TMP/$n.conf" >/dev/null 2>&1 \
    || { "$NGINX" -t -p "$TMP/$n" -e "$TMP/$n/error.log" -c "$TMP/$n.conf" >&2 || true; die "nginx config $n invalid"; }
  "$@" "$NGINX" -p "$TMP/$n" -e "$TMP/$n/error.log" -c "$TMP/$n.conf" -g 'daemon off;' \
    >>"$TMP/$n/stdout.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

start_nginx mock "${PIN_LOAD[@]}"
MOCK_PID=$STARTED_PID
start_nginx proxy "${PIN_PROXY[@]}"
PROXY_PID=$STARTED_PID

wait_http "http://127.0.0.1:$MOCK_JSON_PORT/v1/models" || die "mock upstream did not start (see $TMP/mock/error.log)"
wait_http "http://127.0.0.1:$MOCK_SSE_PORT/v1/models"  || die "mock upstream (SSE) did not start"
wait_http "http://127.0.0.1:$NGINX_JSON_PORT/v1/models" || die "nginx proxy did not start (see $TMP/proxy/error.log)"
wait_http "http://127.0.0.1:$NGINX_SSE_PORT/v1/models"  || die "nginx proxy (SSE) did not start"
if [ "$TRANSLATED" = 1 ]; then
  wait_http "http://127.0.0.1:$ANTH_JSON_PORT/v1/models" || die "mock upstream (Anthropic) did not start"
  wait_http "http://127.0.0.1:$ANTH_SSE_PORT/v1/models"  || die "mock upstream (Anthropic SSE) did not start"
  wait_http "http://127.0.0.1:$GEM_PORT/v1beta/models"   || die "mock upstream (Gemini) did not start"
fi
sleep 0.3
read -r -a NGINX_PIDS <<<"$(nginx_pids "$PROXY_PID")"
[ ${#NGINX_PIDS[@]} -ge 2 ] || die "nginx proxy worker not found"
NGINX_RSS_IDLE=$(status_kb VmRSS "${NGINX_PIDS[@]}")

KK_PID=''
KK_STATE='not run'
T_STATE=on          # translated paths: "on" or why they are skipped
KK_VERSION='n/a'
if [ ! -x "$KAKEHASHI_BIN" ]; then
  KK_STATE="skipped: binary not found at $KAKEHASHI_BIN (build it, or set KAKEHASHI_BIN)"
  say "kakehashi $KK_STATE"
else
  KK_VERSION=$("$KAKEHASHI_BIN" version 2>/dev/null | head -n 1 || true)
  KK_VERSION=${KK_VERSION:-unknown}
  # A clean environment for provider discovery: only the mock providers.
  KK_ENV=(env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL
      -u ANTHROPIC_API_BASE_URL -u GEMINI_API_KEY -u GOOGLE_API_KEY -u GOOGLE_API_BASE_URL
      -u OPENROUTER_API_KEY -u OPENROUTER_BASE_URL -u KAKEHASHI_CONFIG -u KAKEHASHI_PORT
      -u KAKEHASHI_ADMIN_PORT -u KAKEHASHI_HOST -u KAKEHASHI_DATABASE_URL -u KAKEHASHI_REDIS_URL
      -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy
      KAKEHASHI_DATA_DIR="$TMP/kk-data" KAKEHASHI_ADMIN_PASSWORD=bench-admin-password-0001)
  # A build that rejects the anthropic/gemini providers would not start at
  # all: fall back to the plain config and skip the translated paths.
  if [ "$TRANSLATED" = 1 ] && ! "${KK_ENV[@]}" "$KAKEHASHI_BIN" config check "$TMP/kakehashi.yaml" \
       >"$TMP/config-check.log" 2>&1; then
    T_STATE="\`kakehashi config check\` rejects the anthropic/gemini providers: $(grep -v '^\s*$' "$TMP/config-check.log" | tail -n 1 | head -c 200)"
    say "translated paths skipped: $T_STATE"
    cp "$TMP/kakehashi-plain.yaml" "$TMP/kakehashi.yaml"
  fi
  "${KK_ENV[@]}" "${PIN_PROXY[@]}" "$KAKEHASHI_BIN" serve --port "$KK_PORT" --threads 1 --config "$TMP/kakehashi.yaml" \
      >"$TMP/kakehashi.log" 2>&1 &
  KK_PID=$!
  PIDS+=("$KK_PID")
  if wait_http "http://127.0.0.1:$KK_PORT/health" 150 "$KK_PID"; then
    KK_STATE=running
  else
    if kill -0 "$KK_PID" 2>/dev/null; then
      KK_STATE="failed to start (no answer on /health within 15 s)"
    else
      KK_STATE="failed to start (exited before answering /health)"
    fi
    say "kakehashi $KK_STATE; log tail:"
    tail -n 20 "$TMP/kakehashi.log" >&2 || true
    kill -TERM "$KK_PID" 2>/dev/null || true
    KK_PID=''
  fi
fi
KK_RSS_IDLE=''
if [ -n "$KK_PID" ]; then
  sleep 0.5
  KK_RSS_IDLE=$(status_kb VmRSS "$KK_PID")
  KK_THREADS_IDLE=$(awk '$1 == "Threads:" {print $2}' "/proc/$KK_PID/status")
fi

# -----------------------------------------------------------------------------
# 6. Targets, pre-flight correctness checks
# -----------------------------------------------------------------------------
TARGETS="direct nginx"
[ -n "$KK_PID" ] && TARGETS="direct nginx kakehashi"

url_for() {   # target mode
  local port
  case "$1:$2" in
    direct:non-stream) port=$MOCK_JSON_PORT ;;
    direct:stream)     port=$MOCK_SSE_PORT ;;
    nginx:non-stream)  port=$NGINX_JSON_PORT ;;
    nginx:stream)      port=$NGINX_SSE_PORT ;;
    kakehashi:*)       port=$KK_PORT ;;
  esac
  echo "http://127.0.0.1:$port/v1/chat/completions"
}
pids_for() {
  case "$1" in
    nginx) echo "${NGINX_PIDS[*]}" ;;
    kakehashi) echo "$KK_PID" ;;
    *) echo '' ;;
  esac
}

declare -A PREFLIGHT
preflight() {   # target mode -> sets PREFLIGHT[target|mode]
  local t=$1 m=$2 out code body ct
  out="$TMP/preflight-$t-$m"
  code=$(curl -s --max-time 10 -o "$out.body" -D "$out.headers" -w '%{http_code}' \
           -H 'Content-Type: application/json' --data-binary "@$TMP/body-$m.json" "$(url_for "$t" "$m")" || echo 000)
  body=$(cat "$out.body" 2>/dev/null || true)
  ct=$(awk 'tolower($1) == "content-type:" {print tolower($2)}' "$out.headers" 2>/dev/null | tr -d '\r;' | tail -n 1)
  local res="ok"
  if [ "$code" != 200 ]; then
    res="FAIL: HTTP $code: $(printf '%s' "$body" | head -c 160 | tr '\n|' '  ')"
  elif [ "$m" = non-stream ]; then
    case "$body" in *'"chat.completion"'*'"total_tokens"'*) ;; *) res="FAIL: body is not a chat.completion" ;; esac
  else
    local chunks
    chunks=$(grep -c '^data: {' "$out.body" || true)
    case "$body" in
      *'data: [DONE]'*) ;;
      *) res="FAIL: stream has no [DONE]" ;;
    esac
    if [ "$res" = ok ] && [ "$chunks" -lt 12 ]; then res="FAIL: only $chunks data chunks (expected 12)"; fi
    if [ "$res" = ok ] && [ "$ct" != text/event-stream ]; then res="FAIL: content-type $ct"; fi
  fi
  PREFLIGHT["$t|$m"]=$res
  if [ "$res" != ok ]; then say "pre-flight $t $m: $res"; fi
}
for m in $MODES; do
  for t in $TARGETS; do preflight "$t" "$m"; done
done

# --- Translated paths: one checked answer per path and mode -------------------
T_PATHS="passthrough"
for p in ${BENCH_TRANSLATED_PATHS:-group openai-anthropic openai-gemini anthropic-openai}; do
  case "$p" in
    passthrough) ;;
    group|openai-anthropic|openai-gemini|anthropic-openai) T_PATHS="$T_PATHS $p" ;;
    *) echo "[bench] unknown path in BENCH_TRANSLATED_PATHS: $p" >&2; exit 2 ;;
  esac
done
if [ "$TRANSLATED" = 1 ] && [ "$T_STATE" = on ] && [ -z "$KK_PID" ]; then
  T_STATE="kakehashi $KK_STATE"
fi
t_label() {
  case "$1" in
    passthrough) echo 'pass-through' ;;
    group) echo 'group (3 tiers)' ;;
    openai-anthropic) echo 'openai→anthropic' ;;
    openai-gemini) echo 'openai→gemini' ;;
    anthropic-openai) echo 'anthropic→openai' ;;
  esac
}
t_target() {   # the CPU/request ratio a path must stay under, vs pass-through
  case "$1" in
    group) echo 1.05 ;;
    *) echo 1.3 ;;
  esac
}
t_url() {
  case "$1" in
    anthropic-openai) echo "http://127.0.0.1:$KK_PORT/v1/messages" ;;
    *) echo "http://127.0.0.1:$KK_PORT/v1/chat/completions" ;;
  esac
}
t_headers() {   # extra request headers, "Name: value|Name: value"
  case "$1" in
    anthropic-openai) echo 'anthropic-version: 2023-06-01' ;;
    *) echo '' ;;
  esac
}

# Checks of an answer in the client's wire format.  Each prints "ok" or what is
# wrong; the *_usage ones check the token counts the mock reported (231 in;
# 44 out plain, 19 streamed), which only give a note in the report.
# shellcheck disable=SC2016  # $t and $ev are jq variables
JQ_OPENAI_JSON='
  if type != "object" then "the body is not a JSON object"
  elif .object != "chat.completion" then "object is \(.object | tojson), not \"chat.completion\""
  elif (.choices | type) != "array" or (.choices | length) != 1 then "expected exactly one choice"
  elif .choices[0].message.role != "assistant" then "message.role is \(.choices[0].message.role | tojson)"
  elif .choices[0].message.content != $t then "the content is not the mock text: \(.choices[0].message.content | tojson | .[0:100])"
  elif .choices[0].finish_reason != "stop" then "finish_reason is \(.choices[0].finish_reason | tojson), not \"stop\""
  else "ok" end'
JQ_OPENAI_JSON_USAGE='
  .usage | if . == null then "no usage"
  elif .prompt_tokens == 231 and .completion_tokens == 44 and .total_tokens == 275 then "ok"
  else "usage \(tojson) (the mock reported 231 in, 44 out)" end'
# shellcheck disable=SC2016  # $t and $ev are jq variables
JQ_OPENAI_SSE='
  ([.[] | .choices[]? | .delta.content // empty] | join("")) as $got |
  if length == 0 then "no data events besides [DONE]"
  elif any(.[]; .object != "chat.completion.chunk") then "an event is not a chat.completion.chunk"
  elif ([.[] | .choices[]? | .delta.role // empty] | index("assistant")) == null then "no delta with role \"assistant\""
  elif $got != $t then "the streamed text is not the mock text: \($got | tojson | .[0:100])"
  elif ([.[] | .choices[]? | .finish_reason // empty] | last) != "stop" then "no finish_reason \"stop\""
  else "ok" end'
JQ_OPENAI_SSE_USAGE='
  [.[] | .usage // empty] | last | if . == null then "no usage chunk (stream_options.include_usage was set)"
  elif .prompt_tokens == 231 and .completion_tokens == 19 and .total_tokens == 250 then "ok"
  else "usage \(tojson) (the mock reported 231 in, 19 out)" end'
# shellcheck disable=SC2016  # $t and $ev are jq variables
JQ_ANTH_JSON='
  ([.content[]? | select(.type == "text") | .text] | join("")) as $got |
  if type != "object" then "the body is not a JSON object"
  elif .type != "message" then "type is \(.type | tojson), not \"message\""
  elif .role != "assistant" then "role is \(.role | tojson)"
  elif $got != $t then "the text is not the mock text: \($got | tojson | .[0:100])"
  elif .stop_reason != "end_turn" then "stop_reason is \(.stop_reason | tojson), not \"end_turn\""
  else "ok" end'
JQ_ANTH_JSON_USAGE='
  .usage | if . == null then "no usage"
  elif .input_tokens == 231 and .output_tokens == 44 then "ok"
  else "usage \(tojson) (the mock reported 231 in, 44 out)" end'
# shellcheck disable=SC2016  # $t and $ev are jq variables
JQ_ANTH_SSE='
  ([.[] | .type] | join(",")) as $types |
  ([.[] | select(.type != "ping") | .type] | join(",")) as $seq |
  ([.[] | select(.type == "content_block_delta") | .delta | select(.type == "text_delta") | .text] | join("")) as $got |
  if $types != $ev then "event: names (\($ev)) do not match the data types (\($types))"
  elif ($seq | test("^message_start,content_block_start,(content_block_delta,)+content_block_stop,message_delta,message_stop$") | not)
    then "event sequence \($seq | tojson)"
  elif .[0].message.type != "message" or .[0].message.role != "assistant" then "message_start does not carry an assistant message"
  elif $got != $t then "the streamed text is not the mock text: \($got | tojson | .[0:100])"
  elif ([.[] | select(.type == "message_delta") | .delta.stop_reason][0]) != "end_turn" then "message_delta stop_reason is not \"end_turn\""
  else "ok" end'
# shellcheck disable=SC2016
JQ_ANTH_SSE_USAGE='
  ([.[] | select(.type == "message_delta") | .usage][0] // {}) as $d |
  ((.[0].message.usage // {}) as $s | [$d.input_tokens, $s.input_tokens] | map(select(. != null and . != 0)) | .[0]) as $in |
  if $in == 231 and $d.output_tokens == 19 then "ok"
  else "input_tokens \($in | tojson) (message_start/message_delta), output_tokens \($d.output_tokens | tojson) (the mock reported 231 in, 19 out)" end'

declare -A T_PRE T_NOTE
t_preflight() {   # path mode -> sets T_PRE[path|mode] ("ok" or "FAIL: ...") and T_NOTE
  local p=$1 m=$2 out code ct res note='' client=openai text=$ANSWER_TEXT accept=application/json
  out="$TMP/preflight-t-$p-$m"
  [ "$p" = anthropic-openai ] && client=anthropic
  [ "$m" = stream ] && { text=$STREAM_TEXT; accept=text/event-stream; }
  local hdr=(-H 'Content-Type: application/json' -H "Accept: $accept")
  [ -n "$(t_headers "$p")" ] && hdr+=(-H "$(t_headers "$p")")
  code=$(curl -s --max-time 10 -o "$out.body" -D "$out.headers" -w '%{http_code}' "${hdr[@]}" \
           --data-binary "@$TMP/body-$p-$m.json" "$(t_url "$p")" || echo 000)
  ct=$(awk 'tolower($1) == "content-type:" {print tolower($2)}' "$out.headers" 2>/dev/null | tr -d '\r;' | tail -n 1)
  if [ "$code" != 200 ]; then
    res="FAIL: HTTP $code: $(head -c 200 "$out.body" 2>/dev/null | tr '\n\r|' '   ')"
  elif [ "$m" = non-stream ]; then
    local prog=$JQ_OPENAI_JSON usage=$JQ_OPENAI_JSON_USAGE
    [ "$client" = anthropic ] && { prog=$JQ_ANTH_JSON; usage=$JQ_ANTH_JSON_USAGE; }
    res=$(jq -r --arg t "$text" "$prog" "$out.body" 2>/dev/null) || res="the body is not JSON: $(head -c 120 "$out.body" | tr '\n\r|' '   ')"
    [ "$res" = ok ] && note=$(jq -r "$usage" "$out.body" 2>/dev/null || true)
  else
    tr -d '\r' <"$out.body" >"$out.lf"
    sed -n 's/^data: //p' "$out.lf" >"$out.data"
    if [ "$ct" != text/event-stream ]; then
      res="content-type $ct, not text/event-stream"
    elif [ "$client" = openai ]; then
      if [ "$(tail -n 1 "$out.data")" != '[DONE]' ]; then
        res="the stream does not end with data: [DONE]"
      else
        sed '$d' "$out.data" >"$out.json"
        res=$(jq -rs --arg t "$text" "$JQ_OPENAI_SSE" "$out.json" 2>/dev/null) || res="an event is not valid JSON"
        [ "$res" = ok ] && note=$(jq -rs "$JQ_OPENAI_SSE_USAGE" "$out.json" 2>/dev/null || true)
        if [ "$res" = ok ] && [ "$(grep -c '^data: ' "$out.lf")" -gt "$(grep -c '^$' "$out.lf")" ]; then
          res="events are not each ended by a blank line"
        fi
      fi
    else
      local ev
      ev=$(sed -n 's/^event: //p' "$out.lf" | paste -sd, -)
      if grep -q '^data: \[DONE\]' "$out.lf"; then
        res="an Anthropic stream must not carry data: [DONE]"
      else
        res=$(jq -rs --arg t "$text" --arg ev "$ev" "$JQ_ANTH_SSE" "$out.data" 2>/dev/null) || res="an event is not valid JSON"
        [ "$res" = ok ] && note=$(jq -rs "$JQ_ANTH_SSE_USAGE" "$out.data" 2>/dev/null || true)
      fi
    fi
    [ -z "$res" ] && res="the stream could not be checked"
  fi
  case "$res" in ok|FAIL:*) ;; *) res="FAIL: $res" ;; esac
  [ ${#res} -le 300 ] || res="${res:0:300}…"
  T_PRE["$p|$m"]=$res
  [ -n "$note" ] && [ "$note" != ok ] && T_NOTE["$p|$m"]=$note
  if [ "$res" != ok ]; then
    say "pre-flight translated $(t_label "$p") $m: $res (answer in $out.body; BENCH_KEEP=1 keeps it)"
  elif [ -n "${T_NOTE[$p|$m]:-}" ]; then
    say "pre-flight translated $(t_label "$p") $m: ok; note: ${T_NOTE[$p|$m]}"
  fi
}
if [ "$TRANSLATED" = 1 ] && [ "$T_STATE" = on ]; then
  for m in $MODES; do
    for p in $T_PATHS; do t_preflight "$p" "$m"; done
  done
fi

# -----------------------------------------------------------------------------
# 7. Load runs
# -----------------------------------------------------------------------------
declare -A RPS P50 P99 CPU N2XX SOCK REQS          # reported (median / sum over repeats)
declare -A L_RPS L_P50 L_P99 L_CPU                  # per-repeat values, space-separated
run_wrk() {   # target mode conns seconds tag -> prints the BENCH line (and keeps raw output)
  local t=$1 m=$2 c=$3 d=$4 tag=$5 thr=$WRK_THREADS accept=application/json
  local raw="$TMP/wrk-$t-$m-c$c-$tag.txt"
  if [ "$thr" -gt "$c" ]; then thr=$c; fi
  if [ "$m" = stream ]; then accept=text/event-stream; fi
  BENCH_BODY_FILE="$TMP/body-$m.json" BENCH_ACCEPT=$accept \
    "${PIN_LOAD[@]}" wrk -t "$thr" -c "$c" -d "${d}s" --timeout 5s --latency -s "$TMP/post.lua" "$(url_for "$t" "$m")" \
    >"$raw" 2>&1 || true
  grep '^BENCH ' "$raw" | tail -n 1 || true
}
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
median() {   # values... -> median (mean of the middle two for an even count); empty if none
  printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rotated() {   # n words... -> the words, starting from the (n mod count)-th: each repeat starts
  # with another target, so that no target always runs first (after a pause) or last
  local n=$1; shift
  local w=("$@") i
  for ((i = 0; i < ${#w[@]}; i++)); do printf '%s ' "${w[$(((i + n) % ${#w[@]}))]}"; done
}
declare -A CPU_R T_CPU_R   # CPU µs/request per cell and repeat: "mode|conns|target|repeat"
paired() {   # array-name key-a key-b -> "median lowest highest" of the per-repeat ratios a/b
  # (runs of one repeat ran minutes apart at most, so machine drift cancels in each ratio)
  local -n cells=$1
  local r a b rs=()
  for r in $(seq 1 "$REPEAT"); do
    a=${cells[$2|$r]:-}; b=${cells[$3|$r]:-}
    if [ -n "$a" ] && [ -n "$b" ]; then rs+=("$(awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 > 0) printf "%.4f", a / b }')"); fi
  done
  [ ${#rs[@]} -gt 0 ] || return 0
  printf '%s %s %s\n' "$(median "${rs[@]}")" "$(printf '%s\n' "${rs[@]}" | sort -g | head -n 1)" "$(printf '%s\n' "${rs[@]}" | sort -g | tail -n 1)"
}

total_runs=0
for m in $MODES; do for c in $CONNS; do for t in $TARGETS; do total_runs=$((total_runs + REPEAT)); done; done; done
say "targets: $TARGETS; modes: $MODES; connections: $CONNS; ${DURATION}s per run, $REPEAT repeat(s) ($total_runs runs)"

run_no=0
for m in $MODES; do
  for t in $TARGETS; do        # warm-up: fill pools, page in code
    if [ "$WARMUP" -gt 0 ]; then run_wrk "$t" "$m" 16 "$WARMUP" warmup >/dev/null; fi
  done
  for c in $CONNS; do
    for r in $(seq 1 "$REPEAT"); do
      for t in $(rotated $((r - 1)) $TARGETS); do    # interleaved so drift hits every target alike
        run_no=$((run_no + 1))
        k="$m|$c|$t"
        read -r -a pids <<<"$(pids_for "$t")"
        before=0
        if [ ${#pids[@]} -gt 0 ]; then before=$(cpu_ticks "${pids[@]}"); fi
        line=$(run_wrk "$t" "$m" "$c" "$DURATION" "r$r")
        after=0
        if [ ${#pids[@]} -gt 0 ]; then after=$(cpu_ticks "${pids[@]}"); fi
        if [ -z "$line" ]; then
          SOCK[$k]='wrk failed'
          say "[$run_no/$total_runs] $m c=$c $t: wrk produced no result (see $TMP/wrk-$t-$m-c$c-r$r.txt, BENCH_KEEP=1)"
          continue
        fi
        reqs=$(kv "$line" requests); dur=$(kv "$line" duration_us)
        rps=$(awk -v r="$reqs" -v d="$dur" 'BEGIN { if (d > 0) printf "%.0f", r * 1e6 / d; else print 0 }')
        p50=$(kv "$line" p50_us); p99=$(kv "$line" p99_us)
        cpu=''
        if [ ${#pids[@]} -gt 0 ] && [ "$reqs" -gt 0 ]; then
          cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v r="$reqs" 'BEGIN { printf "%.1f", t * 1e6 / hz / r }')
        fi
        L_RPS[$k]+=" $rps"; L_P50[$k]+=" $p50"; L_P99[$k]+=" $p99"; L_CPU[$k]+=" $cpu"
        # shellcheck disable=SC2034  # read through paired()'s nameref
        CPU_R[$k|$r]=$cpu
        REQS[$k]=$(( ${REQS[$k]:-0} + reqs ))
        N2XX[$k]=$(( ${N2XX[$k]:-0} + $(kv "$line" non2xx) ))
        if [ "${SOCK[$k]:-}" != 'wrk failed' ]; then
          prev=${SOCK[$k]:-0/0/0/0}
          SOCK[$k]=$(awk -v p="$prev" -v n="$(kv "$line" connect)/$(kv "$line" read)/$(kv "$line" write)/$(kv "$line" timeout)" \
            'BEGIN { split(p, a, "/"); split(n, b, "/"); printf "%d/%d/%d/%d", a[1]+b[1], a[2]+b[2], a[3]+b[3], a[4]+b[4] }')
        fi
        say "[$run_no/$total_runs] $m c=$c $t: $rps rps, p50 $p50 us, p99 $p99 us, cpu ${cpu:--} us/req, non-2xx $(kv "$line" non2xx), sock $(kv "$line" connect)/$(kv "$line" read)/$(kv "$line" write)/$(kv "$line" timeout)"
      done
    done
  done
done
for k in "${!L_RPS[@]}"; do
  # Word splitting is wanted: each list is space-separated numbers.
  # shellcheck disable=SC2086
  {
    RPS[$k]=$(median ${L_RPS[$k]})
    P50[$k]=$(median ${L_P50[$k]})
    P99[$k]=$(median ${L_P99[$k]})
    CPU[$k]=$(median ${L_CPU[$k]:-})
  }
  RPS[$k]=$(awk -v v="${RPS[$k]}" 'BEGIN { printf "%.0f", v }')
  P50[$k]=$(awk -v v="${P50[$k]}" 'BEGIN { printf "%.0f", v }')
  P99[$k]=$(awk -v v="${P99[$k]}" 'BEGIN { printf "%.0f", v }')
  if [ -n "${CPU[$k]}" ]; then CPU[$k]=$(awk -v v="${CPU[$k]}" 'BEGIN { printf "%.1f", v }'); fi
done

NGINX_RSS_PEAK=$(status_kb VmHWM "${NGINX_PIDS[@]}")
KK_RSS_PEAK=''
KK_THREADS_PEAK=''
if [ -n "$KK_PID" ]; then
  if kill -0 "$KK_PID" 2>/dev/null; then
    KK_RSS_PEAK=$(status_kb VmHWM "$KK_PID")
    KK_THREADS_PEAK=$(awk '$1 == "Threads:" {print $2}' "/proc/$KK_PID/status")
  else
    KK_STATE="DIED during the benchmark"
    say "kakehashi died during the benchmark; log tail:"
    tail -n 20 "$TMP/kakehashi.log" >&2 || true
  fi
fi

# -----------------------------------------------------------------------------
# 7b. Translated paths (kakehashi only), after the main runs so they leave the
#     main comparison untouched; the pass-through baseline is measured again
#     here, interleaved with the translated paths like the main targets.
# -----------------------------------------------------------------------------
declare -A T_RPS T_P50 T_P99 T_CPU T_N2XX T_SOCK T_REQS
declare -A T_L_RPS T_L_P50 T_L_P99 T_L_CPU
declare -A T_OK_PATHS   # per mode: the paths that passed the pre-flight
run_wrk_t() {   # path mode conns seconds tag -> prints the BENCH line (and keeps raw output)
  local p=$1 m=$2 c=$3 d=$4 tag=$5 thr=$WRK_THREADS accept=application/json
  local raw="$TMP/wrk-t-$p-$m-c$c-$tag.txt"
  if [ "$thr" -gt "$c" ]; then thr=$c; fi
  if [ "$m" = stream ]; then accept=text/event-stream; fi
  BENCH_BODY_FILE="$TMP/body-$p-$m.json" BENCH_ACCEPT=$accept BENCH_EXTRA_HEADERS="$(t_headers "$p")" \
    "${PIN_LOAD[@]}" wrk -t "$thr" -c "$c" -d "${d}s" --timeout 5s --latency -s "$TMP/post.lua" "$(t_url "$p")" \
    >"$raw" 2>&1 || true
  grep '^BENCH ' "$raw" | tail -n 1 || true
}
T_DIED=0
if [ "$TRANSLATED" = 1 ] && [ "$T_STATE" = on ] && [ -n "$KK_PID" ] && kill -0 "$KK_PID" 2>/dev/null; then
  t_total=0
  for m in $MODES; do
    T_OK_PATHS[$m]=''
    # The baseline is needed for the ratios: without it nothing is loaded.
    if [ "${T_PRE[passthrough|$m]:-}" = ok ]; then
      for p in $T_PATHS; do
        if [ "${T_PRE[$p|$m]:-}" = ok ]; then T_OK_PATHS[$m]+=" $p"; fi
      done
    fi
    for c in $T_CONNS; do for p in ${T_OK_PATHS[$m]}; do t_total=$((t_total + REPEAT)); done; done
  done
  say "translated paths: modes: $MODES; connections: $T_CONNS; ${DURATION}s per run, $REPEAT repeat(s) ($t_total runs)"
  t_no=0
  for m in $MODES; do
    for p in ${T_OK_PATHS[$m]}; do    # warm-up
      if [ "$WARMUP" -gt 0 ]; then run_wrk_t "$p" "$m" 16 "$WARMUP" warmup >/dev/null; fi
    done
    for c in $T_CONNS; do
      for r in $(seq 1 "$REPEAT"); do
        # shellcheck disable=SC2086
        for p in $(rotated $((r - 1)) ${T_OK_PATHS[$m]}); do   # interleaved so drift hits every path alike
          t_no=$((t_no + 1))
          k="$m|$c|$p"
          if ! kill -0 "$KK_PID" 2>/dev/null; then T_DIED=1; break 4; fi
          before=$(cpu_ticks "$KK_PID")
          line=$(run_wrk_t "$p" "$m" "$c" "$DURATION" "r$r")
          after=$(cpu_ticks "$KK_PID")
          if [ -z "$line" ]; then
            T_SOCK[$k]='wrk failed'
            say "[t $t_no/$t_total] $m c=$c $(t_label "$p"): wrk produced no result (see $TMP/wrk-t-$p-$m-c$c-r$r.txt, BENCH_KEEP=1)"
            continue
          fi
          reqs=$(kv "$line" requests); dur=$(kv "$line" duration_us)
          rps=$(awk -v r="$reqs" -v d="$dur" 'BEGIN { if (d > 0) printf "%.0f", r * 1e6 / d; else print 0 }')
          p50=$(kv "$line" p50_us); p99=$(kv "$line" p99_us)
          cpu=''
          if [ "$reqs" -gt 0 ]; then
            cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v r="$reqs" 'BEGIN { printf "%.1f", t * 1e6 / hz / r }')
          fi
          T_L_RPS[$k]+=" $rps"; T_L_P50[$k]+=" $p50"; T_L_P99[$k]+=" $p99"; T_L_CPU[$k]+=" $cpu"
          # shellcheck disable=SC2034  # read through paired()'s nameref
          T_CPU_R[$k|$r]=$cpu
          T_REQS[$k]=$(( ${T_REQS[$k]:-0} + reqs ))
          T_N2XX[$k]=$(( ${T_N2XX[$k]:-0} + $(kv "$line" non2xx) ))
          if [ "${T_SOCK[$k]:-}" != 'wrk failed' ]; then
            prev=${T_SOCK[$k]:-0/0/0/0}
            T_SOCK[$k]=$(awk -v p="$prev" -v n="$(kv "$line" connect)/$(kv "$line" read)/$(kv "$line" write)/$(kv "$line" timeout)" \
              'BEGIN { split(p, a, "/"); split(n, b, "/"); printf "%d/%d/%d/%d", a[1]+b[1], a[2]+b[2], a[3]+b[3], a[4]+b[4] }')
          fi
          say "[t $t_no/$t_total] $m c=$c $(t_label "$p"): $rps rps, p50 $p50 us, p99 $p99 us, cpu ${cpu:--} us/req, non-2xx $(kv "$line" non2xx), sock $(kv "$line" connect)/$(kv "$line" read)/$(kv "$line" write)/$(kv "$line" timeout)"
        done
      done
    done
  done
  for k in "${!T_L_RPS[@]}"; do
    # shellcheck disable=SC2086
    {
      T_RPS[$k]=$(median ${T_L_RPS[$k]})
      T_P50[$k]=$(median ${T_L_P50[$k]})
      T_P99[$k]=$(median ${T_L_P99[$k]})
      T_CPU[$k]=$(median ${T_L_CPU[$k]:-})
    }
    T_RPS[$k]=$(awk -v v="${T_RPS[$k]}" 'BEGIN { printf "%.0f", v }')
    T_P50[$k]=$(awk -v v="${T_P50[$k]}" 'BEGIN { printf "%.0f", v }')
    T_P99[$k]=$(awk -v v="${T_P99[$k]}" 'BEGIN { printf "%.0f", v }')
    if [ -n "${T_CPU[$k]}" ]; then T_CPU[$k]=$(awk -v v="${T_CPU[$k]}" 'BEGIN { printf "%.1f", v }'); fi
  done
  if [ "$T_DIED" = 1 ] || ! kill -0 "$KK_PID" 2>/dev/null; then
    T_DIED=1
    say "kakehashi died during the translated runs; log tail:"
    tail -n 20 "$TMP/kakehashi.log" >&2 || true
  fi
fi

# -----------------------------------------------------------------------------
# 7c. Added latency at 1 connection, everything on one core. On a small VM a
#     wake-up across cores costs tens of µs, and at 1 connection every request
#     waits for several: the added latency measured above is mostly where the
#     processes happened to run. Here wrk, the mock and the proxy share CPU 0,
#     last, so the runs before keep their own placement.
# -----------------------------------------------------------------------------
declare -A OC_P50 OC_P99 OC_L_P50 OC_L_P99
OC_STATE=off
if [ "$ONE_CORE" = 1 ]; then
  case " $CONNS " in
    *" 1 "*)
      if command -v taskset >/dev/null 2>&1; then
        OC_STATE=on
        oc_pids=()
        read -r -a oc_more <<<"$(nginx_pids "$MOCK_PID")"; oc_pids+=("${oc_more[@]}")
        oc_pids+=("${NGINX_PIDS[@]}")
        if [ -n "$KK_PID" ] && kill -0 "$KK_PID" 2>/dev/null; then oc_pids+=("$KK_PID"); fi
        for p in "${oc_pids[@]}"; do taskset -a -cp 0 "$p" >/dev/null 2>&1 || OC_STATE="failed to pin pid $p"; done
      else
        OC_STATE='skipped (needs taskset)'
      fi
      ;;
    *) OC_STATE='skipped (BENCH_CONNS has no 1)' ;;
  esac
fi
if [ "$OC_STATE" = on ]; then
  oc_targets=$TARGETS
  if [ -z "$KK_PID" ] || ! kill -0 "$KK_PID" 2>/dev/null; then oc_targets=${oc_targets/kakehashi/}; fi
  say "one core: added latency at 1 connection, targets: $oc_targets"
  for m in $MODES; do
    oc_accept=application/json
    if [ "$m" = stream ]; then oc_accept=text/event-stream; fi
    for t in $oc_targets; do   # warm-up after the move
      BENCH_BODY_FILE="$TMP/body-$m.json" BENCH_ACCEPT=$oc_accept taskset -c 0 \
        wrk -t 1 -c 1 -d 1s --timeout 5s -s "$TMP/post.lua" "$(url_for "$t" "$m")" >/dev/null 2>&1 || true
    done
    for r in $(seq 1 "$REPEAT"); do
      for t in $(rotated $((r - 1)) $oc_targets); do
        raw="$TMP/wrk-onecore-$t-$m-r$r.txt"
        BENCH_BODY_FILE="$TMP/body-$m.json" BENCH_ACCEPT=$oc_accept taskset -c 0 \
          wrk -t 1 -c 1 -d "${DURATION}s" --timeout 5s --latency -s "$TMP/post.lua" "$(url_for "$t" "$m")" \
          >"$raw" 2>&1 || true
        line=$(grep '^BENCH ' "$raw" | tail -n 1 || true)
        if [ -z "$line" ]; then
          say "one core: $m $t: wrk produced no result (see $raw, BENCH_KEEP=1)"
          continue
        fi
        OC_L_P50[$m|$t]+=" $(kv "$line" p50_us)"; OC_L_P99[$m|$t]+=" $(kv "$line" p99_us)"
        say "one core: $m $t (repeat $r): p50 $(kv "$line" p50_us) us, p99 $(kv "$line" p99_us) us"
      done
    done
  done
  for k in "${!OC_L_P50[@]}"; do
    # shellcheck disable=SC2086  # space-separated numbers
    {
      OC_P50[$k]=$(awk -v v="$(median ${OC_L_P50[$k]})" 'BEGIN { printf "%.0f", v }')
      OC_P99[$k]=$(awk -v v="$(median ${OC_L_P99[$k]})" 'BEGIN { printf "%.0f", v }')
    }
  done
fi

# -----------------------------------------------------------------------------
# 8. Report
# -----------------------------------------------------------------------------
na() { [ -n "${1:-}" ] && printf '%s' "$1" || printf '–'; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "–"; else printf "%.2f", a / b }'; }
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$cpu_model" ] || cpu_model=$(awk -F': *' '/^(Hardware|cpu model|Processor)/ {print $2; exit}' /proc/cpuinfo)
git_rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo 'no commit')

latency_row() {   # mode target p50 p99 direct-p50 direct-p99 -> a row of an added-latency table
  local a50 a99 ok='(reference)'
  a50=$(awk -v a="$3" -v b="$5" 'BEGIN { if (a == "" || b == "") print "–"; else print a - b }')
  a99=$(awk -v a="$4" -v b="$6" 'BEGIN { if (a == "" || b == "") print "–"; else print a - b }')
  if [ "$2" = kakehashi ]; then
    # A proxy cannot take less time than the target behind it: a negative difference means the
    # direct runs were disturbed, and says nothing either way.
    ok=$(awk -v a="$a99" 'BEGIN { if (a == "–") print "–"; else if (a + 0 < 0) print "unresolved (direct p99 above the proxy'"'"'s)"; else if (a + 0 <= 50) print "met"; else print "MISSED" }')
  fi
  echo "| $1 | $2 | $a50 | $a99 | $ok |"
}
proxy_latency_rows() {   # mode p50-array p99-array key-prefix direct-p50 direct-p99 -> nginx's and kakehashi's rows
  local -n rows_p50=$2 rows_p99=$3
  local t
  for t in nginx kakehashi; do
    case " $TARGETS " in *" $t "*) ;; *) continue ;; esac
    latency_row "$1" "$t" "${rows_p50[$4$t]:-}" "${rows_p99[$4$t]:-}" "$5" "$6"
  done
}
report() {
  echo "# Kakehashi benchmark: direct vs nginx vs kakehashi"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); repo: $git_rev"
  echo "- machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, kernel $(uname -r), $(awk '/^MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "- CPU already busy before the run (other processes, 1 s sample): ${BUSY_BEFORE}%$([ "$BUSY_BEFORE" -gt 20 ] && echo ' — WARNING: results skewed by other load')"
  echo "- tools: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | awk '{print "wrk " $2}')"
  echo "- kakehashi: $KK_STATE; version: $KK_VERSION; \`serve --threads 1\`, log_level $KK_LOG_LEVEL"
  echo "- nginx proxy: worker_processes 1, upstream keepalive, access_log $([ "$LOGS" = 1 ] && echo on || echo off); mock upstream: nginx, 1 worker, fixed responses"
  if [ "$PIN" = 1 ]; then
    echo "- CPU pinning (BENCH_PIN=1): wrk + mock on CPU 0, proxy under test alone on CPU 1"
  else
    echo "- no CPU pinning: wrk, mock and proxy share all CPUs (BENCH_PIN=0)"
  fi
  echo "- load: wrk -t$WRK_THREADS, ${DURATION}s per run, $REPEAT run(s) per cell (median shown; errors summed), POST /v1/chat/completions with a ${BODY_BYTES}-byte body; stream = 12 SSE chunks + [DONE]"
  echo "- CPU µs/request = (utime+stime of the proxy's processes during the run) / requests; clock tick $((1000000 / CLK_TCK)) µs"
  echo
  echo "## Results"
  echo
  echo "| mode | conns | target | rps | p50 µs | p99 µs | CPU µs/req | non-2xx | socket errors c/r/w/t |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
  local m c t k
  for m in $MODES; do for c in $CONNS; do for t in $TARGETS; do
    k="$m|$c|$t"
    echo "| $m | $c | $t | $(na "${RPS[$k]:-}") | $(na "${P50[$k]:-}") | $(na "${P99[$k]:-}") | $(na "${CPU[$k]:-}") | $(na "${N2XX[$k]:-}") | $(na "${SOCK[$k]:-}") |"
  done; done; done
  echo
  if [ -z "$KK_PID" ] && [ "$KK_STATE" != "DIED during the benchmark" ]; then
    echo "kakehashi was not measured: $KK_STATE."
    echo
  fi
  echo "## kakehashi vs nginx"
  echo
  echo "CPU/req ratio: kakehashi's CPU per request over nginx's in the same repeat (the two ran"
  echo "seconds apart), the median over the repeats; beside it the lowest and highest repeat."
  echo
  echo "| mode | conns | rps ratio (kk/nginx) | CPU/req ratio (kk/nginx) | repeats: lowest–highest | CPU/req ≤ nginx |"
  echo "|---|---:|---:|---:|---|---|"
  local rr cr ok pr plo phi range
  for m in $MODES; do for c in $CONNS; do
    rr=$(ratio "${RPS[$m|$c|kakehashi]:-}" "${RPS[$m|$c|nginx]:-}")
    read -r pr plo phi <<<"$(paired CPU_R "$m|$c|kakehashi" "$m|$c|nginx")"
    cr=$(ratio "${pr:-}" 1); range="$(ratio "${plo:-}" 1)–$(ratio "${phi:-}" 1)"
    ok=$(awk -v r="$cr" 'BEGIN { if (r == "–") print "–"; else if (r + 0 <= 1.0) print "met"; else print "MISSED" }')
    echo "| $m | $c | $rr | $cr | $range | $ok |"
  done; done
  echo
  echo "## Added latency at 1 connection (vs direct)"
  echo
  echo "| mode | target | added p50 µs | added p99 µs | added p99 ≤ 50 µs |"
  echo "|---|---|---:|---:|---|"
  local d50 d99
  for m in $MODES; do
    case " $CONNS " in *" 1 "*) ;; *) continue ;; esac
    proxy_latency_rows "$m" P50 P99 "$m|1|" "${P50[$m|1|direct]:-}" "${P99[$m|1|direct]:-}"
  done
  echo
  if [ "$OC_STATE" = on ]; then
    echo "### The same, with wrk, the mock and the proxy all on CPU 0"
    echo
    echo "Measured last, after moving every process to CPU 0, so that no request waits for a wake-up across cores; medians of $REPEAT runs of ${DURATION}s (direct p50 / p99 in brackets)."
    echo
    echo "| mode | target | added p50 µs | added p99 µs | added p99 ≤ 50 µs |"
    echo "|---|---|---:|---:|---|"
    for m in $MODES; do
      d50=${OC_P50[$m|direct]:-}; d99=${OC_P99[$m|direct]:-}
      echo "| $m | direct | ($(na "$d50")) | ($(na "$d99")) | |"
      proxy_latency_rows "$m" OC_P50 OC_P99 "$m|" "$d50" "$d99"
    done
    echo
  elif [ "$OC_STATE" != off ]; then
    echo "One-core latency runs: $OC_STATE."
    echo
  fi
  echo "## Memory"
  echo
  echo "| target | RSS idle MB | RSS peak MB (VmHWM) | idle RSS ≤ 20 MB |"
  echo "|---|---:|---:|---|"
  echo "| nginx (master + worker) | $(mb "$NGINX_RSS_IDLE") | $(mb "$NGINX_RSS_PEAK") | (reference) |"
  if [ -n "$KK_RSS_IDLE" ]; then
    ok=$(awk -v k="$KK_RSS_IDLE" 'BEGIN { print (k <= 20 * 1024) ? "met" : "MISSED" }')
    echo "| kakehashi | $(mb "$KK_RSS_IDLE") | $( [ -n "$KK_RSS_PEAK" ] && mb "$KK_RSS_PEAK" || echo '–') | $ok |"
    echo
    echo "kakehashi threads: ${KK_THREADS_IDLE:-?} idle, ${KK_THREADS_PEAK:-?} after the runs."
  fi
  echo
  local bad=0 key
  for key in "${!PREFLIGHT[@]}"; do [ "${PREFLIGHT[$key]}" = ok ] || bad=1; done
  if [ "$bad" = 1 ]; then
    echo "## Pre-flight problems"
    echo
    for key in $(printf '%s\n' "${!PREFLIGHT[@]}" | sort); do
      [ "${PREFLIGHT[$key]}" = ok ] || echo "- ${key/|/ }: ${PREFLIGHT[$key]}"
    done
  else
    echo "Pre-flight: every target returned a correct chat.completion and a complete SSE stream (12 chunks + [DONE])."
  fi
  if [ "$TRANSLATED" = 1 ]; then report_translated; fi
}

report_translated() {
  local m c p k cr ok lo hi label pr plo phi
  echo
  echo "## Translated paths (kakehashi only)"
  echo
  if [ "$T_STATE" != on ]; then
    echo "Not measured: $T_STATE."
    return
  fi
  echo "- paths: **pass-through** = the OpenAI request above → kakehashi → OpenAI mock (the baseline, measured again here); **openai→anthropic** = the same request for model \`claude-bench[-stream]\` → Anthropic Messages mock; **openai→gemini** = for \`gemini-bench[-stream]\` → Gemini v1beta mock (\`generateContent\` / \`streamGenerateContent?alt=sse\`); **anthropic→openai** = a ${ANTH_BODY_BYTES:-?}-byte Anthropic Messages request (same conversation, top-level \`system\`, \`max_tokens\`) to kakehashi's \`/v1/messages\` → OpenAI mock"
  echo "- mock answers: the same text and token counts in each wire format; Anthropic stream = message_start, content_block_start, ping, 9 text_delta, content_block_stop, message_delta, message_stop; Gemini stream = 9 \`data:\` events (CRLF-framed), the last with finishReason and usageMetadata"
  echo "- load: as above (wrk -t$WRK_THREADS, ${DURATION}s per run, $REPEAT run(s) per cell, medians), connections: $T_CONNS; the paths are interleaved per connection count"
  echo "- ratio = CPU µs/request of the path ÷ CPU µs/request of pass-through in the same repeat (the paths of one repeat run back to back, each repeat starting with another), the median over the repeats, same mode and connection count; target ≤ 1.3 for translated paths, ≤ 1.05 for the 3-tier group (**group (3 tiers)** = the OpenAI request for group \`tiered[-stream]\`, three priority tiers over the same mock, answered by tier 1)"
  echo
  echo "| path | mode | conns | rps | p50 µs | p99 µs | CPU µs/req | CPU/req ratio vs pass-through | target | non-2xx | socket errors c/r/w/t |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|"
  for m in $MODES; do for p in $T_PATHS; do
    label=$(t_label "$p")
    case " ${T_OK_PATHS[$m]:-} " in
      *" $p "*) ;;
      *)
        echo "| $label | $m | – | – | – | – | – | – | not measured: pre-flight failed | – | – |"
        continue ;;
    esac
    for c in $T_CONNS; do
      k="$m|$c|$p"
      read -r pr plo phi <<<"$(paired T_CPU_R "$k" "$m|$c|passthrough")"
      cr=$(ratio "${pr:-}" 1)
      if [ "$p" = passthrough ]; then
        ok='(baseline)'
      else
        ok=$(awk -v r="$cr" -v t="$(t_target "$p")" 'BEGIN { if (r == "–") print "–"; else if (r + 0 <= t + 0) print "met (≤ " t "×)"; else print "MISSED (> " t "×)" }')
      fi
      echo "| $label | $m | $c | $(na "${T_RPS[$k]:-}") | $(na "${T_P50[$k]:-}") | $(na "${T_P99[$k]:-}") | $(na "${T_CPU[$k]:-}") | $cr | $ok | $(na "${T_N2XX[$k]:-}") | $(na "${T_SOCK[$k]:-}") |"
    done
  done; done
  echo
  echo "### Translated CPU/request vs pass-through"
  echo
  echo "| path | mode | CPU/req ratio over the connection counts (lowest–highest) | target at every count |"
  echo "|---|---|---|---|"
  for m in $MODES; do for p in $T_PATHS; do
    [ "$p" = passthrough ] && continue
    label=$(t_label "$p")
    case " ${T_OK_PATHS[$m]:-} " in *" $p "*) ;; *) echo "| $label | $m | – | not measured |"; continue ;; esac
    local rs=()
    for c in $T_CONNS; do
      read -r pr plo phi <<<"$(paired T_CPU_R "$m|$c|$p" "$m|$c|passthrough")"
      cr=$(ratio "${pr:-}" 1)
      [ "$cr" != "–" ] && rs+=("$cr")
    done
    if [ ${#rs[@]} -eq 0 ]; then echo "| $label | $m | – | – |"; continue; fi
    lo=$(printf '%s\n' "${rs[@]}" | sort -g | head -n 1)
    hi=$(printf '%s\n' "${rs[@]}" | sort -g | tail -n 1)
    ok=$(awk -v r="$hi" -v t="$(t_target "$p")" 'BEGIN { print (r + 0 <= t + 0) ? "met (≤ " t "×)" : "MISSED (> " t "×)" }')
    [ ${#rs[@]} -lt "$(echo "$T_CONNS" | wc -w)" ] && ok="$ok (some counts missing)"
    if [ "$lo" = "$hi" ]; then echo "| $label | $m | $hi | $ok |"; else echo "| $label | $m | $lo–$hi | $ok |"; fi
  done; done
  echo
  if [ "$T_DIED" = 1 ]; then
    echo "**kakehashi died during the translated runs**; the numbers above are incomplete."
    echo
  fi
  local bad=0 key
  for key in "${!T_PRE[@]}"; do [ "${T_PRE[$key]}" = ok ] || bad=1; done
  if [ "$bad" = 1 ]; then
    echo "### Translated pre-flight problems"
    echo
    for m in $MODES; do for p in $T_PATHS; do
      key="$p|$m"
      [ "${T_PRE[$key]:-}" = ok ] || echo "- $(t_label "$p") $m: ${T_PRE[$key]:-not checked}"
    done; done
    if [ "${T_PRE[passthrough|non-stream]:-ok}" != ok ] || [ "${T_PRE[passthrough|stream]:-ok}" != ok ]; then
      echo "- without a working pass-through baseline, no path of that mode is loaded"
    fi
    echo
  else
    echo "Pre-flight: every path answered in the client's wire format with the mock's text and stop reason (OpenAI: \`chat.completion\`, or chunks with role, text, \`finish_reason\` stop and \`[DONE]\`; Anthropic: \`message\` with \`end_turn\`, or message_start … message_stop)."
    echo
  fi
  local any=0
  for key in "${!T_NOTE[@]}"; do any=1; done
  if [ "$any" = 1 ]; then
    echo "Usage notes (token counts differ from the mock's):"
    echo
    for m in $MODES; do for p in $T_PATHS; do
      key="$p|$m"
      [ -n "${T_NOTE[$key]:-}" ] && echo "- $(t_label "$p") $m: ${T_NOTE[$key]}"
    done; done
    echo
  fi
}

mkdir -p "$(dirname "$OUT")"
report >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
say "report written to $OUT"
