/* tools/eval/logreg.c: see tools/eval/logreg.h. The objective and its gradient, then a plain
 * L-BFGS (two-loop recursion) with a strong-Wolfe line search (Nocedal & Wright,
 * Numerical Optimization, algorithms 3.5 and 3.6, with cubic interpolation). */
#include "tools/eval/logreg.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/eval/util.h"

#define HISTORY 10          /* L-BFGS correction pairs (scipy's default m) */
#define MAX_LINE_SEARCH 50  /* function evaluations per line search (scikit-learn's maxls) */
#define WOLFE_C1 1e-3       /* sufficient decrease (scipy's dcsrch ftol) */
#define WOLFE_C2 0.9        /* curvature (scipy's dcsrch gtol) */
#define GTOL 1e-4           /* scikit-learn's tol */
#define FTOL (64 * DBL_EPSILON)

/* The problem: rows of x with class indices 0..K-1, and scratch for the logits. */
typedef struct {
    const double *x;
    const int *target;      /* class index of each row */
    int64_t n, dim;
    int n_classes, n_vectors;
    int64_t stride;         /* eval_product_padded(n_vectors): row length of logits */
    double l2;              /* 1 / (C n) */
    double *logits;         /* [n][stride] */
    double *penalty;        /* [n_vectors] squared norms */
    double *packed;         /* [stride * dim] the weights packed for eval_product_rows */
    double *intercepts;     /* [stride] */
    double *xt;             /* [dim][n] x transposed, for the gradient's product */
    double *gt;             /* [dim][stride] the gradient transposed */
} problem;

/* f(w) and its gradient g (same layout as w: [n_vectors][dim + 1]). */
static double objective(const problem *p, const double *w, double *g) {
    const int64_t d1 = p->dim + 1, n = p->n, stride = p->stride;
    const int v = p->n_vectors;
    /* logits = X W^T + intercepts, one blocked product (tools/eval/util.h): each logit
     * is the intercept plus the products summed over the features in order */
    eval_columns weights = eval_product_pack(w, v, p->dim, d1, p->packed);
    for (int k = 0; k < v; k++) p->intercepts[k] = w[(int64_t)k * d1 + p->dim];
    eval_product_rows(p->x, NULL, n, p->dim, weights, v, p->intercepts, p->logits, stride);
    /* loss (in row order) and, in place of the logits, d loss / d logit */
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        double *z = p->logits + i * stride;
        if (v == 1) {   /* binomial: log(1 + e^z) - y z, derivative sigmoid(z) - y */
            double y = p->target[i] == 1, zz = z[0];
            double log1pexp = zz > 0 ? zz + log1p(exp(-zz)) : log1p(exp(zz));
            loss += log1pexp - y * zz;
            z[0] = (zz >= 0 ? 1 / (1 + exp(-zz)) : exp(zz) / (1 + exp(zz))) - y;
        } else {        /* multinomial: logsumexp(z) - z_y, derivative softmax(z) - onehot */
            double zmax = z[0];
            for (int k = 1; k < v; k++) if (z[k] > zmax) zmax = z[k];
            double sum = 0;
            for (int k = 0; k < v; k++) sum += exp(z[k] - zmax);
            double lse = zmax + log(sum);
            loss += lse - z[p->target[i]];
            for (int k = 0; k < v; k++) z[k] = exp(z[k] - lse) - (k == p->target[i]);
        }
    }
    loss /= (double)n;
    /* gradient: X^T (P - Y), one blocked product (the residuals are read as a
     * row-major matrix [n][stride]), each element summed over the samples in
     * order; then, vector by vector, the intercept's (the sum of the residuals),
     * the mean and the penalty */
    eval_columns residuals = {p->logits, stride, EVAL_PRODUCT_PANEL};
    eval_product_rows(p->xt, NULL, p->dim, n, residuals, v, NULL, p->gt, stride);
    double *penalty = p->penalty;   /* per vector, summed below in a fixed order */
    EVAL_PARALLEL_FOR
    for (int k = 0; k < v; k++) {
        double *gk = g + (int64_t)k * d1;
        const double *wk = w + (int64_t)k * d1;
        for (int64_t j = 0; j < p->dim; j++) gk[j] = p->gt[j * stride + k];
        double intercept = 0;
        for (int64_t i = 0; i < n; i++) intercept += p->logits[i * stride + k];
        gk[p->dim] = intercept;
        double pk = 0;
        for (int64_t j = 0; j <= p->dim; j++) gk[j] /= (double)n;
        for (int64_t j = 0; j < p->dim; j++) { gk[j] += p->l2 * wk[j]; pk += wk[j] * wk[j]; }
        penalty[k] = pk;   /* the intercept (index dim) is not penalized */
    }
    double squared_norm = 0;
    for (int k = 0; k < v; k++) squared_norm += penalty[k];
    return loss + 0.5 * p->l2 * squared_norm;
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

/* Minimizer of the cubic through (a, fa, ga) and (b, fb, gb), kept inside the
 * interval with a margin; bisection when the cubic has no usable minimum. */
static double cubic_min(double a, double fa, double ga, double b, double fb, double gb) {
    double d1 = ga + gb - 3 * (fa - fb) / (a - b);
    double disc = d1 * d1 - ga * gb;
    double lo = a < b ? a : b, hi = a < b ? b : a, t;
    if (disc < 0) t = 0.5 * (a + b);
    else {
        double d2 = (b > a ? 1 : -1) * sqrt(disc);
        t = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2 * d2);
        if (!isfinite(t)) t = 0.5 * (a + b);
    }
    double margin = 0.1 * (hi - lo);
    if (t < lo + margin) t = lo + margin;
    if (t > hi - margin) t = hi - margin;
    return t;
}

/* Line search along direction dir from w (value f0, slope g0 = grad . dir < 0).
 * On return w_new, g_new, *f_new hold the accepted point; returns the number of
 * evaluations, or -1 if no acceptable step was found. */
static int line_search(const problem *p, const double *w, double f0, double g0, const double *dir,
                       double step, double *w_new, double *g_new, double *f_new, int64_t len) {
    double a_prev = 0, f_prev = f0, g_prev = g0;
    double lo = 0, flo = f0, glo = g0, hi = 0, fhi = 0, ghi = 0;
    int zooming = 0, evals = 0;
    double a = step;
    while (evals < MAX_LINE_SEARCH) {
        for (int64_t i = 0; i < len; i++) w_new[i] = w[i] + a * dir[i];
        double f = objective(p, w_new, g_new), g = dot(g_new, dir, len);
        evals++;
        if (!zooming) {
            if (f > f0 + WOLFE_C1 * a * g0 || (evals > 1 && f >= f_prev)) {
                lo = a_prev; flo = f_prev; glo = g_prev; hi = a; fhi = f; ghi = g; zooming = 1;
            } else if (fabs(g) <= -WOLFE_C2 * g0) { *f_new = f; return evals; }
            else if (g >= 0) {
                lo = a; flo = f; glo = g; hi = a_prev; fhi = f_prev; ghi = g_prev; zooming = 1;
            } else {   /* still descending: extrapolate */
                a_prev = a; f_prev = f; g_prev = g;
                a = a * 4;
                continue;
            }
        } else {
            if (f > f0 + WOLFE_C1 * a * g0 || f >= flo) { hi = a; fhi = f; ghi = g; }
            else {
                if (fabs(g) <= -WOLFE_C2 * g0) { *f_new = f; return evals; }
                if (g * (hi - lo) >= 0) { hi = lo; fhi = flo; ghi = glo; }
                lo = a; flo = f; glo = g;
            }
        }
        if (fabs(hi - lo) <= 1e-16 * fabs(lo)) break;
        a = cubic_min(lo, flo, glo, hi, fhi, ghi);
    }
    /* No strong-Wolfe point: accept the best point seen if it decreased f. */
    if (zooming && flo < f0 && lo > 0) {
        for (int64_t i = 0; i < len; i++) w_new[i] = w[i] + lo * dir[i];
        *f_new = objective(p, w_new, g_new);
        return evals + 1;
    }
    return -1;
}

/* L-BFGS from w = 0. Returns the number of iterations; *converged set. */
static int minimize(const problem *p, double *w, int max_iter, int *converged) {
    const int64_t len = (int64_t)p->n_vectors * (p->dim + 1);
    double *g = eval_calloc((size_t)len, sizeof *g), *dir = eval_calloc((size_t)len, sizeof *dir);
    double *w_new = eval_calloc((size_t)len, sizeof *w_new), *g_new = eval_calloc((size_t)len, sizeof *g_new);
    double *s = eval_calloc((size_t)(HISTORY * len), sizeof *s), *y = eval_calloc((size_t)(HISTORY * len), sizeof *y);
    double rho[HISTORY], alpha[HISTORY];
    int stored = 0, newest = -1, iter = 0;
    *converged = 0;
    double f = objective(p, w, g);
    if (max_abs(g, len) <= GTOL) { *converged = 1; goto done; }
    while (iter < max_iter) {
        /* two-loop recursion: dir = -H g */
        for (int64_t i = 0; i < len; i++) dir[i] = -g[i];
        for (int c = 0; c < stored; c++) {
            int k = (newest - c + HISTORY) % HISTORY;
            alpha[k] = rho[k] * dot(s + k * len, dir, len);
            for (int64_t i = 0; i < len; i++) dir[i] -= alpha[k] * y[k * len + i];
        }
        if (stored) {
            double gamma = dot(s + newest * len, y + newest * len, len) / dot(y + newest * len, y + newest * len, len);
            for (int64_t i = 0; i < len; i++) dir[i] *= gamma;
        }
        for (int c = stored - 1; c >= 0; c--) {
            int k = (newest - c + HISTORY) % HISTORY;
            double beta = rho[k] * dot(y + k * len, dir, len);
            for (int64_t i = 0; i < len; i++) dir[i] += (alpha[k] - beta) * s[k * len + i];
        }
        double slope = dot(g, dir, len);
        if (!(slope < 0)) {   /* not a descent direction (numerical trouble): restart */
            if (!stored) break;
            stored = 0;
            continue;
        }
        /* first step as scipy's L-BFGS-B: 1/|dir| (a unit-length move), then 1 */
        double step = iter == 0 && !stored ? 1.0 / sqrt(dot(dir, dir, len)) : 1.0;
        double f_new;
        if (line_search(p, w, f, slope, dir, step, w_new, g_new, &f_new, len) < 0) break;
        iter++;
        /* the correction pair, skipped when the curvature is not positive enough */
        int k = (newest + 1) % HISTORY;
        for (int64_t i = 0; i < len; i++) { s[k * len + i] = w_new[i] - w[i]; y[k * len + i] = g_new[i] - g[i]; }
        double sy = dot(s + k * len, y + k * len, len), yy = dot(y + k * len, y + k * len, len);
        if (sy > DBL_EPSILON * yy) {
            rho[k] = 1 / sy;
            newest = k;
            if (stored < HISTORY) stored++;
        }
        double f_old = f;
        memcpy(w, w_new, (size_t)len * sizeof *w);
        memcpy(g, g_new, (size_t)len * sizeof *g);
        f = f_new;
        if (max_abs(g, len) <= GTOL) { *converged = 1; break; }
        double scale = fmax(fmax(fabs(f_old), fabs(f)), 1.0);
        if (f_old - f <= FTOL * scale) { *converged = 1; break; }
    }
done:
    free(g); free(dir); free(w_new); free(g_new); free(s); free(y);
    return iter;
}

int eval_logreg_fit(eval_logreg *m, const double *x, const int *y, int64_t n, int64_t dim,
                    double C, int max_iter, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    /* the classes: distinct labels in increasing order (scikit-learn's LabelEncoder) */
    int max_label = -1;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0) { snprintf(err, err_size, "negative label %d", y[i]); return -1; }
        if (y[i] > max_label) max_label = y[i];
    }
    int *index_of = eval_calloc((size_t)max_label + 2, sizeof *index_of);
    for (int64_t i = 0; i < n; i++) index_of[y[i]] = 1;
    int k = 0;
    for (int c = 0; c <= max_label; c++) if (index_of[c]) k++;
    if (k < 2) {
        free(index_of);
        snprintf(err, err_size, "logistic regression needs at least two classes in the training data, got %d", k);
        return -1;
    }
    m->classes = eval_calloc((size_t)k, sizeof *m->classes);
    k = 0;
    for (int c = 0; c <= max_label; c++) if (index_of[c]) { m->classes[k] = c; index_of[c] = k++; }
    m->n_classes = k;
    m->dim = dim;
    m->n_vectors = k == 2 ? 1 : k;
    m->weights = eval_calloc((size_t)(m->n_vectors * (dim + 1)), sizeof *m->weights);

    int *target = eval_calloc((size_t)n, sizeof *target);
    for (int64_t i = 0; i < n; i++) target[i] = index_of[y[i]];
    const int64_t stride = eval_product_padded(m->n_vectors);
    problem p = {x, target, n, dim, k, m->n_vectors, stride, 1.0 / (C * (double)n),
                 eval_calloc((size_t)(n * stride), sizeof(double)),
                 eval_calloc((size_t)m->n_vectors, sizeof(double)),
                 eval_calloc((size_t)(stride * dim), sizeof(double)),
                 eval_calloc((size_t)stride, sizeof(double)),
                 eval_calloc((size_t)(dim * n), sizeof(double)),
                 eval_calloc((size_t)(dim * stride), sizeof(double))};
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) p.xt[j * n + i] = x[i * dim + j];
    m->iterations = minimize(&p, m->weights, max_iter, &m->converged);
    free(p.logits); free(p.penalty); free(p.packed); free(p.intercepts); free(p.xt); free(p.gt); free(target); free(index_of);
    return 0;
}

void eval_logreg_predict(const eval_logreg *m, const double *x, int64_t n, int *out) {
    /* the scores of all rows as one blocked product, each the intercept plus the
     * products summed over the features in order */
    const int64_t d1 = m->dim + 1, stride = eval_product_padded(m->n_vectors);
    double *packed = eval_calloc((size_t)(stride * m->dim), sizeof *packed);
    double *intercepts = eval_calloc((size_t)stride, sizeof *intercepts), *z = eval_calloc((size_t)(n * stride), sizeof *z);
    eval_columns weights = eval_product_pack(m->weights, m->n_vectors, m->dim, d1, packed);
    for (int k = 0; k < m->n_vectors; k++) intercepts[k] = m->weights[k * d1 + m->dim];
    eval_product_rows(x, NULL, n, m->dim, weights, m->n_vectors, intercepts, z, stride);
    for (int64_t i = 0; i < n; i++) {
        const double *zi = z + i * stride;
        int best = 0;
        double best_z = -INFINITY;
        for (int k = 0; k < m->n_vectors; k++) {
            if (m->n_vectors == 1) { best = zi[0] > 0; break; }   /* binomial: class 1 when z > 0 */
            if (zi[k] > best_z) { best_z = zi[k]; best = k; }     /* first maximum, as numpy argmax */
        }
        out[i] = m->classes[best];
    }
    free(packed); free(intercepts); free(z);
}

void eval_logreg_free(eval_logreg *m) {
    free(m->classes);
    free(m->weights);
    memset(m, 0, sizeof *m);
}
