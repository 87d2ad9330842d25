/* avx512/primitives.c: the transformer primitives that take time, 16 floats at a
 * time (AVX-512F); the last n % 16 elements use masked loads and stores. Each has a
 * scalar twin in kernels/primitives.c (the oracle). */
#include <immintrin.h>
#include <math.h>
#include "kernels/variants.h"

/* Lanes [0, n) of a 16-lane vector, for n < 16 (all lanes for n >= 16). */
static inline __mmask16 first(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

/* e^x within about 2 ulps: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7
 * Taylor polynomial (truncation < 6e-9 relative), scaled by 2^n with vscalefps (which
 * gets subnormal results and overflow to inf right). NaN stays NaN. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);       /* min/max keep a NaN (second operand) */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);       /* ln2 high part */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);      /* ln2 low part */
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

void moee_avx512_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __m512 v = _mm512_maskz_loadu_ps(first(n - i), x + i);
        acc = _mm512_fmadd_ps(v, v, acc);
    }
    const float inv_rms = 1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)n + eps);
    const __m512 inv = _mm512_set1_ps(inv_rms);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first(n - i);
        const __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv),
                                       _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(out + i, m, y);
    }
}

/* The scalar twin's products and sums (a c - b s, b c + a s, no fused multiply-add):
 * the same bits. NEOX pairs (i, i + half): 16 pairs a step from the two halves. NORM
 * pairs (2i, 2i + 1): 8 pairs a step, interleaved in one vector as [a0 b0 a1 b1 ...],
 * with cos and sin duplicated per pair and b's partner swapped in (a c + b (-s) is
 * a c - b s exactly). */
void moee_avx512_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t, const float *sin_t,
                      int mode) {
    const int64_t half = head_dim / 2;
    const __m512i pair_of = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512 minus_on_a = _mm512_castsi512_ps(_mm512_set1_epi64(0x80000000));   /* sign bit of even lanes */
    for (int64_t h = 0; h < n_heads; h++) {
        float *u = x + h * head_dim;
        if (mode == MOEE_ROPE_NEOX) {
            for (int64_t i = 0; i < half; i += 16) {
                const __mmask16 m = first(half - i);
                const __m512 a = _mm512_maskz_loadu_ps(m, u + i), b = _mm512_maskz_loadu_ps(m, u + half + i);
                const __m512 c = _mm512_maskz_loadu_ps(m, cos_t + i), s = _mm512_maskz_loadu_ps(m, sin_t + i);
                _mm512_mask_storeu_ps(u + i, m, _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)));
                _mm512_mask_storeu_ps(u + half + i, m, _mm512_add_ps(_mm512_mul_ps(b, c), _mm512_mul_ps(a, s)));
            }
            continue;
        }
        for (int64_t i = 0; i < half; i += 8) {   /* pairs i..i+7: floats 2i..2i+15 */
            const __mmask16 m = first(2 * (half - i)), m8 = first(half - i) & 0xff;
            const __m512 ab = _mm512_maskz_loadu_ps(m, u + 2 * i);
            const __m512 c = _mm512_permutexvar_ps(pair_of, _mm512_maskz_loadu_ps(m8, cos_t + i));
            const __m512 s = _mm512_xor_ps(_mm512_permutexvar_ps(pair_of, _mm512_maskz_loadu_ps(m8, sin_t + i)),
                                           minus_on_a);
            const __m512 ba = _mm512_permute_ps(ab, 0xB1);   /* [b0 a0 b1 a1 ...] */
            _mm512_mask_storeu_ps(u + 2 * i, m, _mm512_add_ps(_mm512_mul_ps(ab, c), _mm512_mul_ps(ba, s)));
        }
    }
}

void moee_avx512_softmax(float *x, int64_t n) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16)
        vmax = _mm512_mask_max_ps(vmax, first(n - i), vmax, _mm512_maskz_loadu_ps(first(n - i), x + i));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first(n - i);
        const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    const __m512 s = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), s));
    }
}

void moee_avx512_silu_mul(float *gate, const float *up, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 y = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(k, up + i));
        _mm512_mask_storeu_ps(gate + i, k, y);
    }
}

void moee_avx512_axpy(float *y, float a, const float *x, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first(n - i);
        const __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}

/* The sum of a vector's 16 lanes by one fixed tree (written out, not left to a
 * compiler's reduction intrinsic, so that sum16x16 below is sure to match it): lane i
 * + lane i+8, then i + i+4, i + i+2, i + i+1. */
static inline float sum16(__m512 a) {
    const __m256 s = _mm256_add_ps(_mm512_castps512_ps256(a),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)));
}

/* sum16 of 16 vectors at once, by the same tree (the same bits), with 15 adds and 30
 * shuffles instead of 16 x 4 adds and extractions: lane 4b + c of the result is
 * sum16(a[4c + b]). Each step adds two shuffles of two vectors, pairing the lanes
 * that sum16 pairs. */
static inline __m512 sum16x16(const __m512 a[16]) {
    __m512 v[8], w[4], z[2];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)   /* i + i+8: [a[2k] sums | a[2k+1] sums], 8 lanes each */
        v[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xee));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)   /* i + i+4: 128-bit block b holds a[4k + b]'s 4 sums */
        w[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xdd));
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++)   /* i + i+2: in each block, 2 sums of two vectors */
        z[k] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * k], w[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(w[2 * k], w[2 * k + 1], 0xee));
    return _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], 0x88), _mm512_shuffle_ps(z[0], z[1], 0xdd));   /* i + i+1 */
}

/* score[j] = (q . k_j) * scale for j in [j0, j0 + nk), nk <= 8: eight keys at once,
 * each with its own accumulator (independent FMA chains), one fixed reduction per key. */
static inline void dots8(const float *q, const float *k, int64_t ld_k, int64_t j0, int nk, int64_t head_dim,
                         float scale, float *score) {
    const float *kj[8];
    for (int u = 0; u < 8; u++) kj[u] = k + (j0 + (u < nk ? u : 0)) * ld_k;   /* past nk: key j0 again */
    __m512 acc[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) acc[u] = _mm512_setzero_ps();
    for (int64_t c = 0; c < head_dim; c += 16) {
        const __mmask16 m = first(head_dim - c);
        const __m512 qv = _mm512_maskz_loadu_ps(m, q + c);
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) acc[u] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, kj[u] + c), acc[u]);
    }
    for (int u = 0; u < nk; u++) score[j0 + u] = sum16(acc[u]) * scale;
}

/* out[c] = sum_j p[j] v_j[c] for j <= last: 128 columns at a time, eight 16-lane
 * accumulators (independent chains), keys in order. */
static inline void weighted_sum(const float *p, const float *v, int64_t ld_v, int64_t last, int64_t head_dim,
                                float *out) {
    for (int64_t c0 = 0; c0 < head_dim; c0 += 128) {
        __mmask16 m[8];
        __m512 acc[8];
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            const int64_t c = c0 + 16 * u;
            m[u] = c < head_dim ? first(head_dim - c) : 0;
            acc[u] = _mm512_setzero_ps();
        }
        for (int64_t j = 0; j <= last; j++) {
            const __m512 pj = _mm512_set1_ps(p[j]);
            const float *vj = v + j * ld_v + c0;
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) acc[u] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m[u], vj + 16 * u), acc[u]);
        }
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) _mm512_mask_storeu_ps(out + c0 + 16 * u, m[u], acc[u]);
    }
}

/* Queries are taken ATT_QT at a time where they can be: each key and value row is
 * then loaded once for ATT_QT queries instead of once per query (alone, a query's
 * dot products and weighted sum do one load per multiply-add and run at the speed of
 * the loads). Every (query, key) dot and every (query, column) sum is the same chain
 * of operations as in dots8 and weighted_sum, so the bits do not depend on whether a
 * query went alone or in a tile. */
#define ATT_QT 4   /* (dots_tile: 4 queries x 4 keys, the 16 sums in one vector) */

/* score[qi * ld_score + j] = (q_{qi} . k_j) * scale for the ATT_QT queries at q (rows
 * ld_q apart) and keys j0..j0+nk-1, nk <= 4: 16 independent chains. */
static inline void dots_tile(const float *q, int64_t ld_q, const float *k, int64_t ld_k, int64_t j0, int nk,
                             int64_t head_dim, float scale, float *score, int64_t ld_score) {
    const float *kj[4];
    for (int u = 0; u < 4; u++) kj[u] = k + (j0 + (u < nk ? u : 0)) * ld_k;   /* past nk: key j0 again */
    __m512 acc[ATT_QT][4];
#pragma GCC unroll 4
    for (int qi = 0; qi < ATT_QT; qi++)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) acc[qi][u] = _mm512_setzero_ps();
    for (int64_t c = 0; c < head_dim; c += 16) {
        const __mmask16 m = first(head_dim - c);
        __m512 kv[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) kv[u] = _mm512_maskz_loadu_ps(m, kj[u] + c);
#pragma GCC unroll 4
        for (int qi = 0; qi < ATT_QT; qi++) {
            const __m512 qv = _mm512_maskz_loadu_ps(m, q + qi * ld_q + c);
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) acc[qi][u] = _mm512_fmadd_ps(qv, kv[u], acc[qi][u]);
        }
    }
    __m512 a[16];   /* a[4u + qi]: then lanes 4 qi .. 4 qi + 3 of the sums are query qi's 4 keys */
#pragma GCC unroll 4
    for (int qi = 0; qi < ATT_QT; qi++)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) a[4 * u + qi] = acc[qi][u];
    const __m512 dots = _mm512_mul_ps(sum16x16(a), _mm512_set1_ps(scale));
    const __mmask8 keys = (__mmask8)((1u << nk) - 1);
    _mm_mask_storeu_ps(score + 0 * ld_score + j0, keys, _mm512_extractf32x4_ps(dots, 0));
    _mm_mask_storeu_ps(score + 1 * ld_score + j0, keys, _mm512_extractf32x4_ps(dots, 1));
    _mm_mask_storeu_ps(score + 2 * ld_score + j0, keys, _mm512_extractf32x4_ps(dots, 2));
    _mm_mask_storeu_ps(score + 3 * ld_score + j0, keys, _mm512_extractf32x4_ps(dots, 3));
}

/* out row i0 + qi = sum_{j <= i0 + qi} p[qi * ld_p + j] v_j for the ATT_QT queries of
 * a tile: each value row loaded once for all of them, 64 columns at a time; per
 * (query, column) one chain over the keys in order, as in weighted_sum. */
static inline void weighted_sum_tile(const float *p, int64_t ld_p, const float *v, int64_t ld_v, int64_t i0,
                                     int64_t head_dim, float *out, int64_t ld_out) {
    for (int64_t c0 = 0; c0 < head_dim; c0 += 64) {
        __mmask16 m[4];
        __m512 acc[ATT_QT][4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const int64_t c = c0 + 16 * u;
            m[u] = c < head_dim ? first(head_dim - c) : 0;
#pragma GCC unroll 4
            for (int qi = 0; qi < ATT_QT; qi++) acc[qi][u] = _mm512_setzero_ps();
        }
        /* keys 0..i0 for every query, then key i0 + d only for the queries from d on */
        for (int64_t j = 0; j < i0 + ATT_QT; j++) {
            const float *vj = v + j * ld_v + c0;
            __m512 vv[4];
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) vv[u] = _mm512_maskz_loadu_ps(m[u], vj + 16 * u);
            const int first_query = j <= i0 ? 0 : (int)(j - i0);
#pragma GCC unroll 4
            for (int qi = 0; qi < ATT_QT; qi++) {
                if (qi < first_query) continue;
                const __m512 pj = _mm512_set1_ps(p[qi * ld_p + j]);
#pragma GCC unroll 4
                for (int u = 0; u < 4; u++) acc[qi][u] = _mm512_fmadd_ps(pj, vv[u], acc[qi][u]);
            }
        }
#pragma GCC unroll 4
        for (int qi = 0; qi < ATT_QT; qi++)
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) _mm512_mask_storeu_ps(out + (i0 + qi) * ld_out + c0 + 16 * u, m[u], acc[qi][u]);
    }
}

void moee_avx512_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                                const float *v, int64_t ld_v, float *out, int64_t ld_out,
                                int64_t n, int64_t head_dim, float scale, float *scratch) {
    int64_t i = 0;
    for (; i + ATT_QT <= n; i += ATT_QT) {   /* score rows: scratch + qi * n */
        for (int64_t j0 = 0; j0 < i + ATT_QT; j0 += 4)
            dots_tile(q + i * ld_q, ld_q, k, ld_k, j0, i + ATT_QT - j0 < 4 ? (int)(i + ATT_QT - j0) : 4, head_dim,
                      scale, scratch, n);
        for (int qi = 0; qi < ATT_QT; qi++) moee_avx512_softmax(scratch + qi * n, i + qi + 1);
        weighted_sum_tile(scratch, n, v, ld_v, i, head_dim, out, ld_out);
    }
    for (; i < n; i++) {   /* the last n % ATT_QT queries one by one */
        for (int64_t j0 = 0; j0 <= i; j0 += 8)
            dots8(q + i * ld_q, k, ld_k, j0, i + 1 - j0 < 8 ? (int)(i + 1 - j0) : 8, head_dim, scale, scratch);
        moee_avx512_softmax(scratch, i + 1);
        weighted_sum(scratch, v, ld_v, i, head_dim, out + i * ld_out);
    }
}

/* roundf(v) to int32 -- round half away from zero, done exactly as
 * t = trunc(v); t += sign(v) if |v - t| >= 0.5 (v - t is exact). */
static inline __m512i round_half_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    /* t + copysign(1, v) where the dropped fraction is at least one half */
    const __m512 sign_one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, sign_one));
}

/* One block's 32 values x quantized with inverse scale id into qs; returns the sum of
 * its 32 values and sets *s16 to that of its first 16. The values go out as one
 * 32-byte store, and the sums come from it: a sum of absolute differences of the bytes
 * made unsigned (+128) against zero gives four sums of 8 bytes each. */
static inline int32_t quantize_block(const float *x, __m512 id, int8_t *qs, int32_t *s16) {
    const __m128i lo = _mm512_cvtepi32_epi8(round_half_away(_mm512_mul_ps(_mm512_loadu_ps(x), id)));
    const __m128i hi = _mm512_cvtepi32_epi8(round_half_away(_mm512_mul_ps(_mm512_loadu_ps(x + 16), id)));
    const __m256i bytes = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    _mm256_storeu_si256((__m256i *)qs, bytes);
    const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(bytes, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    const __m128i s_lo = _mm256_castsi256_si128(sad), s_hi = _mm256_extracti128_si256(sad, 1);
    *s16 = _mm_cvtsi128_si32(s_lo) + _mm_extract_epi32(s_lo, 2) - 16 * 128;
    return *s16 + _mm_cvtsi128_si32(s_hi) + _mm_extract_epi32(s_hi, 2) - 16 * 128;
}

/* max|x| of a block ignoring NaN like fmaxf (vmaxps returns its second operand on NaN),
 * still as 16 lanes */
static inline __m512 block_abs_max(const float *x) {
    return _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16)),
                         _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x)), _mm512_setzero_ps()));
}

/* Whether a block holds a NaN or an infinity (v - v is NaN exactly there). */
static inline int block_nonfinite(const float *x) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    return _mm512_cmp_ps_mask(_mm512_sub_ps(v0, v0), _mm512_sub_ps(v1, v1), _CMP_UNORD_Q) != 0;
}

/* d = max/127, its fp16 value as float (F16C: round to nearest even, as
 * moee_f32_to_f16), and id = 1/d or 0, for 16 blocks' maxima at once */
static inline void block_scales(__m512 amax, __m512 *d16, __m512 *id) {
    const __m512 dd = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    *d16 = _mm512_cvtph_ps(_mm512_cvtps_ph(dd, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    *id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(dd, _mm512_setzero_ps(), _CMP_NEQ_OQ), _mm512_set1_ps(1.0f), dd);
}

/* Lane i: the largest of a[i]'s 16 lanes. The shuffle tree of sum16x16 (a maximum of
 * non-NaN values does not depend on the order), its lane order then undone. */
static inline __m512 max16x16(const __m512 a[16]) {
    __m512 v[8], w[4], z[2];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        v[k] = _mm512_max_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xee));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        w[k] = _mm512_max_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xdd));
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++)
        z[k] = _mm512_max_ps(_mm512_shuffle_ps(w[2 * k], w[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(w[2 * k], w[2 * k + 1], 0xee));
    const __m512 m = _mm512_max_ps(_mm512_shuffle_ps(z[0], z[1], 0x88), _mm512_shuffle_ps(z[0], z[1], 0xdd));
    /* lane 4b + c holds a[4c + b]'s maximum: lane k takes lane 4 (k % 4) + k / 4 */
    return _mm512_permutexvar_ps(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), m);
}

/* ggml's reference Q8_0 quantizer, bit for bit: d = max|x| / 127, id = 1/d (0 if d is
 * 0), q = roundf(x * id). Blocks are quantized 16 at a time: their maxima reduced
 * together, their scales divided together (per block, the two divisions and the fp16
 * rounding were a chain of latencies); the last n_blocks % 16 one by one. */
int moee_avx512_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                             int64_t stride) {
    int64_t b = 0;
    for (; b + 16 <= n_blocks; b += 16) {
        const float *xb = x + b * MOEE_QK;
        int bad = 0;
        __m512 amax[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            bad |= block_nonfinite(xb + i * MOEE_QK);
            amax[i] = block_abs_max(xb + i * MOEE_QK);
        }
        if (bad) return 0;   /* before converting */
        __m512 d16, id;
        block_scales(max16x16(amax), &d16, &id);
        _Alignas(64) float dv[16], idv[16];
        _mm512_store_ps(dv, d16);
        _mm512_store_ps(idv, id);
        for (int i = 0; i < 16; i++) {
            d[(b + i) * stride] = dv[i];
            sum[(b + i) * stride] = quantize_block(xb + i * MOEE_QK, _mm512_set1_ps(idv[i]),
                                                   qs + (b + i) * MOEE_QK, &sum16[(b + i) * stride]);
        }
    }
    for (; b < n_blocks; b++) {
        const float *xb = x + b * MOEE_QK;
        if (block_nonfinite(xb)) return 0;
        __m512 d16, id;
        block_scales(_mm512_set1_ps(_mm512_reduce_max_ps(block_abs_max(xb))), &d16, &id);
        d[b * stride] = _mm512_cvtss_f32(d16);
        sum[b * stride] = quantize_block(xb, id, qs + b * MOEE_QK, &sum16[b * stride]);
    }
    return 1;
}
