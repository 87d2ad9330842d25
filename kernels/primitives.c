/* primitives.c: the scalar transformer primitives (the oracle for the SIMD ones).
 * All sums run in index order in float. */
#include <math.h>
#include "kernels/variants.h"

void moee_scalar_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    float sum_sq = 0.0f;
    for (int64_t i = 0; i < n; i++) sum_sq += x[i] * x[i];
    const float inv_rms = 1.0f / sqrtf(sum_sq / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * inv_rms) * w[i];
}

void moee_scalar_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t,
                      const float *sin_t, int mode) {
    const int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *u = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            /* the pair rotated by angle i: (i, i+half) or (2i, 2i+1) */
            float *a = mode == MOEE_ROPE_NEOX ? &u[i] : &u[2 * i];
            float *b = mode == MOEE_ROPE_NEOX ? &u[i + half] : &u[2 * i + 1];
            const float a0 = *a, b0 = *b;
            *a = a0 * cos_t[i] - b0 * sin_t[i];
            *b = b0 * cos_t[i] + a0 * sin_t[i];
        }
    }
}

void moee_scalar_softmax(float *x, int64_t n) {
    float max = x[0];
    for (int64_t i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    for (int64_t i = 0; i < n; i++) x[i] /= sum;
}

void moee_scalar_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                                const float *v, int64_t ld_v, float *out, int64_t ld_out,
                                int64_t n, int64_t head_dim, float scale, float *scratch) {
    float *score = scratch;
    for (int64_t i = 0; i < n; i++) {
        const float *qi = q + i * ld_q;
        for (int64_t j = 0; j <= i; j++) {          /* causal: keys up to the query */
            const float *kj = k + j * ld_k;
            float dot = 0.0f;
            for (int64_t c = 0; c < head_dim; c++) dot += qi[c] * kj[c];
            score[j] = dot * scale;
        }
        moee_scalar_softmax(score, i + 1);
        float *oi = out + i * ld_out;
        for (int64_t c = 0; c < head_dim; c++) oi[c] = 0.0f;
        for (int64_t j = 0; j <= i; j++) {
            const float *vj = v + j * ld_v;
            for (int64_t c = 0; c < head_dim; c++) oi[c] += score[j] * vj[c];
        }
    }
}

/* Whether value a is taken before value b (a NaN only after every number). */
static int beats(float a, float b) { return a > b || (isnan(b) && !isnan(a)); }

/* Selection by k passes: each pass takes the largest value not yet taken, the
 * lowest index on ties. NaNs are never preferred to a number; if only NaNs are
 * left, the lowest untaken index is taken (so idx is always k distinct indices). */
void moee_scalar_topk(const float *p, int64_t n, int64_t k, int32_t *idx) {
    for (int64_t s = 0; s < k; s++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++) {
            int taken = 0;
            for (int64_t u = 0; u < s; u++) if (idx[u] == i) { taken = 1; break; }
            if (taken) continue;
            if (best < 0 || beats(p[i], p[best])) best = i;
        }
        idx[s] = (int32_t)best;
    }
}

/* The same choice in one pass (the SIMD variants use it; the selection above is its
 * oracle): the values in index order each go into the list of the best k so far, after
 * every entry they do not beat, so ties keep the lower index. Most values fail at the
 * list's last entry: ~n comparisons instead of ~n k^2 / 2. */
void moee_topk_one_pass(const float *p, int64_t n, int64_t k, int32_t *idx) {
    int64_t listed = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = listed;
        while (at > 0 && beats(p[i], p[idx[at - 1]])) at--;
        if (at >= k) continue;
        if (listed < k) listed++;
        for (int64_t j = listed - 1; j > at; j--) idx[j] = idx[j - 1];
        idx[at] = (int32_t)i;
    }
}

void moee_scalar_silu_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void moee_scalar_axpy(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
