/* Score levels and duplicates of a detection list (eval/det_stats.h) on a
 * hand-built list whose counts are worked out in the comments. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "eval/det_stats.h"

static const yq_coco_det LIST[] = {
    /* image 1, category 1: B overlaps A (IoU 90/110 = 0.82): a duplicate; C is elsewhere */
    {1, 1, {0, 0, 10, 10}, 0.9},   /* A */
    {1, 1, {1, 0, 10, 10}, 0.3},   /* B: duplicate */
    {1, 1, {50, 50, 10, 10}, 0.2}, /* C */
    /* the same box as B in another category: not a duplicate */
    {1, 2, {1, 0, 10, 10}, 0.6}, /* D */
    /* equal scores, same box: the later one in the list is the duplicate */
    {2, 1, {0, 0, 10, 10}, 0.07}, /* E */
    {2, 1, {0, 0, 10, 10}, 0.07}, /* F: duplicate */
    /* IoU exactly 0.5 (50 / 100) is not above 0.5 */
    {3, 1, {0, 0, 10, 10}, 0.95}, /* G */
    {3, 1, {0, 0, 10, 5}, 0.85},  /* H */
};
#define N (sizeof LIST / sizeof LIST[0])

/* levels 0.05, 0.1, 0.25, 0.5, 0.8 */
static const size_t ABOVE[YQ_DET_STATS_LEVELS] = {8, 6, 5, 4, 3};
static const size_t DUPS[YQ_DET_STATS_LEVELS] = {2, 1, 1, 0, 0};

static void check(const yq_coco_det *d, size_t n) {
    yq_det_stats s;
    assert_int_equal(yq_det_stats_compute(d, n, &s), YQ_OK);
    for (int l = 0; l < YQ_DET_STATS_LEVELS; l++) {
        assert_int_equal(s.above[l], ABOVE[l]);
        assert_int_equal(s.duplicates[l], DUPS[l]);
    }
}

static void test_hand_counts(void **state) {
    (void)state;
    check(LIST, N);
}

/* The order of the list does not matter except between equal scores, where
 * one of the two is the duplicate either way. */
static void test_order_independent(void **state) {
    (void)state;
    yq_coco_det d[N];
    for (size_t i = 0; i < N; i++) d[i] = LIST[N - 1 - i];
    check(d, N);
    uint64_t seed = 3;
    for (int round = 0; round < 20; round++) {
        for (size_t i = N - 1; i > 0; i--) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const size_t j = (size_t)(seed >> 33) % (i + 1);
            const yq_coco_det t = d[i];
            d[i] = d[j], d[j] = t;
        }
        check(d, N);
    }
}

static void test_empty(void **state) {
    (void)state;
    yq_det_stats s;
    memset(&s, 0xff, sizeof s);
    assert_int_equal(yq_det_stats_compute(NULL, 0, &s), YQ_OK);
    for (int l = 0; l < YQ_DET_STATS_LEVELS; l++) assert_int_equal(s.above[l] + s.duplicates[l], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_counts),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
