#include "rt/ops.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const yq_op_names[YQ_OP_COUNT] = {
#define YQ_OP_NAME(name) #name,
    YQ_OP_LIST(YQ_OP_NAME)
#undef YQ_OP_NAME
};
_Static_assert(sizeof yq_op_names / sizeof yq_op_names[0] == YQ_OP_COUNT, "op name table out of sync");

static yq_op_vtable op_table[YQ_OP_COUNT];
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

static void ops_init_once(void) {
    yq_register_conv_ops(op_table);
    yq_register_pool_ops(op_table);
    yq_register_eltwise_ops(op_table);
    yq_register_activation_ops(op_table);
    yq_register_shape_ops(op_table);
    yq_register_gather_ops(op_table);
    yq_register_resize_ops(op_table);
    yq_register_cast_ops(op_table);
    yq_register_qdq_ops(op_table);
    yq_register_norm_ops(op_table);
    yq_register_qconv_ops(op_table);
}

void yq_ops_init(void) { pthread_once(&ops_once, ops_init_once); }

const yq_op_vtable *yq_op_get(int op) {
    yq_ops_init();
    if (op < 0 || op >= YQ_OP_COUNT) return NULL;
    return &op_table[op];
}

static int op_is_internal(int op) { return op == YQ_OP_QConvU8 || op == YQ_OP_QWConv; }

int yq_op_lookup(const char *domain, const char *op_type) {
    const int internal = domain && !strcmp(domain, YQ_RT_DOMAIN);
    if (!internal && domain && domain[0] && strcmp(domain, "ai.onnx") != 0) return -1;
    for (int i = 0; i < YQ_OP_COUNT; i++)
        if (op_is_internal(i) == internal && strcmp(yq_op_names[i], op_type) == 0) return i;
    return -1;
}

void yq_set_out(yq_infer_ctx *c, int i, yq_dtype dt, int rank, const int64_t *dims) {
    yq_value *v = yq_out(c, i);
    if (!v) return;
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
}

yq_status yq_node_fail(const yq_infer_ctx *c, yq_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char label[384];
    yq_node_label(c->g, c->node, label, sizeof label);
    return yq_fail(st, "%s: %s", label, msg);
}

yq_status yq_need_input(const yq_infer_ctx *c, int i, yq_dtype dt) {
    const yq_value *v = yq_in(c, i);
    if (!v) return yq_node_fail(c, YQ_ERR_INVALID, "input %d is missing", i);
    if (v->rank < 0 || v->dtype == YQ_DT_UNDEFINED)
        return yq_node_fail(c, YQ_ERR_INVALID, "input %d ('%s') has unknown shape or type", i, v->name);
    for (int d = 0; d < v->rank; d++)
        if (v->dims[d] < 0)
            return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input %d ('%s') has a dynamic dimension %d", i,
                                v->name, d);
    if (dt != YQ_DT_UNDEFINED && v->dtype != dt)
        return yq_node_fail(c, YQ_ERR_INVALID, "input %d ('%s') is %s, expected %s", i, v->name,
                            yq_dtype_name(v->dtype), yq_dtype_name(dt));
    return YQ_OK;
}

yq_status yq_need_const(const yq_infer_ctx *c, int i) {
    YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
    const yq_value *v = yq_in(c, i);
    if (!v->data)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED,
                            "input %d ('%s') must be a constant (data-dependent shapes are not supported)", i,
                            v->name);
    return YQ_OK;
}

yq_status yq_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else {
            char sa[128], sb[128];
            return yq_fail(YQ_ERR_INVALID, "shapes %s and %s do not broadcast", yq_dims_str(ra, a, sa, sizeof sa),
                           yq_dims_str(rb, b, sb, sizeof sb));
        }
    }
    *rout = r;
    return YQ_OK;
}

const char *yq_node_label(const yq_graph *g, const yq_node *n, char *buf, size_t size) {
    if (n->name && n->name[0])
        snprintf(buf, size, "node '%.200s' (%.64s)", n->name, n->op_type);
    else if (n->noutputs > 0 && n->outputs[0] >= 0)
        snprintf(buf, size, "%.64s node producing '%.200s'", n->op_type, g->values[n->outputs[0]].name);
    else
        snprintf(buf, size, "unnamed %.64s node", n->op_type);
    return buf;
}

yq_status yq_node_errorf(const yq_node *n, yq_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->name && n->name[0]) return yq_fail(st, "node '%.200s' (%s): %s", n->name, n->op_type, msg);
    return yq_fail(st, "unnamed %s node: %s", n->op_type, msg);
}

yq_status yq_node_ints_exact(const yq_node *n, const char *name, int want, int64_t def, int64_t *dst) {
    const int64_t *v;
    int cnt = yq_attr_ints(n, name, &v);
    if (cnt < 0) {
        for (int i = 0; i < want; i++) dst[i] = def;
        return YQ_OK;
    }
    if (cnt != want)
        return yq_node_errorf(n, YQ_ERR_INVALID, "attribute %s has %d values, expected %d", name, cnt, want);
    for (int i = 0; i < want; i++) dst[i] = v[i];
    return YQ_OK;
}
