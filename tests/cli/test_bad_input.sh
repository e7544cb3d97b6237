#!/usr/bin/env bash
# Bad input through the CLI: each case must print exactly one error line that
# names the file and the problem, exit non-zero (1 for bad input, 2 for usage),
# not crash, and leave no output file behind.
set -u
BIN=${YOLOQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}

# expect NAME EXPECTED_RC PATTERN -- command...
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; } \
     || [ "$rc" -ge 128 ]; then
    echo "FAIL $name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"; fails=$((fails+1))
  else
    passes=$((passes+1))
  fi
}
no_file() { # NAME PATH
  if [ -e "$2" ] || ls "$(dirname "$2")"/.*tmp* >/dev/null 2>&1; then
    echo "FAIL $1: output file or temporary left behind"; fails=$((fails+1)); else passes=$((passes+1)); fi
}

# --- models that are not ONNX at all
printf 'this is not a model' >"$T/garbage.onnx"
: >"$T/empty.onnx"
expect garbage 1 "garbage.onnx.*(valid|parse)" -- "$BIN" info "$T/garbage.onnx"
expect empty 1 "empty.onnx" -- "$BIN" info "$T/empty.onnx"
expect missing_model 1 "nope.onnx.*(no such|cannot)" -- "$BIN" info "$T/nope.onnx"
expect directory_model 1 "$T" -- "$BIN" info "$T"
if [ -f "$SHARED/models/yolov10n.onnx" ]; then
  for n in 100 5000 400000 4000000; do
    head -c $n "$SHARED/models/yolov10n.onnx" >"$T/trunc$n.onnx"
    expect "truncated_$n" 1 "trunc$n.onnx" -- "$BIN" info "$T/trunc$n.onnx"
  done
fi

# --- well-formed models that are wrong (generated with Debian's python3-onnx)
if /usr/bin/python3 -c "import onnx, numpy" 2>/dev/null; then
  /usr/bin/python3 "$YOLOQ_SRC_DIR/tests/cli/make_bad_models.py" "$T"
  expect unknown_op 1 "unknown_op.onnx.*Einsum.*not supported" -- "$BIN" info "$T/unknown_op.onnx"
  expect custom_domain 1 "custom_domain.onnx.*MyOp" -- "$BIN" info "$T/custom_domain.onnx"
  expect bad_shapes 1 "bad_shapes.onnx.*(channel|shape)" -- "$BIN" info "$T/bad_shapes.onnx"
  expect missing_init 1 "missing_init.onnx.*w_missing" -- "$BIN" info "$T/missing_init.onnx"
  expect bench_unknown_op 1 "Einsum" -- "$BIN" bench "$T/unknown_op.onnx" --runs 1
  # unwritable JSON output: error names the path, nothing written
  expect unwritable_json 1 "$T/no/such/dir/info.json" -- "$BIN" info "$T/tiny_ok.onnx" --json "$T/no/such/dir/info.json"
  no_file unwritable_json_nofile "$T/no/such/dir/info.json"
else
  echo "note: /usr/bin/python3 with onnx missing: skipping generated bad models"
fi

# --- absurd shapes under a memory ceiling (the fuzz regression models): one
# clean line naming the file and the limit, no multi-GiB request
R=$YOLOQ_SRC_DIR/tests/fuzz/regress/onnx_model
for m in resize_huge cos_huge expand_huge tile_huge; do
  expect "max_memory_$m" 1 "$m.onnx.*over the 64.0 MiB limit" -- env YOLOQ_MAX_MEMORY=64M "$BIN" bench "$R/$m.onnx" --runs 1 --warmup 0
done
expect max_memory_bad_value 2 "YOLOQ_MAX_MEMORY='lots'" -- env YOLOQ_MAX_MEMORY=lots "$BIN" info "$R/cos_huge.onnx"

# --- images
if [ -f "$SHARED/models/yolov10n.onnx" ]; then
  M="$SHARED/models/yolov10n.onnx"
  printf 'GIF89a not really' >"$T/fake.jpg"
  head -c 2000 "$SHARED/data/coco/val2017/000000000139.jpg" >"$T/cut.jpg"
  printf '\xff\xd8\xff\xe0 garbage after a JPEG marker' >"$T/badmagic.jpg"
  expect image_missing 1 "nope.jpg" -- "$BIN" run "$M" --image "$T/nope.jpg" --json "$T/a.json"
  no_file image_missing_nofile "$T/a.json"
  expect image_not_jpeg 1 "fake.jpg" -- "$BIN" run "$M" --image "$T/fake.jpg" --json "$T/b.json"
  no_file image_not_jpeg_nofile "$T/b.json"
  expect image_truncated 1 "cut.jpg" -- "$BIN" run "$M" --image "$T/cut.jpg" --draw "$T/c.png"
  no_file image_truncated_nofile "$T/c.png"
  expect image_corrupt 1 "badmagic.jpg" -- "$BIN" run "$M" --image "$T/badmagic.jpg"
  expect unwritable_draw 1 "$T/nodir/x.png" -- "$BIN" run "$M" --image "$SHARED/data/coco/val2017/000000000139.jpg" --draw "$T/nodir/x.png"
  no_file unwritable_draw_nofile "$T/nodir/x.png"
else
  echo "note: $SHARED not found: skipping image cases"
fi

# --- impossible options (usage errors, exit 2)
expect no_args 2 "usage|expects" -- "$BIN" info
expect bad_threads 2 "threads" -- "$BIN" bench "$T/x.onnx" --threads 0
expect bad_runs 2 "runs" -- "$BIN" bench "$T/x.onnx" --runs abc
expect unknown_cmd 2 "unknown command" -- "$BIN" frobnicate
expect bad_conf 2 "conf" -- "$BIN" run "$T/x.onnx" --image "$T/y.jpg" --conf 1.5

echo "bad-input CLI tests: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
