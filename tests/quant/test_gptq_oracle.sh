#!/usr/bin/env bash
# GPTQ against an independent numpy implementation (tests/quant/gptq_oracle.py).
set -u
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c "import numpy" 2>/dev/null; then
  echo "SKIP: $PY with numpy not found"; exit 77
fi
TOOL=""
for t in "$YOLOQ_BUILD_DIR/tests/tool_quant_gptq" "$YOLOQ_BUILD_DIR/tool_quant_gptq"; do
  [ -x "$t" ] && TOOL=$t && break
done
if [ -z "$TOOL" ]; then echo "tool_quant_gptq not built"; exit 1; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" "$YOLOQ_SRC_DIR/tests/quant/gptq_oracle.py" "$TOOL" "$WORK"
