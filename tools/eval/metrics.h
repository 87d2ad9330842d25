/* tools/eval/metrics.h: the deterministic metrics of `moee eval`, each as scipy /
 * scikit-learn computes it, in double precision.
 *
 * A metric that is undefined for its input (a correlation with a constant input,
 * an average precision without positives) returns NaN, as scipy / scikit-learn
 * do; callers decide what to do with it (the results file writes null). */
#ifndef MOEE_EVAL_METRICS_H
#define MOEE_EVAL_METRICS_H
#include <stdint.h>

/* ---- similarity of two vectors (double in, double out) ---------------------- */
double eval_cosine(const double *a, const double *b, int64_t dim);     /* 0 if a norm is 0 */
double eval_dot(const double *a, const double *b, int64_t dim);
double eval_euclidean(const double *a, const double *b, int64_t dim);  /* distance */
double eval_manhattan(const double *a, const double *b, int64_t dim);  /* distance */

/* ---- correlations (scipy.stats) --------------------------------------------- */
/* ranks[i] = 1-based rank of x[i], tied values get the average of their ranks. */
void eval_average_ranks(const double *x, int64_t n, double *ranks);
double eval_pearson(const double *x, const double *y, int64_t n);
double eval_spearman(const double *x, const double *y, int64_t n);  /* Pearson of average ranks */

/* ---- ranking (scikit-learn average_precision_score, MTEB MRR@k) -------------- */
/* relevant[i] is 0 or 1. Step-wise AP without interpolation: the items are taken in
 * decreasing score, all items tied on a score enter at the same threshold. */
double eval_average_precision(const int *relevant, const double *scores, int64_t n);
/* 1/rank of the first relevant item among the k best scores (ties keep the input
 * order, as a stable argsort of -scores), 0 if none is in the top k. */
double eval_reciprocal_rank_at(const int *relevant, const double *scores, int64_t n, int k);

/* ---- clustering (scikit-learn v_measure_score, beta = 1) --------------------- */
/* Labels are arbitrary integers; only equality matters. */
double eval_v_measure(const int64_t *labels_true, const int64_t *labels_pred, int64_t n);

/* ---- classification (scikit-learn accuracy_score, f1_score(average='macro')) -- */
double eval_accuracy(const int *y_true, const int *y_pred, int64_t n);
/* Mean over the labels present in y_true or y_pred of 2tp / (2tp + fp + fn). */
double eval_f1_macro(const int *y_true, const int *y_pred, int64_t n);

#endif
