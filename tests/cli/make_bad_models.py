"""Test-only: writes small ONNX models that are well-formed protobuf but wrong
in one way each, for the CLI bad-input tests. Uses Debian's python3-onnx."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]


def save(name, graph, opset=17):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, f"{out}/{name}.onnx")


x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)

# an operator yoloq does not implement
save("unknown_op", helper.make_graph([helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,jk->ik")],
                                     "g", [x], [y]))
# a custom-domain operator
g = helper.make_graph([helper.make_node("MyOp", ["x"], ["y"], domain="com.example")], "g", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
m.ir_version = 8
onnx.save(m, f"{out}/custom_domain.onnx")
# inconsistent shapes: conv weight expects 4 input channels, x has 3
w = numpy_helper.from_array(np.zeros((8, 4, 3, 3), np.float32), "w")
save("bad_shapes", helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w]))
# a node reading a value nothing defines (missing initializer)
save("missing_init", helper.make_graph([helper.make_node("Conv", ["x", "w_missing"], ["y"])], "g", [x], [y]))
# a valid tiny model, for output-path tests
w3 = numpy_helper.from_array(np.full((2, 3, 1, 1), 0.1, np.float32), "w")
save("tiny_ok", helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w3]))
