/* shard.h: which part of the input one run of a split job processes.
 *
 * `--shard K/N` takes the K-th (0-based) of N contiguous ranges of the n input
 * records: records floor(K*n/N) .. floor((K+1)*n/N)-1, so the N ranges cover the
 * input exactly once whatever n and N are (a range may be empty when N > n).
 *
 * `--shard auto` reads K and N from a Slurm job array:
 *   K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (step 1 when unset)
 *   N = SLURM_ARRAY_TASK_COUNT
 * and refuses an array whose ids are not such a range (e.g. --array=1,4,9), since
 * then K would not be its task's place. A Kubernetes Indexed Job passes
 * `--shard $(JOB_COMPLETION_INDEX)/N` itself. */
#ifndef MOEE_SHARD_H
#define MOEE_SHARD_H
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAX_N 1000000

typedef struct { int64_t k, n; } shard_spec;

/* "K/N" or "auto" (from the environment). Errors name the option and what is wrong. */
int shard_parse(const char *arg, shard_spec *s, char *err, size_t err_size);

/* Records [*first, *end) of shard s of a total-record input. */
void shard_range(shard_spec s, int64_t total, int64_t *first, int64_t *end);

#endif
