/* Conv forward (the runtime's reference kernel) and backward (dx, dw, db). */
#include "grad/grad.h"

void yq_grad_conv2d_forward(const yq_conv2d_shape *s, const float *x, const float *w, const float *b, float *y) {
    yq_conv2d_ref(s, x, w, b, YQ_ACT_NONE, y);
}

/* One pass over every (output position, kernel tap) pair, the transpose of
 * the forward loop nest: each tap adds w·dy to dx and x·dy to dw. Taps that
 * land in the padding contribute nothing (the padded input is a constant 0). */
void yq_grad_conv2d_backward(const yq_conv2d_shape *s, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db) {
    const int64_t Cg = s->C / s->group, Mg = s->M / s->group;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW, KK = s->kh * s->kw;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t m = 0; m < s->M; m++) {
            const int64_t g = m / Mg;
            const float *dyp = dy + (n * s->M + m) * OHW;
            if (db) {
                double acc = 0;
                for (int64_t i = 0; i < OHW; i++) acc += dyp[i];
                db[m] += (float)acc;
            }
            if (!dx && !dw) continue;
            for (int64_t c = 0; c < Cg; c++) {
                const int64_t ci = g * Cg + c;
                const float *xp = x + (n * s->C + ci) * HW;
                float *dxp = dx ? dx + (n * s->C + ci) * HW : NULL;
                const float *wp = w + (m * Cg + c) * KK;
                float *dwp = dw ? dw + (m * Cg + c) * KK : NULL;
                for (int64_t ki = 0; ki < s->kh; ki++)
                    for (int64_t kj = 0; kj < s->kw; kj++) {
                        const float wv = wp[ki * s->kw + kj];
                        double gw = 0;
                        for (int64_t oh = 0; oh < s->OH; oh++) {
                            const int64_t ih = oh * s->stride_h - s->pad_t + ki * s->dil_h;
                            if (ih < 0 || ih >= s->H) continue;
                            for (int64_t ow = 0; ow < s->OW; ow++) {
                                const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                                if (iw < 0 || iw >= s->W) continue;
                                const float d = dyp[oh * s->OW + ow];
                                if (dxp) dxp[ih * s->W + iw] += wv * d;
                                gw += (double)xp[ih * s->W + iw] * d;
                            }
                        }
                        if (dwp) dwp[ki * s->kw + kj] += (float)gw;
                    }
            }
        }
}
