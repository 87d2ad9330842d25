/* tools/eval/tasks.c: see tools/eval/tasks.h. */
#include "tools/eval/tasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/eval/logreg.h"
#include "tools/eval/metrics.h"
#include "tools/eval/util.h"

void eval_run_options_init(eval_run_options *o) {
    eval_kmeans_options_init(&o->kmeans);
    o->logreg_max_iter = 100;
}

const char *eval_main_score_name(eval_type t) {
    static const char *const names[EVAL_TYPE_COUNT] = {
        "cosine_spearman", "cosine_ap", "map", "accuracy", "v_measure", "cosine_spearman",
    };
    return t < EVAL_TYPE_COUNT ? names[t] : "?";
}

static void add(eval_scores *s, const char *name, double value) {
    if (s->n < EVAL_MAX_SCORES) { s->name[s->n] = name; s->value[s->n] = value; s->n++; }
}

#define ROW(i) (emb + (i) * dim)

static void run_sts(const eval_dataset *d, const double *emb, int64_t dim, eval_scores *out) {
    int64_t n = d->n_items;
    double *cosine = eval_calloc((size_t)n, sizeof(double)), *euclid = eval_calloc((size_t)n, sizeof(double)),
           *manhattan = eval_calloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        cosine[i] = eval_cosine(ROW(d->a[i]), ROW(d->b[i]), dim);
        euclid[i] = -eval_euclidean(ROW(d->a[i]), ROW(d->b[i]), dim);      /* closer = more similar */
        manhattan[i] = -eval_manhattan(ROW(d->a[i]), ROW(d->b[i]), dim);
    }
    add(out, "cosine_spearman", eval_spearman(d->gold, cosine, n));
    add(out, "cosine_pearson", eval_pearson(d->gold, cosine, n));
    add(out, "euclidean_spearman", eval_spearman(d->gold, euclid, n));
    add(out, "manhattan_spearman", eval_spearman(d->gold, manhattan, n));
    free(cosine); free(euclid); free(manhattan);
}

static void run_pairs(const eval_dataset *d, const double *emb, int64_t dim, eval_scores *out) {
    int64_t n = d->n_items;
    static const char *const names[4] = {"cosine_ap", "euclidean_ap", "manhattan_ap", "dot_ap"};
    double *score = eval_calloc((size_t)n, sizeof(double)), best = -INFINITY;
    for (int m = 0; m < 4; m++) {
        for (int64_t i = 0; i < n; i++) {
            const double *a = ROW(d->a[i]), *b = ROW(d->b[i]);
            score[i] = m == 0 ? eval_cosine(a, b, dim) : m == 1 ? -eval_euclidean(a, b, dim)
                     : m == 2 ? -eval_manhattan(a, b, dim) : eval_dot(a, b, dim);
        }
        double ap = eval_average_precision(d->label, score, n);
        add(out, names[m], ap);
        if (ap > best) best = ap;
    }
    add(out, "max_ap", isfinite(best) ? best : NAN);
    free(score);
}

static void run_reranking(const eval_dataset *d, const double *emb, int64_t dim, eval_scores *out) {
    double map = 0, mrr = 0;
    int64_t longest = 0;
    for (int64_t q = 0; q < d->n_items; q++)
        if (d->start[q + 1] - d->start[q] > longest) longest = d->start[q + 1] - d->start[q];
    double *score = eval_calloc((size_t)longest, sizeof(double));
    for (int64_t q = 0; q < d->n_items; q++) {
        int64_t first = d->start[q], n = d->start[q + 1] - first;
        for (int64_t c = 0; c < n; c++) score[c] = eval_cosine(ROW(d->query[q]), ROW(d->cand[first + c]), dim);
        map += eval_average_precision(d->relevant + first, score, n);
        mrr += eval_reciprocal_rank_at(d->relevant + first, score, n, 10);
    }
    add(out, "map", map / (double)d->n_items);
    add(out, "mrr_at_10", mrr / (double)d->n_items);
    free(score);
}

static double *gather(const double *emb, int64_t dim, const int64_t *rows, int64_t n) {
    double *x = eval_calloc((size_t)(n * dim), sizeof *x);
    for (int64_t i = 0; i < n; i++) memcpy(x + i * dim, ROW(rows[i]), (size_t)dim * sizeof *x);
    return x;
}

static int run_classification(const eval_dataset *d, const double *emb, int64_t dim, const eval_run_options *o,
                              eval_scores *out, char *err, size_t err_size) {
    int64_t n_test = d->n_items;
    double *x_test = gather(emb, dim, d->test_text, n_test);
    int *pred = eval_calloc((size_t)n_test, sizeof *pred);
    double accuracy = 0, f1 = 0;
    int rc = 0;
    for (int e = 0; e < d->n_experiments && !rc; e++) {
        int64_t first = d->exp_start[e], n = d->exp_start[e + 1] - first;
        double *x = gather(emb, dim, d->train_text + first, n);
        eval_logreg m;
        char msg[256];
        if (eval_logreg_fit(&m, x, d->train_label + first, n, dim, 1.0, o->logreg_max_iter, msg, sizeof msg)) {
            snprintf(err, err_size, "%s: experiment %d: %s", d->name, e + 1, msg);
            rc = -1;
        } else {
            eval_logreg_predict(&m, x_test, n_test, pred);
            accuracy += eval_accuracy(d->test_label, pred, n_test);
            f1 += eval_f1_macro(d->test_label, pred, n_test);
            eval_logreg_free(&m);
        }
        free(x);
    }
    if (!rc) {
        add(out, "accuracy", accuracy / d->n_experiments);
        add(out, "f1_macro", f1 / d->n_experiments);
    }
    free(x_test); free(pred);
    return rc;
}

static void run_clustering(const eval_dataset *d, const double *emb, int64_t dim, const eval_run_options *o,
                           eval_scores *out) {
    double sum = 0;
    for (int64_t s = 0; s < d->n_items; s++) {
        int64_t first = d->start[s], n = d->start[s + 1] - first;
        const int64_t *truth = d->cluster_label + first;
        /* k = the number of distinct labels in the set (as MTEB) */
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t j = 0;
            while (j < i && truth[j] != truth[i]) j++;
            if (j == i) k++;
        }
        double *x = gather(emb, dim, d->members + first, n);
        int64_t *assignment = eval_calloc((size_t)n, sizeof *assignment);
        eval_kmeans(x, n, dim, (int)k, &o->kmeans, assignment);
        sum += eval_v_measure(truth, assignment, n);
        free(x); free(assignment);
    }
    add(out, "v_measure", sum / (double)d->n_items);
}

static void run_summarization(const eval_dataset *d, const double *emb, int64_t dim, eval_scores *out) {
    double sum = 0;
    int64_t used = 0, longest = 0;
    for (int64_t t = 0; t < d->n_items; t++)
        if (d->mstart[t + 1] - d->mstart[t] > longest) longest = d->mstart[t + 1] - d->mstart[t];
    double *predicted = eval_calloc((size_t)longest, sizeof(double));
    for (int64_t t = 0; t < d->n_items; t++) {
        int64_t m0 = d->mstart[t], nm = d->mstart[t + 1] - m0, h0 = d->hstart[t], nh = d->hstart[t + 1] - h0;
        if (nm < 2) continue;
        for (int64_t i = 0; i < nm; i++) {
            predicted[i] = -INFINITY;   /* the closest human summary decides */
            for (int64_t j = 0; j < nh; j++) {
                double c = eval_cosine(ROW(d->machine[m0 + i]), ROW(d->human[h0 + j]), dim);
                if (c > predicted[i]) predicted[i] = c;
            }
        }
        /* skipped when the human scores or the predictions are all equal (NaN) */
        double rho = eval_spearman(d->relevance + m0, predicted, nm);
        if (!isnan(rho)) { sum += rho; used++; }
    }
    add(out, "cosine_spearman", used ? sum / (double)used : NAN);
    free(predicted);
}

int eval_run_task(const eval_dataset *d, const double *emb, int64_t dim, const eval_run_options *o,
                  eval_scores *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    switch (d->type) {
    case EVAL_STS: run_sts(d, emb, dim, out); return 0;
    case EVAL_PAIR_CLASSIFICATION: run_pairs(d, emb, dim, out); return 0;
    case EVAL_RERANKING: run_reranking(d, emb, dim, out); return 0;
    case EVAL_CLASSIFICATION: return run_classification(d, emb, dim, o, out, err, err_size);
    case EVAL_CLUSTERING: run_clustering(d, emb, dim, o, out); return 0;
    case EVAL_SUMMARIZATION: run_summarization(d, emb, dim, out); return 0;
    default: snprintf(err, err_size, "bad task type"); return -1;
    }
}
