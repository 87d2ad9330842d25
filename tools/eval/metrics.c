/* tools/eval/metrics.c: see tools/eval/metrics.h. Everything in double precision; the
 * formulas follow scipy 1.10 / scikit-learn 1.2 so that results agree to ~1e-12. */
#include "tools/eval/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "tools/eval/util.h"

/* ---- similarity of two vectors ----------------------------------------------- */

double eval_dot(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t i = 0; i < dim; i++) s += a[i] * b[i];
    return s;
}

double eval_cosine(const double *a, const double *b, int64_t dim) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < dim; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    if (aa == 0 || bb == 0) return 0;   /* a zero vector is similar to nothing */
    return ab / (sqrt(aa) * sqrt(bb));
}

double eval_euclidean(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t i = 0; i < dim; i++) { double d = a[i] - b[i]; s += d * d; }
    return sqrt(s);
}

double eval_manhattan(const double *a, const double *b, int64_t dim) {
    double s = 0;
    for (int64_t i = 0; i < dim; i++) s += fabs(a[i] - b[i]);
    return s;
}

/* ---- correlations -------------------------------------------------------------- */

void eval_average_ranks(const double *x, int64_t n, double *ranks) {
    int64_t *order = eval_calloc((size_t)(n ? n : 1), sizeof *order);
    eval_argsort(x, n, 0, order);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && x[order[j]] == x[order[i]]) j++;
        /* positions i..j-1 (0-based) hold equal values: ranks i+1..j, average (i+1+j)/2 */
        double avg = 0.5 * (double)(i + 1 + j);
        for (int64_t k = i; k < j; k++) ranks[order[k]] = avg;
        i = j;
    }
    free(order);
}

static int is_constant(const double *x, int64_t n) {
    for (int64_t i = 1; i < n; i++) if (x[i] != x[0]) return 0;
    return 1;
}

double eval_pearson(const double *x, const double *y, int64_t n) {
    if (n < 2 || is_constant(x, n) || is_constant(y, n)) return NAN;
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n; my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

double eval_spearman(const double *x, const double *y, int64_t n) {
    if (n < 2) return NAN;
    double *rx = eval_calloc((size_t)n, sizeof *rx), *ry = eval_calloc((size_t)n, sizeof *ry);
    eval_average_ranks(x, n, rx);
    eval_average_ranks(y, n, ry);
    double r = eval_pearson(rx, ry, n);
    free(rx); free(ry);
    return r;
}

/* ---- ranking --------------------------------------------------------------------- */

double eval_average_precision(const int *relevant, const double *scores, int64_t n) {
    int64_t positives = 0;
    for (int64_t i = 0; i < n; i++) positives += relevant[i] != 0;
    if (positives == 0) return NAN;   /* recall is undefined (scikit-learn warns, gives nan) */
    int64_t *order = eval_calloc((size_t)n, sizeof *order);
    eval_argsort(scores, n, 1, order);
    double ap = 0, prev_recall = 0;
    int64_t tp = 0, seen = 0;
    for (int64_t i = 0; i < n;) {
        /* one threshold = one distinct score: every tied item enters together */
        int64_t j = i;
        while (j < n && scores[order[j]] == scores[order[i]]) { tp += relevant[order[j]] != 0; j++; }
        seen = j;
        double precision = (double)tp / (double)seen;
        double recall = (double)tp / (double)positives;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    free(order);
    return ap;
}

double eval_reciprocal_rank_at(const int *relevant, const double *scores, int64_t n, int k) {
    int64_t *order = eval_calloc((size_t)(n ? n : 1), sizeof *order);
    eval_argsort(scores, n, 1, order);
    double rr = 0;
    for (int64_t r = 0; r < n && r < k; r++)
        if (relevant[order[r]]) { rr = 1.0 / (double)(r + 1); break; }
    free(order);
    return rr;
}

/* ---- clustering ------------------------------------------------------------------- */

/* Maps arbitrary labels to dense ids 0..count-1 (in increasing label order). */
static int64_t dense_ids(const int64_t *labels, int64_t n, int64_t *ids) {
    double *key = eval_calloc((size_t)n, sizeof *key);
    int64_t *order = eval_calloc((size_t)n, sizeof *order);
    for (int64_t i = 0; i < n; i++) key[i] = (double)labels[i];
    eval_argsort(key, n, 0, order);
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i > 0 && labels[order[i]] != labels[order[i - 1]]) count++;
        ids[order[i]] = count;
    }
    free(key); free(order);
    return n ? count + 1 : 0;
}

static double entropy_of_counts(const int64_t *counts, int64_t k, int64_t n) {
    double h = 0;
    for (int64_t i = 0; i < k; i++)
        if (counts[i]) h -= ((double)counts[i] / (double)n) * (log((double)counts[i]) - log((double)n));
    return h;
}

double eval_v_measure(const int64_t *labels_true, const int64_t *labels_pred, int64_t n) {
    if (n == 0) return 1.0;
    int64_t *a = eval_calloc((size_t)n, sizeof *a), *b = eval_calloc((size_t)n, sizeof *b);
    int64_t nc = dense_ids(labels_true, n, a), nk = dense_ids(labels_pred, n, b);
    int64_t *table = eval_calloc((size_t)(nc * nk), sizeof *table);
    int64_t *row = eval_calloc((size_t)nc, sizeof *row), *col = eval_calloc((size_t)nk, sizeof *col);
    for (int64_t i = 0; i < n; i++) { table[a[i] * nk + b[i]]++; row[a[i]]++; col[b[i]]++; }
    double mi = 0, dn = (double)n;
    for (int64_t c = 0; c < nc; c++)
        for (int64_t k = 0; k < nk; k++) {
            int64_t nij = table[c * nk + k];
            if (nij) mi += ((double)nij / dn) * (log((double)nij) - log(dn) - log((double)row[c]) - log((double)col[k]) + 2 * log(dn));
        }
    if (mi < 0) mi = 0;   /* as scikit-learn: rounding can make it slightly negative */
    double hc = entropy_of_counts(row, nc, n), hk = entropy_of_counts(col, nk, n);
    double homogeneity = hc != 0 ? mi / hc : 1.0;
    double completeness = hk != 0 ? mi / hk : 1.0;
    free(a); free(b); free(table); free(row); free(col);
    if (homogeneity + completeness == 0) return 0;
    return 2 * homogeneity * completeness / (homogeneity + completeness);
}

/* ---- classification --------------------------------------------------------------- */

double eval_accuracy(const int *y_true, const int *y_pred, int64_t n) {
    if (n == 0) return NAN;
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) right += y_true[i] == y_pred[i];
    return (double)right / (double)n;
}

double eval_f1_macro(const int *y_true, const int *y_pred, int64_t n) {
    if (n == 0) return NAN;
    int max_label = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y_true[i] > max_label) max_label = y_true[i];
        if (y_pred[i] > max_label) max_label = y_pred[i];
    }
    int64_t k = (int64_t)max_label + 1;
    int64_t *tp = eval_calloc((size_t)k, sizeof *tp), *in_true = eval_calloc((size_t)k, sizeof *in_true),
            *in_pred = eval_calloc((size_t)k, sizeof *in_pred);
    for (int64_t i = 0; i < n; i++) {
        in_true[y_true[i]]++; in_pred[y_pred[i]]++;
        if (y_true[i] == y_pred[i]) tp[y_true[i]]++;
    }
    double sum = 0;
    int64_t labels = 0;
    for (int64_t c = 0; c < k; c++) {
        if (!in_true[c] && !in_pred[c]) continue;   /* only labels that occur */
        labels++;
        double precision = in_pred[c] ? (double)tp[c] / (double)in_pred[c] : 0;
        double recall = in_true[c] ? (double)tp[c] / (double)in_true[c] : 0;
        sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    }
    free(tp); free(in_true); free(in_pred);
    return sum / (double)labels;
}
