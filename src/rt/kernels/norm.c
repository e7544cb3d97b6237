/* Normalization kernels: BatchNormalization in inference mode.
 * Usually folded into the preceding Conv by yq_pass_fuse_conv_bn; this kernel
 * runs the ones that cannot be folded. */
#include <math.h>
#include <stdlib.h>

#include "rt/ops.h"

static yq_status batchnorm_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_FLOAT));
    const yq_value *x = yq_in(c, 0);
    if (x->rank < 2) return yq_node_fail(c, YQ_ERR_INVALID, "input must have rank >= 2");
    if (yq_attr_int(c->node, "training_mode", 0))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "training_mode=1 is not supported");
    for (int k = 1; k < 5; k++) {
        YQ_TRY(yq_need_input(c, k, YQ_DT_FLOAT));
        if (yq_value_numel(yq_in(c, k)) != x->dims[1])
            return yq_node_fail(c, YQ_ERR_INVALID, "input %d must have %lld elements (the channel count)", k,
                                (long long)x->dims[1]);
    }
    for (int k = 1; k < c->node->noutputs; k++)
        if (yq_out(c, k)) return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "training outputs are not supported");
    yq_set_out(c, 0, YQ_DT_FLOAT, x->rank, x->dims);
    return YQ_OK;
}

/* y = (x - mean) / sqrt(var + eps) * scale + bias, per channel. */
static void batchnorm_forward(float *y, const float *x, const float *scale, const float *bias, const float *mean,
                              const float *var, float eps, int64_t N, int64_t C, int64_t HW) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            float s = scale[ch] / sqrtf(var[ch] + eps);
            float b = bias[ch] - mean[ch] * s;
            const float *xp = x + (n * C + ch) * HW;
            float *yp = y + (n * C + ch) * HW;
            for (int64_t i = 0; i < HW; i++) yp[i] = xp[i] * s + b;
        }
}

static yq_status batchnorm_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int64_t hw = 1;
    for (int d = 2; d < x->rank; d++) hw *= x->dims[d];
    batchnorm_forward(c->out[0].data, x->data, c->in[1].data, c->in[2].data, c->in[3].data, c->in[4].data,
                      yq_attr_float(c->node, "epsilon", 1e-5f), x->dims[0], x->dims[1], hw);
    return YQ_OK;
}

void yq_register_norm_ops(yq_op_vtable *table) {
    table[YQ_OP_BatchNormalization] = (yq_op_vtable){.infer = batchnorm_infer, .run = batchnorm_run};
}
