/* ONNX Runtime as an engine: one node process (onnxruntime-node, CPU EP) kept
 * for the whole life of the handle, fed float32 tensors over a pipe and
 * answering with its outputs. It lets `yoloq eval --engine ort` score a file
 * exactly as ONNX Runtime executes it, through yoloq's own letterbox, decoding
 * and COCO matching, so that the only difference to a yoloq evaluation is the
 * engine.
 *
 * Protocol (both directions): one JSON line, then the raw little-endian bytes
 * it announces. yoloq → node: {"name", "dims", "bytes"} + float32 data.
 * node → yoloq: at start {"ready", "version", "inputs", "outputs"} or
 * {"error"}; per request {"outputs": [{"name", "dims", "bytes"}]} + the
 * outputs' float32 data in order, or {"error"}. node's stderr (ORT's own
 * warnings) goes to an anonymous temporary file, read back for messages. */
#ifndef YQ_ORT_ORT_ENGINE_H
#define YQ_ORT_ORT_ENGINE_H

#include "core/status.h"
#include "core/tensor.h"
#include "ort/ort_env.h"

typedef struct yq_ort_engine yq_ort_engine;

/* Start node, create the ORT session for model_path (threads: ORT's
 * intraOpNumThreads, <= 0 one per CPU). Errors name the model and say what
 * went wrong: ORT not installed, ORT refusing the model, node dying. */
yq_status yq_ort_engine_open(const yq_ort_env *env, const char *model_path, int threads, yq_ort_engine **out);

/* Run the model on one float32 input. Outputs stay valid until the next run
 * or close; only float32 outputs are accepted. */
yq_status yq_ort_engine_run(yq_ort_engine *e, const char *input_name, const yq_tensor *input);
int yq_ort_engine_noutputs(const yq_ort_engine *e);
const yq_tensor *yq_ort_engine_output(const yq_ort_engine *e, int k);

/* onnxruntime-node's package version ("1.30.0"). */
const char *yq_ort_engine_version(const yq_ort_engine *e);

/* Ends the node process (closing its input; killed if it does not exit). */
void yq_ort_engine_close(yq_ort_engine *e);

#endif
