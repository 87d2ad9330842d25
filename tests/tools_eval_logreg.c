/* tools_eval_logreg.c: logistic regression against scikit-learn's accuracy and
 * macro-F1 on the fixture's classification cases (tests/data/eval/metrics.jsonl:
 * 2 to 5 classes, 200 test items): within two test items; and the fitted weights
 * do not depend on the number of threads. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "test.h"
#include "tools/eval/jsonl.h"
#include "tools/eval/logreg.h"
#include "tools/eval/metrics.h"

static double *numbers(const json_value *v, int64_t *rows, int64_t *cols) {
    if (!v || v->kind != JSON_ARRAY) return NULL;
    int64_t n = (int64_t)v->u.array.count, d = 1;
    int nested = n > 0 && v->u.array.items[0].kind == JSON_ARRAY;
    if (nested) d = (int64_t)v->u.array.items[0].u.array.count;
    double *out = calloc((size_t)(n * d + 1), sizeof *out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            if (!json_get_number(nested ? json_at(&v->u.array.items[i], (size_t)j) : &v->u.array.items[i], &out[i * d + j])) {
                free(out); return NULL;
            }
    *rows = n;
    if (cols) *cols = d;
    return out;
}

static int *ints(const json_value *v, int64_t *n) {
    double *x = numbers(v, n, NULL);
    if (!x) return NULL;
    int *out = calloc((size_t)*n + 1, sizeof *out);
    for (int64_t i = 0; i < *n; i++) out[i] = (int)x[i];
    free(x);
    return out;
}

static void check_case(const json_value *t, long long seed) {
    int64_t n, d, nt, dt, nyl, nyt;
    double *x = numbers(json_get(t, "train"), &n, &d), *xt = numbers(json_get(t, "test"), &nt, &dt);
    int *y = ints(json_get(t, "train_labels"), &nyl), *yt = ints(json_get(t, "test_labels"), &nyt);
    CHECK(x && xt && y && yt && nyl == n && nyt == nt && dt == d);
    if (!x || !xt || !y || !yt) return;
    eval_logreg m;
    char err[256];
    CHECK(eval_logreg_fit(&m, x, y, n, d, 1.0, 100, err, sizeof err) == 0);
    int *pred = calloc((size_t)nt, sizeof *pred);
    eval_logreg_predict(&m, xt, nt, pred);
    double acc = eval_accuracy(yt, pred, nt), f1 = eval_f1_macro(yt, pred, nt);
    double want_acc = 0, want_f1 = 0;
    const json_value *e = json_get(json_get(t, "expected"), "max_iter_100");
    json_get_number(json_get(e, "accuracy"), &want_acc);
    json_get_number(json_get(e, "f1_macro"), &want_f1);
    CHECKF(fabs(acc - want_acc) * (double)nt <= 2.0 + 1e-9, "seed %lld: accuracy %.4f, scikit-learn %.4f (%d iterations)",
           seed, acc, want_acc, m.iterations);
    CHECKF(fabs(f1 - want_f1) <= 0.02, "seed %lld: macro-F1 %.4f, scikit-learn %.4f", seed, f1, want_f1);
    CHECKF(m.converged, "seed %lld: not converged in 100 iterations", seed);
    printf("seed %lld: %d classes, accuracy %.4f (scikit-learn %.4f), %d iterations\n", seed, m.n_classes, acc, want_acc, m.iterations);
#ifdef _OPENMP
    /* same weights, bit for bit, with one thread */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    eval_logreg m1;
    CHECK(eval_logreg_fit(&m1, x, y, n, d, 1.0, 100, err, sizeof err) == 0);
    CHECK(m1.n_vectors == m.n_vectors && !memcmp(m1.weights, m.weights, (size_t)(m.n_vectors * (d + 1)) * sizeof(double)));
    eval_logreg_free(&m1);
    omp_set_num_threads(threads);
#endif
    eval_logreg_free(&m);
    free(x); free(xt); free(y); free(yt); free(pred);
}

static void bad_input(void) {
    double x[4] = {1, 2, 3, 4};
    int one_class[4] = {3, 3, 3, 3};
    eval_logreg m;
    char err[256] = "";
    CHECK(eval_logreg_fit(&m, x, one_class, 4, 1, 1.0, 100, err, sizeof err) != 0);
    CHECK(strstr(err, "two classes") != NULL);
    /* separable, labels not starting at 0 */
    int two[4] = {7, 7, 9, 9};
    CHECK(eval_logreg_fit(&m, x, two, 4, 1, 1.0, 100, err, sizeof err) == 0);
    int pred[4];
    eval_logreg_predict(&m, x, 4, pred);
    CHECK(pred[0] == 7 && pred[3] == 9);
    eval_logreg_free(&m);
}

int main(void) {
    bad_input();
    eval_jsonl r;
    char err[512];
    if (eval_jsonl_open(&r, "tests/data/eval/metrics.jsonl", err, sizeof err)) { fprintf(stderr, "%s\n", err); CHECK(0); return test_summary("tools_eval_logreg"); }
    const json_value *root;
    int rc, cases = 0;
    while ((rc = eval_jsonl_next(&r, &root, err, sizeof err)) == 1) {
        long long seed = 0;
        json_get_int(json_get(root, "seed"), &seed);
        check_case(json_get(root, "classification"), seed);
        cases++;
    }
    CHECK(rc == 0 && cases == 8);
    eval_jsonl_close(&r);
    return test_summary("tools_eval_logreg");
}
