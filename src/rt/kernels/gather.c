/* gather family kernels: see rt/ops.h for the op table contract. */
#include "rt/ops.h"

void yq_register_gather_ops(yq_op_vtable *table) { (void)table; }
