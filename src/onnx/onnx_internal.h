/* Helpers shared by the ONNX reader and writer (not part of the public API). */
#ifndef YQ_ONNX_INTERNAL_H
#define YQ_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "onnx.pb-c.h"

/* ---- protobuf ---------------------------------------------------------------- */

/* Unpack buf as a message of type desc, after checking that nesting stays within
 * YQ_ONNX_MAX_NESTING and with allocations capped relative to len (garbage that
 * would expand into gigabytes fails instead). The message is allocated with
 * plain malloc/free, so parts of it (e.g. raw_data buffers) may be taken over
 * with free(). Errors name display_name: "<file>: not a valid ONNX <kind>
 * (protobuf parse failed)". */
yq_status yq_onnx_unpack(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                         const char *display_name, const char *kind, ProtobufCMessage **out);
/* Free a message returned by yq_onnx_unpack (or any part of one). NULL is fine. */
void yq_onnx_free_message(ProtobufCMessage *m);

/* g->source_free of graphs the reader made; g->source is then the file's
 * Onnx__ModelProto without initializers and nodes. */
void yq_onnx_source_free(void *source);

/* ---- tensors ----------------------------------------------------------------- */

/* Decode a TensorProto into memory format (core/tensor.h): dense, host order,
 * 4-bit values unpacked one per byte (INT4 sign-extended). Accepts raw_data,
 * the typed fields and external data (relative to base_dir; NULL refuses it).
 * out->data is malloc'd; *nbytes gets its size; *ext_location (may be NULL)
 * gets a malloc'd copy of the external location, or NULL when inline.
 * May take over tp->raw_data's buffer (then clears it in tp).
 * Messages read "<file>: <what>: ...", e.g. what = "initializer 'w'". */
yq_status yq_onnx_tensor_decode(Onnx__TensorProto *tp, const char *file, const char *base_dir, const char *what,
                                yq_tensor *out, size_t *nbytes, char **ext_location);

/* Fill tp (initialised by the caller) with name, dims, data_type and raw_data
 * for t. tp points into t (dims, and data where the file layout equals the
 * memory layout) and into *scratch, a malloc'd buffer (or NULL) that the caller
 * frees once tp has been packed. nbytes_in_memory is checked against t's dims
 * (pass (size_t)-1 to skip the check). Messages read "<file>: <what>: ...". */
yq_status yq_onnx_tensor_encode(const yq_tensor *t, size_t nbytes_in_memory, const char *name, Onnx__TensorProto *tp,
                                uint8_t **scratch, const char *file, const char *what);

/* Bytes a tensor of numel elements occupies in an ONNX file (4-bit: packed). */
size_t yq_onnx_file_bytes(yq_dtype dt, int64_t numel);

/* The folder of path ("." when it has none), malloc'd. */
char *yq_onnx_dirname(const char *path);

#endif
