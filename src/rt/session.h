/* A session: a prepared graph, its memory plan and a thread pool.
 * yq_session_new takes ownership of the graph, resolves ops, sorts, folds
 * constants, infers every shape, plans one arena (buffers reused by liveness)
 * and calls each op's prepare(). yq_session_run then only computes: no
 * allocation in the steady state. */
#ifndef YQ_RT_SESSION_H
#define YQ_RT_SESSION_H

#include <stdio.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

typedef struct yq_session_opts {
    int nthreads; /* <= 0: one per CPU */
    int verbose;  /* print the plan to stderr */
    int no_fusion; /* the reference path: Conv -> Sigmoid -> Mul kept as three ops, QCDQ as
                    * fake-quant, and convs without Winograd (its ~1e-5 relative rounding moves
                    * GPTQ's choices when calibration runs on it: yolov10n W4A16 0.3790 vs 0.3759) */
    int engine;    /* yq_engine: how QCDQ convolutions run */
} yq_session_opts;

/* QCDQ convolutions (uint8 activations, integer weights) run as integer
 * convolutions by default (rt/qconv_pass.h); YQ_ENGINE_FAKEQUANT keeps the
 * fake-quant reference: float kernels on dequantized weights and activations. */
typedef enum yq_engine { YQ_ENGINE_AUTO = 0, YQ_ENGINE_FAKEQUANT = 1 } yq_engine;
/* "auto" / "fakequant" → the engine, or -1. */
int yq_engine_parse(const char *s);

typedef struct yq_session yq_session;

yq_status yq_session_new(yq_graph *g, const yq_session_opts *opts, yq_session **out);
void yq_session_free(yq_session *s);
const yq_graph *yq_session_graph(const yq_session *s);

int yq_session_ninputs(const yq_session *s);
int yq_session_noutputs(const yq_session *s);
/* Graph input/output i as a value (name, dtype, dims). */
const yq_value *yq_session_input(const yq_session *s, int i);
const yq_value *yq_session_output_info(const yq_session *s, int i);

/* Run with inputs in graph-input order; each must match dtype and dims. */
yq_status yq_session_run(yq_session *s, const yq_tensor *inputs, int ninputs);
/* Output i of the last run; data stays valid until the next run or free. */
const yq_tensor *yq_session_output(const yq_session *s, int i);

/* Observation hook, for calibration: called after each node runs, with the
 * node's input and output tensors (all valid during the call; do not keep the
 * pointers). NULL removes it. The hook runs on the calling thread. */
typedef void (*yq_node_hook)(void *arg, const yq_graph *g, int node_index, const yq_tensor *in, int nin,
                             const yq_tensor *out, int nout);
void yq_session_set_hook(yq_session *s, yq_node_hook hook, void *arg);

/* Arena bytes planned for activations (for reports). */
size_t yq_session_arena_bytes(const yq_session *s);

/* With verbose >= 2 each op's run time is accumulated; print ms per run by op type. */
void yq_session_print_profile(const yq_session *s, FILE *fp, int runs);
void yq_session_reset_profile(yq_session *s);
int yq_session_nthreads(const yq_session *s);

/* Convolutions by engine: integer (QConvU8), weight-only (QWConv: float
 * input, int8 weights dequantized per GEMM block), fake-quant (float kernels
 * on a quantized model's dequantized weights), float. */
typedef struct yq_conv_engines {
    int integer, fakequant, floating, weight_only;
} yq_conv_engines;
yq_conv_engines yq_session_conv_engines(const yq_session *s);
/* One line per convolution: node name, engine, and for integer convs the
 * kernel, weight bits, epilogue and output type; for fake-quant convs why the
 * integer path did not apply. */
void yq_session_print_engines(const yq_session *s, FILE *fp);

#endif
