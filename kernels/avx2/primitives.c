/* avx2/primitives.c: the transformer primitives that take time, 8 floats at a time
 * (AVX2 + FMA). Each has a scalar twin in kernels/primitives.c (the oracle); the
 * last n % 8 elements are done by the same scalar operations. */
#include <immintrin.h>
#include <math.h>
#include "kernels/variants.h"

/* Sum of 8 lanes, one fixed order. */
static inline float reduce_add8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float reduce_max8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 2^k for integer k in [-126, 127], built in the exponent field. */
static inline __m256 pow2i(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

/* e^x within about 2 ulps: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7
 * Taylor polynomial (truncation < 6e-9 relative), times 2^n applied in two halves
 * so that results down to the subnormals and up to overflow (inf) come out right.
 * NaN stays NaN (min/max return their second operand when one is NaN). */
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);       /* ln2 high part */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);      /* ln2 low part */
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);                 /* in [-150, 129] */
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    return _mm256_mul_ps(_mm256_mul_ps(p, pow2i(n1)), pow2i(n2));
}

void moee_avx2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float sum_sq = reduce_add8(acc);
    for (; i < n; i++) sum_sq += x[i] * x[i];
    const float inv_rms = 1.0f / sqrtf(sum_sq / (float)n + eps);
    const __m256 inv = _mm256_set1_ps(inv_rms);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = (x[i] * inv_rms) * w[i];
}

void moee_avx2_softmax(float *x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float max = reduce_max8(vmax);
    for (; i < n; i++) if (x[i] > max) max = x[i];
    const __m256 m = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = reduce_add8(acc);
    for (; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    const __m256 s = _mm256_set1_ps(sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), s));
    for (; i < n; i++) x[i] /= sum;
}

void moee_avx2_silu_mul(float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void moee_avx2_axpy(float *y, float a, const float *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* score[j] = (q . k_j) * scale for j in [j0, j0 + nk), nk <= 8: eight keys at once,
 * each with its own accumulator (independent FMA chains), one fixed reduction per
 * key, the last head_dim % 8 columns added in order after it. */
static inline void dots8(const float *q, const float *k, int64_t ld_k, int64_t j0, int nk, int64_t head_dim,
                         float scale, float *score) {
    const float *kj[8];
    for (int u = 0; u < 8; u++) kj[u] = k + (j0 + (u < nk ? u : 0)) * ld_k;   /* past nk: key j0 again */
    __m256 acc[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) acc[u] = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= head_dim; c += 8) {
        const __m256 qv = _mm256_loadu_ps(q + c);
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) acc[u] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kj[u] + c), acc[u]);
    }
    for (int u = 0; u < nk; u++) {
        float d = reduce_add8(acc[u]);
        for (int64_t t = c; t < head_dim; t++) d += q[t] * kj[u][t];
        score[j0 + u] = d * scale;
    }
}

/* out[c] = sum_j p[j] v_j[c] for j <= last: 64 columns at a time, eight 8-lane
 * accumulators (independent chains), keys in order; the last head_dim % 8 columns
 * by the same sums in scalar. */
static inline void weighted_sum(const float *p, const float *v, int64_t ld_v, int64_t last, int64_t head_dim,
                                float *out) {
    const int64_t n_vec = head_dim / 8 * 8;
    for (int64_t c0 = 0; c0 < n_vec; c0 += 64) {
        const int nu = n_vec - c0 < 64 ? (int)((n_vec - c0) / 8) : 8;
        __m256 acc[8];
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) acc[u] = _mm256_setzero_ps();
        if (nu == 8) {
            for (int64_t j = 0; j <= last; j++) {
                const __m256 pj = _mm256_set1_ps(p[j]);
                const float *vj = v + j * ld_v + c0;
#pragma GCC unroll 8
                for (int u = 0; u < 8; u++) acc[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * u), acc[u]);
            }
        } else {
            for (int64_t j = 0; j <= last; j++) {
                const __m256 pj = _mm256_set1_ps(p[j]);
                const float *vj = v + j * ld_v + c0;
                for (int u = 0; u < nu; u++) acc[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * u), acc[u]);
            }
        }
        for (int u = 0; u < nu; u++) _mm256_storeu_ps(out + c0 + 8 * u, acc[u]);
    }
    for (int64_t c = n_vec; c < head_dim; c++) {
        float acc = 0.0f;
        for (int64_t j = 0; j <= last; j++) acc += p[j] * v[j * ld_v + c];
        out[c] = acc;
    }
}

void moee_avx2_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                              const float *v, int64_t ld_v, float *out, int64_t ld_out,
                              int64_t n, int64_t head_dim, float scale, float *scratch) {
    float *score = scratch;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j0 = 0; j0 <= i; j0 += 8)
            dots8(q + i * ld_q, k, ld_k, j0, i + 1 - j0 < 8 ? (int)(i + 1 - j0) : 8, head_dim, scale, score);
        moee_avx2_softmax(score, i + 1);
        weighted_sum(score, v, ld_v, i, head_dim, out + i * ld_out);
    }
}

/* ggml's reference Q8_0 quantizer, bit for bit: d = max|x| / 127, id = 1/d (0 if d
 * is 0), q = roundf(x * id) -- round half away from zero, done exactly as
 * t = trunc(v); t += sign(v) if |v - t| >= 0.5 (v - t is exact). */
/* Sum of the 8 int32 lanes. */
static inline int32_t reduce_add8_epi32(__m256i s) {
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
}

int moee_avx2_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                           int64_t stride) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (int64_t b = 0; b < n_blocks; b++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps(), nonfinite = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + b * MOEE_QK + 8 * k);
            /* v - v is NaN exactly where v is NaN or infinite */
            const __m256 z = _mm256_sub_ps(v[k], v[k]);
            nonfinite = _mm256_or_ps(nonfinite, _mm256_cmp_ps(z, z, _CMP_UNORD_Q));
            /* max|x| ignoring NaN like fmaxf: vmaxps returns its second operand on NaN */
            amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[k]), amax);
        }
        if (_mm256_movemask_ps(nonfinite)) return 0;   /* stop before converting */
        const float dd = reduce_max8(amax) / 127.0f;
        const float id = dd ? 1.0f / dd : 0.0f;
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            const __m256 vv = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
            __m256 t = _mm256_round_ps(vv, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(vv, t));
            const __m256 up = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ),
                                            _mm256_or_ps(one, _mm256_and_ps(vv, sign_bit)));
            q[k] = _mm256_cvttps_epi32(_mm256_add_ps(t, up));
        }
        /* 4 x 8 int32 -> 32 int8 in order (the packs work per 128-bit lane) */
        const __m256i p16 = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16, p16b),
                                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(qs + b * MOEE_QK), p8);
        const int32_t s16 = reduce_add8_epi32(_mm256_add_epi32(q[0], q[1]));
        /* the scale rounded to fp16 (F16C: round to nearest even, as moee_f32_to_f16) */
        d[b * stride] = _cvtsh_ss(_cvtss_sh(dd, _MM_FROUND_TO_NEAREST_INT));
        sum16[b * stride] = s16;
        sum[b * stride] = s16 + reduce_add8_epi32(_mm256_add_epi32(q[2], q[3]));
    }
    return 1;
}
