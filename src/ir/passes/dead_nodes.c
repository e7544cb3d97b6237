/* Dead-node removal: a node is dead when no live node and no graph output
 * reads any of its outputs. One backward sweep over a sorted graph suffices;
 * we iterate to a fixed point so unsorted graphs are handled too. */
#include <stdlib.h>

#include "ir/passes.h"

int yq_value_is_graph_output(const yq_graph *g, int value_id) {
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == value_id) return 1;
    return 0;
}

int yq_pass_single_consumer(const yq_graph *g, int value_id) {
    int found = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++) {
            if (n->inputs[k] != value_id) continue;
            if (found >= 0) return -1; /* a second reader (or the same node twice) */
            found = i;
        }
    }
    return found;
}

yq_status yq_pass_remove_dead(yq_graph *g) {
    int *uses = yq_calloc((size_t)g->nvalues + 1, sizeof(int));
    if (!uses) return YQ_ERR_NOMEM;
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) uses[n->inputs[k]]++;
    }
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = g->nnodes - 1; i >= 0; i--) {
            yq_node *n = &g->nodes[i];
            if (n->dead) continue;
            int used = 0;
            for (int k = 0; k < n->noutputs; k++)
                if (n->outputs[k] >= 0 && uses[n->outputs[k]] > 0) used = 1;
            if (used) continue;
            n->dead = 1;
            changed = 1;
            for (int k = 0; k < n->ninputs; k++)
                if (n->inputs[k] >= 0) uses[n->inputs[k]]--;
        }
    }
    free(uses);
    return YQ_OK;
}
