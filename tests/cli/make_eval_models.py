"""Test-only: small ONNX models for the `yoloq eval` CLI tests (Debian's python3-onnx).

wrong_contract.onnx: a valid image model whose output [1,5] is no YOLO detection
output, so `yoloq eval` must refuse it with one clear line."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])
y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 5])
w = numpy_helper.from_array(np.full((5, 3, 1, 1), 0.1, np.float32), "w")
nodes = [
    helper.make_node("Conv", ["images", "w"], ["c"]),
    helper.make_node("GlobalAveragePool", ["c"], ["p"]),
    helper.make_node("Flatten", ["p"], ["scores"], axis=1),
]
m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, f"{out}/wrong_contract.onnx")
