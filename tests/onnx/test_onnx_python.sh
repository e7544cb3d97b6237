#!/usr/bin/env bash
# The ONNX writer against Debian's python3-onnx as an oracle: models yoloq
# rewrites (shared YOLO models, generated models with every dtype in typed and
# raw form, external data) must pass onnx.checker.check_model(full_check=True)
# and hold the same nodes, attributes, metadata and tensor values as the input.
# Tampered external data must be refused with a clear message.
# Skips (exit 77) when /usr/bin/python3 or its onnx/numpy modules are missing.
set -euo pipefail

PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 with the onnx and numpy modules is not available (package python3-onnx)"
    exit 77
fi
TOOL="${YOLOQ_BUILD_DIR:?YOLOQ_BUILD_DIR not set}/tests/tool_onnx_convert"
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/yoloq-onnx-py-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# compare.py ORIG REWRITTEN: checker + same content
cat >"$WORK/compare.py" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import numpy_helper

orig_path, new_path = sys.argv[1], sys.argv[2]
orig = onnx.load(orig_path)          # loads external data next to the original
new = onnx.load(new_path, load_external_data=False)
onnx.checker.check_model(new, full_check=True)
fail = []
def check(cond, what):
    if not cond:
        fail.append(what)

for t in new.graph.initializer:
    check(t.data_location != onnx.TensorProto.EXTERNAL, "initializer %s written external" % t.name)
    check(t.HasField("raw_data"), "initializer %s not in raw_data" % t.name)
check(orig.ir_version == new.ir_version, "ir_version")
opsets = lambda m: sorted((o.domain or "", o.version) for o in m.opset_import)
check(opsets(orig) == opsets(new), "opset_import")
check(list(orig.metadata_props) == list(new.metadata_props), "metadata_props")
for f in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
    check(getattr(orig, f) == getattr(new, f), f)
go, gn = orig.graph, new.graph
check(go.name == gn.name and go.doc_string == gn.doc_string, "graph name/doc")
init_names = {t.name for t in go.initializer}
check([i for i in go.input if i.name not in init_names] == list(gn.input), "graph inputs")
check(list(go.output) == list(gn.output), "graph outputs")
check(list(go.value_info) == list(gn.value_info), "value_info")
# nodes: same order, inputs, outputs, attributes; attribute tensors by value
check(len(go.node) == len(gn.node), "node count")
for a, b in zip(go.node, gn.node):
    same = (a.op_type == b.op_type and a.name == b.name and (a.domain or "") == (b.domain or "")
            and list(a.input) == list(b.input) and list(a.output) == list(b.output)
            and a.doc_string == b.doc_string and len(a.attribute) == len(b.attribute))
    for x, y in zip(a.attribute, b.attribute):
        if x.type == onnx.AttributeProto.TENSOR:
            tx, ty = numpy_helper.to_array(x.t), numpy_helper.to_array(y.t)
            same = same and x.name == y.name and tx.dtype == ty.dtype and np.array_equal(tx, ty)
        else:
            same = same and x == y
    check(same, "node %s (%s)" % (a.name, a.op_type))
# initializers: every one a node reads, same dtype, dims and bits
used = {i for n in go.node for i in n.input} | {o.name for o in go.output}
want = [t for t in go.initializer if t.name in used]
check([t.name for t in want] == [t.name for t in gn.initializer], "initializer names/order")
for a, b in zip(want, gn.initializer):
    xa, xb = numpy_helper.to_array(a), numpy_helper.to_array(b)
    ok = a.data_type == b.data_type and list(a.dims) == list(b.dims) and xa.dtype == xb.dtype
    ok = ok and xa.tobytes() == xb.tobytes()
    check(ok, "initializer %s (type %d)" % (a.name, a.data_type))
if fail:
    print("MISMATCH %s -> %s: %s" % (orig_path, new_path, "; ".join(fail[:10])))
    sys.exit(1)
print("ok %s: %d nodes, %d initializers" % (new_path.split("/")[-1], len(gn.node), len(gn.initializer)))
EOF

# gen.py DIR: models with every dtype (typed fields and raw_data) and external data
cat >"$WORK/gen.py" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as T

out = sys.argv[1]
rng = np.random.default_rng(7)
kinds = [
    (T.FLOAT, np.float32), (T.FLOAT16, np.float16), (T.DOUBLE, np.float64),
    (T.INT8, np.int8), (T.UINT8, np.uint8), (T.INT16, np.int16), (T.UINT16, np.uint16),
    (T.INT32, np.int32), (T.UINT32, np.uint32), (T.INT64, np.int64), (T.UINT64, np.uint64),
    (T.BOOL, np.bool_),
]
def values(np_type, shape):
    if np_type == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(np_type, np.floating):
        return (rng.standard_normal(shape) * 100).astype(np_type)
    info = np.iinfo(np_type)
    return rng.integers(info.min, info.max, size=shape, dtype=np_type, endpoint=True)

for form in ("typed", "raw"):
    inits, nodes, outputs = [], [], []
    for dt, np_type in kinds:
        name = "w_%s" % np.dtype(np_type).name
        arr = values(np_type, (2, 3, 5))
        if form == "raw":
            t = numpy_helper.from_array(arr, name)
        else:
            t = helper.make_tensor(name, dt, arr.shape, arr.flatten().tolist(), raw=False)
        inits.append(t)
        nodes.append(helper.make_node("Identity", [name], ["y_" + name], name="id_" + name))
        outputs.append(helper.make_tensor_value_info("y_" + name, dt, [2, 3, 5]))
    # bfloat16: typed only (the 1.12 helper builds it from floats)
    inits.append(helper.make_tensor("w_bf16", T.BFLOAT16, [4], [1.0, -2.5, 3.25, 0.0]))
    nodes.append(helper.make_node("Identity", ["w_bf16"], ["y_bf16"], name="id_bf16"))
    outputs.append(helper.make_tensor_value_info("y_bf16", T.BFLOAT16, [4]))
    # an input with a dim_param, a Constant, value_info, attributes, doc strings
    x = helper.make_tensor_value_info("x", T.FLOAT, ["batch", 3, 4, 4], doc_string="the input")
    w = numpy_helper.from_array(values(np.float32, (2, 3, 3, 3)), "conv_w")
    inits.append(w)
    nodes.append(helper.make_node("Conv", ["x", "conv_w"], ["c"], name="conv", kernel_shape=[3, 3],
                                  pads=[1, 1, 1, 1], strides=[1, 1], doc_string="a conv"))
    nodes.append(helper.make_node("Constant", [], ["k"], name="k",
                                  value=numpy_helper.from_array(np.array([0.5], np.float32))))
    nodes.append(helper.make_node("Mul", ["c", "k"], ["m"], name="mul"))
    nodes.append(helper.make_node("LeakyRelu", ["m"], ["act"], name="act", alpha=0.125))
    nodes.append(helper.make_node("Resize", ["act", "", "scales"], ["big"], name="resize", mode="nearest"))
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    outputs.append(helper.make_tensor_value_info("big", T.FLOAT, ["batch", 2, 8, 8]))
    graph = helper.make_graph(nodes, "gen_" + form, [x], outputs, inits, doc_string="graph doc",
                              value_info=[helper.make_tensor_value_info("c", T.FLOAT, ["batch", 2, 4, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gen.py",
                              producer_version="1", doc_string="model doc", model_version=3)
    model.ir_version = 8
    helper.set_model_props(model, {"author": "test", "names": "{0: 'a'}"})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, "%s/dtypes_%s.onnx" % (out, form))
    if form == "raw":
        import os
        os.makedirs("%s/ext" % out, exist_ok=True)
        onnx.save_model(model, "%s/ext/model.onnx" % out, save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.data", size_threshold=0)
EOF

fails=0
convert_and_compare() { # ORIG OUT
    if ! "$TOOL" "$1" "$2" >"$WORK/tool.out" 2>&1; then
        echo "FAIL: tool_onnx_convert $1: $(cat "$WORK/tool.out")"; fails=$((fails + 1)); return
    fi
    "$PY" "$WORK/compare.py" "$1" "$2" || fails=$((fails + 1))
}

"$PY" "$WORK/gen.py" "$WORK"
convert_and_compare "$WORK/dtypes_typed.onnx" "$WORK/dtypes_typed.out.onnx"
convert_and_compare "$WORK/dtypes_raw.onnx" "$WORK/dtypes_raw.out.onnx"
convert_and_compare "$WORK/ext/model.onnx" "$WORK/ext_inline.out.onnx"
# the rewritten typed model is itself a fixed point
"$TOOL" "$WORK/dtypes_typed.out.onnx" "$WORK/dtypes_typed.out2.onnx" >/dev/null
cmp "$WORK/dtypes_typed.out.onnx" "$WORK/dtypes_typed.out2.onnx" || { echo "FAIL: second rewrite differs"; fails=$((fails + 1)); }

# tampered external data: location escapes, absolute, short file
tamper() { # NAME PYTHON-EXPR-ON-t EXPECTED-MESSAGE
    mkdir -p "$WORK/t_$1"
    cp "$WORK/ext/weights.data" "$WORK/t_$1/"
    "$PY" - "$WORK/ext/model.onnx" "$WORK/t_$1/model.onnx" "$2" <<'EOF'
import sys, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
t = m.graph.initializer[0]
for e in t.external_data:
    exec(sys.argv[3])
onnx.save(m, sys.argv[2])
EOF
    if "$TOOL" "$WORK/t_$1/model.onnx" >"$WORK/tool.out" 2>&1; then
        echo "FAIL: tampered external data ($1) was accepted"; fails=$((fails + 1)); return
    fi
    if ! grep -q "$3" "$WORK/tool.out"; then
        echo "FAIL: tampered external data ($1): expected '$3', got: $(cat "$WORK/tool.out")"; fails=$((fails + 1)); return
    fi
    echo "ok refused $1: $(cat "$WORK/tool.out")"
}
tamper escape 'e.value = "../weights.data" if e.key == "location" else e.value' "leaves the model's folder"
tamper absolute "e.value = \"$WORK/ext/weights.data\" if e.key == \"location\" else e.value" "absolute path"
tamper beyond 'e.value = "100000000" if e.key == "offset" else e.value' "holds"
mkdir -p "$WORK/t_short" && "$PY" - "$WORK/ext/weights.data" "$WORK/t_short/weights.data" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d[:len(d) // 2])
EOF
cp "$WORK/ext/model.onnx" "$WORK/t_short/"
if "$TOOL" "$WORK/t_short/model.onnx" >"$WORK/tool.out" 2>&1 || ! grep -q "holds" "$WORK/tool.out"; then
    echo "FAIL: short external data file: $(cat "$WORK/tool.out")"; fails=$((fails + 1))
else
    echo "ok refused short: $(cat "$WORK/tool.out")"
fi

# the shared YOLO models
SHARED="${YOLOQ_SHARED_DIR:-}"
if [ -n "$SHARED" ] && [ -f "$SHARED/models/yolov10n.onnx" ]; then
    for m in yolov10n yolov10m-random; do
        convert_and_compare "$SHARED/models/$m.onnx" "$WORK/$m.out.onnx"
    done
else
    echo "note: shared models not found (YOLOQ_SHARED_DIR), skipping them"
fi

if [ "$fails" -ne 0 ]; then
    echo "FAIL: $fails check(s) failed"
    exit 1
fi
echo "PASS"
