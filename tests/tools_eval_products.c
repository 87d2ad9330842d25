/* tools_eval_products.c: the blocked, multi-threaded arithmetic of `moee eval`
 * gives bit for bit what the plain loops give: the dense product of tools/eval/util.h
 * on awkward sizes (tails of every block shape), both layouts, row subsets; and eval_kmeans against a
 * straightforward reference implementation of the same algorithm (the one
 * tools/eval/kmeans.h describes, written as plain loops, every distance computed), on
 * data with exact ties: the distance bounds that let eval_kmeans skip most
 * distances never change a label or the inertia. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "test.h"
#include "tools/eval/kmeans.h"
#include "tools/eval/util.h"

/* ---- products -------------------------------------------------------------------- */

static void check_products(eval_rng *rng, int64_t rows, int64_t depth, int64_t cols) {
    int64_t padded = eval_product_padded(cols);
    double *a = calloc((size_t)(rows * depth + 1), sizeof *a), *m = calloc((size_t)(cols * depth + 1), sizeof *m);
    double *init = calloc((size_t)padded, sizeof *init), *packed = calloc((size_t)(padded * depth + 1), sizeof *packed);
    double *row_major = calloc((size_t)(depth * padded + 1), sizeof *row_major);   /* m transposed: [depth][padded] */
    double *out = calloc((size_t)(rows * padded), sizeof *out), *want = calloc((size_t)(rows * padded), sizeof *want);
    for (int64_t i = 0; i < rows * depth; i++) a[i] = eval_rng_uniform(rng) - 0.5;
    for (int64_t i = 0; i < cols * depth; i++) m[i] = eval_rng_uniform(rng) * 3 - 1;
    for (int64_t c = 0; c < cols; c++) init[c] = eval_rng_uniform(rng);
    for (int64_t c = 0; c < cols; c++)
        for (int64_t j = 0; j < depth; j++) row_major[j * padded + c] = m[c * depth + j];
    eval_columns layouts[2] = {eval_product_pack(m, cols, depth, depth, packed), {row_major, padded, EVAL_PRODUCT_PANEL}};
    /* every other row, backwards, through `which` */
    int64_t *which = calloc((size_t)rows, sizeof *which), picked = 0;
    for (int64_t i = rows - 1; i >= 0; i -= 2) which[picked++] = i;
    for (int layout = 0; layout < 2; layout++)
        for (int with_init = 0; with_init < 2; with_init++)
            for (int subset = 0; subset < 2; subset++) {
                for (int64_t i = 0; i < rows; i++)
                    for (int64_t c = 0; c < cols; c++) {
                        double s = with_init ? init[c] : 0;
                        for (int64_t j = 0; j < depth; j++) s += a[i * depth + j] * m[c * depth + j];
                        want[i * padded + c] = s;
                        out[i * padded + c] = -1;
                    }
                eval_product_rows(a, subset ? which : NULL, subset ? picked : rows, depth, layouts[layout], cols,
                                  with_init ? init : NULL, out, padded);
                int same = 1;
                for (int64_t i = 0; i < rows; i++) {
                    int computed = !subset || (rows - 1 - i) % 2 == 0;
                    for (int64_t c = 0; c < cols; c++)
                        same &= computed ? !memcmp(&out[i * padded + c], &want[i * padded + c], sizeof(double))
                                         : out[i * padded + c] == -1;
                }
                CHECKF(same, "eval_product_rows %lld x %lld x %lld (layout %d, init %d, subset %d) differs from the plain loop",
                       (long long)rows, (long long)depth, (long long)cols, layout, with_init, subset);
            }
    free(a); free(m); free(init); free(packed); free(row_major); free(out); free(want); free(which);
}

/* ---- reference k-means: tools/eval/kmeans.h's algorithm as plain loops ------------------- */

static double ref_distance(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t j = 0; j < dim; j++) { double d = a[j] - b[j]; s += d * d; }
    return s;
}

static double ref_dot(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t j = 0; j < dim; j++) s += a[j] * b[j];
    return s;
}

static double ref_kmeans(const double *x, int64_t n, int64_t dim, int k, const eval_kmeans_options *o, int64_t *labels) {
    double mean_variance = 0;
    for (int64_t j = 0; j < dim; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++) m += x[i * dim + j];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++) { double d = x[i * dim + j] - m; v += d * d; }
        mean_variance += v / (double)n;
    }
    double tol = o->tol * mean_variance / (double)dim;
    double *centers = calloc((size_t)(k * dim), sizeof *centers), *old = calloc((size_t)(k * dim), sizeof *old);
    double *closest = calloc((size_t)n, sizeof *closest), *cum = calloc((size_t)n, sizeof *cum), *dist = calloc((size_t)n, sizeof *dist);
    int trials = 2 + (int)log((double)k);
    double *cand_closest = calloc((size_t)(trials * n), sizeof *cand_closest);
    int64_t *lab = calloc((size_t)n, sizeof *lab), *old_lab = calloc((size_t)n, sizeof *old_lab), *count = calloc((size_t)k, sizeof *count);
    eval_rng rng;
    eval_rng_seed(&rng, o->seed);
    double best_inertia = INFINITY;
    for (int run = 0; run < o->n_init; run++) {
        /* greedy k-means++ */
        int64_t first = (int64_t)eval_rng_below(&rng, (uint64_t)n);
        memcpy(centers, x + first * dim, (size_t)dim * sizeof *centers);
        double potential = 0;
        for (int64_t i = 0; i < n; i++) { closest[i] = ref_distance(x + i * dim, centers, dim); potential += closest[i]; }
        for (int c = 1; c < k; c++) {
            double running = 0;
            for (int64_t i = 0; i < n; i++) { running += closest[i]; cum[i] = running; }
            int64_t cand[64];
            for (int t = 0; t < trials; t++) {
                double u = eval_rng_uniform(&rng) * potential;
                int64_t lo = 0, hi = n - 1;
                while (lo < hi) { int64_t mid = lo + (hi - lo) / 2; if (cum[mid] > u) hi = mid; else lo = mid + 1; }
                cand[t] = lo;
            }
            int best = 0;
            double best_pot = INFINITY;
            for (int t = 0; t < trials; t++) {
                double pot = 0;
                for (int64_t i = 0; i < n; i++) {
                    double d = ref_distance(x + i * dim, x + cand[t] * dim, dim);
                    cand_closest[t * n + i] = d < closest[i] ? d : closest[i];
                    pot += cand_closest[t * n + i];
                }
                if (pot < best_pot) { best_pot = pot; best = t; }
            }
            memcpy(centers + c * dim, x + cand[best] * dim, (size_t)dim * sizeof *centers);
            memcpy(closest, cand_closest + best * n, (size_t)n * sizeof *closest);
            potential = best_pot;
        }
        /* Lloyd */
        double inertia = 0;
        for (int it = -1; it < o->max_iter; it++) {
            if (it >= 0) {
                memcpy(old, centers, (size_t)(k * dim) * sizeof *old);
                memcpy(old_lab, lab, (size_t)n * sizeof *lab);
                memset(centers, 0, (size_t)(k * dim) * sizeof *centers);
                memset(count, 0, (size_t)k * sizeof *count);
                for (int64_t i = 0; i < n; i++) count[lab[i]]++;
                for (int c = 0; c < k; c++) {
                    if (count[c]) continue;
                    int64_t far = -1;
                    for (int64_t i = 0; i < n; i++)
                        if (count[lab[i]] > 1 && (far < 0 || dist[i] > dist[far])) far = i;
                    if (far < 0) continue;
                    count[lab[far]]--; lab[far] = c; dist[far] = 0; count[c] = 1;
                }
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < dim; j++) centers[lab[i] * dim + j] += x[i * dim + j];
                for (int c = 0; c < k; c++)
                    if (count[c]) for (int64_t j = 0; j < dim; j++) centers[c * dim + j] /= (double)count[c];
            }
            inertia = 0;
            for (int64_t i = 0; i < n; i++) {
                double xn = ref_dot(x + i * dim, x + i * dim, dim), best = INFINITY;
                for (int c = 0; c < k; c++) {
                    double d = xn - 2 * ref_dot(x + i * dim, centers + c * dim, dim) + ref_dot(centers + c * dim, centers + c * dim, dim);
                    if (d < best) { best = d; lab[i] = c; }
                }
                dist[i] = best > 0 ? best : 0;
                inertia += dist[i];
            }
            if (it < 0) continue;
            if (!memcmp(old_lab, lab, (size_t)n * sizeof *lab)) break;
            double shift = 0;
            for (int64_t j = 0; j < k * dim; j++) { double d = centers[j] - old[j]; shift += d * d; }
            if (shift <= tol) break;
        }
        if (inertia < best_inertia) { best_inertia = inertia; memcpy(labels, lab, (size_t)n * sizeof *labels); }
    }
    free(centers); free(old); free(closest); free(cum); free(dist); free(cand_closest); free(lab); free(old_lab); free(count);
    return best_inertia;
}

/* Overlapping blobs; with `grid`, coordinates on a coarse grid so that many
 * distances tie exactly (duplicate points, equidistant centers). */
static void check_kmeans(eval_rng *rng, int64_t n, int64_t dim, int k, int grid) {
    double *x = calloc((size_t)(n * dim), sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        int64_t blob = i % (k + 1);
        for (int64_t j = 0; j < dim; j++) {
            double v = (double)((blob * 7 + j * 3) % 5) + 2.0 * (eval_rng_uniform(rng) - 0.5);
            x[i * dim + j] = grid ? floor(v) : v;
        }
    }
    eval_kmeans_options o;
    eval_kmeans_options_init(&o);
    o.n_init = 3;
    int64_t *want = calloc((size_t)n, sizeof *want), *got = calloc((size_t)n, sizeof *got);
    double want_inertia = ref_kmeans(x, n, dim, k, &o, want);
    double inertia = eval_kmeans(x, n, dim, k, &o, got);
    CHECKF(!memcmp(&inertia, &want_inertia, sizeof inertia) && !memcmp(got, want, (size_t)n * sizeof *got),
           "eval_kmeans n %lld dim %lld k %d grid %d: inertia %.17g, reference %.17g",
           (long long)n, (long long)dim, k, grid, inertia, want_inertia);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double one = eval_kmeans(x, n, dim, k, &o, got);
    CHECK(!memcmp(&one, &want_inertia, sizeof one) && !memcmp(got, want, (size_t)n * sizeof *got));
    omp_set_num_threads(threads);
#endif
    free(x); free(want); free(got);
}

int main(void) {
    eval_rng rng;
    eval_rng_seed(&rng, 11);
    static const int64_t rows[] = {1, 3, 4, 5, 9}, depths[] = {0, 1, 7, 8, 17, 33}, cols[] = {1, 2, 4, 5, 8, 9, 20};
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
        for (size_t b = 0; b < sizeof depths / sizeof *depths; b++)
            for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) check_products(&rng, rows[a], depths[b], cols[c]);
    check_kmeans(&rng, 150, 13, 7, 0);
    check_kmeans(&rng, 150, 13, 7, 1);
    check_kmeans(&rng, 97, 3, 25, 1);   /* 6 candidates per new center: two groups of 4 */
    check_kmeans(&rng, 64, 40, 2, 0);
    check_kmeans(&rng, 9, 5, 9, 1);
    check_kmeans(&rng, 600, 30, 10, 0);   /* many Lloyd iterations: most rows settled by their bounds */
    return test_summary("tools_eval_products");
}
