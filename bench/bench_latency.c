/* bench_latency: how long one short text takes, in a process that already has the
 * model (a server's case) and from a fresh start.
 *
 *   build/bench/bench_latency MODEL.gguf [TOKENS [THREADS [RUNS]]]   (30 tokens, all cores, 5 runs)
 *
 * Prints the model load time (mapping, checks, and mapping in every page: see
 * moee_map_populate), then the wall time of RUNS forward passes of one sequence of
 * TOKENS token ids (a fixed pseudo-random sequence: the work does not depend on
 * which ids), each in a context created for it, as moee_embed does per call. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "moee.h"

static double wall_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_latency MODEL.gguf [TOKENS [THREADS [RUNS]]]\n");
        return 2;
    }
    int64_t n = argc > 2 ? atoi(argv[2]) : 30;
    int threads = argc > 3 ? atoi(argv[3]) : 0, runs = argc > 4 ? atoi(argv[4]) : 5;
    char err[512];
    moee_model *m;
    double t0 = wall_now();
    if (moee_model_load(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("load %.3f s\n", wall_now() - t0);
    const moee_model_info *in = moee_model_get_info(m);
    if (n < 1 || n > in->context_length) n = 30;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    float *hs = malloc((size_t)in->hs_dim * sizeof *hs), *rw = malloc((size_t)in->rw_dim * sizeof *rw);
    uint32_t rng = 1;
    for (int64_t i = 0; i < n; i++) {
        rng = rng * 1664525u + 1013904223u;
        ids[i] = (int32_t)((rng >> 8) % (uint32_t)in->vocab_size);
    }
    const int32_t *seq[1] = {ids};
    int rc = 0;
    for (int r = 0; r < runs && !rc; r++) {
        moee_context *ctx;
        t0 = wall_now();
        rc = moee_context_create(m, n, threads, &ctx, err, sizeof err);
        if (rc) break;
        rc = moee_forward(ctx, seq, &n, 1, MOEE_POOL_LAST, hs, rw, NULL, err, sizeof err);
        moee_context_free(ctx);
        if (!rc) printf("one text of %lld tokens: %.3f s\n", (long long)n, wall_now() - t0);
    }
    if (rc) fprintf(stderr, "%s\n", err);
    free(ids);
    free(hs);
    free(rw);
    moee_model_free(m);
    return rc;
}
