/* golden.h: compares a loaded model's forward pass with a golden expected.safetensors
 * (tests/data/golden/<model>/expected.safetensors, see its README.md).
 *
 *   golden_report r;
 *   if (golden_compare(model, "tests/data/golden/olmoe-tiny/expected.safetensors", &r, err, sizeof err)) ...
 *   golden_print("olmoe f32", &r);
 *   CHECK(r.max_err_hidden <= GOLDEN_TOL && r.max_err_logits <= GOLDEN_TOL && r.topk_changed == 0);
 *
 * All the file's sequences (ids.0, ids.1, ...) run through moee_forward in ONE batch
 * with MOEE_POOL_NONE; every token's final-normed hidden state is compared with
 * hidden.K and every MoE layer's router logits with router_logits.K.
 * Header-only (static inline): include it from any test that links engine + weights. */
#ifndef MOEE_TESTS_GOLDEN_H
#define MOEE_TESTS_GOLDEN_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moee.h"
#include "weights/safetensors.h"

/* Absolute tolerance of a float (F32/F16/BF16) engine against the float64 reference.
 * Measured worst cases: 1.4e-6 (AVX-512 kernels), 2.7e-6 (scalar); a wrong
 * rms_norm_eps (1e-5 vs 1e-6) moves outputs by ~3e-5 and float32 RoPE tables by
 * ~2e-6, so 5e-6 keeps a 2x margin over what a correct engine does and still
 * catches errors of half the size of the smallest plausible bug. */
#define GOLDEN_TOL 5e-6

typedef struct {
    int n_seqs;
    int64_t n_tokens;
    double max_err_hidden;    /* max |hidden - expected| over every token and dimension */
    double max_err_logits;    /* max |router logit - expected| */
    double min_cos_hidden;    /* smallest cosine similarity of a token's hidden state with the expected one */
    int64_t topk_changed;     /* (token, MoE layer) pairs whose set of k chosen experts differs */
    int64_t topk_total;       /* (token, MoE layer) pairs compared */
} golden_report;

/* Indices of the k largest of p[0..n) as a bit set (n <= 64 in the golden models). */
static inline uint64_t golden_topk_set_(const float *p, int n, int k) {
    uint64_t set = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n && e < 64; e++)
            if (!(set >> e & 1) && (best < 0 || p[e] > p[best])) best = e;
        if (best >= 0) set |= (uint64_t)1 << best;
    }
    return set;
}

/* Checks that tensor `name` exists with dtype and shape {d0, d1, d2} (d2 < 0: 2-D). */
static inline const st_tensor *golden_tensor_(const st_checkpoint *c, const char *path, const char *name,
                                              st_dtype dtype, int64_t d0, int64_t d1, int64_t d2,
                                              char *err, size_t err_size) {
    const st_tensor *t = st_find(c, name);
    int dims = d2 < 0 ? (d1 < 0 ? 1 : 2) : 3;
    int64_t want[3] = { d0, d1, d2 };
    int ok = t && t->dtype == dtype && t->n_dims == dims;
    for (int i = 0; ok && i < dims; i++) ok = t->shape[i] == want[i];
    if (!ok) snprintf(err, err_size, "%s: tensor %s is missing or has an unexpected dtype/shape", path, name);
    return ok ? t : NULL;
}

static inline int golden_compare(const moee_model *m, const char *expected_path, golden_report *r,
                                 char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->min_cos_hidden = 1.0;
    st_checkpoint *c = st_open(expected_path, err, err_size);
    if (!c) return -1;
    const moee_model_info *in = moee_model_get_info(m);
    int64_t H = in->hidden, E = in->n_experts, L = in->n_moe_layers, K = in->n_experts_used, rw = in->rw_dim;
    int rc = -1;
    int32_t **ids = NULL;
    int64_t *lens = NULL, total = 0;
    float *hs = NULL, *logits = NULL, *want_h = NULL, *want_l = NULL;
    moee_context *ctx = NULL;
    char name[64];

    /* the sequences ids.0, ids.1, ... */
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof name, "ids.%d", n);
        if (!st_find(c, name)) break;
    }
    if (n == 0) { snprintf(err, err_size, "%s: no ids.0", expected_path); goto done; }
    ids = calloc((size_t)n, sizeof *ids);
    lens = calloc((size_t)n, sizeof *lens);
    if (!ids || !lens) { snprintf(err, err_size, "out of memory"); goto done; }
    for (int s = 0; s < n; s++) {
        snprintf(name, sizeof name, "ids.%d", s);
        const st_tensor *t = st_find(c, name);
        if (t->dtype != ST_I32 || t->n_dims != 1) {
            snprintf(err, err_size, "%s: %s is not a 1-D I32 tensor", expected_path, name);
            goto done;
        }
        lens[s] = t->shape[0];
        ids[s] = malloc((size_t)(lens[s] ? lens[s] : 1) * sizeof(int32_t));
        if (!ids[s]) { snprintf(err, err_size, "out of memory"); goto done; }
        memcpy(ids[s], t->data, (size_t)lens[s] * sizeof(int32_t));
        total += lens[s];
    }
    r->n_seqs = n;
    r->n_tokens = total;

    hs = malloc((size_t)(total * H) * sizeof(float));
    logits = malloc((size_t)(total * (rw ? rw : 1)) * sizeof(float));
    want_h = malloc((size_t)H * sizeof(float));
    want_l = malloc((size_t)(E ? E : 1) * sizeof(float));
    if (!hs || !logits || !want_h || !want_l) { snprintf(err, err_size, "out of memory"); goto done; }
    if (moee_context_create(m, total, 0, &ctx, err, err_size)) goto done;
    if (moee_forward(ctx, (const int32_t *const *)ids, lens, n, MOEE_POOL_NONE, hs, logits, NULL, err, err_size))
        goto done;

    int64_t row = 0;
    for (int s = 0; s < n; s++) {
        int64_t len = lens[s];
        snprintf(name, sizeof name, "hidden.%d", s);
        const st_tensor *th = golden_tensor_(c, expected_path, name, ST_F32, len, H, -1, err, err_size);
        snprintf(name, sizeof name, "router_logits.%d", s);
        const st_tensor *tl = golden_tensor_(c, expected_path, name, ST_F32, L, len, E, err, err_size);
        if (!th || !tl) goto done;
        const float *eh = th->data, *el = tl->data;
        for (int64_t i = 0; i < len; i++, row++) {
            const float *h = hs + row * H;
            double dot = 0, nh = 0, ne = 0;
            memcpy(want_h, eh + i * H, (size_t)H * sizeof(float));   /* the mapping may be unaligned */
            for (int64_t j = 0; j < H; j++) {
                double d = fabs((double)h[j] - want_h[j]);
                if (!(d <= r->max_err_hidden)) r->max_err_hidden = d;   /* NaN sticks */
                dot += (double)h[j] * want_h[j];
                nh += (double)h[j] * h[j];
                ne += (double)want_h[j] * want_h[j];
            }
            double cosine = dot / (sqrt(nh) * sqrt(ne) + 1e-30);
            if (!(cosine >= r->min_cos_hidden)) r->min_cos_hidden = cosine;
            for (int64_t l = 0; l < L; l++) {
                const float *got = logits + row * rw + l * E;
                memcpy(want_l, el + (l * len + i) * E, (size_t)E * sizeof(float));
                for (int64_t e = 0; e < E; e++) {
                    double d = fabs((double)got[e] - want_l[e]);
                    if (!(d <= r->max_err_logits)) r->max_err_logits = d;
                }
                r->topk_total++;
                if (golden_topk_set_(got, (int)E, (int)K) != golden_topk_set_(want_l, (int)E, (int)K))
                    r->topk_changed++;
            }
        }
    }
    rc = 0;
done:
    moee_context_free(ctx);
    if (ids)
        for (int s = 0; s < n; s++) free(ids[s]);
    free(ids);
    free(lens);
    free(hs);
    free(logits);
    free(want_h);
    free(want_l);
    st_close(c);
    return rc;
}

static inline void golden_print(const char *label, const golden_report *r) {
    printf("%s: %d sequences, %lld tokens: max |hidden err| %.3g, max |logit err| %.3g, min cos %.7f, "
           "top-k changed %lld of %lld\n", label, r->n_seqs, (long long)r->n_tokens, r->max_err_hidden,
           r->max_err_logits, r->min_cos_hidden, (long long)r->topk_changed, (long long)r->topk_total);
}

#endif
