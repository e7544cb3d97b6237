#include "ir/graph.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- name index (open addressing, linear probing) ---------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static yq_status index_rebuild(yq_graph *g, int cap) {
    int *idx = yq_malloc((size_t)cap * sizeof *idx);
    if (!idx) return YQ_ERR_NOMEM;
    for (int i = 0; i < cap; i++) idx[i] = -1;
    free(g->name_index);
    g->name_index = idx;
    g->name_index_cap = cap;
    for (int v = 0; v < g->nvalues; v++) {
        const char *name = g->values[v].name;
        if (!name || !name[0]) continue;
        uint64_t h = hash_str(name) & (uint64_t)(cap - 1);
        while (idx[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
        idx[h] = v;
    }
    return YQ_OK;
}

static yq_status index_insert(yq_graph *g, int v) {
    if ((g->nvalues + 1) * 2 > g->name_index_cap) {
        int cap = g->name_index_cap ? g->name_index_cap : 64;
        while ((g->nvalues + 1) * 2 > cap) cap *= 2;
        return index_rebuild(g, cap); /* includes v */
    }
    const char *name = g->values[v].name;
    if (!name || !name[0]) return YQ_OK;
    uint64_t mask = (uint64_t)(g->name_index_cap - 1);
    uint64_t h = hash_str(name) & mask;
    while (g->name_index[h] >= 0) h = (h + 1) & mask;
    g->name_index[h] = v;
    return YQ_OK;
}

int yq_graph_find_value(const yq_graph *g, const char *name) {
    if (!name || !name[0] || !g->name_index_cap) return -1;
    uint64_t mask = (uint64_t)(g->name_index_cap - 1);
    for (uint64_t h = hash_str(name) & mask;; h = (h + 1) & mask) {
        int v = g->name_index[h];
        if (v < 0) return -1;
        if (strcmp(g->values[v].name, name) == 0) return v;
    }
}

/* ---- graph lifetime ------------------------------------------------------ */

yq_status yq_graph_new(yq_graph **out) {
    yq_graph *g = yq_calloc(1, sizeof *g);
    if (!g) return YQ_ERR_NOMEM;
    g->ir_version = 8;
    *out = g;
    return YQ_OK;
}

void yq_attr_clear(yq_attr *a) {
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    if (a->strings)
        for (int i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    if (a->t) {
        free(a->t->data);
        free(a->t);
    }
    free(a->opaque);
    memset(a, 0, sizeof *a);
}

static void node_clear(yq_node *n) {
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->nattrs; i++) yq_attr_clear(&n->attrs[i]);
    free(n->attrs);
    free(n->doc_string);
    memset(n, 0, sizeof *n);
}

static void value_clear(yq_value *v) {
    free(v->name);
    for (int d = 0; d < YQ_MAX_RANK; d++) free(v->dim_params[d]);
    free(v->data);
    free(v->doc_string);
    free(v->external_location);
    memset(v, 0, sizeof *v);
}

void yq_graph_free(yq_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->nvalues; i++) value_clear(&g->values[i]);
    free(g->values);
    for (int i = 0; i < g->nnodes; i++) node_clear(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    for (int i = 0; i < g->nopsets; i++) free(g->opsets[i].domain);
    free(g->opsets);
    free(g->producer_name);
    free(g->producer_version);
    free(g->domain);
    free(g->doc_string);
    free(g->graph_name);
    free(g->graph_doc_string);
    for (int i = 0; i < g->nmeta; i++) {
        free(g->meta[i].key);
        free(g->meta[i].value);
    }
    free(g->meta);
    free(g->path);
    if (g->source && g->source_free) g->source_free(g->source);
    free(g->name_index);
    free(g);
}

/* ---- opsets --------------------------------------------------------------- */

static int is_default_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

int64_t yq_graph_opset(const yq_graph *g, const char *domain) {
    for (int i = 0; i < g->nopsets; i++) {
        const char *d = g->opsets[i].domain;
        if (is_default_domain(domain) ? is_default_domain(d) : (d && strcmp(d, domain) == 0))
            return g->opsets[i].version;
    }
    return 0;
}

yq_status yq_graph_set_opset(yq_graph *g, const char *domain, int64_t version) {
    for (int i = 0; i < g->nopsets; i++) {
        const char *d = g->opsets[i].domain;
        if (is_default_domain(domain) ? is_default_domain(d) : (d && strcmp(d, domain) == 0)) {
            g->opsets[i].version = version;
            return YQ_OK;
        }
    }
    yq_opset *o = yq_realloc(g->opsets, (size_t)(g->nopsets + 1) * sizeof *o);
    if (!o) return YQ_ERR_NOMEM;
    g->opsets = o;
    o[g->nopsets].domain = yq_strdup(domain ? domain : "");
    if (!o[g->nopsets].domain) return YQ_ERR_NOMEM;
    o[g->nopsets].version = version;
    g->nopsets++;
    return YQ_OK;
}

/* ---- values ----------------------------------------------------------------- */

yq_status yq_graph_add_value(yq_graph *g, const char *name, int *id_out) {
    if (name && name[0] && yq_graph_find_value(g, name) >= 0)
        return yq_fail(YQ_ERR_INVALID, "value '%s' is defined twice", name);
    if (g->nvalues == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        yq_value *nv = yq_realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv) return YQ_ERR_NOMEM;
        g->values = nv;
        g->cap_values = cap;
    }
    yq_value *v = &g->values[g->nvalues];
    memset(v, 0, sizeof *v);
    v->name = yq_strdup(name ? name : "");
    if (!v->name) return YQ_ERR_NOMEM;
    v->rank = -1;
    v->producer = -1;
    int id = g->nvalues++;
    yq_status st = index_insert(g, id);
    if (st != YQ_OK) {
        g->nvalues--;
        value_clear(v);
        return st;
    }
    if (id_out) *id_out = id;
    return YQ_OK;
}

yq_status yq_graph_value(yq_graph *g, const char *name, int *id_out) {
    int id = yq_graph_find_value(g, name);
    if (id >= 0) {
        *id_out = id;
        return YQ_OK;
    }
    return yq_graph_add_value(g, name, id_out);
}

yq_status yq_graph_unique_name(const yq_graph *g, const char *base, char **out) {
    size_t n = strlen(base) + 24;
    char *s = yq_malloc(n);
    if (!s) return YQ_ERR_NOMEM;
    snprintf(s, n, "%s", base);
    for (long k = 1; yq_graph_find_value(g, s) >= 0; k++) snprintf(s, n, "%s_%ld", base, k);
    *out = s;
    return YQ_OK;
}

yq_status yq_graph_rename_value(yq_graph *g, int id, const char *new_name) {
    int other = yq_graph_find_value(g, new_name);
    if (other >= 0 && other != id) return yq_fail(YQ_ERR_INVALID, "value name '%s' is already used", new_name);
    char *s = yq_strdup(new_name);
    if (!s) return YQ_ERR_NOMEM;
    free(g->values[id].name);
    g->values[id].name = s;
    return index_rebuild(g, g->name_index_cap ? g->name_index_cap : 64);
}

void yq_value_set_data(yq_value *v, yq_dtype dt, int rank, const int64_t *dims, void *data, size_t nbytes) {
    free(v->data);
    v->data = data;
    v->nbytes = nbytes;
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
    v->flags |= YQ_VAL_INIT;
}

yq_status yq_graph_add_initializer(yq_graph *g, const char *base, yq_dtype dt, int rank,
                                   const int64_t *dims, const void *data, int *id_out) {
    size_t nbytes;
    YQ_TRY(yq_dtype_bytes(dt, yq_numel(rank, dims), &nbytes));
    char *name;
    YQ_TRY(yq_graph_unique_name(g, base, &name));
    int id;
    yq_status st = yq_graph_add_value(g, name, &id);
    free(name);
    if (st != YQ_OK) return st;
    void *copy = yq_malloc(nbytes);
    if (!copy) return YQ_ERR_NOMEM;
    if (nbytes) memcpy(copy, data, nbytes);
    yq_value_set_data(&g->values[id], dt, rank, dims, copy, nbytes);
    if (id_out) *id_out = id;
    return YQ_OK;
}

int64_t yq_value_numel(const yq_value *v) {
    if (v->rank < 0) return -1;
    for (int d = 0; d < v->rank; d++)
        if (v->dims[d] < 0) return -1;
    return yq_numel(v->rank, v->dims);
}

yq_tensor yq_value_tensor(const yq_value *v) {
    yq_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = v->dtype;
    t.rank = v->rank < 0 ? 0 : v->rank;
    for (int d = 0; d < t.rank; d++) t.dims[d] = v->dims[d];
    t.data = v->data;
    return t;
}

/* ---- nodes -------------------------------------------------------------------- */

yq_status yq_graph_add_node(yq_graph *g, const char *op_type, const char *domain, const char *name,
                            const int *inputs, int ninputs, const int *outputs, int noutputs,
                            int *node_out) {
    if (g->nnodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        yq_node *nn = yq_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return YQ_ERR_NOMEM;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    yq_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = -1;
    n->op_type = yq_strdup(op_type);
    n->domain = yq_strdup(domain ? domain : "");
    n->name = yq_strdup(name ? name : "");
    n->inputs = yq_malloc((size_t)(ninputs ? ninputs : 1) * sizeof(int));
    n->outputs = yq_malloc((size_t)(noutputs ? noutputs : 1) * sizeof(int));
    if (!n->op_type || !n->domain || !n->name || !n->inputs || !n->outputs) {
        node_clear(n);
        return YQ_ERR_NOMEM;
    }
    if (ninputs) memcpy(n->inputs, inputs, (size_t)ninputs * sizeof(int));
    if (noutputs) memcpy(n->outputs, outputs, (size_t)noutputs * sizeof(int));
    n->ninputs = ninputs;
    n->noutputs = noutputs;
    int id = g->nnodes++;
    for (int i = 0; i < noutputs; i++)
        if (outputs[i] >= 0) g->values[outputs[i]].producer = id;
    if (node_out) *node_out = id;
    return YQ_OK;
}

/* ---- attributes --------------------------------------------------------------- */

const yq_attr *yq_node_attr(const yq_node *n, const char *name) {
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t yq_attr_int(const yq_node *n, const char *name, int64_t def) {
    const yq_attr *a = yq_node_attr(n, name);
    return (a && a->type == YQ_ATTR_INT) ? a->i : def;
}

float yq_attr_float(const yq_node *n, const char *name, float def) {
    const yq_attr *a = yq_node_attr(n, name);
    if (!a) return def;
    if (a->type == YQ_ATTR_FLOAT) return a->f;
    if (a->type == YQ_ATTR_INT) return (float)a->i;
    return def;
}

const char *yq_attr_string(const yq_node *n, const char *name, const char *def) {
    const yq_attr *a = yq_node_attr(n, name);
    return (a && a->type == YQ_ATTR_STRING && a->s) ? a->s : def;
}

int yq_attr_ints(const yq_node *n, const char *name, const int64_t **vals) {
    const yq_attr *a = yq_node_attr(n, name);
    if (!a || a->type != YQ_ATTR_INTS) return -1;
    *vals = a->ints;
    return a->n;
}

int yq_attr_floats(const yq_node *n, const char *name, const float **vals) {
    const yq_attr *a = yq_node_attr(n, name);
    if (!a || a->type != YQ_ATTR_FLOATS) return -1;
    *vals = a->floats;
    return a->n;
}

/* Find or append attribute `name`, cleared and named, ready to fill. */
static yq_status attr_slot(yq_node *n, const char *name, yq_attr **out) {
    for (int i = 0; i < n->nattrs; i++) {
        if (strcmp(n->attrs[i].name, name) == 0) {
            char *keep = n->attrs[i].name;
            n->attrs[i].name = NULL;
            yq_attr_clear(&n->attrs[i]);
            n->attrs[i].name = keep;
            *out = &n->attrs[i];
            return YQ_OK;
        }
    }
    yq_attr *a = yq_realloc(n->attrs, (size_t)(n->nattrs + 1) * sizeof *a);
    if (!a) return YQ_ERR_NOMEM;
    n->attrs = a;
    memset(&a[n->nattrs], 0, sizeof a[0]);
    a[n->nattrs].name = yq_strdup(name);
    if (!a[n->nattrs].name) return YQ_ERR_NOMEM;
    *out = &a[n->nattrs++];
    return YQ_OK;
}

yq_status yq_node_set_attr_int(yq_node *n, const char *name, int64_t v) {
    yq_attr *a;
    YQ_TRY(attr_slot(n, name, &a));
    a->type = YQ_ATTR_INT;
    a->i = v;
    return YQ_OK;
}

yq_status yq_node_set_attr_float(yq_node *n, const char *name, float v) {
    yq_attr *a;
    YQ_TRY(attr_slot(n, name, &a));
    a->type = YQ_ATTR_FLOAT;
    a->f = v;
    return YQ_OK;
}

yq_status yq_node_set_attr_ints(yq_node *n, const char *name, const int64_t *v, int count) {
    yq_attr *a;
    YQ_TRY(attr_slot(n, name, &a));
    a->type = YQ_ATTR_INTS;
    a->ints = yq_malloc((size_t)(count ? count : 1) * sizeof(int64_t));
    if (!a->ints) return YQ_ERR_NOMEM;
    if (count) memcpy(a->ints, v, (size_t)count * sizeof(int64_t));
    a->n = count;
    return YQ_OK;
}

yq_status yq_node_set_attr_string(yq_node *n, const char *name, const char *s) {
    yq_attr *a;
    YQ_TRY(attr_slot(n, name, &a));
    a->type = YQ_ATTR_STRING;
    a->s = yq_strdup(s);
    if (!a->s) return YQ_ERR_NOMEM;
    a->slen = strlen(s);
    return YQ_OK;
}

yq_status yq_attr_copy(yq_attr *dst, const yq_attr *src) {
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->f = src->f;
    dst->i = src->i;
    dst->n = src->n;
    dst->slen = src->slen;
    dst->name = yq_strdup(src->name);
    if (!dst->name) goto nomem;
    if (src->s) {
        dst->s = yq_malloc(src->slen + 1);
        if (!dst->s) goto nomem;
        memcpy(dst->s, src->s, src->slen + 1);
    }
    if (src->ints) {
        dst->ints = yq_malloc((size_t)(src->n ? src->n : 1) * sizeof(int64_t));
        if (!dst->ints) goto nomem;
        if (src->n) memcpy(dst->ints, src->ints, (size_t)src->n * sizeof(int64_t));
    }
    if (src->floats) {
        dst->floats = yq_malloc((size_t)(src->n ? src->n : 1) * sizeof(float));
        if (!dst->floats) goto nomem;
        if (src->n) memcpy(dst->floats, src->floats, (size_t)src->n * sizeof(float));
    }
    if (src->strings) {
        dst->strings = yq_calloc((size_t)(src->n ? src->n : 1), sizeof(char *));
        if (!dst->strings) goto nomem;
        for (int i = 0; i < src->n; i++)
            if (!(dst->strings[i] = yq_strdup(src->strings[i] ? src->strings[i] : ""))) goto nomem;
    }
    if (src->t) {
        dst->t = yq_malloc(sizeof *dst->t);
        if (!dst->t) goto nomem;
        *dst->t = *src->t;
        dst->t->data = NULL;
        size_t nb;
        if (yq_dtype_bytes(src->t->dtype, yq_tensor_numel(src->t), &nb) != YQ_OK) goto fail;
        dst->t->data = yq_malloc(nb);
        if (!dst->t->data) goto nomem;
        if (nb) memcpy(dst->t->data, src->t->data, nb);
    }
    if (src->opaque) {
        dst->opaque = yq_malloc(src->opaque_len);
        if (!dst->opaque) goto nomem;
        memcpy(dst->opaque, src->opaque, src->opaque_len);
        dst->opaque_len = src->opaque_len;
    }
    return YQ_OK;
nomem:
    yq_attr_clear(dst);
    return YQ_ERR_NOMEM;
fail:
    yq_attr_clear(dst);
    return YQ_ERR_LIMIT;
}

/* ---- structure ---------------------------------------------------------------- */

int yq_graph_count_consumers(const yq_graph *g, int value_id) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] == value_id) c++;
    }
    return c;
}

void yq_graph_replace_uses(yq_graph *g, int from, int to) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] == from) n->inputs[k] = to;
    }
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == from) g->outputs[k] = to;
}

yq_status yq_graph_rebuild_producers(yq_graph *g) {
    for (int v = 0; v < g->nvalues; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->noutputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            if (g->values[v].producer >= 0)
                return yq_fail(YQ_ERR_INVALID, "value '%s' is produced by two nodes ('%s' and '%s')",
                               g->values[v].name, g->nodes[g->values[v].producer].name, n->name);
            if (g->values[v].flags & (YQ_VAL_INIT | YQ_VAL_INPUT))
                return yq_fail(YQ_ERR_INVALID, "value '%s' is both a graph input/initializer and output of node '%s'",
                               g->values[v].name, n->name);
            g->values[v].producer = i;
        }
    }
    return YQ_OK;
}

yq_status yq_graph_toposort(yq_graph *g) {
    YQ_TRY(yq_graph_rebuild_producers(g));
    /* Kahn's algorithm over live nodes, picking the lowest original index that
     * is ready, so an already sorted graph keeps its order exactly. */
    int n = g->nnodes;
    int *indeg = yq_calloc((size_t)n + 1, sizeof(int));
    int *order = yq_malloc(((size_t)n + 1) * sizeof(int));
    /* consumers adjacency: for each value, the nodes that read it (CSR) */
    int *cstart = yq_calloc((size_t)g->nvalues + 1, sizeof(int));
    int total = 0;
    for (int i = 0; i < n; i++) total += g->nodes[i].ninputs;
    int *cons = yq_malloc(((size_t)total + 1) * sizeof(int));
    int *heap = yq_malloc(((size_t)n + 1) * sizeof(int));
    yq_status st = YQ_OK;
    if (!indeg || !order || !cstart || !cons || !heap) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const yq_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int k = 0; k < nd->ninputs; k++) {
            int v = nd->inputs[k];
            if (v < 0) continue;
            const yq_value *val = &g->values[v];
            if (val->producer >= 0) {
                indeg[i]++;
                cstart[v + 1]++;
            } else if (!(val->flags & (YQ_VAL_INIT | YQ_VAL_INPUT)) && !val->data) {
                st = yq_fail(YQ_ERR_INVALID, "node '%s' (%s) reads '%s', which is neither a graph input, an "
                             "initializer nor the output of any node", nd->name, nd->op_type, val->name);
                goto out;
            }
        }
    }
    for (int v = 0; v < g->nvalues; v++) cstart[v + 1] += cstart[v];
    {
        int *fill = yq_calloc((size_t)g->nvalues + 1, sizeof(int));
        if (!fill) {
            st = YQ_ERR_NOMEM;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            const yq_node *nd = &g->nodes[i];
            if (nd->dead) continue;
            for (int k = 0; k < nd->ninputs; k++) {
                int v = nd->inputs[k];
                if (v < 0 || g->values[v].producer < 0) continue;
                cons[cstart[v] + fill[v]++] = i;
            }
        }
        free(fill);
    }
    /* binary min-heap of ready node indices */
    int hn = 0, nout = 0, live = 0;
#define HEAP_PUSH(x)                                                     \
    do {                                                                 \
        int c_ = hn++;                                                   \
        heap[c_] = (x);                                                  \
        while (c_ > 0 && heap[(c_ - 1) / 2] > heap[c_]) {                \
            int p_ = (c_ - 1) / 2, t_ = heap[p_];                        \
            heap[p_] = heap[c_];                                         \
            heap[c_] = t_;                                               \
            c_ = p_;                                                     \
        }                                                                \
    } while (0)
    for (int i = 0; i < n; i++) {
        if (g->nodes[i].dead) continue;
        live++;
        if (indeg[i] == 0) HEAP_PUSH(i);
    }
    while (hn > 0) {
        int top = heap[0];
        heap[0] = heap[--hn];
        for (int c = 0;;) {
            int l = 2 * c + 1, r = l + 1, m = c;
            if (l < hn && heap[l] < heap[m]) m = l;
            if (r < hn && heap[r] < heap[m]) m = r;
            if (m == c) break;
            int t = heap[m];
            heap[m] = heap[c];
            heap[c] = t;
            c = m;
        }
        order[nout++] = top;
        const yq_node *nd = &g->nodes[top];
        for (int k = 0; k < nd->noutputs; k++) {
            int v = nd->outputs[k];
            if (v < 0) continue;
            for (int j = cstart[v]; j < cstart[v + 1]; j++)
                if (--indeg[cons[j]] == 0) HEAP_PUSH(cons[j]);
        }
    }
#undef HEAP_PUSH
    if (nout != live) {
        for (int i = 0; i < n; i++)
            if (!g->nodes[i].dead && indeg[i] > 0) {
                st = yq_fail(YQ_ERR_INVALID, "the graph has a cycle through node '%s' (%s)", g->nodes[i].name,
                             g->nodes[i].op_type);
                break;
            }
        goto out;
    }
    {
        yq_node *sorted = yq_malloc(((size_t)live + 1) * sizeof *sorted);
        if (!sorted) {
            st = YQ_ERR_NOMEM;
            goto out;
        }
        for (int i = 0; i < live; i++) sorted[i] = g->nodes[order[i]];
        for (int i = 0; i < n; i++)
            if (g->nodes[i].dead) node_clear(&g->nodes[i]);
        free(g->nodes);
        g->nodes = sorted;
        g->nnodes = live;
        g->cap_nodes = live + 1;
        st = yq_graph_rebuild_producers(g);
    }
out:
    free(indeg);
    free(order);
    free(cstart);
    free(cons);
    free(heap);
    return st;
}

yq_status yq_graph_compact(yq_graph *g) {
    /* drop dead nodes, keeping order */
    int w = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead) {
            node_clear(&g->nodes[i]);
            continue;
        }
        if (w != i) g->nodes[w] = g->nodes[i];
        w++;
    }
    g->nnodes = w;
    /* mark referenced values */
    char *used = yq_calloc((size_t)g->nvalues + 1, 1);
    int *remap = yq_malloc(((size_t)g->nvalues + 1) * sizeof(int));
    if (!used || !remap) {
        free(used);
        free(remap);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < g->ninputs; i++) used[g->inputs[i]] = 1;
    for (int i = 0; i < g->noutputs; i++) used[g->outputs[i]] = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) used[n->inputs[k]] = 1;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) used[n->outputs[k]] = 1;
    }
    int nv = 0;
    for (int v = 0; v < g->nvalues; v++) {
        if (!used[v]) {
            value_clear(&g->values[v]);
            remap[v] = -1;
            continue;
        }
        remap[v] = nv;
        if (nv != v) g->values[nv] = g->values[v];
        nv++;
    }
    g->nvalues = nv;
    for (int i = 0; i < g->ninputs; i++) g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->noutputs; i++) g->outputs[i] = remap[g->outputs[i]];
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) n->inputs[k] = remap[n->inputs[k]];
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) n->outputs[k] = remap[n->outputs[k]];
    }
    free(used);
    free(remap);
    YQ_TRY(index_rebuild(g, g->name_index_cap ? g->name_index_cap : 64));
    return yq_graph_rebuild_producers(g);
}

/* ---- clone -------------------------------------------------------------------- */

static char *dup_or_null(const char *s, int *fail) {
    if (!s) return NULL;
    char *d = yq_strdup(s);
    if (!d) *fail = 1;
    return d;
}

yq_status yq_graph_clone(const yq_graph *src, yq_graph **out) {
    yq_graph *g;
    YQ_TRY(yq_graph_new(&g));
    int fail = 0;
    g->ir_version = src->ir_version;
    g->model_version = src->model_version;
    g->producer_name = dup_or_null(src->producer_name, &fail);
    g->producer_version = dup_or_null(src->producer_version, &fail);
    g->domain = dup_or_null(src->domain, &fail);
    g->doc_string = dup_or_null(src->doc_string, &fail);
    g->graph_name = dup_or_null(src->graph_name, &fail);
    g->graph_doc_string = dup_or_null(src->graph_doc_string, &fail);
    g->path = dup_or_null(src->path, &fail);
    for (int i = 0; i < src->nopsets && !fail; i++)
        if (yq_graph_set_opset(g, src->opsets[i].domain, src->opsets[i].version) != YQ_OK) fail = 1;
    if (src->nmeta && !fail) {
        g->meta = yq_calloc((size_t)src->nmeta, sizeof *g->meta);
        if (!g->meta) fail = 1;
        for (int i = 0; i < src->nmeta && !fail; i++) {
            g->meta[i].key = dup_or_null(src->meta[i].key, &fail);
            g->meta[i].value = dup_or_null(src->meta[i].value, &fail);
            g->nmeta = i + 1;
        }
    }
    for (int v = 0; v < src->nvalues && !fail; v++) {
        const yq_value *sv = &src->values[v];
        int id;
        /* values with empty names are not indexed, so duplicates are fine */
        if (yq_graph_add_value(g, sv->name, &id) != YQ_OK) {
            fail = 1;
            break;
        }
        yq_value *dv = &g->values[id];
        char *name = dv->name;
        *dv = *sv;
        dv->name = name;
        dv->data = NULL;
        dv->doc_string = dup_or_null(sv->doc_string, &fail);
        dv->external_location = dup_or_null(sv->external_location, &fail);
        for (int d = 0; d < YQ_MAX_RANK; d++) dv->dim_params[d] = dup_or_null(sv->dim_params[d], &fail);
        if (sv->data) {
            dv->data = yq_malloc(sv->nbytes);
            if (!dv->data)
                fail = 1;
            else if (sv->nbytes)
                memcpy(dv->data, sv->data, sv->nbytes);
        }
    }
    if (!fail) {
        g->inputs = yq_malloc(((size_t)src->ninputs + 1) * sizeof(int));
        g->outputs = yq_malloc(((size_t)src->noutputs + 1) * sizeof(int));
        if (!g->inputs || !g->outputs) fail = 1;
        else {
            memcpy(g->inputs, src->inputs, (size_t)src->ninputs * sizeof(int));
            memcpy(g->outputs, src->outputs, (size_t)src->noutputs * sizeof(int));
            g->ninputs = src->ninputs;
            g->noutputs = src->noutputs;
        }
    }
    for (int i = 0; i < src->nnodes && !fail; i++) {
        const yq_node *sn = &src->nodes[i];
        int id;
        if (yq_graph_add_node(g, sn->op_type, sn->domain, sn->name, sn->inputs, sn->ninputs, sn->outputs,
                              sn->noutputs, &id) != YQ_OK) {
            fail = 1;
            break;
        }
        yq_node *dn = &g->nodes[id];
        dn->op = sn->op;
        dn->dead = sn->dead;
        dn->fused_act = sn->fused_act;
        dn->doc_string = dup_or_null(sn->doc_string, &fail);
        if (sn->nattrs) {
            dn->attrs = yq_calloc((size_t)sn->nattrs, sizeof *dn->attrs);
            if (!dn->attrs) {
                fail = 1;
                break;
            }
            for (int a = 0; a < sn->nattrs; a++) {
                if (yq_attr_copy(&dn->attrs[a], &sn->attrs[a]) != YQ_OK) {
                    fail = 1;
                    break;
                }
                dn->nattrs = a + 1;
            }
        }
    }
    if (!fail) {
        /* producers as in the source (dead nodes included) */
        for (int v = 0; v < g->nvalues; v++) g->values[v].producer = src->values[v].producer;
    }
    if (fail) {
        yq_graph_free(g);
        return yq_fail(YQ_ERR_NOMEM, "out of memory cloning the graph");
    }
    *out = g;
    return YQ_OK;
}

yq_status yq_graph_set_outputs(yq_graph *g, const int *ids, int n) {
    int *outs = yq_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!outs) return YQ_ERR_NOMEM;
    for (int i = 0; i < g->noutputs; i++) g->values[g->outputs[i]].flags &= ~(unsigned)YQ_VAL_OUTPUT;
    for (int i = 0; i < n; i++) {
        outs[i] = ids[i];
        g->values[ids[i]].flags |= YQ_VAL_OUTPUT;
    }
    free(g->outputs);
    g->outputs = outs;
    g->noutputs = n;
    return YQ_OK;
}
