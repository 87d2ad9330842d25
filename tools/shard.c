/* shard.c: --shard K/N and --shard auto (see shard.h). */
#include "tools/shard.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_i64(const char *s, const char *end, int64_t *out) {
    if (s == end || end - s > 18) return -1;
    int64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

/* A Slurm variable as a non-negative integer: 1 = set and valid, 0 = unset, -1 = not a number. */
static int slurm_var(const char *name, int64_t *out) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    return parse_i64(v, v + strlen(v), out) ? -1 : 1;
}

static int from_slurm(shard_spec *s, char *err, size_t err_size) {
    static const char *const names[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT",
                                        "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_MAX"};
    int64_t v[5] = {0, 0, 0, 1, -1};
    for (int i = 0; i < 5; i++) {
        int r = slurm_var(names[i], &v[i]);
        if (r < 0) {
            snprintf(err, err_size, "--shard auto: %s='%s' is not a non-negative integer", names[i], getenv(names[i]));
            return -1;
        }
        if (r == 0 && i < 3) {
            snprintf(err, err_size, "--shard auto: %s is not set (this is not a task of a Slurm job array; "
                     "give --shard K/N instead)", names[i]);
            return -1;
        }
    }
    int64_t id = v[0], min = v[1], count = v[2], step = v[3], max = v[4];
    if (step < 1 || count < 1 || count > SHARD_MAX_N || id < min || (id - min) % step != 0 ||
        (id - min) / step >= count || (max >= 0 && max != min + (count - 1) * step)) {
        snprintf(err, err_size, "--shard auto: the Slurm array (task %" PRId64 ", min %" PRId64 ", max %" PRId64
                 ", count %" PRId64 ", step %" PRId64 ") is not a range like --array=0-%" PRId64
                 ": give --shard K/N instead", id, min, max, count, step, count - 1);
        return -1;
    }
    s->k = (id - min) / step;
    s->n = count;
    return 0;
}

int shard_parse(const char *arg, shard_spec *s, char *err, size_t err_size) {
    if (!strcmp(arg, "auto")) return from_slurm(s, err, err_size);
    const char *slash = strchr(arg, '/');
    int64_t k, n;
    if (!slash || parse_i64(arg, slash, &k) || parse_i64(slash + 1, slash + strlen(slash), &n)) {
        snprintf(err, err_size, "--shard: '%s' is not K/N (e.g. 0/8) or auto", arg);
        return -1;
    }
    if (n < 1 || n > SHARD_MAX_N || k >= n) {
        snprintf(err, err_size, "--shard: '%s': N must be 1..%d and K 0..N-1", arg, SHARD_MAX_N);
        return -1;
    }
    s->k = k;
    s->n = n;
    return 0;
}

void shard_range(shard_spec s, int64_t total, int64_t *first, int64_t *end) {
    /* total * K fits int64 for any input that fits in memory (total < 2^43, K < 2^20) */
    *first = total * s.k / s.n;
    *end = total * (s.k + 1) / s.n;
}
