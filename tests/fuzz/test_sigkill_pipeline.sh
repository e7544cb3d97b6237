#!/usr/bin/env bash
# SIGKILL during `yoloq pipeline` (through `yoloq demo --synthetic`, which needs no data and
# runs the same pipeline: export, fp16, PTQ, smoke, eval, ORT when present, plots, summary).
# Each run is killed at a seeded random moment; then
#  - every file left in the bundle is complete: each .onnx loads (`yoloq info`), each .json
#    parses, each .png has its signature and ends with IEND, summary.md ends with a newline;
#  - `--resume` on the killed bundle finishes (exit 0) and its summary rows (variant, mAP50-95,
#    mAP50, delta) equal those of an uninterrupted run;
#  - no temporaries (.NAME.yoloq-tmp.*) remain after the resumed run.
set -u
BIN=${YOLOQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RUNS=${YOLOQ_SIGKILL_RUNS:-6}
VARIANTS=baseline,w8a8
[ "${YOLOQ_SANITIZED:-0}" = 1 ] && { RUNS=2; VARIANTS=baseline; }
RANDOM=4242
fails=0; checks=0; killed=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
now_ms() { date +%s%3N; }
rows() { grep -E '^\| (baseline|w[48]a)' "$1/summary.md" | cut -d'|' -f2-5; }
demo() { YOLOQ_DATA="$T/none" "$BIN" demo --synthetic --variants $VARIANTS --threads 2 --quiet "$@"; }

t0=$(now_ms)
demo --run-dir "$T/ref" >/dev/null 2>"$T/ref.err" || { echo "FAIL uninterrupted run: $(tail -2 "$T/ref.err")"; exit 1; }
dur=$(( $(now_ms) - t0 ))
[ -n "$(rows "$T/ref")" ] || { echo "FAIL no summary rows in the reference run"; exit 1; }

complete_file() { # PATH -> 0 when the file is whole for its kind
  case "$1" in
    *.onnx) "$BIN" info "$1" >/dev/null 2>&1 ;;
    *.json) python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null ;;
    *.png) python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(0 if d[:8]==b"\x89PNG\r\n\x1a\n" and d[-8:-4]==b"IEND" else 1)' "$1" ;;
    *.md) [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ] ;;
    *) return 0 ;;
  esac
}

for i in $(seq 1 "$RUNS"); do
  D="$T/k$i"
  demo --run-dir "$D" >/dev/null 2>&1 &
  pid=$!
  delay=$(( (RANDOM * 32768 + RANDOM) % (dur * 11 / 10 + 1) ))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if kill -KILL "$pid" 2>/dev/null; then killed=$((killed+1)); fi
  wait "$pid" 2>/dev/null
  [ -d "$D" ] || continue
  while IFS= read -r f; do
    checks=$((checks+1))
    complete_file "$f" || fail "run $i (killed at ${delay} ms): partial file $f"
  done < <(find "$D" -type f \( -name '*.onnx' -o -name '*.json' -o -name '*.png' -o -name '*.md' \) \
             ! -name '.*' ! -path '*/ort/*')
  demo --run-dir "$D" --resume >/dev/null 2>"$T/resume.err"; rc=$?
  checks=$((checks+1))
  [ $rc -eq 0 ] || fail "run $i: --resume after the kill exited $rc: $(tail -2 "$T/resume.err")"
  checks=$((checks+1))
  [ "$(rows "$D")" = "$(rows "$T/ref")" ] || fail "run $i: resumed summary rows differ from the uninterrupted run"
  checks=$((checks+1))
  left=$(find "$D" -name '.*yoloq-tmp*' | wc -l)
  [ "$left" -eq 0 ] || fail "run $i: $left temporaries left after the resumed run"
done
echo "sigkill pipeline: $RUNS runs ($killed killed, uninterrupted ${dur} ms), $checks checks, $fails failures"
[ "$fails" -eq 0 ]
