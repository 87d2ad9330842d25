/* neon/primitives.c: the transformer primitives that take time, 4 floats at a time
 * (NEON). Each has a scalar twin in kernels/primitives.c (the oracle); the last
 * n % 4 elements are done by the same scalar operations. */
#include <arm_neon.h>
#include <math.h>
#include "kernels/variants.h"

/* 2^k for integer k in [-126, 127], built in the exponent field. */
static inline float32x4_t pow2i(int32x4_t k) {
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k, vdupq_n_s32(127)), 23));
}

/* e^x within about 2 ulps: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7
 * Taylor polynomial (truncation < 6e-9 relative), times 2^n applied in two halves
 * so that subnormal results and overflow to inf come out right. NaN stays NaN. */
static inline float32x4_t exp4(float32x4_t x) {
    x = vminq_f32(x, vdupq_n_f32(89.0f));
    x = vmaxq_f32(x, vdupq_n_f32(-104.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));        /* ln2 high part */
    r = vfmsq_f32(r, n, vdupq_n_f32(1.42860682030941723212e-6f));              /* ln2 low part */
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t ni = vcvtq_s32_f32(n);                    /* in [-150, 129]; NaN -> 0 */
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    return vmulq_f32(vmulq_f32(p, pow2i(n1)), pow2i(n2));
}

void moee_neon_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        acc = vfmaq_f32(acc, v, v);
    }
    float sum_sq = vaddvq_f32(acc);
    for (; i < n; i++) sum_sq += x[i] * x[i];
    const float inv_rms = 1.0f / sqrtf(sum_sq / (float)n + eps);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), inv_rms), vld1q_f32(w + i)));
    for (; i < n; i++) out[i] = (x[i] * inv_rms) * w[i];
}

void moee_neon_softmax(float *x, int64_t n) {
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
    float max = vmaxvq_f32(vmax);
    for (; i < n; i++) if (x[i] > max) max = x[i];
    const float32x4_t m = vdupq_n_f32(max);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), m));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    const float32x4_t s = vdupq_n_f32(sum);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vdivq_f32(vld1q_f32(x + i), s));
    for (; i < n; i++) x[i] /= sum;
}

void moee_neon_silu_mul(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gate + i);
        const float32x4_t e = exp4(vnegq_f32(g));
        vst1q_f32(gate + i, vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), vld1q_f32(up + i)));
    }
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void moee_neon_axpy(float *y, float a, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

/* score[j] = (q . k_j) * scale for j in [j0, j0 + nk), nk <= 4: four keys at once,
 * each with two accumulators (8 independent FMA chains), one fixed reduction per key,
 * the last head_dim % 8 columns added in order after it. */
static inline void dots4(const float *q, const float *k, int64_t ld_k, int64_t j0, int nk, int64_t head_dim,
                         float scale, float *score) {
    const float *kj[4];
    for (int u = 0; u < 4; u++) kj[u] = k + (j0 + (u < nk ? u : 0)) * ld_k;   /* past nk: key j0 again */
    float32x4_t lo[4], hi[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) lo[u] = hi[u] = vdupq_n_f32(0.0f);
    int64_t c = 0;
    for (; c + 8 <= head_dim; c += 8) {
        const float32x4_t q0 = vld1q_f32(q + c), q1 = vld1q_f32(q + c + 4);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            lo[u] = vfmaq_f32(lo[u], q0, vld1q_f32(kj[u] + c));
            hi[u] = vfmaq_f32(hi[u], q1, vld1q_f32(kj[u] + c + 4));
        }
    }
    float d[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) d[u] = vaddvq_f32(vaddq_f32(lo[u], hi[u]));
    for (int u = 0; u < nk; u++) {
        for (int64_t t = c; t < head_dim; t++) d[u] += q[t] * kj[u][t];
        score[j0 + u] = d[u] * scale;
    }
}

/* out[c] = sum_j p[j] v_j[c] for j <= last: 32 columns at a time, eight 4-lane
 * accumulators (independent chains), keys in order; the last head_dim % 4 columns
 * by the same sums in scalar. */
static inline void weighted_sum(const float *p, const float *v, int64_t ld_v, int64_t last, int64_t head_dim,
                                float *out) {
    const int64_t n_vec = head_dim / 4 * 4;
    for (int64_t c0 = 0; c0 < n_vec; c0 += 32) {
        const int nu = n_vec - c0 < 32 ? (int)((n_vec - c0) / 4) : 8;
        float32x4_t acc[8];
        for (int u = 0; u < 8; u++) acc[u] = vdupq_n_f32(0.0f);
        for (int64_t j = 0; j <= last; j++) {
            const float *vj = v + j * ld_v + c0;
            for (int u = 0; u < nu; u++) acc[u] = vfmaq_n_f32(acc[u], vld1q_f32(vj + 4 * u), p[j]);
        }
        for (int u = 0; u < nu; u++) vst1q_f32(out + c0 + 4 * u, acc[u]);
    }
    for (int64_t c = n_vec; c < head_dim; c++) {
        float acc = 0.0f;
        for (int64_t j = 0; j <= last; j++) acc += p[j] * v[j * ld_v + c];
        out[c] = acc;
    }
}

void moee_neon_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                              const float *v, int64_t ld_v, float *out, int64_t ld_out,
                              int64_t n, int64_t head_dim, float scale, float *scratch) {
    float *score = scratch;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j0 = 0; j0 <= i; j0 += 4)
            dots4(q + i * ld_q, k, ld_k, j0, i + 1 - j0 < 4 ? (int)(i + 1 - j0) : 4, head_dim, scale, score);
        moee_neon_softmax(score, i + 1);
        weighted_sum(score, v, ld_v, i, head_dim, out + i * ld_out);
    }
}

/* ggml's reference Q8_0 quantizer, bit for bit: d = max|x| / 127, id = 1/d (0 if d
 * is 0), q = roundf(x * id): FCVTAS rounds half away from zero, exactly like roundf. */
int moee_neon_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                           int64_t stride) {
    for (int64_t b = 0; b < n_blocks; b++) {
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0.0f);
        uint32x4_t finite = vdupq_n_u32(0xffffffffu);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + b * MOEE_QK + 4 * k);
            /* v - v is NaN (unequal to itself) exactly where v is NaN or infinite */
            const float32x4_t z = vsubq_f32(v[k], v[k]);
            finite = vandq_u32(finite, vceqq_f32(z, z));
            amax = vmaxnmq_f32(amax, vabsq_f32(v[k]));   /* ignores NaN, like fmaxf */
        }
        if (vminvq_u32(finite) == 0) return 0;   /* stop before converting */
        const float dd = vmaxvq_f32(amax) / 127.0f;
        const float id = dd ? 1.0f / dd : 0.0f;
        int32x4_t s = vdupq_n_s32(0);
        int32_t s16 = 0;
        int16x8_t q16[4];
        for (int k = 0; k < 4; k++) {
            const int32x4_t a = vcvtaq_s32_f32(vmulq_n_f32(v[2 * k], id));
            const int32x4_t c = vcvtaq_s32_f32(vmulq_n_f32(v[2 * k + 1], id));
            s = vaddq_s32(s, vaddq_s32(a, c));
            if (k == 1) s16 = vaddvq_s32(s);
            q16[k] = vcombine_s16(vmovn_s32(a), vmovn_s32(c));
        }
        vst1q_s8(qs + b * MOEE_QK, vcombine_s8(vmovn_s16(q16[0]), vmovn_s16(q16[1])));
        vst1q_s8(qs + b * MOEE_QK + 16, vcombine_s8(vmovn_s16(q16[2]), vmovn_s16(q16[3])));
        d[b * stride] = moee_f16_to_f32(moee_f32_to_f16(dd));
        sum16[b * stride] = s16;
        sum[b * stride] = vaddvq_s32(s);
    }
    return 1;
}
