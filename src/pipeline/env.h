/* env.json of a run bundle: what produced the numbers (yoloq version and git
 * commit, compiler, dependency versions, CPU model and ISA flags, threads, OS). */
#ifndef YQ_PIPELINE_ENV_H
#define YQ_PIPELINE_ENV_H

#include <cjson/cJSON.h>

/* The git commit the library was built from ("…-dirty" with local changes). */
const char *yq_build_commit(void);
/* NULL when out of memory. */
cJSON *yq_env_json(int threads);

#endif
