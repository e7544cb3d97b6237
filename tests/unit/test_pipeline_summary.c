/* summary.md writer (src/pipeline/summary.c): the table row per artifact, Δ
 * against the float32 row, ORT states, failures, pictures, determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "pipeline/ort_check.h"
#include "pipeline/summary.h"

static yq_summary_row row(const char *v, double map, double map50, int64_t bytes, int qdq) {
    yq_summary_row r;
    memset(&r, 0, sizeof r);
    r.variant = v;
    r.map = map;
    r.map50 = map50;
    r.weight_bytes = bytes;
    r.qdq = qdq;
    r.dets01 = r.dups01 = -1;
    r.lat_median_ms = 70.25;
    r.lat_p90_ms = 80.5;
    r.ort_status = YQ_ORT_RAN;
    r.ort_max_diff = 1.5e-4;
    r.ort_inputs = 6;
    r.ort_map = NAN;
    r.keeps_float = "note";
    return r;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static void test_table_and_sections(void **state) {
    (void)state;
    yq_summary_row rows[4] = {row("baseline-fp32", 0.3912, 0.5511, 9100000, 0),
                              row("baseline-fp16", 0.3911, 0.5510, 4600000, 0),
                              row("w4a8", 0.3643, 0.5200, 1700000, 190), row("w8a8", NAN, NAN, -1, -1)};
    rows[0].artifact = "onnx/m-baseline-fp32.onnx";
    rows[1].ort_status = YQ_ORT_FAILED;
    rows[1].ort_message = "Could not find an implementation for X | Y";
    rows[3].error = "w8a8.quantize: onnx/m-w8a8.onnx: Is a directory";
    rows[3].ort_status = YQ_ORT_UNAVAILABLE;
    rows[3].lat_median_ms = NAN;
    rows[2].convs_integer = 82, rows[2].convs_fakequant = 0, rows[2].convs_float = 1;
    rows[0].ort_map = 0.39124; /* ORT's evaluation of the same artifact */
    rows[0].dets01 = 1910, rows[0].dups01 = 253;
    rows[2].ort_map = 0.36501;
    rows[1].ort_eval_message = "ONNX Runtime (node) stopped | exit status 1";
    yq_summary_plot plots[1] = {{"Accuracy vs model size", "plots/accuracy_vs_size.png"}};
    yq_summary s = {.run_id = "r1", .model = "m", .dataset = "instances.json", .images_dir = "imgs", .nimages = 216,
                    .ncalib = 128, .threads = 2, .rows = rows, .nrows = 4, .reference_row = 0, .plots = plots,
                    .nplots = 1, .wall_s = 12.5, .ort_note = "ORT note."};
    char *md = NULL;
    assert_int_equal(yq_summary_markdown(&s, &md), YQ_OK);
    assert_non_null(strstr(md, "**216 images** of `instances.json`"));
    assert_non_null(strstr(md, "calibration on 128 images; 2 thread(s)"));
    assert_non_null(strstr(md, "| baseline-fp32 | 0.3912 | 0.5511 | 0.3912 | (reference) | 9.10 MB | 0 | 70.2 / 80.5 | 0.00015 (6 inputs) | 1910 (253) |\n"));
    assert_non_null(strstr(md, "| baseline-fp16 | 0.3911 | 0.5510 | failed² | -0.0001 | 4.60 MB | 0 |"));
    assert_non_null(strstr(md, "| w4a8 | 0.3643 | 0.5200 | 0.3650 | -0.0269 | 1.70 MB | 190 |"));
    assert_non_null(strstr(md, "| w8a8 (failed) | – | – | – | – | – | – | – | not available | – |\n"));
    assert_non_null(strstr(md, "ORT could not run it¹"));
    assert_non_null(strstr(md, "² The evaluation with ONNX Runtime running the artifact failed:\n\n"
                               "- baseline-fp16: ONNX Runtime (node) stopped / exit status 1\n"));
    /* the engine note only where the evaluation ran integer convolutions */
    assert_int_equal(count(md, "as integer convolutions"), 1);
    assert_non_null(strstr(md, "ran 82 convolutions as integer convolutions (uint8 × int8 codes, exact int32 sums, "
                               "requantization fused), 0 as fake-quant and 1 in float."));
    assert_non_null(strstr(md, "- baseline-fp16: Could not find an implementation for X / Y")); /* no '|' leaks */
    assert_non_null(strstr(md, "**1 of 4 artifact(s) failed**"));
    assert_non_null(strstr(md, "## Failures\n\n- **w8a8**: w8a8.quantize: onnx/m-w8a8.onnx: Is a directory"));
    assert_non_null(strstr(md, "![Accuracy vs model size](plots/accuracy_vs_size.png)"));
    assert_non_null(strstr(md, "- **baseline-fp32** ([`onnx/m-baseline-fp32.onnx`](onnx/m-baseline-fp32.onnx)): note"));
    assert_non_null(strstr(md, "ORT note."));
    assert_int_equal(count(md, "\n| "), 5); /* header + 4 rows */
    /* deterministic */
    char *again = NULL;
    assert_int_equal(yq_summary_markdown(&s, &again), YQ_OK);
    assert_string_equal(md, again);
    free(md);
    free(again);
}

static void test_no_reference_no_failures(void **state) {
    (void)state;
    yq_summary_row rows[1] = {row("w8a16", 0.39, 0.55, 2500, 12)};
    rows[0].lat_median_ms = 0.5;
    rows[0].lat_p90_ms = 0.75;
    yq_summary s = {.model = "m", .dataset = "d.json", .nimages = 6, .ncalib = 4, .threads = 1, .rows = rows,
                    .nrows = 1, .reference_row = -1, .wall_s = -1};
    char *md = NULL;
    assert_int_equal(yq_summary_markdown(&s, &md), YQ_OK);
    assert_non_null(strstr(md, "| w8a16 | 0.3900 | 0.5500 | – | – | 2.5 kB | 12 | 0.500 / 0.750 |"));
    assert_null(strstr(md, "Failures"));
    assert_null(strstr(md, "²"));
    assert_null(strstr(md, "Wall time"));
    assert_null(strstr(md, "## Pictures"));
    free(md);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_and_sections),
        cmocka_unit_test(test_no_reference_no_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
