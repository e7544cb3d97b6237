/* Gradients of quantization: uniform fake quantization (STE for the input,
 * LSQ for the scale) and AdaRound's soft rounding with its regulariser. */
#include <math.h>

#include "grad/grad.h"

static inline float clampf_(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void yq_grad_fakequant_forward(const yq_fq_shape *s, const float *x, const float *scale, const int32_t *zp, float *y) {
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t c = 0; c < s->nch; c++) {
            const float sc = scale[c], z = (float)zp[c];
            const int64_t base = (o * s->nch + c) * s->inner;
            for (int64_t i = 0; i < s->inner; i++) {
                const float q = clampf_(nearbyintf(x[base + i] / sc) + z, (float)s->qmin, (float)s->qmax);
                y[base + i] = (q - z) * sc;
            }
        }
}

void yq_grad_fakequant_backward(const yq_fq_shape *s, const float *x, const float *scale, const int32_t *zp,
                                const float *dy, float *dx, float *dscale) {
    for (int64_t c = 0; c < s->nch; c++) {
        const float sc = scale[c], z = (float)zp[c];
        double gs = 0;
        for (int64_t o = 0; o < s->outer; o++) {
            const int64_t base = (o * s->nch + c) * s->inner;
            for (int64_t i = 0; i < s->inner; i++) {
                const float u = x[base + i] / sc, r = nearbyintf(u), q = r + z, d = dy[base + i];
                if (q < (float)s->qmin) {
                    gs += (double)d * ((float)s->qmin - z);
                } else if (q > (float)s->qmax) {
                    gs += (double)d * ((float)s->qmax - z);
                } else {
                    if (dx) dx[base + i] += d;
                    gs += (double)d * (r - u);
                }
            }
        }
        if (dscale) dscale[c] += (float)gs;
    }
}

float yq_adaround_h(float v) {
    const float s = 1.0f / (1.0f + expf(-v));
    return clampf_(s * (YQ_ADAROUND_ZETA - YQ_ADAROUND_GAMMA) + YQ_ADAROUND_GAMMA, 0.0f, 1.0f);
}

float yq_adaround_dh(float v) {
    const float s = 1.0f / (1.0f + expf(-v));
    const float h = s * (YQ_ADAROUND_ZETA - YQ_ADAROUND_GAMMA) + YQ_ADAROUND_GAMMA;
    if (h <= 0.0f || h >= 1.0f) return 0.0f;
    return s * (1.0f - s) * (YQ_ADAROUND_ZETA - YQ_ADAROUND_GAMMA);
}

float yq_adaround_v_init(float r) {
    r = clampf_(r, 0.01f, 0.99f);
    /* σ(V) = (r − γ)/(ζ − γ) */
    const float p = (r - YQ_ADAROUND_GAMMA) / (YQ_ADAROUND_ZETA - YQ_ADAROUND_GAMMA);
    return logf(p / (1.0f - p));
}

void yq_grad_adaround_forward(const yq_adaround_shape *s, const float *base, const float *v, const float *scale,
                              const int32_t *zp, float *wsoft) {
    for (int64_t r = 0; r < s->rows; r++) {
        const float sc = scale[s->per_row ? r : 0], z = (float)zp[s->per_row ? r : 0];
        for (int64_t c = 0; c < s->cols; c++) {
            const int64_t i = r * s->cols + c;
            const float q = clampf_(base[i] + yq_adaround_h(v[i]) + z, (float)s->qmin, (float)s->qmax);
            wsoft[i] = (q - z) * sc;
        }
    }
}

void yq_grad_adaround_backward(const yq_adaround_shape *s, const float *base, const float *v, const float *scale,
                               const int32_t *zp, const float *dwsoft, float *dv) {
    for (int64_t r = 0; r < s->rows; r++) {
        const float sc = scale[s->per_row ? r : 0], z = (float)zp[s->per_row ? r : 0];
        for (int64_t c = 0; c < s->cols; c++) {
            const int64_t i = r * s->cols + c;
            const float q = base[i] + yq_adaround_h(v[i]) + z;
            if (q < (float)s->qmin || q > (float)s->qmax) continue;
            dv[i] += dwsoft[i] * sc * yq_adaround_dh(v[i]);
        }
    }
}

double yq_adaround_reg(int64_t n, const float *v, float beta, float lambda, float *dv) {
    double reg = 0;
    for (int64_t i = 0; i < n; i++) {
        const float t = 2.0f * yq_adaround_h(v[i]) - 1.0f, a = fabsf(t);
        const float p = powf(a, beta);
        reg += 1.0 - p;
        if (dv && a > 0.0f) {
            /* d/dV (1 − |t|^β) = −β |t|^(β−1) sign(t) · 2 dh/dV */
            const float g = -beta * (p / a) * (t > 0 ? 1.0f : -1.0f) * 2.0f * yq_adaround_dh(v[i]);
            dv[i] += lambda * g;
        }
    }
    return reg;
}

float yq_adaround_beta(int64_t iter, int64_t iters, float warmup, float beta_start, float beta_end) {
    const int64_t w = (int64_t)llround((double)warmup * (double)iters);
    if (iter < w || iters <= 0) return 0.0f;
    const double t = iters - w > 0 ? (double)(iter - w) / (double)(iters - w) : 1.0;
    return (float)(beta_end + 0.5 * (beta_start - beta_end) * (1.0 + cos(M_PI * t)));
}
