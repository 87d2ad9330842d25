/* tools/eval/kmeans.c: see tools/eval/kmeans.h. */
#include "tools/eval/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/eval/util.h"

void eval_kmeans_options_init(eval_kmeans_options *o) {
    o->n_init = 10;
    o->max_iter = 300;
    o->tol = 1e-4;
    o->seed = 42;
}

/* How it is fast without changing a result: every sum keeps the order of the
 * plain loops (features in order for a distance or a dot product, rows in order
 * for a center), only more of them run side by side (SIMD lanes, threads), and
 * distance bounds skip only computations whose outcome they prove. The results are
 * bit-identical to the plain algorithm for any number of threads, as
 * tests/tools_eval_products.c checks against a plain-loop reference. */

/* ---- seeding -----------------------------------------------------------------------
 * Candidates are compared 4 at a time: their coordinates side by side, [dim][4]. */
#define GROUP 4

/* out[r][t] = |row r - candidate t|^2 for 8 rows (row[] and out[] repeat the last
 * real row when fewer remain) and the 4 candidates of cand [dim][4]: SIMD lanes
 * hold the 4 candidates, 8 running sums in registers, each summed over the
 * features in order (d = x - c; s += d * d) exactly as the one-pair loop would. */
EVAL_ANY_ISA
static void distances_block(const double *const row[8], int64_t dim, const double *cand, double *const out[8]) {
    const eval_lanes4 zero = {0, 0, 0, 0};
    eval_lanes4 s[8] = {zero, zero, zero, zero, zero, zero, zero, zero};
    for (int64_t j = 0; j < dim; j++) {
        eval_lanes4 c, d;
        EVAL_LOAD4(c, cand + j * GROUP);
        d = row[0][j] - c; s[0] += d * d;
        d = row[1][j] - c; s[1] += d * d;
        d = row[2][j] - c; s[2] += d * d;
        d = row[3][j] - c; s[3] += d * d;
        d = row[4][j] - c; s[4] += d * d;
        d = row[5][j] - c; s[5] += d * d;
        d = row[6][j] - c; s[6] += d * d;
        d = row[7][j] - c; s[7] += d * d;
    }
    /* a repeated row has the same distances as its original: storing them twice is harmless */
    EVAL_STORE4(out[0], s[0]); EVAL_STORE4(out[1], s[1]); EVAL_STORE4(out[2], s[2]); EVAL_STORE4(out[3], s[3]);
    EVAL_STORE4(out[4], s[4]); EVAL_STORE4(out[5], s[5]); EVAL_STORE4(out[6], s[6]); EVAL_STORE4(out[7], s[7]);
}

/* distance[i * GROUP + t] = |x_i - x_{candidate[t]}|^2 for t < count <= GROUP;
 * cand is [dim][GROUP] scratch. Rows in parallel, each its own. */
static void candidate_distances(const double *x, int64_t n, int64_t dim, const int64_t *candidate, int count,
                                double *cand, double *distance) {
    for (int64_t j = 0; j < dim; j++)
        for (int t = 0; t < GROUP; t++) cand[j * GROUP + t] = t < count ? x[candidate[t] * dim + j] : 0;
    int64_t blocks = (n + 7) / 8;
    EVAL_PARALLEL_FOR
    for (int64_t blk = 0; blk < blocks; blk++) {
        const double *row[8];
        double *out[8];
        int n_rows = n - 8 * blk < 8 ? (int)(n - 8 * blk) : 8;
        for (int r = 0; r < 8; r++) {
            int64_t i = 8 * blk + (r < n_rows ? r : n_rows - 1);
            row[r] = x + i * dim;
            out[r] = distance + i * GROUP;
        }
        distances_block(row, dim, cand, out);
    }
}

/* Scratch of k-means, sized once per call. */
typedef struct {
    double *closest;            /* [n] squared distance to the nearest center so far (seeding) */
    double *cumulative;         /* [n] running sums of closest */
    double *candidate_closest;  /* [trials][n] closest if candidate t were added */
    double *cand;               /* [dim][GROUP] candidates side by side */
    double *cand_distance;      /* [n][GROUP] */
    double *packed;             /* [padded k * dim] the centers packed for eval_product_rows */
    double *upper;              /* [n] bound (above) of a row's distance to its center */
    double *lower;              /* [n][k] bounds (below) of its distances to every center */
    int64_t *bound_label;       /* [n] the center the bounds of a row refer to */
    double *error;              /* [n] bound of the rounding error of a row's computed squared distances */
    char *settled;              /* [n] the bounds prove the row's center is still the nearest */
    char *stale;                /* [n] settled without computing its distance (refresh_distances) */
    int64_t *bounded_rows, *open_rows;  /* [n] rows with bounds to test, rows computed in full */
    double *move;               /* [k] how far a center moved (bound above) */
    double *gap;                /* [k][k] distances between centers (bounds below) */
    double *c_norm;             /* [padded k] squared norms of the centers */
    double *dots;               /* [n][padded k] x_i . center c */
} scratch;

/* Greedy k-means++: centers [k][dim] chosen among the rows of x. */
static void seed_centers(const double *x, int64_t n, int64_t dim, int k, eval_rng *rng, scratch *w, double *centers) {
    int trials = 2 + (int)log((double)k);
    double *closest = w->closest, *cumulative = w->cumulative;
    int64_t first = (int64_t)eval_rng_below(rng, (uint64_t)n);
    memcpy(centers, x + first * dim, (size_t)dim * sizeof *centers);
    candidate_distances(x, n, dim, &first, 1, w->cand, w->cand_distance);
    double potential = 0;
    for (int64_t i = 0; i < n; i++) { closest[i] = w->cand_distance[i * GROUP]; potential += closest[i]; }
    for (int c = 1; c < k; c++) {
        double running = 0;
        for (int64_t i = 0; i < n; i++) { running += closest[i]; cumulative[i] = running; }
        int64_t candidate[64];
        for (int t = 0; t < trials; t++) {
            /* sample proportionally to the squared distance: first cumulative sum > u */
            double u = eval_rng_uniform(rng) * potential;
            int64_t lo = 0, hi = n - 1;
            while (lo < hi) { int64_t mid = lo + (hi - lo) / 2; if (cumulative[mid] > u) hi = mid; else lo = mid + 1; }
            candidate[t] = lo;
        }
        for (int t0 = 0; t0 < trials; t0 += GROUP) {
            int count = trials - t0 < GROUP ? trials - t0 : GROUP;
            candidate_distances(x, n, dim, candidate + t0, count, w->cand, w->cand_distance);
            for (int t = t0; t < t0 + count; t++) {
                double *cc = w->candidate_closest + (int64_t)t * n;
                for (int64_t i = 0; i < n; i++) {
                    double d = w->cand_distance[i * GROUP + (t - t0)];
                    cc[i] = d < closest[i] ? d : closest[i];
                }
            }
        }
        int best = 0;
        double best_potential = INFINITY;
        for (int t = 0; t < trials; t++) {
            const double *cc = w->candidate_closest + (int64_t)t * n;
            double pot = 0;
            for (int64_t i = 0; i < n; i++) pot += cc[i];
            if (pot < best_potential) { best_potential = pot; best = t; }
        }
        memcpy(centers + (int64_t)c * dim, x + candidate[best] * dim, (size_t)dim * sizeof *centers);
        memcpy(closest, w->candidate_closest + (int64_t)best * n, (size_t)n * sizeof *closest);
        potential = best_potential;
    }
}

/* ---- assignment ---------------------------------------------------------------------
 * The nearest center of every row (the first on a tie), as scikit-learn with
 * |x - c|^2 = |x|^2 - 2 x.c + |c|^2, each dot product summed over the features in
 * order. Most rows keep their center once the centers settle, so, as Elkan's
 * algorithm, every row carries an upper bound on its distance to its center and
 * a lower bound on its distance to each other center; the bounds follow the
 * centers' moves (triangle inequality) and a row whose bounds prove that its
 * center is still the nearest skips the k - 1 other dot products.
 *
 * "Prove" must hold for the ROUNDED distances the full computation would compare,
 * or the results would change: a computed |x - c|^2 is within
 * err = (dim + 8) 2^-52 (|x| + max |c|)^2 of the exact one (the rounding of dot
 * products and norms summed in order, with a factor 2 to spare), so a row is
 * skipped only when upper^2 + 2 err < lower_c^2 for every other center c: then
 * its center's computed distance
 * is strictly the smallest, as the full computation would find. The bounds are
 * themselves rounded outward by a relative 1e-9. Rows that are not proven are
 * computed in full, exactly as without bounds. The result is bit-identical to
 * computing every distance (tests/tools_eval_products.c checks it). */
#define OUTWARD 1e-9

/* |a - b| over dim features, rounded up (an upper bound of the exact distance). */
static double distance_above(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t j = 0; j < dim; j++) { double d = a[j] - b[j]; s += d * d; }
    return sqrt(s) * (1 + OUTWARD);
}

/* Dot products of up to 8 listed rows (rows[0..count), count > 0) with their own
 * center each: 8 running sums side by side, each in feature order as the blocked
 * product sums them. idx[r] = the row of dot[r] (the last row repeated past count). */
static void own_center_dots(const double *x, int64_t dim, const double *centers, const int64_t *labels,
                            const int64_t *rows, int64_t count, int64_t idx[8], double dot[8]) {
    const double *row[8], *center[8];
    for (int r = 0; r < 8; r++) {
        idx[r] = rows[r < count ? r : count - 1];
        row[r] = x + idx[r] * dim;
        center[r] = centers + labels[idx[r]] * dim;
    }
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (int64_t j = 0; j < dim; j++) {
        s0 += row[0][j] * center[0][j]; s1 += row[1][j] * center[1][j];
        s2 += row[2][j] * center[2][j]; s3 += row[3][j] * center[3][j];
        s4 += row[4][j] * center[4][j]; s5 += row[5][j] * center[5][j];
        s6 += row[6][j] * center[6][j]; s7 += row[7][j] * center[7][j];
    }
    dot[0] = s0; dot[1] = s1; dot[2] = s2; dot[3] = s3; dot[4] = s4; dot[5] = s5; dot[6] = s6; dot[7] = s7;
}

/* Whether a row's bounds prove its center a is still strictly the nearest in
 * computed distances: for every other center c, the lower bound (the stored one,
 * or the distance between the centers minus upper) squared exceeds upper^2 + 2 err. */
static int nearest_proven(const double *lower, const double *gap_a, int k, int64_t a, double upper, double err) {
    double need = upper * upper * (1 + OUTWARD) + 2 * err;
    for (int c = 0; c < k; c++) {
        if (c == a) continue;
        double l = fmax(lower[c], (gap_a[c] - upper) * (1 - OUTWARD));
        if (!(l > 0 && need < l * l * (1 - OUTWARD))) return 0;
    }
    return 1;
}

/* Assigns every row; old = the centers of the previous assignment of this run
 * (whose bounds the rows carry), or NULL to compute every row in full. The
 * distance of a row settled by its bounds alone is left stale (see above). */
static void assign(const double *x, const double *x_norm, int64_t n, int64_t dim, const double *centers,
                   const double *old, int k, scratch *w, int64_t *labels, double *distance) {
    const int64_t kp = eval_product_padded(k);
    double largest_norm = 0;
    for (int c = 0; c < k; c++) {
        double s = 0;
        for (int64_t j = 0; j < dim; j++) s += centers[(int64_t)c * dim + j] * centers[(int64_t)c * dim + j];
        w->c_norm[c] = s;
        largest_norm = fmax(largest_norm, sqrt(s) * (1 + OUTWARD));
    }
    /* each row's bound on the rounding error of its computed squared distances */
    const double err_scale = (double)(dim + 8) * 0x1p-52;
    for (int64_t i = 0; i < n; i++) {
        double reach = sqrt(x_norm[i]) * (1 + OUTWARD) + largest_norm;
        w->error[i] = err_scale * reach * reach;
    }
    if (old) {
        /* how far each center moved, and (from below) the distances between centers */
        for (int c = 0; c < k; c++) {
            w->move[c] = distance_above(centers + (int64_t)c * dim, old + (int64_t)c * dim, dim);
            w->gap[c * k + c] = 0;
            for (int e = c + 1; e < k; e++) {
                double gap = distance_above(centers + (int64_t)c * dim, centers + (int64_t)e * dim, dim);
                gap *= (1 - OUTWARD) * (1 - OUTWARD) / (1 + OUTWARD);   /* from above to below */
                w->gap[c * k + e] = w->gap[e * k + c] = gap;
            }
        }
    }
    /* rows whose bounds refer to their current center (not just moved by
     * update_centers): first the bounds alone (the upper one grown by the move of
     * the row's center, the lower one to each other center shrunk by that
     * center's move), then, for the rows these do not settle, with the upper bound
     * tightened to the computed distance to their center (8 rows at a time). A
     * row settled by its bounds alone does not read x: its distance is computed
     * only if needed (refresh_distances). */
    int64_t bounded = 0, open = 0, unproven = 0;
    if (old)
        for (int64_t i = 0; i < n; i++)
            if (w->bound_label[i] == labels[i]) w->bounded_rows[bounded++] = i;
    for (int64_t i = 0; i < n; i++) w->settled[i] = 0;
    EVAL_PARALLEL_FOR
    for (int64_t r = 0; r < bounded; r++) {
        int64_t i = w->bounded_rows[r], a = labels[i];
        double *lower = w->lower + i * k;
        for (int c = 0; c < k; c++) lower[c] = (lower[c] - w->move[c]) * (1 - OUTWARD);
        w->upper[i] = (w->upper[i] + w->move[a]) * (1 + OUTWARD);
        w->settled[i] = w->stale[i] = (char)nearest_proven(lower, w->gap + a * k, k, a, w->upper[i], w->error[i]);
    }
    for (int64_t r = 0; r < bounded; r++)
        if (!w->settled[w->bounded_rows[r]]) w->bounded_rows[unproven++] = w->bounded_rows[r];
    int64_t groups = (unproven + 7) / 8;
    EVAL_PARALLEL_FOR
    for (int64_t g = 0; g < groups; g++) {
        int64_t idx[8];
        double dot[8];
        own_center_dots(x, dim, centers, labels, w->bounded_rows + 8 * g, unproven - 8 * g, idx, dot);
        for (int r = 0; r < 8 && 8 * g + r < unproven; r++) {
            int64_t i = idx[r], a = labels[i];
            double d = x_norm[i] - 2 * dot[r] + w->c_norm[a];
            w->upper[i] = fmin(w->upper[i], sqrt(fmax(d, 0) + w->error[i]) * (1 + OUTWARD));
            if (nearest_proven(w->lower + i * k, w->gap + a * k, k, a, w->upper[i], w->error[i])) {
                w->settled[i] = 1;   /* its center is still the nearest: keep it */
                distance[i] = d > 0 ? d : 0;
            }
        }
    }
    for (int64_t i = 0; i < n; i++)
        if (!w->settled[i]) w->open_rows[open++] = i;
    /* the other rows: every distance, kept as the new bounds */
    eval_columns packed = eval_product_pack(centers, k, dim, dim, w->packed);
    eval_product_rows(x, w->open_rows, open, dim, packed, k, NULL, w->dots, kp);
    for (int64_t r = 0; r < open; r++) {   /* (k operations a row: not worth waking threads) */
        int64_t i = w->open_rows[r];
        const double *dot = w->dots + i * kp;
        double best = INFINITY;
        int64_t arg = 0;
        for (int c = 0; c < k; c++) {
            double d = x_norm[i] - 2 * dot[c] + w->c_norm[c];
            if (d < best) { best = d; arg = c; }
        }
        labels[i] = arg;
        distance[i] = best > 0 ? best : 0;   /* rounding can make it slightly negative */
        w->stale[i] = 0;
        w->upper[i] = sqrt(fmax(best, 0) + w->error[i]) * (1 + OUTWARD);
        for (int c = 0; c < k; c++) {
            double d = x_norm[i] - 2 * dot[c] + w->c_norm[c];
            w->lower[i * k + c] = sqrt(fmax(d - w->error[i], 0)) * (1 - OUTWARD);
        }
        w->bound_label[i] = arg;
    }
}

/* Computes the distances of the rows settled by their bounds alone (for the
 * centers of the last assignment), before they are used. */
static void refresh_distances(const double *x, const double *x_norm, int64_t n, int64_t dim, const double *centers,
                              const int64_t *labels, scratch *w, double *distance) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        if (w->stale[i]) { w->bounded_rows[count++] = i; w->stale[i] = 0; }
    int64_t groups = (count + 7) / 8;
    EVAL_PARALLEL_FOR
    for (int64_t g = 0; g < groups; g++) {
        int64_t idx[8];
        double dot[8];
        own_center_dots(x, dim, centers, labels, w->bounded_rows + 8 * g, count - 8 * g, idx, dot);
        for (int r = 0; r < 8 && 8 * g + r < count; r++) {
            double d = x_norm[idx[r]] - 2 * dot[r] + w->c_norm[labels[idx[r]]];
            distance[idx[r]] = d > 0 ? d : 0;
        }
    }
}

/* ---- update and the Lloyd loop ------------------------------------------------------ */

/* Means of the clusters (rows summed in order); an empty cluster takes the row
 * farthest from its center, which leaves its old cluster. */
static void update_centers(const double *x, const double *x_norm, int64_t n, int64_t dim, int k, int64_t *labels,
                           scratch *w, double *distance, double *centers, int64_t *counts) {
    memset(counts, 0, (size_t)k * sizeof *counts);
    for (int64_t i = 0; i < n; i++) counts[labels[i]]++;
    for (int c = 0; c < k; c++)
        if (!counts[c]) { refresh_distances(x, x_norm, n, dim, centers, labels, w, distance); break; }
    for (int c = 0; c < k; c++) {
        if (counts[c]) continue;
        int64_t far = -1;
        for (int64_t i = 0; i < n; i++)
            if (counts[labels[i]] > 1 && (far < 0 || distance[i] > distance[far])) far = i;
        if (far < 0) continue;
        counts[labels[far]]--;
        labels[far] = c;
        distance[far] = 0;
        counts[c] = 1;
    }
    memset(centers, 0, (size_t)(k * dim) * sizeof *centers);
    /* Each coordinate is a sum over the rows in order; the features are split
     * into one contiguous range per thread (a coordinate belongs to one range),
     * each range read row after row so that memory is streamed in order. */
    const int64_t ranges = eval_max_threads(), span = (dim + ranges - 1) / ranges;
    EVAL_PARALLEL_FOR
    for (int64_t r = 0; r < ranges; r++) {
        int64_t j0 = r * span < dim ? r * span : dim, j1 = j0 + span < dim ? j0 + span : dim;
        for (int64_t i = 0; i < n; i++) {
            double *center = centers + labels[i] * dim;
            const double *xi = x + i * dim;
            EVAL_SIMD
            for (int64_t j = j0; j < j1; j++) center[j] += xi[j];
        }
    }
    for (int c = 0; c < k; c++)
        if (counts[c]) for (int64_t j = 0; j < dim; j++) centers[(int64_t)c * dim + j] /= (double)counts[c];
}

double eval_kmeans(const double *x, int64_t n, int64_t dim, int k, const eval_kmeans_options *o,
                   int64_t *labels) {
    /* tolerance relative to the data: tol * mean over features of the variance
     * (per feature, sums over the rows in order; the rows read one after another) */
    double *mean = eval_calloc((size_t)dim, sizeof *mean), *var = eval_calloc((size_t)dim, sizeof *var);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) mean[j] += x[i * dim + j];
    for (int64_t j = 0; j < dim; j++) mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) { double d = x[i * dim + j] - mean[j]; var[j] += d * d; }
    double mean_variance = 0;
    for (int64_t j = 0; j < dim; j++) mean_variance += var[j] / (double)n;
    free(mean); free(var);
    double tol = o->tol * (dim ? mean_variance / (double)dim : 0);

    double *x_norm = eval_calloc((size_t)n, sizeof *x_norm);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < dim; j++) s += x[i * dim + j] * x[i * dim + j];
        x_norm[i] = s;
    }
    const int64_t kp = eval_product_padded(k);
    const int trials = 2 + (int)log((double)k);
    scratch w = {
        .closest = eval_calloc((size_t)n, sizeof(double)),
        .cumulative = eval_calloc((size_t)n, sizeof(double)),
        .candidate_closest = eval_calloc((size_t)(trials * n), sizeof(double)),
        .cand = eval_calloc((size_t)(dim * GROUP), sizeof(double)),
        .cand_distance = eval_calloc((size_t)(n * GROUP), sizeof(double)),
        .packed = eval_calloc((size_t)(dim * kp), sizeof(double)),
        .c_norm = eval_calloc((size_t)kp, sizeof(double)),
        .dots = eval_calloc((size_t)(n * kp), sizeof(double)),
        .upper = eval_calloc((size_t)n, sizeof(double)),
        .lower = eval_calloc((size_t)(n * k), sizeof(double)),
        .bound_label = eval_calloc((size_t)n, sizeof(int64_t)),
        .error = eval_calloc((size_t)n, sizeof(double)),
        .settled = eval_calloc((size_t)n, 1),
        .stale = eval_calloc((size_t)n, 1),
        .open_rows = eval_calloc((size_t)n, sizeof(int64_t)),
        .bounded_rows = eval_calloc((size_t)n, sizeof(int64_t)),
        .move = eval_calloc((size_t)k, sizeof(double)),
        .gap = eval_calloc((size_t)(k * k), sizeof(double)),
    };
    eval_rng rng;
    eval_rng_seed(&rng, o->seed);
    double *centers = eval_calloc((size_t)(k * dim), sizeof *centers), *old = eval_calloc((size_t)(k * dim), sizeof *old);
    double *distance = eval_calloc((size_t)n, sizeof *distance);
    int64_t *run_labels = eval_calloc((size_t)n, sizeof *run_labels), *old_labels = eval_calloc((size_t)n, sizeof *old_labels);
    int64_t *counts = eval_calloc((size_t)k, sizeof *counts);
    double best_inertia = INFINITY;
    for (int run = 0; run < (o->n_init > 0 ? o->n_init : 1); run++) {
        seed_centers(x, n, dim, k, &rng, &w, centers);
        assign(x, x_norm, n, dim, centers, NULL, k, &w, run_labels, distance);
        for (int it = 0; it < o->max_iter; it++) {
            memcpy(old, centers, (size_t)(k * dim) * sizeof *old);
            memcpy(old_labels, run_labels, (size_t)n * sizeof *old_labels);
            update_centers(x, x_norm, n, dim, k, run_labels, &w, distance, centers, counts);
            assign(x, x_norm, n, dim, centers, old, k, &w, run_labels, distance);
            if (!memcmp(old_labels, run_labels, (size_t)n * sizeof *old_labels)) break;   /* strict convergence */
            double shift = 0;
            for (int64_t j = 0; j < k * dim; j++) { double d = centers[j] - old[j]; shift += d * d; }
            if (shift <= tol) break;
        }
        /* the inertia of the last assignment: every row's distance, in row order */
        refresh_distances(x, x_norm, n, dim, centers, run_labels, &w, distance);
        double inertia = 0;
        for (int64_t i = 0; i < n; i++) inertia += distance[i];
        if (inertia < best_inertia) { best_inertia = inertia; memcpy(labels, run_labels, (size_t)n * sizeof *labels); }
    }
    free(centers); free(old); free(distance); free(run_labels); free(old_labels); free(counts); free(x_norm);
    free(w.closest); free(w.cumulative); free(w.candidate_closest); free(w.cand); free(w.cand_distance);
    free(w.packed); free(w.upper); free(w.lower); free(w.bound_label); free(w.settled); free(w.error); free(w.stale);
    free(w.open_rows); free(w.bounded_rows); free(w.move); free(w.gap); free(w.c_norm); free(w.dots);
    return best_inertia;
}
