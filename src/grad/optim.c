/* Adam and the losses. */
#include <math.h>
#include <stdlib.h>

#include "grad/grad.h"

yq_status yq_adam_init(yq_adam *a, int64_t n, float lr) {
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->weight_decay = 0.0f;
    a->t = 0;
    a->m = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    a->v = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!a->m || !a->v) {
        yq_adam_free(a);
        return yq_fail(YQ_ERR_NOMEM, "adam: out of memory for %lld moments", (long long)n);
    }
    return YQ_OK;
}

void yq_adam_free(yq_adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void yq_adam_step(yq_adam *a, float *p, const float *g) {
    a->t++;
    const double bc1 = 1.0 - pow(a->beta1, (double)a->t), bc2 = 1.0 - pow(a->beta2, (double)a->t);
    const float step = (float)(a->lr / bc1), rb2 = (float)(1.0 / sqrt(bc2));
    for (int64_t i = 0; i < a->n; i++) {
        a->m[i] = a->beta1 * a->m[i] + (1.0f - a->beta1) * g[i];
        a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * g[i] * g[i];
        if (a->weight_decay != 0.0f) p[i] -= a->lr * a->weight_decay * p[i];
        p[i] -= step * a->m[i] / (sqrtf(a->v[i]) * rb2 + a->eps);
    }
}

double yq_loss_mse(int64_t n, const float *a, const float *b, float *da) {
    double s = 0;
    const float k = 2.0f / (float)n;
    for (int64_t i = 0; i < n; i++) {
        const float d = a[i] - b[i];
        s += (double)d * d;
        if (da) da[i] += k * d;
    }
    return s / (double)n;
}

/* log-softmax of x/T in double */
static void log_softmax(int64_t n, const float *x, float T, double *out) {
    double mx = x[0] / T;
    for (int64_t i = 1; i < n; i++) mx = fmax(mx, x[i] / T);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += exp(x[i] / T - mx);
    const double lse = mx + log(s);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] / T - lse;
}

double yq_loss_kl(int64_t rows, int64_t n, const float *s_logits, const float *t_logits, float T, float *ds) {
    double *ls = malloc((size_t)n * 2 * sizeof(double));
    if (!ls) return NAN;
    double *lt = ls + n, total = 0;
    for (int64_t r = 0; r < rows; r++) {
        log_softmax(n, s_logits + r * n, T, ls);
        log_softmax(n, t_logits + r * n, T, lt);
        for (int64_t i = 0; i < n; i++) {
            const double p = exp(lt[i]);
            total += p * (lt[i] - ls[i]);
            if (ds) ds[r * n + i] += (float)((exp(ls[i]) - p) / ((double)T * (double)rows));
        }
    }
    free(ls);
    return total / (double)rows;
}
