#!/usr/bin/env bash
# Fuzzes the readers of client bodies, HTTP/1, SSE and the providers' answers and stream events
# (tests/support/fuzz_targets.h) with libFuzzer, starting from the kept corpus, and keeps what
# finds new coverage in tests/fuzz/corpus/*.pack, which the unit tests replay. Installs clang 16
# when missing. Not part of scripts/test.sh: a developer's tool, run before changing a reader.
#   ./scripts/fuzz.sh                 # every target, 60 s each
#   FUZZ_SECONDS=600 ./scripts/fuzz.sh stream_events
# A failure stops the run and leaves the input as build-fuzz/crash-*, printed with what broke.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$KH_ROOT"

ensure_packages "${KH_BUILD_PACKAGES[@]}" clang-16 libclang-rt-16-dev python3
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request_body http_wire upstream_response client_chat stream_events provider_answer)

log "building the fuzz targets (clang 16, ASan+UBSan)"
CC=clang-16 CXX=clang++-16 cmake -S "$KH_ROOT" -B "$KH_ROOT/build-fuzz" -G Ninja -Wno-dev \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKH_BUILD_TESTS=OFF -DKH_BUILD_FUZZ=ON >/dev/null
ninja -C build-fuzz -j "$(nproc)" "${targets[@]/#/fuzz_}" >&2

work="$KH_ROOT/build-fuzz/work"
# pack DIR FILE / unpack FILE DIR: a pack is the inputs one after another, each after its length
# (4 bytes, little-endian), sorted by content so that a pack changes only where its inputs do.
pack() {
  python3 - "$1" "$2" <<'PY'
import os, struct, sys
src, out = sys.argv[1], sys.argv[2]
inputs = sorted(open(os.path.join(src, n), 'rb').read() for n in os.listdir(src))
with open(out, 'wb') as f:
    for data in inputs:
        f.write(struct.pack('<I', len(data)) + data)
PY
}
unpack() {
  python3 - "$1" "$2" <<'PY'
import hashlib, os, struct, sys
pack, dst = sys.argv[1], sys.argv[2]
data = open(pack, 'rb').read() if os.path.exists(pack) else b''
at = 0
while at + 4 <= len(data):
    (n,) = struct.unpack_from('<I', data, at)
    item = data[at + 4:at + 4 + n]
    open(os.path.join(dst, hashlib.sha1(item).hexdigest()), 'wb').write(item)
    at += 4 + n
PY
}

for t in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/$t.pack"
  rm -rf "$work/$t" && mkdir -p "$work/$t/seed" "$work/$t/found" "$work/$t/kept"
  unpack "$corpus" "$work/$t/seed"
  log "$t: fuzzing for ${seconds} s from $(ls "$work/$t/seed" | wc -l) inputs"
  (cd build-fuzz && ./fuzz/fuzz_"$t" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
     -print_final_stats=1 "$work/$t/found" "$work/$t/seed")
  # Only what adds coverage is kept, and inputs are cut at 1.5 KB to keep the packs small.
  ./build-fuzz/fuzz/fuzz_"$t" -merge=1 -max_len=1536 "$work/$t/kept" "$work/$t/seed" \
    "$work/$t/found" 2>/dev/null
  pack "$work/$t/kept" "$corpus"
  log "$t: $(ls "$work/$t/kept" | wc -l) inputs kept in $corpus"
done
