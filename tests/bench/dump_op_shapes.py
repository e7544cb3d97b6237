#!/usr/bin/env python3
"""Dump the Conv / MatMul / Gemm nodes of an ONNX model, with their input
shapes and attributes, one per line, for tool_flops_check:

    Conv x=1,3,640,640 w=48,3,3,3 group=1 strides=2,2 pads=1,1,1,1 dilations=1,1 auto_pad=NOTSET
    MatMul a=1,4,400,36 b=1,4,36,400
    Gemm a=2,3 b=3,4 transA=0 transB=0

Usage: dump_op_shapes.py MODEL.onnx OUT.txt  (needs python3-onnx)."""
import sys

import onnx
from onnx import helper, shape_inference


def main():
    model = shape_inference.infer_shapes(onnx.load(sys.argv[1]))
    g = model.graph
    shapes = {}
    for v in list(g.value_info) + list(g.input) + list(g.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    dims = lambda name: ",".join(str(d) for d in shapes[name])
    lines = []
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        ints = lambda key: ",".join(str(v) for v in attrs[key])
        if n.op_type == "Conv":
            parts = ["Conv", "x=" + dims(n.input[0]), "w=" + dims(n.input[1]), "group=%d" % attrs.get("group", 1)]
            for key in ("strides", "pads", "dilations"):
                if key in attrs:
                    parts.append(key + "=" + ints(key))
            if "auto_pad" in attrs:
                parts.append("auto_pad=" + attrs["auto_pad"].decode())
            lines.append(" ".join(parts))
        elif n.op_type == "MatMul":
            lines.append("MatMul a=%s b=%s" % (dims(n.input[0]), dims(n.input[1])))
        elif n.op_type == "Gemm":
            lines.append("Gemm a=%s b=%s transA=%d transB=%d" % (dims(n.input[0]), dims(n.input[1]),
                                                                 attrs.get("transA", 0), attrs.get("transB", 0)))
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
