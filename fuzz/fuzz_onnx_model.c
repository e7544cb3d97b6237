/* libFuzzer entry point; the target itself is yq_fuzz_onnx_model in fuzz_targets.h. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return yq_fuzz_onnx_model(data, size); }
