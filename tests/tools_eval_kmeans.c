/* tools_eval_kmeans.c: k-means finds well separated blobs exactly (V-measure 1),
 * is deterministic (same seed, same labels; any thread count), handles k = 1 and
 * k = n, and more restarts never give a worse inertia. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "test.h"
#include "tools/eval/kmeans.h"
#include "tools/eval/metrics.h"
#include "tools/eval/util.h"

int main(void) {
    enum { K = 6, PER = 40, N = K * PER, D = 5 };
    double *x = calloc(N * D, sizeof *x);
    int64_t truth[N], labels[N], again[N];
    eval_rng rng;
    eval_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) {
        truth[i] = i % K;
        for (int j = 0; j < D; j++) x[i * D + j] = 20.0 * ((i % K) == j) + 10.0 * (i % K == 5) + (eval_rng_uniform(&rng) - 0.5);
    }
    eval_kmeans_options o;
    eval_kmeans_options_init(&o);
    double inertia = eval_kmeans(x, N, D, K, &o, labels);
    CHECK_NEAR(eval_v_measure(truth, labels, N), 1.0, 1e-12);
    CHECK(inertia > 0 && inertia < N * D * 0.25);
    eval_kmeans(x, N, D, K, &o, again);
    CHECK(!memcmp(labels, again, sizeof labels));
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    eval_kmeans(x, N, D, K, &o, again);
    CHECK(!memcmp(labels, again, sizeof labels));
    omp_set_num_threads(threads);
#endif
    /* overlapping data: 10 restarts are at least as good as 1 */
    for (int i = 0; i < N * D; i++) x[i] = eval_rng_uniform(&rng);
    eval_kmeans_options one = o;
    one.n_init = 1;
    double i10 = eval_kmeans(x, N, D, 8, &o, labels), i1 = eval_kmeans(x, N, D, 8, &one, again);
    CHECK(i10 <= i1);
    for (int i = 0; i < N; i++) CHECK(labels[i] >= 0 && labels[i] < 8);
    /* k = 1: everything in cluster 0; k = n: inertia 0 */
    eval_kmeans(x, N, D, 1, &o, labels);
    int all_zero = 1;
    for (int i = 0; i < N; i++) all_zero &= labels[i] == 0;
    CHECK(all_zero);
    CHECK_NEAR(eval_kmeans(x, 12, D, 12, &o, labels), 0.0, 1e-12);
    free(x);
    return test_summary("tools_eval_kmeans");
}
