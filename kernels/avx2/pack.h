/* pack.h: repacking 8 rows of Q8_0 / Q4_0 weight blocks for the x86 GEMM kernels
 * (avx2/matmul.c and avx512/matmul.c; needs AVX2 + F16C).
 *
 * Each block's 32 values are split into 8 groups of 4 consecutive columns. The pack
 * stores, per block and group, the 4 bytes of every row side by side:
 *     q[b][g] = [row0 cols 4g..4g+3 | row1 cols 4g..4g+3 | ... | row7 cols 4g..4g+3]
 * so a 32-bit lane of a vector belongs to one row, and a dot-product instruction
 * against the token's 4 bytes broadcast to all lanes advances all the rows' block
 * sums at once. Rows are transposed 8 x 8 dwords at a time. */
#ifndef MOEE_KERNELS_AVX2_PACK_H
#define MOEE_KERNELS_AVX2_PACK_H
#include <immintrin.h>
#include <string.h>
#include "kernels/variants.h"

static inline __attribute__((always_inline)) size_t pack_block_bytes(uint32_t type) {
    return type == MOEE_TYPE_Q8_0 ? sizeof(moee_block_q8_0) : sizeof(moee_block_q4_0);
}

/* Weights are read once per matmul call, straight from memory (a model is far larger
 * than the caches), and a tile reads 8-32 rows side by side: more interleaved streams
 * than the hardware prefetchers follow. So while a tile works on one block of its
 * rows it asks for the same block of the rows one tile further on, `ahead` bytes
 * later (rows are stored one after the other; 0: no next tile). With few tokens per
 * call this more than halves the time of a short text's forward pass. */
static inline __attribute__((always_inline)) void prefetch_rows8(const uint8_t *const row[8], size_t offset) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) _mm_prefetch((const char *)row[i] + offset, _MM_HINT_T0);
}

/* The same for a span of `bytes` from offset (e.g. a whole K-quant super-block): every
 * cache line of it in each of the 8 rows. */
static inline __attribute__((always_inline)) void prefetch_rows8_span(const uint8_t *const row[8], size_t offset,
                                                                      size_t bytes) {
    for (size_t line = 0; line < bytes; line += 64) prefetch_rows8(row, offset + line);
}

/* A block's 32 values as bytes: Q8_0 the int8 values (with the sign bit flipped,
 * i.e. + 128 as unsigned, if flip_q8), Q4_0 the nibbles 0..15 in element order. */
static inline __attribute__((always_inline)) __m256i pack_block_values(uint32_t type, int flip_q8,
                                                                       const uint8_t *blk) {
    if (type == MOEE_TYPE_Q8_0) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
        return flip_q8 ? _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)) : q;
    }
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + 2));
    const __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0f));                    /* elements 0..15 */
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f)); /* elements 16..31 */
    return _mm256_set_m128i(hi, lo);
}

/* Packs nb consecutive blocks of 8 weight rows (blk[i]: row i's first block):
 * block b, group g goes to q + b * block_stride + g * group_stride (32 bytes: the
 * 8 rows' 4 bytes), the 8 scales to d + b * d_stride. The two x86 kernels use
 * different strides (AVX-512 interleaves two such 8-row halves). */
static inline __attribute__((always_inline)) void pack_rows8(uint32_t type, int flip_q8, const uint8_t *const blk[8],
                                                             int64_t nb, uint8_t *q, size_t block_stride,
                                                             size_t group_stride, float *d, size_t d_stride,
                                                             size_t ahead) {
    const size_t bb = pack_block_bytes(type);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)b * bb;
        if (ahead) prefetch_rows8(blk, off + ahead);
        uint16_t d16[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) memcpy(&d16[i], blk[i] + off, 2);
        _mm256_store_ps(d + (size_t)b * d_stride, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16)));
        uint8_t *qb = q + (size_t)b * block_stride;
        if (type == MOEE_TYPE_Q4_0) {
            /* Q4_0: byte dword k of a row holds group k (low nibbles) and group k + 4
             * (high nibbles), so transpose the 16 bytes (4 dwords) of the 8 rows first
             * and split the nibbles after: half the shuffles. */
            __m128i r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) r[i] = _mm_loadu_si128((const __m128i *)(blk[i] + off + 2));
            __m128i h[2][4];   /* h[half][k] = dword k of rows 4*half .. 4*half+3 */
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                const __m128i *rr = r + 4 * half;
                const __m128i t0 = _mm_unpacklo_epi32(rr[0], rr[1]), t1 = _mm_unpackhi_epi32(rr[0], rr[1]);
                const __m128i t2 = _mm_unpacklo_epi32(rr[2], rr[3]), t3 = _mm_unpackhi_epi32(rr[2], rr[3]);
                h[half][0] = _mm_unpacklo_epi64(t0, t2);
                h[half][1] = _mm_unpackhi_epi64(t0, t2);
                h[half][2] = _mm_unpacklo_epi64(t1, t3);
                h[half][3] = _mm_unpackhi_epi64(t1, t3);
            }
            const __m256i low4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i t = _mm256_set_m128i(h[1][k], h[0][k]);
                _mm256_store_si256((__m256i *)(qb + (size_t)k * group_stride), _mm256_and_si256(t, low4));
                _mm256_store_si256((__m256i *)(qb + (size_t)(k + 4) * group_stride),
                                   _mm256_and_si256(_mm256_srli_epi16(t, 4), low4));
            }
            continue;
        }
        /* r_i = row i's 8 groups (dwords); transpose so that group k of the 8 rows is contiguous */
        const __m256i r0 = pack_block_values(type, flip_q8, blk[0] + off), r1 = pack_block_values(type, flip_q8, blk[1] + off);
        const __m256i r2 = pack_block_values(type, flip_q8, blk[2] + off), r3 = pack_block_values(type, flip_q8, blk[3] + off);
        const __m256i r4 = pack_block_values(type, flip_q8, blk[4] + off), r5 = pack_block_values(type, flip_q8, blk[5] + off);
        const __m256i r6 = pack_block_values(type, flip_q8, blk[6] + off), r7 = pack_block_values(type, flip_q8, blk[7] + off);
        const __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
        const __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
        const __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
        const __m256i t6 = _mm256_unpacklo_epi32(r6, r7), t7 = _mm256_unpackhi_epi32(r6, r7);
        /* u0 = groups 0 | 4 of rows 0-3, u1 = 1 | 5, u2 = 2 | 6, u3 = 3 | 7; u4..u7 rows 4-7 */
        const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
        const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
        _mm256_store_si256((__m256i *)(qb + 0 * group_stride), _mm256_permute2x128_si256(u0, u4, 0x20));
        _mm256_store_si256((__m256i *)(qb + 1 * group_stride), _mm256_permute2x128_si256(u1, u5, 0x20));
        _mm256_store_si256((__m256i *)(qb + 2 * group_stride), _mm256_permute2x128_si256(u2, u6, 0x20));
        _mm256_store_si256((__m256i *)(qb + 3 * group_stride), _mm256_permute2x128_si256(u3, u7, 0x20));
        _mm256_store_si256((__m256i *)(qb + 4 * group_stride), _mm256_permute2x128_si256(u0, u4, 0x31));
        _mm256_store_si256((__m256i *)(qb + 5 * group_stride), _mm256_permute2x128_si256(u1, u5, 0x31));
        _mm256_store_si256((__m256i *)(qb + 6 * group_stride), _mm256_permute2x128_si256(u2, u6, 0x31));
        _mm256_store_si256((__m256i *)(qb + 7 * group_stride), _mm256_permute2x128_si256(u3, u7, 0x31));
    }
}

/* ---- every other quantized type: the type table's integer form ---------------------
 * codes32 gives the 32 unsigned codes u of 32-block b of a row (types.h,
 * moee_block32), in element order, with 32-byte loads and shifts; the scales come
 * from the type table (moee_type_traits.scales). */

/* Bit j of the 32-bit word h as byte j: 0 or `val`. */
static inline __attribute__((always_inline)) __m256i bits_to_bytes(uint32_t h, char val) {
    const __m256i rep = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h),
                                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                             2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, bit), bit), _mm256_set1_epi8(val));
}

/* 16 bytes of nibbles as 32 values: low nibbles (elements 0..15), then high. */
static inline __attribute__((always_inline)) __m256i nibbles32(const uint8_t *p) {
    const __m128i q = _mm_loadu_si128((const __m128i *)p);
    const __m128i m = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

/* 32 bytes at p shifted right by `shift` bits, low `mask` bits kept. */
static inline __attribute__((always_inline)) __m256i field32(const uint8_t *p, int shift, char mask) {
    const __m256i q = _mm256_loadu_si256((const __m256i *)p);
    return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(mask));
}

static inline __attribute__((always_inline)) __m256i iq4_lookup(__m256i nib) {
    /* moee_iq4nl_values + 128 */
    const __m256i table = _mm256_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153,
                                           (char)166, (char)181, (char)197, (char)217, (char)241,
                                           1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153,
                                           (char)166, (char)181, (char)197, (char)217, (char)241);
    return _mm256_shuffle_epi8(table, nib);
}

static inline __attribute__((always_inline)) __m256i codes32(uint32_t type, const uint8_t *row, int64_t b) {
    const int k = (int)(b % 8);
    uint32_t h;
    switch (type) {
    case MOEE_TYPE_Q8_0: return pack_block_values(type, 1, row + b * sizeof(moee_block_q8_0));
    case MOEE_TYPE_Q4_0: return nibbles32(row + b * sizeof(moee_block_q4_0) + 2);
    case MOEE_TYPE_Q4_1: return nibbles32(row + b * sizeof(moee_block_q4_1) + 4);
    case MOEE_TYPE_IQ4_NL: return iq4_lookup(nibbles32(row + b * sizeof(moee_block_iq4_nl) + 2));
    case MOEE_TYPE_Q5_0: {
        const uint8_t *blk = row + b * sizeof(moee_block_q5_0);
        memcpy(&h, blk + 2, 4);
        return _mm256_or_si256(nibbles32(blk + 6), bits_to_bytes(h, 0x10));
    }
    case MOEE_TYPE_Q5_1: {
        const uint8_t *blk = row + b * sizeof(moee_block_q5_1);
        memcpy(&h, blk + 4, 4);
        return _mm256_or_si256(nibbles32(blk + 8), bits_to_bytes(h, 0x10));
    }
    case MOEE_TYPE_Q2_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q2_K);
        return field32(blk + 16 + (k / 4) * 32, 2 * (k % 4), 3);
    }
    case MOEE_TYPE_Q3_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q3_K);
        return _mm256_or_si256(field32(blk + 32 + (k / 4) * 32, 2 * (k % 4), 3),
                               _mm256_slli_epi16(field32(blk, k, 1), 2));
    }
    case MOEE_TYPE_Q4_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q4_K);
        return field32(blk + 16 + (k / 2) * 32, 4 * (k & 1), 0x0f);
    }
    case MOEE_TYPE_Q5_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q5_K);
        return _mm256_or_si256(field32(blk + 48 + (k / 2) * 32, 4 * (k & 1), 0x0f),
                               _mm256_slli_epi16(field32(blk + 16, k, 1), 4));
    }
    case MOEE_TYPE_Q6_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q6_K);
        const int hh = k / 4, g = k % 4;
        return _mm256_or_si256(field32(blk + hh * 64 + (g & 1) * 32, 4 * (g >> 1), 0x0f),
                               _mm256_slli_epi16(field32(blk + 128 + hh * 32, 2 * g, 3), 4));
    }
    default: /* MOEE_TYPE_IQ4_XS */
        return iq4_lookup(nibbles32(row + (b / 8) * sizeof(moee_block_iq4_xs) + 8 + 16 * k));
    }
}

/* The type table's scales of 32-block b of a row (moee_type_traits.scales), inlined
 * with the hardware fp16 conversion (exact, like moee_f16_to_f32): the same d, m, sc,
 * mn, without a call per block. */
static inline __attribute__((always_inline)) float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
static inline __attribute__((always_inline)) void scales32(uint32_t type, const uint8_t *row, int64_t b, float *d,
                                                           float *m, int32_t sc[2], int32_t mn[2]) {
    const int k = (int)(b % 8);
    sc[0] = sc[1] = 1;
    mn[0] = mn[1] = 0;
    *m = 0.0f;
    switch (type) {
    case MOEE_TYPE_Q4_1: case MOEE_TYPE_Q5_1: {
        const uint8_t *blk = row + b * (type == MOEE_TYPE_Q4_1 ? sizeof(moee_block_q4_1) : sizeof(moee_block_q5_1));
        *d = f16_at(blk);
        *m = f16_at(blk + 2);
        mn[0] = mn[1] = 1;
        return;
    }
    case MOEE_TYPE_Q5_0: *d = f16_at(row + b * sizeof(moee_block_q5_0)); return;
    case MOEE_TYPE_IQ4_NL: *d = f16_at(row + b * sizeof(moee_block_iq4_nl)); return;
    case MOEE_TYPE_Q2_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q2_K);
        for (int h = 0; h < 2; h++) { sc[h] = blk[2 * k + h] & 0xF; mn[h] = blk[2 * k + h] >> 4; }
        *d = f16_at(blk + 80);
        *m = -f16_at(blk + 82);
        return;
    }
    case MOEE_TYPE_Q3_K: {
        const uint8_t *scales = row + (b / 8) * sizeof(moee_block_q3_K) + 96;
        for (int h = 0; h < 2; h++) {
            const int j = 2 * k + h;
            const int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
            sc[h] = (lo | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        }
        *d = f16_at(scales + 12);
        return;
    }
    case MOEE_TYPE_Q4_K: case MOEE_TYPE_Q5_K: {
        const uint8_t *blk = row + (b / 8) * (type == MOEE_TYPE_Q4_K ? sizeof(moee_block_q4_K) : sizeof(moee_block_q5_K));
        const uint8_t *q = blk + 4;
        int s6, m6;
        if (k < 4) { s6 = q[k] & 63; m6 = q[k + 4] & 63; }
        else { s6 = (q[k + 4] & 0xF) | ((q[k - 4] >> 6) << 4); m6 = (q[k + 4] >> 4) | ((q[k] >> 6) << 4); }
        *d = f16_at(blk) * s6;
        *m = -(f16_at(blk + 2) * m6);
        mn[0] = mn[1] = 1;
        return;
    }
    case MOEE_TYPE_Q6_K: {
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_q6_K);
        sc[0] = (int8_t)blk[192 + 2 * k];
        sc[1] = (int8_t)blk[193 + 2 * k];
        *d = f16_at(blk + 208);
        return;
    }
    default: { /* MOEE_TYPE_IQ4_XS */
        const uint8_t *blk = row + (b / 8) * sizeof(moee_block_iq4_xs);
        uint16_t sh;
        memcpy(&sh, blk + 2, 2);
        const int ls = ((blk[4 + k / 2] >> 4 * (k % 2)) & 0xf) | (((sh >> 2 * k) & 3) << 4);
        *d = f16_at(blk) * (ls - 32);
        return;
    }
    }
}

/* Q4_K / Q5_K: the scales d and minimums m (scales32's) of all 8 blocks of the
 * super-block at blk at once: the 12 bytes of 6-bit scales and minimums unpacked with
 * byte shuffles (per block k: k < 4 low 6 bits of bytes k and k + 4; k >= 4 a nibble of
 * byte k + 4 and the top 2 bits of bytes k - 4 and k), then d = d_super * scale and
 * m = -(dmin_super * min): the same operations as scales32, on 8 lanes. */
static inline __attribute__((always_inline)) void q45k_scales8(const uint8_t *blk, float d[8], float m[8]) {
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + 4));   /* 12 scale bytes + 4 of the codes */
    /* lanes 0-7 the scales' low bits, 8-15 the minimums' */
    const __m128i a = _mm_shuffle_epi8(q, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i low_mask = _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0);
    const __m128i a_high_nibble = _mm_and_si128(_mm_srli_epi16(a, 4),
                                                _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m128i lo = _mm_or_si128(_mm_and_si128(a, low_mask), a_high_nibble);
    /* the top 2 bits of bytes 0-3 (scales 4-7) and 4-7 (minimums 4-7), as bits 4-5 */
    const __m128i b = _mm_shuffle_epi8(q, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i v = _mm_or_si128(lo, _mm_and_si128(_mm_srli_epi16(b, 2), _mm_set1_epi8(0x30)));
    const __m256 scale = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    const __m256 minimum = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
    _mm256_storeu_ps(d, _mm256_mul_ps(_mm256_set1_ps(f16_at(blk)), scale));
    _mm256_storeu_ps(m, _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(f16_at(blk + 2)), minimum),
                                      _mm256_set1_ps(-0.0f)));
}

/* The scales of blocks b0..b0+nb-1 of n_rows rows (rp[i]: row i) into a pack's arrays:
 * row i of packed block pb at d[pb * n_rows + i] (m likewise) and, for the types with
 * two integer sub-scales (sub16), sc[(pb * 2 + h) * n_rows + i] (mn likewise). */
static inline __attribute__((always_inline)) void pack_scales(uint32_t type, int sub16, const uint8_t *const rp[],
                                                              int n_rows, int64_t b0, int64_t nb, float *d,
                                                              float *m, int32_t *sc, int32_t *mn) {
    const int q45k = type == MOEE_TYPE_Q4_K || type == MOEE_TYPE_Q5_K;
    const size_t super_bytes = type == MOEE_TYPE_Q4_K ? sizeof(moee_block_q4_K) : sizeof(moee_block_q5_K);
    for (int i = 0; i < n_rows; i++) {
        for (int64_t pb = 0; pb < nb;) {
            const int64_t b = b0 + pb;
            if (q45k && b % 8 == 0 && pb + 8 <= nb) {   /* a whole super-block */
                float d8[8], m8[8];
                q45k_scales8(rp[i] + (size_t)(b / 8) * super_bytes, d8, m8);
                for (int k = 0; k < 8; k++, pb++) {
                    d[pb * n_rows + i] = d8[k];
                    m[pb * n_rows + i] = m8[k];
                }
                continue;
            }
            int32_t s2[2], m2[2];
            scales32(type, rp[i], b, &d[pb * n_rows + i], &m[pb * n_rows + i], s2, m2);
            if (sub16)
                for (int h = 0; h < 2; h++) {
                    sc[(pb * 2 + h) * n_rows + i] = s2[h];
                    mn[(pb * 2 + h) * n_rows + i] = m2[h];
                }
            pb++;
        }
    }
}

/* The 8 groups (dwords) of 8 rows' 32-byte vectors, transposed: out[g] lane i = dword g
 * of r[i]. */
static inline __attribute__((always_inline)) void transpose8(const __m256i r[8], __m256i out[8]) {
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    out[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    out[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    out[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    out[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    out[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    out[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* Stores the 8 groups (dwords) of 8 rows' 32-byte vectors transposed: group g of
 * the 8 rows at q + g * group_stride (32 bytes). */
static inline __attribute__((always_inline)) void transpose8_store(const __m256i r[8], uint8_t *qb, size_t group_stride) {
    __m256i g[8];
    transpose8(r, g);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) _mm256_store_si256((__m256i *)(qb + k * group_stride), g[k]);
}

#endif
