/* tools/eval/kmeans.h: k-means as scikit-learn's KMeans(init="k-means++") runs it, made
 * deterministic: greedy k-means++ seeding (2 + floor(ln k) candidates per new
 * center, the one that lowers the potential most is kept), Lloyd iterations until
 * the labels stop changing or the centers move (sum of squared shifts) by at most
 * tol * the mean per-feature variance of the data, at most max_iter iterations;
 * an empty cluster takes the point farthest from its center; n_init restarts from
 * one seeded random stream, the lowest inertia wins (the first on a tie).
 * The result does not depend on the number of threads. It is computed with
 * blocked products and distance bounds (Elkan's) that skip only what they
 * prove, bit-identical to the plain algorithm (see tools/eval/kmeans.c). */
#ifndef MOEE_EVAL_KMEANS_H
#define MOEE_EVAL_KMEANS_H
#include <stdint.h>

typedef struct {
    int n_init;        /* restarts, default 10 */
    int max_iter;      /* Lloyd iterations per restart, default 300 */
    double tol;        /* default 1e-4 (relative to the mean variance, as scikit-learn) */
    uint64_t seed;     /* default 42 */
} eval_kmeans_options;

void eval_kmeans_options_init(eval_kmeans_options *o);

/* Clusters x [n][dim] into k clusters (1 <= k <= n): labels[i] in 0..k-1. Returns
 * the inertia (sum of squared distances to the assigned centers). */
double eval_kmeans(const double *x, int64_t n, int64_t dim, int k, const eval_kmeans_options *o,
                   int64_t *labels);

#endif
