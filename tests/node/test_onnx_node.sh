#!/usr/bin/env bash
# ONNX backend node tests (Debian libonnx-testdata) through yoloq's loader and runtime.
set -u
DATA=${ONNX_NODE_TEST_DIR:-/usr/share/libonnx-testdata/data/node}
if [ ! -d "$DATA" ]; then
  echo "SKIP: $DATA not found (apt-get install libonnx-testdata)"; exit 77
fi
exec "$YOLOQ_BUILD_DIR/tests/tool_node_tests" "$DATA" "$YOLOQ_SRC_DIR/tests/node/exclusions.txt"
