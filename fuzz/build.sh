#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/fuzz_*.c) with clang + ASan + UBSan into
# build-fuzz/ (override with YOLOQ_FUZZ_BUILD), configuring the normal CMake
# project with YOLOQ_FUZZ=ON. Exit 77 (skip) when clang or its fuzzer runtime
# (Debian: clang-14, libclang-rt-14-dev) is missing.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${YOLOQ_FUZZ_BUILD:-$ROOT/build-fuzz}
CC=${YOLOQ_FUZZ_CC:-clang-14}
JOBS=${YOLOQ_FUZZ_JOBS:-2}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: $CC not found (apt-get install clang-14 libclang-rt-14-dev): skipping"; exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
  echo "fuzz: $CC cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev): skipping"
  sed 's/^/    /' "$probe/log" | head -5; exit 77
fi
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER="$CC" -DYOLOQ_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(cd "$ROOT/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
make -C "$BUILD" -j"$JOBS" $targets 2>&1 | grep -vE '^(make|\[ *[0-9]+%\])' || true
for t in $targets; do
  [ -x "$BUILD/fuzz/$t" ] || { echo "fuzz: $t failed to build"; exit 1; }
done
echo "fuzz: built $(echo $targets) in $BUILD/fuzz"
