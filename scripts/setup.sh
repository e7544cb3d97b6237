#!/usr/bin/env bash
# yoloq set-up: installs what is missing (Debian 12 packages; npm's onnxruntime-node
# for the parity tests), builds, and runs one of:
#   scripts/setup.sh demo    build, then run yoloq on YOLOv10n and a COCO image
#   scripts/setup.sh test    build (normal + ASan/UBSan), run every test, then bounded fuzzing
#   scripts/setup.sh build   build only
# Data: ../shared next to the repository, or the folder named by YOLOQ_DATA.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-build}
JOBS=${JOBS:-$(nproc)}

RUNTIME_PKGS="cmake make gcc pkg-config libprotobuf-c-dev protobuf-c-compiler libonnx-dev libcjson-dev
  libturbojpeg0-dev libspng-dev libdnnl-dev"
TEST_PKGS="libcmocka-dev libonnx-testdata python3 python3-onnx python3-numpy clang-14 libclang-rt-14-dev"

need=()
pkgs=$RUNTIME_PKGS
[ "$MODE" = test ] && pkgs="$RUNTIME_PKGS $TEST_PKGS"
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# Node.js may come from elsewhere (e.g. a vendor package that bundles npm): take it as it is.
if [ "$MODE" = test ] && ! command -v npm >/dev/null; then need+=(nodejs npm); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

build() { # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

DATA=${YOLOQ_DATA:-$ROOT/../shared}
case "$MODE" in
  build)
    build build ;;
  demo)
    build build
    if [ -f "$DATA/models/yolov10n.onnx" ]; then
      ./build/yoloq run "$DATA/models/yolov10n.onnx" --image "$DATA/data/coco/val2017/000000000139.jpg" \
        --draw build/demo-detections.png
      echo "setup: detections drawn in build/demo-detections.png" >&2
    else
      echo "setup: no shared data at $DATA (set YOLOQ_DATA); built build/yoloq only" >&2
    fi ;;
  test)
    # onnxruntime-node for the parity tests (CPU EP only: skip its GPU download)
    if [ ! -d tests/parity/node_modules/onnxruntime-node ]; then
      (cd tests/parity && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
        npm install --no-audit --no-fund --loglevel=error onnxruntime-node@1.30.0) ||
        echo "setup: onnxruntime-node could not be installed; parity tests will skip" >&2
    fi
    build build
    (cd build && ctest --output-on-failure -j "$JOBS")
    # The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
    build build-asan -DYOLOQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      YOLOQ_SANITIZED=1 ctest --output-on-failure -j "$JOBS")
    # Bounded libFuzzer runs of the parsers (ONNX, COCO JSON, images, recipes).
    bash fuzz/run_ci.sh "${YOLOQ_FUZZ_SECONDS:-45}"
    ;;
  *)
    echo "usage: scripts/setup.sh [build|demo|test]" >&2; exit 2 ;;
esac
