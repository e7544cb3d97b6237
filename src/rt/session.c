#include "rt/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "ir/passes.h"
#include "rt/ops.h"
#include "rt/kernels/conv_int8.h"
#include "rt/prepare.h"
#include "rt/kernels/conv.h"
#include "rt/qconv_pass.h"

typedef struct step {
    int node;
    const yq_op_vtable *vt;
    yq_tensor *in, *out;
    void *state;
    double ms; /* accumulated run time when profiling */
} step;

struct yq_session {
    yq_graph *g;
    yq_pool *pool;
    int verbose;
    step *steps;
    int nsteps;
    unsigned char *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    void **value_ptr; /* where each value's data lives at run time */
    yq_tensor *outputs;
    yq_node_hook hook;
    void *hook_arg;
    yq_qconv_capture *qcap; /* quantized conv weights seen at load (engine listing) */
};

#define ALIGN 64

static size_t align_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

/* One buffer to place in the arena: lives from step `first` to `last`. */
typedef struct buffer {
    int value;
    int first, last;
    size_t size, offset;
} buffer;

static int cmp_buffer(const void *a, const void *b) {
    const buffer *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->value - y->value;
}

/* Greedy best-offset placement, largest buffers first: each buffer takes the
 * lowest offset that does not overlap any already placed buffer whose
 * lifetime intersects its own. Deterministic: ties resolved by value id. */
static yq_status plan_arena(yq_session *s, size_t *offsets) {
    yq_graph *g = s->g;
    int *first = yq_malloc(((size_t)g->nvalues + 1) * sizeof(int));
    int *last = yq_malloc(((size_t)g->nvalues + 1) * sizeof(int));
    buffer *bufs = yq_malloc(((size_t)g->nvalues + 1) * sizeof *bufs);
    buffer **placed = yq_malloc(((size_t)g->nvalues + 1) * sizeof *placed);
    if (!first || !last || !bufs || !placed) {
        free(first), free(last), free(bufs), free(placed);
        return YQ_ERR_NOMEM;
    }
    for (int v = 0; v < g->nvalues; v++) first[v] = last[v] = -1;
    for (int t = 0; t < s->nsteps; t++) {
        const yq_node *n = &g->nodes[s->steps[t].node];
        for (int k = 0; k < n->noutputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && first[v] < 0) first[v] = last[v] = t;
        }
        for (int k = 0; k < n->ninputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && first[v] >= 0) last[v] = t;
        }
    }
    for (int i = 0; i < g->noutputs; i++)
        if (first[g->outputs[i]] >= 0) last[g->outputs[i]] = s->nsteps;
    int nb = 0;
    for (int v = 0; v < g->nvalues; v++) {
        offsets[v] = (size_t)-1;
        if (first[v] < 0 || g->values[v].data) continue;
        size_t bytes;
        yq_status st = yq_dtype_bytes(g->values[v].dtype, yq_value_numel(&g->values[v]), &bytes);
        if (st != YQ_OK) {
            free(first), free(last), free(bufs), free(placed);
            return yq_fail_prefix(st, "value '%s'", g->values[v].name);
        }
        bufs[nb++] = (buffer){.value = v, .first = first[v], .last = last[v], .size = align_up(bytes ? bytes : 1)};
    }
    qsort(bufs, (size_t)nb, sizeof *bufs, cmp_buffer);
    size_t total = 0;
    int nplaced = 0;
    for (int i = 0; i < nb; i++) {
        buffer *b = &bufs[i];
        size_t off = 0;
        /* candidates: 0 and the end of every overlapping placed buffer */
        for (;;) {
            int moved = 0;
            for (int j = 0; j < nplaced; j++) {
                const buffer *p = placed[j];
                if (p->last < b->first || b->last < p->first) continue;    /* disjoint in time */
                if (p->offset + p->size <= off || off + b->size <= p->offset) continue; /* disjoint in space */
                off = p->offset + p->size;
                moved = 1;
            }
            if (!moved) break;
        }
        b->offset = off;
        placed[nplaced++] = b;
        offsets[b->value] = off;
        if (off + b->size > total) total = off + b->size;
    }
    s->arena_bytes = total;
    free(first), free(last), free(bufs), free(placed);
    return YQ_OK;
}

static void fill_tensor(yq_tensor *t, const yq_value *v) {
    memset(t, 0, sizeof *t);
    t->dtype = v->dtype;
    t->rank = v->rank;
    for (int d = 0; d < v->rank; d++) t->dims[d] = v->dims[d];
}

void yq_session_free(yq_session *s) {
    if (!s) return;
    for (int i = 0; i < s->nsteps; i++) {
        if (s->steps[i].state && s->steps[i].vt->release) s->steps[i].vt->release(s->steps[i].state);
        free(s->steps[i].in);
        free(s->steps[i].out);
    }
    free(s->steps);
    free(s->arena);
    free(s->scratch);
    free(s->value_ptr);
    free(s->outputs);
    yq_qconv_capture_free(s->qcap);
    yq_pool_free(s->pool);
    yq_graph_free(s->g);
    free(s);
}

yq_status yq_session_new(yq_graph *g, const yq_session_opts *opts, yq_session **out) {
    *out = NULL;
    yq_session *s = yq_calloc(1, sizeof *s);
    if (!s) {
        yq_graph_free(g);
        return YQ_ERR_NOMEM;
    }
    s->g = g;
    s->verbose = opts ? opts->verbose : 0;
    yq_status st = yq_pool_new(opts ? opts->nthreads : 0, &s->pool);
    size_t *offsets = NULL;
    if (st != YQ_OK) goto fail;
    /* Quantized conv weights are folded to float by preparation: record their
     * integer codes first. */
    if ((st = yq_qconv_capture_new(g, &s->qcap)) != YQ_OK) goto fail;
    st = yq_prepare_graph(g, s->pool, NULL);
    if (st != YQ_OK) {
        if (g->path) yq_fail_prefix(st, "%s", g->path);
        goto fail;
    }
    /* Runtime-only fusions (the session's graph is never written out). */
    if (!(opts && opts->no_fusion)) {
        if ((st = yq_pass_fuse_conv_silu(g)) != YQ_OK || (st = yq_graph_compact(g)) != YQ_OK) goto fail;
        int nq = 0;
        if (!(opts && opts->engine == YQ_ENGINE_FAKEQUANT) &&
            ((st = yq_qconv_pass(g, s->qcap, &nq)) != YQ_OK || (nq && (st = yq_graph_compact(g)) != YQ_OK)))
            goto fail;
    }
    /* Only names and reasons are needed from here on (the listing). */
    for (int i = 0; s->qcap && i < s->qcap->n; i++) {
        free(s->qcap->w[i].w);
        free(s->qcap->w[i].scale);
        s->qcap->w[i].w = NULL;
        s->qcap->w[i].scale = NULL;
    }

    s->steps = yq_calloc((size_t)g->nnodes + 1, sizeof *s->steps);
    s->value_ptr = yq_calloc((size_t)g->nvalues + 1, sizeof *s->value_ptr);
    s->outputs = yq_calloc((size_t)g->noutputs + 1, sizeof *s->outputs);
    offsets = yq_malloc(((size_t)g->nvalues + 1) * sizeof *offsets);
    if (!s->steps || !s->value_ptr || !s->outputs || !offsets) {
        st = YQ_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead) continue;
        s->steps[s->nsteps++] = (step){.node = i, .vt = yq_op_get(g->nodes[i].op)};
    }
    st = plan_arena(s, offsets);
    if (st != YQ_OK) goto fail;
    s->arena = yq_aligned_alloc(ALIGN, s->arena_bytes ? s->arena_bytes : ALIGN);
    if (!s->arena) {
        st = yq_fail_prefix(YQ_ERR_NOMEM, "%s: the activation arena", g->path ? g->path : "model");
        goto fail;
    }
    for (int v = 0; v < g->nvalues; v++) {
        if (g->values[v].data)
            s->value_ptr[v] = g->values[v].data;
        else if (offsets[v] != (size_t)-1)
            s->value_ptr[v] = s->arena + offsets[v];
    }
    /* per-step tensors and prepare() */
    for (int t = 0; t < s->nsteps; t++) {
        step *sp = &s->steps[t];
        const yq_node *n = &g->nodes[sp->node];
        sp->in = yq_calloc((size_t)n->ninputs + 1, sizeof *sp->in);
        sp->out = yq_calloc((size_t)n->noutputs + 1, sizeof *sp->out);
        if (!sp->in || !sp->out) {
            st = YQ_ERR_NOMEM;
            goto fail;
        }
        for (int k = 0; k < n->ninputs; k++) {
            if (n->inputs[k] < 0) continue;
            const yq_value *v = &g->values[n->inputs[k]];
            fill_tensor(&sp->in[k], v);
            sp->in[k].data = v->data; /* constants only, for prepare */
        }
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) fill_tensor(&sp->out[k], &g->values[n->outputs[k]]);
        if (sp->vt->prepare) {
            yq_prepare_ctx pc = {.g = g, .node = n, .opset = yq_graph_opset(g, ""), .nin = n->ninputs,
                                 .nout = n->noutputs, .in = sp->in, .out = sp->out,
                                 .nthreads = yq_pool_size(s->pool), .reference = opts && opts->no_fusion};
            st = sp->vt->prepare(&pc);
            if (st != YQ_OK) goto fail;
            sp->state = pc.state;
            if (pc.scratch_bytes > s->scratch_bytes) s->scratch_bytes = pc.scratch_bytes;
        }
    }
    if (s->scratch_bytes) {
        s->scratch = yq_aligned_alloc(ALIGN, align_up(s->scratch_bytes));
        if (!s->scratch) {
            st = yq_fail_prefix(YQ_ERR_NOMEM, "%s: the kernels' scratch buffer", g->path ? g->path : "model");
            goto fail;
        }
    }
    for (int i = 0; i < g->noutputs; i++) fill_tensor(&s->outputs[i], &g->values[g->outputs[i]]);
    if (s->verbose) {
        fprintf(stderr, "yoloq: plan: %d steps, arena %.1f MiB, scratch %.1f MiB, %d threads\n", s->nsteps,
                (double)s->arena_bytes / 1048576.0, (double)s->scratch_bytes / 1048576.0, yq_pool_size(s->pool));
        yq_session_print_engines(s, stderr);
    }
    free(offsets);
    *out = s;
    return YQ_OK;
fail:
    free(offsets);
    yq_session_free(s);
    return st;
}

const yq_graph *yq_session_graph(const yq_session *s) { return s->g; }
int yq_session_ninputs(const yq_session *s) { return s->g->ninputs; }
int yq_session_noutputs(const yq_session *s) { return s->g->noutputs; }
const yq_value *yq_session_input(const yq_session *s, int i) { return &s->g->values[s->g->inputs[i]]; }
const yq_value *yq_session_output_info(const yq_session *s, int i) { return &s->g->values[s->g->outputs[i]]; }
const yq_tensor *yq_session_output(const yq_session *s, int i) { return &s->outputs[i]; }
size_t yq_session_arena_bytes(const yq_session *s) { return s->arena_bytes; }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

yq_status yq_session_run(yq_session *s, const yq_tensor *inputs, int ninputs) {
    yq_graph *g = s->g;
    if (ninputs != g->ninputs)
        return yq_fail(YQ_ERR_ARG, "the model takes %d input(s), %d given", g->ninputs, ninputs);
    for (int i = 0; i < ninputs; i++) {
        const yq_value *v = &g->values[g->inputs[i]];
        const yq_tensor *t = &inputs[i];
        int same = t->dtype == v->dtype && t->rank == v->rank && t->data;
        for (int d = 0; same && d < v->rank; d++) same = t->dims[d] == v->dims[d];
        if (!same) {
            char a[128], b[128];
            return yq_fail(YQ_ERR_ARG, "input '%s' must be %s %s, got %s %s", v->name, yq_dtype_name(v->dtype),
                           yq_dims_str(v->rank, v->dims, a, sizeof a), yq_dtype_name(t->dtype),
                           yq_dims_str(t->rank, t->dims, b, sizeof b));
        }
        s->value_ptr[g->inputs[i]] = t->data;
    }
    int64_t opset = yq_graph_opset(g, "");
    for (int t = 0; t < s->nsteps; t++) {
        step *sp = &s->steps[t];
        const yq_node *n = &g->nodes[sp->node];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) sp->in[k].data = s->value_ptr[n->inputs[k]];
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) sp->out[k].data = s->value_ptr[n->outputs[k]];
        yq_run_ctx rc = {.g = g, .node = n, .opset = opset, .nin = n->ninputs, .nout = n->noutputs, .in = sp->in,
                         .out = sp->out, .pool = s->pool, .scratch = s->scratch, .state = sp->state};
        double t0 = s->verbose > 1 ? now_ms() : 0;
        yq_status st = sp->vt->run(&rc);
        if (s->verbose > 1) sp->ms += now_ms() - t0;
        if (st == YQ_OK && s->hook) s->hook(s->hook_arg, g, sp->node, sp->in, n->ninputs, sp->out, n->noutputs);
        if (st != YQ_OK) {
            char label[384];
            return yq_fail_prefix(st, "%s", yq_node_label(g, n, label, sizeof label));
        }
    }
    for (int i = 0; i < g->noutputs; i++) s->outputs[i].data = s->value_ptr[g->outputs[i]];
    return YQ_OK;
}

void yq_session_print_profile(const yq_session *s, FILE *fp, int runs) {
    double by_op[YQ_OP_COUNT] = {0}, total = 0;
    int count[YQ_OP_COUNT] = {0};
    for (int t = 0; t < s->nsteps; t++) {
        int op = s->g->nodes[s->steps[t].node].op;
        by_op[op] += s->steps[t].ms;
        count[op]++;
        total += s->steps[t].ms;
    }
    if (runs < 1) runs = 1;
    fprintf(fp, "%-22s %6s %10s %6s\n", "op", "nodes", "ms/run", "%");
    for (int op = 0; op < YQ_OP_COUNT; op++)
        if (count[op])
            fprintf(fp, "%-22s %6d %10.3f %6.1f\n", yq_op_names[op], count[op], by_op[op] / runs,
                    total > 0 ? 100.0 * by_op[op] / total : 0.0);
    fprintf(fp, "%-22s %6d %10.3f\n", "total", s->nsteps, total / runs);
}

void yq_session_reset_profile(yq_session *s) {
    for (int t = 0; t < s->nsteps; t++) s->steps[t].ms = 0;
}

int yq_session_nthreads(const yq_session *s) { return yq_pool_size(s->pool); }

void yq_session_set_hook(yq_session *s, yq_node_hook hook, void *arg) {
    s->hook = hook;
    s->hook_arg = arg;
}

int yq_engine_parse(const char *s) {
    if (!strcmp(s, "auto")) return YQ_ENGINE_AUTO;
    if (!strcmp(s, "fakequant")) return YQ_ENGINE_FAKEQUANT;
    return -1;
}

/* Weight bits of a QConvU8 node: 4 when every channel's w' spans <= 16 values. */
static int qconv_bits(const yq_graph *g, const yq_node *n) {
    const yq_value *w = &g->values[n->inputs[1]];
    const int16_t *d = w->data;
    const int64_t M = w->dims[0], per = M > 0 ? yq_value_numel(w) / M : 0;
    for (int64_t m = 0; m < M; m++) {
        int lo = 256, hi = -256;
        for (int64_t i = 0; i < per; i++) {
            lo = d[m * per + i] < lo ? d[m * per + i] : lo;
            hi = d[m * per + i] > hi ? d[m * per + i] : hi;
        }
        if (hi - lo > 15) return 8;
    }
    return 4;
}

static int step_engine(const yq_session *s, const yq_node *n) {
    if (n->op == YQ_OP_QConvU8) return 0;
    if (n->op == YQ_OP_QWConv) return 3;
    if (n->op != YQ_OP_Conv) return -1;
    return yq_qconv_capture_find(s->qcap, s->g->values[n->inputs[1]].name) ? 1 : 2;
}

yq_conv_engines yq_session_conv_engines(const yq_session *s) {
    yq_conv_engines e = {0, 0, 0, 0};
    for (int t = 0; t < s->nsteps; t++) {
        int k = step_engine(s, &s->g->nodes[s->steps[t].node]);
        if (k == 0) e.integer++;
        if (k == 1) e.fakequant++;
        if (k == 2) e.floating++;
        if (k == 3) e.weight_only++;
    }
    return e;
}

void yq_session_print_engines(const yq_session *s, FILE *fp) {
    const yq_graph *g = s->g;
    for (int t = 0; t < s->nsteps; t++) {
        const yq_node *n = &g->nodes[s->steps[t].node];
        const int k = step_engine(s, n);
        if (k < 0) continue;
        char label[384];
        yq_node_label(g, n, label, sizeof label);
        const char *act = n->fused_act == YQ_FUSED_SILU ? " + SiLU" : "";
        if (k == 0) {
            fprintf(fp, "yoloq: conv %s: integer (u8 x %d-bit -> s32, %s%s -> %s)\n", label, qconv_bits(g, n),
                    yq_qconv_node_kernel(s->steps[t].state), act,
                    g->values[n->outputs[0]].dtype == YQ_DT_UINT8 ? "requantized u8" : "float");
        } else if (k == 3) {
            const yq_conv2d_plan *pl = yq_conv_node_plan(s->steps[t].state);
            if (pl && yq_conv2d_plan_int8_weights(pl))
                fprintf(fp, "yoloq: conv %s: weight-only (int8 codes, %s GEMM dequantizing per cache block%s)\n", label,
                        yq_conv_algo_name(yq_conv2d_plan_algo(pl)), act);
            else
                fprintf(fp, "yoloq: conv %s: weight-only (%s on float weights made from the codes at load%s)\n", label,
                        pl ? yq_conv_algo_name(yq_conv2d_plan_algo(pl)) : "?", act);
        } else if (k == 1) {
            const yq_qconv_weight *w = yq_qconv_capture_find(s->qcap, g->values[n->inputs[1]].name);
            fprintf(fp, "yoloq: conv %s: fake-quant (float kernels on dequantized weights%s%s%s)\n", label, act,
                    w->why_not ? "; integer path: " : "", w->why_not ? w->why_not : "");
        } else {
            fprintf(fp, "yoloq: conv %s: float%s\n", label, act);
        }
    }
    yq_conv_engines e = yq_session_conv_engines(s);
    fprintf(fp, "yoloq: convolutions: %d integer, %d weight-only, %d fake-quant, %d float\n", e.integer, e.weight_only,
            e.fakequant, e.floating);
}
