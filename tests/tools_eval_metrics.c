/* tools_eval_metrics.c: every deterministic metric of `moee eval` against the
 * values scipy / scikit-learn computed for tests/data/eval/metrics.jsonl (a copy
 * of shared/eval-fixtures/metrics.jsonl, 8 seeded cases), within 1e-9; plus a few
 * hand-checked small cases. */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "tools/eval/jsonl.h"
#include "tools/eval/metrics.h"

#define FIXTURE "tests/data/eval/metrics.jsonl"
#define TOL 1e-9

/* A JSON array of numbers, or of arrays of numbers (rows), as a flat double array. */
static double *numbers(const json_value *v, int64_t *rows, int64_t *cols) {
    if (!v || v->kind != JSON_ARRAY) return NULL;
    int64_t n = (int64_t)v->u.array.count, d = 1;
    int nested = n > 0 && v->u.array.items[0].kind == JSON_ARRAY;
    if (nested) d = (int64_t)v->u.array.items[0].u.array.count;
    double *out = calloc((size_t)(n * d + 1), sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        const json_value *row = &v->u.array.items[i];
        for (int64_t j = 0; j < d; j++) {
            const json_value *x = nested ? json_at(row, (size_t)j) : row;
            if (!json_get_number(x, &out[i * d + j])) { free(out); return NULL; }
        }
    }
    if (rows) *rows = n;
    if (cols) *cols = d;
    return out;
}

static int *ints(const json_value *v, int64_t *n) {
    int64_t rows, cols;
    double *x = numbers(v, &rows, &cols);
    if (!x) return NULL;
    int *out = calloc((size_t)rows + 1, sizeof *out);
    for (int64_t i = 0; i < rows; i++) out[i] = (int)x[i];
    free(x);
    *n = rows;
    return out;
}

static double expected(const json_value *task, const char *name) {
    double x = NAN;
    json_get_number(json_get(json_get(task, "expected"), name), &x);
    return x;
}

static void check_sts(const json_value *t, long long seed) {
    int64_t n, d, ng;
    double *a = numbers(json_get(t, "emb1"), &n, &d), *b = numbers(json_get(t, "emb2"), NULL, NULL);
    double *gold = numbers(json_get(t, "gold"), &ng, NULL);
    CHECK(a && b && gold && ng == n);
    if (!a || !b || !gold) return;
    double *cs = calloc((size_t)n, sizeof *cs), *eu = calloc((size_t)n, sizeof *eu), *ma = calloc((size_t)n, sizeof *ma);
    for (int64_t i = 0; i < n; i++) {
        cs[i] = eval_cosine(a + i * d, b + i * d, d);
        eu[i] = -eval_euclidean(a + i * d, b + i * d, d);
        ma[i] = -eval_manhattan(a + i * d, b + i * d, d);
    }
    CHECK_NEAR(eval_spearman(gold, cs, n), expected(t, "cosine_spearman"), TOL);
    CHECK_NEAR(eval_pearson(gold, cs, n), expected(t, "cosine_pearson"), TOL);
    CHECK_NEAR(eval_spearman(gold, eu, n), expected(t, "euclidean_spearman"), TOL);
    CHECK_NEAR(eval_spearman(gold, ma, n), expected(t, "manhattan_spearman"), TOL);
    (void)seed;
    free(a); free(b); free(gold); free(cs); free(eu); free(ma);
}

static void check_pair(const json_value *t) {
    int64_t n, d, nl;
    double *a = numbers(json_get(t, "emb1"), &n, &d), *b = numbers(json_get(t, "emb2"), NULL, NULL);
    int *lab = ints(json_get(t, "labels"), &nl);
    CHECK(a && b && lab && nl == n);
    if (!a || !b || !lab) return;
    double *s[4];
    for (int k = 0; k < 4; k++) s[k] = calloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        s[0][i] = eval_cosine(a + i * d, b + i * d, d);
        s[1][i] = -eval_euclidean(a + i * d, b + i * d, d);
        s[2][i] = -eval_manhattan(a + i * d, b + i * d, d);
        s[3][i] = eval_dot(a + i * d, b + i * d, d);
    }
    const char *names[4] = {"cosine_ap", "euclidean_ap", "manhattan_ap", "dot_ap"};
    for (int k = 0; k < 4; k++) {
        CHECKF(fabs(eval_average_precision(lab, s[k], n) - expected(t, names[k])) <= TOL, "%s: %.12f vs %.12f",
               names[k], eval_average_precision(lab, s[k], n), expected(t, names[k]));
        free(s[k]);
    }
    free(a); free(b); free(lab);
}

static void check_rerank(const json_value *t) {
    const json_value *qs = json_get(t, "queries");
    CHECK(qs && qs->kind == JSON_ARRAY);
    if (!qs || qs->kind != JSON_ARRAY) return;
    double map = 0, mrr = 0;
    size_t nq = qs->u.array.count;
    for (size_t q = 0; q < nq; q++) {
        const json_value *item = json_at(qs, q);
        int64_t d, np, nn, dp, dn;
        double *qv = numbers(json_get(item, "query"), &d, NULL);
        double *pos = numbers(json_get(item, "positive"), &np, &dp), *neg = numbers(json_get(item, "negative"), &nn, &dn);
        CHECK(qv && pos && neg && dp == d && dn == d);
        if (!qv || !pos || !neg) return;
        int64_t n = np + nn;
        double *s = calloc((size_t)n, sizeof *s);
        int *rel = calloc((size_t)n, sizeof *rel);
        for (int64_t i = 0; i < n; i++) {
            s[i] = eval_cosine(i < np ? pos + i * d : neg + (i - np) * d, qv, d);
            rel[i] = i < np;
        }
        map += eval_average_precision(rel, s, n);
        mrr += eval_reciprocal_rank_at(rel, s, n, 10);
        free(qv); free(pos); free(neg); free(s); free(rel);
    }
    CHECK_NEAR(map / (double)nq, expected(t, "map"), TOL);
    CHECK_NEAR(mrr / (double)nq, expected(t, "mrr_at_10"), TOL);
}

static void check_vmeasure(const json_value *t) {
    int64_t n, m;
    int *a = ints(json_get(t, "labels"), &n), *b = ints(json_get(t, "assignment"), &m);
    CHECK(a && b && n == m);
    if (!a || !b) return;
    int64_t *la = calloc((size_t)n, sizeof *la), *lb = calloc((size_t)n, sizeof *lb);
    for (int64_t i = 0; i < n; i++) { la[i] = a[i]; lb[i] = b[i]; }
    CHECK_NEAR(eval_v_measure(la, lb, n), expected(t, "v_measure"), TOL);
    free(a); free(b); free(la); free(lb);
}

static void check_summarization(const json_value *t) {
    const json_value *texts = json_get(t, "texts");
    CHECK(texts && texts->kind == JSON_ARRAY);
    if (!texts || texts->kind != JSON_ARRAY) return;
    double sum = 0;
    int used = 0;
    for (size_t k = 0; k < texts->u.array.count; k++) {
        const json_value *item = json_at(texts, k);
        int64_t nh, nm, d, d2, nr;
        double *h = numbers(json_get(item, "human"), &nh, &d), *m = numbers(json_get(item, "machine"), &nm, &d2);
        double *rel = numbers(json_get(item, "relevance"), &nr, NULL);
        CHECK(h && m && rel && d == d2 && nr == nm);
        if (!h || !m || !rel) return;
        double *pred = calloc((size_t)nm, sizeof *pred);
        for (int64_t i = 0; i < nm; i++) {
            pred[i] = -INFINITY;
            for (int64_t j = 0; j < nh; j++) {
                double c = eval_cosine(m + i * d, h + j * d, d);
                if (c > pred[i]) pred[i] = c;
            }
        }
        double rho = eval_spearman(rel, pred, nm);
        if (!isnan(rho)) { sum += rho; used++; }
        free(h); free(m); free(rel); free(pred);
    }
    CHECK_NEAR(sum / used, expected(t, "cosine_spearman"), TOL);
}

static void small_cases(void) {
    /* scipy: rankdata([3, 1, 4, 1, 5]) = [3, 1.5, 4, 1.5, 5] */
    double x[5] = {3, 1, 4, 1, 5}, r[5];
    eval_average_ranks(x, 5, r);
    CHECK(r[0] == 3 && r[1] == 1.5 && r[2] == 4 && r[3] == 1.5 && r[4] == 5);
    /* sklearn: average_precision_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.8333... */
    int y[4] = {0, 0, 1, 1};
    double s[4] = {0.1, 0.4, 0.35, 0.8};
    CHECK_NEAR(eval_average_precision(y, s, 4), 0.8333333333333333, 1e-15);
    /* all tied: AP = fraction of positives */
    double t[4] = {1, 1, 1, 1};
    CHECK_NEAR(eval_average_precision(y, t, 4), 0.5, 1e-15);
    int none[4] = {0, 0, 0, 0};
    CHECK(isnan(eval_average_precision(none, s, 4)));
    CHECK(isnan(eval_spearman(t, s, 4)));   /* constant input */
    /* v-measure: a permutation of the labels is perfect; one cluster for two classes is 0 */
    int64_t a[6] = {0, 0, 1, 1, 2, 2}, b[6] = {5, 5, 3, 3, 9, 9}, c[6] = {1, 1, 1, 1, 1, 1};
    CHECK_NEAR(eval_v_measure(a, b, 6), 1.0, 1e-12);
    CHECK_NEAR(eval_v_measure(a, c, 6), 0.0, 1e-12);
    /* sklearn: f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average='macro') = 0.26666... */
    int yt[6] = {0, 1, 2, 0, 1, 2}, yp[6] = {0, 2, 1, 0, 0, 1};
    CHECK_NEAR(eval_f1_macro(yt, yp, 6), 0.26666666666666666, 1e-15);
    CHECK_NEAR(eval_accuracy(yt, yp, 6), 1.0 / 3, 1e-15);
    /* MRR: first relevant at rank 3; ties keep input order */
    int rel[4] = {0, 0, 1, 0};
    double sc[4] = {0.9, 0.8, 0.5, 0.5};
    CHECK_NEAR(eval_reciprocal_rank_at(rel, sc, 4, 10), 1.0 / 3, 1e-15);
    CHECK_NEAR(eval_reciprocal_rank_at(rel, sc, 4, 2), 0.0, 0);
}

int main(void) {
    small_cases();
    eval_jsonl r;
    char err[512];
    int cases = 0;
    if (eval_jsonl_open(&r, FIXTURE, err, sizeof err)) { fprintf(stderr, "%s\n", err); CHECK(0); return test_summary("tools_eval_metrics"); }
    const json_value *root;
    int rc;
    while ((rc = eval_jsonl_next(&r, &root, err, sizeof err)) == 1) {
        long long seed = 0;
        json_get_int(json_get(root, "seed"), &seed);
        check_sts(json_get(root, "sts"), seed);
        check_pair(json_get(root, "pair"));
        check_rerank(json_get(root, "rerank"));
        check_vmeasure(json_get(root, "vmeasure"));
        check_summarization(json_get(root, "summarization"));
        cases++;
    }
    if (rc < 0) fprintf(stderr, "%s\n", err);
    CHECK(rc == 0);
    CHECK(cases == 8);
    eval_jsonl_close(&r);
    return test_summary("tools_eval_metrics");
}
