/* tools/eval/logreg.h: logistic regression as MTEB's classification evaluator runs it:
 * scikit-learn 1.2 LogisticRegression(max_iter=100) with its defaults (lbfgs,
 * L2 penalty, C = 1, intercept fitted and not penalized, raw features).
 *
 * What scikit-learn does with those defaults, and so what this does:
 *   - two classes: ONE weight vector (binomial loss; multi_class='auto' picks
 *     one-vs-rest, which for two classes is plain logistic regression);
 *   - more classes: one weight vector per class (multinomial / softmax loss);
 *   - objective = mean loss over the n training rows + 0.5 / (C n) * |W|^2;
 *   - L-BFGS (10 correction pairs) with a line search satisfying the strong
 *     Wolfe conditions (c1 = 1e-3, c2 = 0.9 as scipy's), at most max_iter
 *     iterations; stops when the largest gradient component is <= 1e-4, or the
 *     objective's relative decrease is <= 64 * DBL_EPSILON (scipy's ftol).
 * Deterministic: the result does not depend on the number of threads. */
#ifndef MOEE_EVAL_LOGREG_H
#define MOEE_EVAL_LOGREG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n_classes;        /* distinct labels seen in training (>= 2) */
    int *classes;         /* [n_classes] the original labels, increasing */
    int64_t dim;
    int n_vectors;        /* 1 for two classes, n_classes otherwise */
    double *weights;      /* [n_vectors][dim + 1], the intercept last */
    int iterations;       /* L-BFGS iterations run */
    int converged;        /* 0 when max_iter was reached first */
} eval_logreg;

/* Fits on x [n][dim] with labels y (any non-negative ints; at least two distinct).
 * Returns 0, or -1 with a message in err. */
int eval_logreg_fit(eval_logreg *m, const double *x, const int *y, int64_t n, int64_t dim,
                    double C, int max_iter, char *err, size_t err_size);
/* out[i] = the predicted original label of row i of x [n][dim]. */
void eval_logreg_predict(const eval_logreg *m, const double *x, int64_t n, int *out);
void eval_logreg_free(eval_logreg *m);

#endif
