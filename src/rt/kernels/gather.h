/* Helpers of the gather family (gather.c) that other code may share. */
#ifndef YQ_RT_KERNELS_GATHER_H
#define YQ_RT_KERNELS_GATHER_H

#include <stdint.h>

#include "core/tensor.h"

/* An order-preserving key for element i of any numeric tensor: for two
 * elements a, b of the same type, key(a) < key(b) exactly when a < b
 * numerically (64-bit integers included). -0 and +0 get the same key; NaN
 * gets the largest key when nan_high, else the smallest. Used by TopK,
 * ArgMax, ReduceMax and ReduceMin so they compare every type exactly. */
uint64_t yq_sort_key(yq_dtype dt, const void *data, int64_t i, int nan_high);

#endif
