/* bench_eval.c: times `moee eval`'s two expensive steps on real-model sizes
 * (embeddings of ~3,000 dims), on synthetic data:
 *   - k-means as on one TwentyNewsgroups set: 5,000 points x 3,072 dims, k = 20,
 *     10 restarts (the defaults of `moee eval`);
 *   - logistic regression as one Banking77 experiment: 77 classes x 8 samples
 *     (616 rows) x 3,072 dims, 100 L-BFGS iterations at most, then the prediction
 *     of 3,080 test rows.
 * It prints the time of each and fingerprints of the results (inertia, a hash of
 * the labels, a hash of the fitted weights), so that two builds of the eval code
 * (e.g. before and after a change) can be checked to give bit-identical results.
 *
 * Build and run from the repository root (no Makefile rule: it needs the tools'
 * eval objects, not only the libraries):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -fopenmp -I. -o /tmp/bench_eval bench/bench_eval.c tools/eval/kmeans.c tools/eval/logreg.c tools/eval/util.c tools/eval/metrics.c -lm && /tmp/bench_eval
 * Options: bench_eval [dim] [points] [kmeans|logreg] (defaults 3072 5000, both);
 * smaller sizes run faster. OMP_NUM_THREADS=1 for a steadier comparison on a busy machine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/eval/kmeans.h"
#include "tools/eval/logreg.h"
#include "tools/eval/metrics.h"
#include "tools/eval/util.h"

#ifndef KMEANS_SEPARATION
#define KMEANS_SEPARATION 3.0
#endif
#ifndef LOGREG_SEPARATION
#define LOGREG_SEPARATION 3.0
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A standard normal number (Box-Muller). */
static double normal(eval_rng *r) {
    double u = eval_rng_uniform(r), v = eval_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

/* n rows of dim features shaped like sentence embeddings: k topics as Gaussian
 * blobs in a LATENT space of few dimensions (centers `separation` noise standard
 * deviations apart on average, so that topics overlap), mapped into dim features
 * by a fixed random projection, plus a little independent noise per feature.
 * (Isotropic blobs in 3,072 dims would be either trivially separable or pure
 * noise; real embeddings have a low intrinsic dimension.) The topic of each row
 * in label. */
#define LATENT 32
static double *blobs(eval_rng *r, int64_t n, int64_t dim, int k, double separation, int64_t *label) {
    double *center = eval_calloc((size_t)(k * LATENT), sizeof *center), *x = eval_calloc((size_t)(n * dim), sizeof *x);
    double *projection = eval_calloc((size_t)(LATENT * dim), sizeof *projection), z[LATENT];
    double spread = separation / sqrt(2.0 * LATENT);
    for (int64_t i = 0; i < k * LATENT; i++) center[i] = spread * normal(r);
    for (int64_t i = 0; i < LATENT * dim; i++) projection[i] = normal(r) / sqrt((double)LATENT);
    for (int64_t i = 0; i < n; i++) {
        label[i] = (int64_t)eval_rng_below(r, (uint64_t)k);
        for (int l = 0; l < LATENT; l++) z[l] = center[label[i] * LATENT + l] + normal(r);
        double *xi = x + i * dim;
        for (int64_t j = 0; j < dim; j++) xi[j] = 0.1 * normal(r);
        for (int l = 0; l < LATENT; l++)
            for (int64_t j = 0; j < dim; j++) xi[j] += z[l] * projection[l * dim + j];
    }
    free(center); free(projection);
    return x;
}

/* FNV-1a over bytes: a fingerprint to compare two builds' results. */
static uint64_t fnv(const void *p, size_t bytes) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < bytes; i++) { h ^= b[i]; h *= 1099511628211ULL; }
    return h;
}

int main(int argc, char **argv) {
    int64_t dim = argc > 1 ? atoll(argv[1]) : 3072, n = argc > 2 ? atoll(argv[2]) : 5000;
    const char *only = argc > 3 ? argv[3] : "";
    eval_rng rng;
    eval_rng_seed(&rng, 1234);
    printf("threads %d, dim %lld\n", eval_max_threads(), (long long)dim);

    /* ---- k-means --------------------------------------------------------------- */
    if (strcmp(only, "logreg")) {
        int k = 20;
        int64_t *truth = eval_calloc((size_t)n, sizeof *truth), *labels = eval_calloc((size_t)n, sizeof *labels);
        double *x = blobs(&rng, n, dim, k, KMEANS_SEPARATION, truth);
        eval_kmeans_options o;
        eval_kmeans_options_init(&o);
        double t0 = now(), inertia = eval_kmeans(x, n, dim, k, &o, labels), t1 = now();
        printf("kmeans   %lld x %lld, k %d, %d restarts: %8.3f s  inertia %.17g  labels %016llx  v_measure %.6f\n",
               (long long)n, (long long)dim, k, o.n_init, t1 - t0, inertia,
               (unsigned long long)fnv(labels, (size_t)n * sizeof *labels), eval_v_measure(truth, labels, n));
        free(x); free(truth); free(labels);
    }

    /* ---- logistic regression ----------------------------------------------------- */
    if (strcmp(only, "kmeans")) {
        int k = 77;
        int64_t n_train = 8 * k, n_test = 40 * k;
        int64_t *label = eval_calloc((size_t)(n_train + n_test), sizeof *label);
        double *x = blobs(&rng, n_train + n_test, dim, k, LOGREG_SEPARATION, label);
        int *y = eval_calloc((size_t)(n_train + n_test), sizeof *y), *pred = eval_calloc((size_t)n_test, sizeof *pred);
        for (int64_t i = 0; i < n_train + n_test; i++) y[i] = (int)label[i];
        eval_logreg m;
        char err[256];
        double t0 = now();
        if (eval_logreg_fit(&m, x, y, n_train, dim, 1.0, 100, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
        double t1 = now();
        eval_logreg_predict(&m, x + n_train * dim, n_test, pred);
        double t2 = now();
        printf("logreg   %lld x %lld, %d classes: fit %8.3f s (%d iterations), predict %lld rows %6.3f s  "
               "weights %016llx  accuracy %.4f\n",
               (long long)n_train, (long long)dim, k, t1 - t0, m.iterations, (long long)n_test, t2 - t1,
               (unsigned long long)fnv(m.weights, (size_t)(m.n_vectors * (dim + 1)) * sizeof(double)),
               eval_accuracy(y + n_train, pred, n_test));
        eval_logreg_free(&m);
        free(x); free(y); free(pred); free(label);
    }
    return 0;
}
