#!/usr/bin/env bash
# Fuzz regressions: every input a fuzzer ever failed on (tests/fuzz/regress/
# <target>/, one file per finding, named after the bug) and the hand-written
# seeds (fuzz/seeds/) go through the fuzz targets' code in this build, which
# must not crash, trip a sanitizer (in the YOLOQ_SANITIZE build) or report an
# internal error. See fuzz/README.md.
set -u
TOOL=${YOLOQ_BUILD_DIR:?}/tests/tool_fuzz_replay
SRC=${YOLOQ_SRC_DIR:?}
fails=0
for t in onnx_model coco_json image recipe; do
  paths=()
  for d in "$SRC/tests/fuzz/regress/$t" "$SRC/fuzz/seeds/$t"; do
    [ -d "$d" ] && [ -n "$(ls "$d")" ] && paths+=("$d")
  done
  [ ${#paths[@]} -gt 0 ] || continue
  if ! "$TOOL" "$t" "${paths[@]}"; then
    echo "FAIL: $t: an input crashed or failed uncleanly"; fails=$((fails+1))
  fi
done
[ $fails -eq 0 ] || exit 1
