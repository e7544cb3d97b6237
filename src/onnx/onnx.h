/* ONNX model I/O: ModelProto (protobuf-c, generated from the system's onnx.proto)
 * to and from the graph IR, plus single TensorProto files (the ONNX node tests'
 * input_N.pb / output_N.pb).
 *
 * Reading fills the IR (ir/graph.h): graph inputs that are not initializers,
 * outputs, value_info types, initializers (data in memory format, see
 * core/tensor.h), nodes with their attributes, opsets and model fields. Fields
 * yoloq does not model (functions, training_info, sparse initializers,
 * quantization annotations, unknown fields, ...) stay in g->source, the file's
 * ModelProto stripped of its initializers and nodes, and the writer copies them
 * from there, so a read/write round trip keeps them.
 *
 * Every error message names the file and the tensor/node/value concerned. */
#ifndef YQ_ONNX_ONNX_H
#define YQ_ONNX_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

/* Newest ModelProto IR version the reader accepts (IR 10 added INT4/UINT4).
 * The oldest is 3, the first with opset_import. */
#define YQ_ONNX_MAX_IR_VERSION 10
#define YQ_ONNX_MIN_IR_VERSION 3
/* Messages nested deeper than this (subgraph in attribute in node in graph ...)
 * are refused before parsing, so a hostile file cannot exhaust the stack. */
#define YQ_ONNX_MAX_NESTING 100
/* Graph size limits, checked right after parsing: the largest real detectors
 * have a few thousand nodes; beyond these a file is refused (YQ_ERR_LIMIT)
 * before graph-wide passes whose cost grows with the node count run on it.
 * Values: initializers + inputs + outputs + value_info + node outputs. */
#define YQ_ONNX_MAX_NODES 1000000
#define YQ_ONNX_MAX_VALUES 4000000

/* Read a model file. External data is looked up relative to the file's folder. */
yq_status yq_onnx_load(const char *path, yq_graph **out);
/* Read a model from memory. display_name names it in messages (and becomes
 * g->path); base_dir is the folder external data is relative to, or NULL to
 * refuse external data. */
yq_status yq_onnx_load_buffer(const uint8_t *buf, size_t len, const char *display_name, const char *base_dir,
                              yq_graph **out);

/* Build the ModelProto for g and pack it into a malloc'd buffer. Nodes are
 * written in g->nodes order (dead ones skipped) and must be topologically
 * sorted; every YQ_VAL_INIT value still referenced becomes an initializer with
 * raw_data (little-endian; INT4/UINT4 packed two per byte, low nibble first).
 * All tensors are written inline: models over 2 GiB fail with YQ_ERR_LIMIT.
 * When the graph holds 4-bit tensors the IR version written is at least 10.
 * Same IR, same bytes. */
yq_status yq_onnx_serialize(const yq_graph *g, uint8_t **buf, size_t *len);
/* yq_onnx_serialize, then write the file atomically. */
yq_status yq_onnx_save(const yq_graph *g, const char *path);

/* A single TensorProto file. out->data is malloc'd (memory format) and owned by
 * the caller; *name_out (may be NULL) gets the tensor's name, "" when it has
 * none. External data is looked up relative to the file's folder. */
yq_status yq_onnx_load_tensor_file(const char *path, yq_tensor *out, char **name_out);
/* Write t as a TensorProto (raw_data) named `name` (may be NULL), atomically. */
yq_status yq_onnx_save_tensor_file(const yq_tensor *t, const char *name, const char *path);

#endif
