/* Runs yq_gptq_quantize on raw files, for the numpy oracle (test_gptq_oracle.sh).
 *
 *   tool_quant_gptq W.f32 H.f64 rows cols bits act_order block group symmetric out_prefix
 *
 * W: rows*cols float32, H: cols*cols float64 (native byte order). Writes
 * <out_prefix>.q (int8), .dq (float32), .scale (float32), .zp (int32) and
 * .info ("damp_retries dead_columns damp"). */
#include <stdio.h>
#include <stdlib.h>

#include "core/atomic_file.h"
#include "quant/gptq.h"

static int write_raw(const char *prefix, const char *ext, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, ext);
    if (yq_write_file_atomic(path, data, len) != YQ_OK) {
        fprintf(stderr, "tool_quant_gptq: %s\n", yq_last_error());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: %s W.f32 H.f64 rows cols bits act_order block group symmetric out_prefix\n", argv[0]);
        return 2;
    }
    long rows = atol(argv[3]), cols = atol(argv[4]);
    unsigned char *w, *h;
    size_t wl, hl;
    if (yq_read_file(argv[1], &w, &wl) != YQ_OK || yq_read_file(argv[2], &h, &hl) != YQ_OK) {
        fprintf(stderr, "tool_quant_gptq: %s\n", yq_last_error());
        return 1;
    }
    if (rows < 1 || cols < 1 || wl != (size_t)(rows * cols) * 4 || hl != (size_t)(cols * cols) * 8) {
        fprintf(stderr, "tool_quant_gptq: file sizes do not match %ld x %ld\n", rows, cols);
        return 1;
    }
    yq_gptq_opts o;
    yq_gptq_opts_default(&o, atoi(argv[5]));
    o.act_order = atoi(argv[6]);
    o.block_size = atoi(argv[7]);
    o.group_size = atoi(argv[8]);
    o.format.symmetric = atoi(argv[9]);
    yq_gptq_result res;
    if (yq_gptq_quantize((const float *)w, rows, cols, (const double *)h, &o, NULL, &res) != YQ_OK) {
        fprintf(stderr, "tool_quant_gptq: %s\n", yq_last_error());
        return 1;
    }
    char info[256];
    int n = snprintf(info, sizeof info, "%d %lld %.17g\n", res.damp_retries, (long long)res.dead_columns, res.damp);
    const char *pre = argv[10];
    int rc = write_raw(pre, ".q", res.q, (size_t)(rows * cols)) ||
             write_raw(pre, ".dq", res.dq, (size_t)(rows * cols) * 4) ||
             write_raw(pre, ".scale", res.qp.scale, (size_t)res.qp.nch * 4) ||
             write_raw(pre, ".zp", res.qp.zero_point, (size_t)res.qp.nch * 4) || write_raw(pre, ".info", info, (size_t)n);
    yq_gptq_result_free(&res);
    free(w);
    free(h);
    return rc;
}
