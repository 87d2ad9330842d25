/* avx2/matmul.c: the matrix products with AVX2, FMA and F16C.
 *
 * Quantized weights (Q8_0, Q4_0): the GEMM of avx512/matmul.c -- tiles of 8 weight
 * rows x 4 tokens, the rows' blocks repacked so that a 32-byte vector holds the same
 * 4 columns of all 8 rows, the token's 4 bytes broadcast, so that lane i gathers
 * the exact block dot of row i with no horizontal adds; then per (token, row)
 * acc = acc + (float)isum * (d_w * d_x), bit-identical to the scalar oracle. The int8
 * products use vpmaddubsw (unsigned x signed bytes, adjacent pairs summed into
 * int16) and vpmaddwd by ones (int16 pairs into int32):
 *   Q8_0: |w| (unsigned; |-128| = 128) times x with w's sign moved onto it (vpsignb;
 *         |x| <= 127 so the negation is exact). A pair sum is at most 2*128*127 = 32512:
 *         no int16 saturation; each group goes to int32 at once.
 *   Q4_0: the nibble u (0..15) times x; a pair sum is at most 2*15*127 = 3810, so all
 *         8 groups of a block add up in int16 (<= 30480) before one vpmaddwd; the
 *         lane starts from -8 * sum x (the block's activation sum).
 * A last partial tile of tokens computes the zero pad tokens of the scratch and
 * does not store them. With few tokens the pack is not stored: Q8_0 with 1 or 2
 * tokens is not repacked at all, Q4_0, Q4_K, Q5_K and Q6_K with up to 8 are transposed
 * in registers (see below): same integers, same float sequence, same bits.
 *
 * Float weights: tiles of 2 rows x 4 tokens (the last n % 4 tokens one at a time),
 * 8 columns per step, one 8-lane FMA accumulator per (row, token); the last partial
 * step goes through zero-padded copies; one fixed reduction at the end. */
#include <immintrin.h>
#include <string.h>
#include "kernels/variants.h"
#include "kernels/avx2/pack.h"

/* Everything below is inlined into one kernel per weight type, so the type tests
 * are resolved at compile time (`type` is always a constant). */
#define INLINE static inline __attribute__((always_inline))

/* The mask of lanes 0..n-1 of 8 (the rows a tile really has), for maskload/maskstore. */
INLINE __m256i first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* ---- quantized weights ----------------------------------------------------------- */

#define PACK_ROWS 8      /* weight rows per tile: one per 32-bit lane of a ymm */
#define PACK_BLOCKS 64   /* blocks (2048 columns) packed at a time; longer rows go in chunks */

/* Up to PACK_BLOCKS blocks of 8 weight rows, repacked (kernels/avx2/pack.h). */
typedef struct {
    _Alignas(64) uint8_t q[PACK_BLOCKS][8][PACK_ROWS][4];  /* [block][group][row][byte] */
    _Alignas(64) float d[PACK_BLOCKS][PACK_ROWS];          /* the rows' block scales */
} weight_pack;

/* Packs blocks [b0, b0 + nb) of rows row[0..7] of W (n_blocks blocks per row). */
INLINE void pack_weights(uint32_t type, const moee_matrix *W, const int64_t row[PACK_ROWS], int64_t n_blocks,
                         int64_t b0, int64_t nb, weight_pack *pack, size_t ahead) {
    const uint8_t *blk[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++)
        blk[i] = (const uint8_t *)W->data + (size_t)(row[i] * n_blocks + b0) * pack_block_bytes(type);
    pack_rows8(type, 0, blk, nb, &pack->q[0][0][0][0], sizeof pack->q[0], sizeof pack->q[0][0], pack->d[0], PACK_ROWS,
               ahead);
}

/* The exact block sums of packed block pb (block b of the activations) for tokens
 * t0..t0+3: isum[j] lane i = row i . token t0+j. */
INLINE void tile_block_sums(uint32_t type, const weight_pack *pack, int64_t pb, const moee_qx *qx,
                            int64_t t0, int64_t b, __m256i isum[4]) {
    const int8_t *x = qx->qs + t0 * qx->cols + b * MOEE_QK;
    const __m256i ones = _mm256_set1_epi16(1);
    if (type == MOEE_TYPE_Q8_0) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) isum[j] = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {   /* (not unrolled: 16 registers are too few) */
            const __m256i w = _mm256_load_si256((const __m256i *)pack->q[pb][g]);
            const __m256i w_abs = _mm256_abs_epi8(w);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                int32_t x4;
                memcpy(&x4, x + j * qx->cols + 4 * g, 4);
                const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(x4), w);   /* x * sign(w) */
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, xs), ones));
            }
        }
        return;
    }
    __m256i s16[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) s16[j] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int g = 0; g < 8; g++) {
        const __m256i u = _mm256_load_si256((const __m256i *)pack->q[pb][g]);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            int32_t x4;
            memcpy(&x4, x + j * qx->cols + 4 * g, 4);
            s16[j] = _mm256_add_epi16(s16[j], _mm256_maddubs_epi16(u, _mm256_set1_epi32(x4)));
        }
    }
    const int32_t *sum = qx->sum + b * qx->n_pad + t0;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)   /* - 8 * sum x */
        isum[j] = _mm256_sub_epi32(_mm256_madd_epi16(s16[j], ones), _mm256_set1_epi32(sum[j] * 8));
}


/* Row tiles rt0..rt1-1 of 8 rows, all tokens. Blocks are done
 * PACK_BLOCKS at a time; between chunks the running sums wait in Y (a float is a
 * float: the sequence of operations is unchanged). */
INLINE void quant_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y,
                       int64_t rt0, int64_t rt1, weight_pack *pack) {
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[PACK_ROWS];
        const int n_rows = tile_rows(W, rt, PACK_ROWS, row);
        const __m256i row_mask = first_lanes(n_rows);
        float *y_tile = Y + rt * PACK_ROWS;          /* token t's 8 outputs: y_tile + t * W->rows */
        const size_t ahead = rows_ahead(W, (rt + 1) * PACK_ROWS, PACK_ROWS);
        for (int64_t b0 = 0; b0 < qx->n_blocks; b0 += PACK_BLOCKS) {
            const int64_t nb = qx->n_blocks - b0 < PACK_BLOCKS ? qx->n_blocks - b0 : PACK_BLOCKS;
            pack_weights(type, W, row, qx->n_blocks, b0, nb, pack, ahead);
            for (int64_t t0 = 0; t0 < qx->n_tokens; t0 += 4) {
                const int n_tok = qx->n_tokens - t0 < 4 ? (int)(qx->n_tokens - t0) : 4;
                __m256 acc[4];
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    acc[j] = b0 == 0 || j >= n_tok ? _mm256_setzero_ps()
                                                   : _mm256_maskload_ps(y_tile + (t0 + j) * W->rows, row_mask);
                for (int64_t pb = 0; pb < nb; pb++) {
                    __m256i isum[4];
                    tile_block_sums(type, pack, pb, qx, t0, b0 + pb, isum);
                    const __m256 dw = _mm256_load_ps(pack->d[pb]);
                    const float *dx = qx->d + (b0 + pb) * qx->n_pad + t0;
#pragma GCC unroll 4
                    for (int j = 0; j < 4; j++) {
                        /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
                        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(dx[j]));
                        acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[j]), scale));
                    }
                }
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)   /* (constant j: acc stays in registers) */
                    if (j < n_tok) _mm256_maskstore_ps(y_tile + (t0 + j) * W->rows, row_mask, acc[j]);
            }
        }
    }
}
static void quant_rows_q8_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    weight_pack pack;
    quant_rows(MOEE_TYPE_Q8_0, W, qx, Y, rt0, rt1, &pack);
}
static void quant_rows_q4_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    weight_pack pack;
    quant_rows(MOEE_TYPE_Q4_0, W, qx, Y, rt0, rt1, &pack);
}

/* ---- Q8_0 with few tokens: no repacking --------------------------------------------
 * With 1 or 2 tokens (common: a MoE expert often gets only a few of a short text's
 * tokens) packing the weights would cost more than the products. (Q4_0 and the
 * K-quants, up to 8 tokens, are transposed in registers instead: below.) Each block
 * dot is done in place (a row's 32 bytes against the token's 32 bytes leave 8 int32
 * partial sums), and the 8 rows' partial sums are added up together (a transposing
 * horizontal add) into one vector of 8 exact block sums. The integers are the same
 * as the GEMM's, and so is the float sequence: the results are bit-identical. */

/* [sum(v0), ..., sum(v7)] from eight vectors of 8 int32 lanes. */
INLINE __m256i reduce8(__m256i v0, __m256i v1, __m256i v2, __m256i v3,
                       __m256i v4, __m256i v5, __m256i v6, __m256i v7) {
    const __m256i a = _mm256_hadd_epi32(v0, v1), b = _mm256_hadd_epi32(v2, v3);
    const __m256i c = _mm256_hadd_epi32(v4, v5), d = _mm256_hadd_epi32(v6, v7);
    const __m256i e = _mm256_hadd_epi32(a, b), f = _mm256_hadd_epi32(c, d);
    /* e = [v0..v3 low-half sums | v0..v3 high-half sums], f likewise for v4..v7 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(e, f, 0x20), _mm256_permute2x128_si256(e, f, 0x31));
}

/* 8 int32 lanes summing to the block dot of w (Q8_0 values) with the token's 32 bytes x. */
INLINE __m256i dot_lanes(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

/* Y for rows row[0..7] and the nt (1 or 2) tokens of qx. */
INLINE void few_tokens_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[PACK_ROWS], int n_rows,
                            const moee_qx *qx, float *Y, size_t ahead) {
    const __m256i row_mask = first_lanes(n_rows);
    const size_t bb = pack_block_bytes(type);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        const uint8_t *blk[PACK_ROWS];
        uint16_t d16[PACK_ROWS];
        for (int i = 0; i < PACK_ROWS; i++) {
            blk[i] = (const uint8_t *)W->data + (size_t)(row[i] * qx->n_blocks + b) * bb;
            memcpy(&d16[i], blk[i], 2);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16));
        if (ahead) prefetch_rows8(blk, ahead);
        for (int j = 0; j < nt; j++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(qx->qs + j * qx->cols + b * MOEE_QK));
            __m256i isum = reduce8(dot_lanes(pack_block_values(type, 0, blk[0]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[1]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[2]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[3]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[4]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[5]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[6]), x),
                                   dot_lanes(pack_block_values(type, 0, blk[7]), x));
            /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
            const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(qx->d[b * qx->n_pad + j]));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
        }
    }
    for (int j = 0; j < nt; j++) _mm256_maskstore_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

INLINE void few_tokens_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[PACK_ROWS];
        const int n_rows = tile_rows(W, rt, PACK_ROWS, row);
        const size_t ahead = rows_ahead(W, (rt + 1) * PACK_ROWS, PACK_ROWS);
        if (qx->n_tokens == 1) few_tokens_tile(type, 1, W, row, n_rows, qx, Y, ahead);
        else few_tokens_tile(type, 2, W, row, n_rows, qx, Y, ahead);
    }
}
static void few_tokens_q8_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    few_tokens_rows(MOEE_TYPE_Q8_0, W, qx, Y, rt0, rt1);
}

/* ---- every other quantized type ----------------------------------------------------
 * Tiles of 8 rows x 4 tokens over the type table's integer form (kernels/matmul.c):
 * the packer stores each row's 32 values u - offset as signed bytes (they fit for
 * every type) and the block's d, m, sc, mn from the table; the products are the
 * Q8_0 ones above (|w| times x with w's sign, pairs into int32 at once). Types with
 * two sub-block scales per 32 keep the halves (groups 0-3, 4-7) apart and combine
 * them with the integer scales; types with a minimum add (float)msum * (m * d_x).
 * Same integers, same float sequence as the scalar oracle: bit-identical. */

typedef struct {
    _Alignas(64) uint8_t q[PACK_BLOCKS][8][PACK_ROWS][4];
    _Alignas(64) float d[PACK_BLOCKS][PACK_ROWS];
    _Alignas(64) float m[PACK_BLOCKS][PACK_ROWS];
    _Alignas(64) int32_t sc[PACK_BLOCKS][2][PACK_ROWS];
    _Alignas(64) int32_t mn[PACK_BLOCKS][2][PACK_ROWS];
} generic_pack;

INLINE void pack_generic(uint32_t type, int sub16, const moee_type_traits *tt, const moee_matrix *W,
                         const int64_t row[PACK_ROWS], int64_t b0, int64_t nb, generic_pack *pack, size_t ahead) {
    const size_t row_bytes = moee_type_row_bytes(type, W->cols);
    const uint8_t *rp[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++) rp[i] = (const uint8_t *)W->data + (size_t)row[i] * row_bytes;
    const __m256i off = _mm256_set1_epi8((char)tt->offset);
    for (int64_t pb = 0; pb < nb; pb++) {
        if (ahead)   /* about the same columns of the rows one tile on */
            prefetch_rows8(rp, (size_t)(b0 + pb) * row_bytes / (size_t)(W->cols / MOEE_QK) + ahead);
        __m256i r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_sub_epi8(codes32(type, rp[i], b0 + pb), off);
        transpose8_store(r, &pack->q[pb][0][0][0], sizeof pack->q[0][0]);
    }
    pack_scales(type, sub16, rp, PACK_ROWS, b0, nb, &pack->d[0][0], &pack->m[0][0], &pack->sc[0][0][0],
                &pack->mn[0][0][0]);
}

/* sum over groups g0..g0+3 of the signed products of packed block pb with x */
INLINE __m256i generic_groups(const generic_pack *pack, int64_t pb, int g0, const int8_t *x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int g = g0; g < g0 + 4; g++) {
        const __m256i w = _mm256_load_si256((const __m256i *)pack->q[pb][g]);
        int32_t x4;
        memcpy(&x4, x + 4 * g, 4);
        const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(x4), w);   /* x * sign(w) */
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), xs), ones));
    }
    return acc;
}

INLINE __m256i generic_isum(int sub16, const generic_pack *pack, int64_t pb, const int8_t *x) {
    const __m256i lo = generic_groups(pack, pb, 0, x), hi = generic_groups(pack, pb, 4, x);
    if (!sub16) return _mm256_add_epi32(lo, hi);
    return _mm256_add_epi32(_mm256_mullo_epi32(lo, _mm256_load_si256((const __m256i *)pack->sc[pb][0])),
                            _mm256_mullo_epi32(hi, _mm256_load_si256((const __m256i *)pack->sc[pb][1])));
}

INLINE void generic_rows(uint32_t type, int sub16, int has_min, const moee_matrix *W, const moee_qx *qx, float *Y,
                         int64_t rt) {
    generic_pack pack;
    const moee_type_traits *tt = moee_type(type);
    int64_t row[PACK_ROWS];
    const int n_rows = tile_rows(W, rt, PACK_ROWS, row);
    const __m256i row_mask = first_lanes(n_rows);
    float *y_tile = Y + rt * PACK_ROWS;
    const size_t ahead = rows_ahead(W, (rt + 1) * PACK_ROWS, PACK_ROWS);
    for (int64_t b0 = 0; b0 < qx->n_blocks; b0 += PACK_BLOCKS) {
        const int64_t nb = qx->n_blocks - b0 < PACK_BLOCKS ? qx->n_blocks - b0 : PACK_BLOCKS;
        pack_generic(type, sub16, tt, W, row, b0, nb, &pack, ahead);
        for (int64_t t0 = 0; t0 < qx->n_tokens; t0 += 4) {
            const int n_tok = qx->n_tokens - t0 < 4 ? (int)(qx->n_tokens - t0) : 4;
            __m256 acc[4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[j] = b0 == 0 || j >= n_tok ? _mm256_setzero_ps()
                                               : _mm256_maskload_ps(y_tile + (t0 + j) * W->rows, row_mask);
            for (int64_t pb = 0; pb < nb; pb++) {
                const int64_t b = b0 + pb;
                const __m256 dw = _mm256_load_ps(pack.d[pb]);
                const float *dx = qx->d + b * qx->n_pad + t0;
                const float *sum_d = qx->sum_d + b * qx->n_pad + t0;
                const int32_t *s = qx->sum + b * qx->n_pad + t0, *s16 = qx->sum16 + b * qx->n_pad + t0;
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    const __m256i isum = generic_isum(sub16, &pack, pb, qx->qs + (t0 + j) * qx->cols + b * MOEE_QK);
                    /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
                    acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum),
                                                                 _mm256_mul_ps(dw, _mm256_set1_ps(dx[j]))));
                    if (has_min) {   /* acc + m * ((float)msum * d_x) */
                        __m256 mdx;
                        if (sub16)
                            mdx = _mm256_mul_ps(
                                _mm256_cvtepi32_ps(_mm256_add_epi32(
                                    _mm256_mullo_epi32(_mm256_load_si256((const __m256i *)pack.mn[pb][0]),
                                                       _mm256_set1_epi32(s16[j])),
                                    _mm256_mullo_epi32(_mm256_load_si256((const __m256i *)pack.mn[pb][1]),
                                                       _mm256_set1_epi32(s[j] - s16[j])))),
                                _mm256_set1_ps(dx[j]));
                        else
                            mdx = _mm256_set1_ps(sum_d[j]);
                        acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_load_ps(pack.m[pb]), mdx));
                    }
                }
            }
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                if (j < n_tok) _mm256_maskstore_ps(y_tile + (t0 + j) * W->rows, row_mask, acc[j]);
        }
    }
}

/* ---- Q4_K, Q5_K, Q6_K with few tokens: no pack in memory ------------------------
 * As avx512/matmul.c's few16 path, on 8 rows: with up to FEW_TOKENS tokens each
 * 256-element super-block of 8 rows is transposed in registers (transpose8 of the rows'
 * 32-byte pieces; the byte layouts are described there) and its scales put one row per
 * lane, then used at once. The weights stay unsigned codes u (0..15, 0..31 or 0..63)
 * multiplied with vpmaddubsw by the signed activations (a pair sum is at most 2 x 63 x
 * 127: no int16 saturation), and Q6_K's offset 32 comes off through the activation
 * sums, as on AVX-512. Same integers and float sequence as generic_rows: same bits. */

#define FEW_TOKENS 8

typedef struct {
    __m256i q[8][8];          /* the super-block's 8 blocks x 8 groups, lane = row */
    __m256 d[8], m[8];        /* per block: scale and minimum (Q4_K, Q5_K) */
    __m256i sc[8][2];         /* Q6_K: the two integer sub-scales of each block */
} few_k_super;

/* The 32 bytes at off of 8 rows, transposed (lane = row). */
INLINE void rows8_groups(const uint8_t *const first[PACK_ROWS], size_t off, __m256i out[8]) {
    __m256i r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_si256((const __m256i *)(first[i] + off));
    transpose8(r, out);
}

INLINE void few_k_decode(uint32_t type, const uint8_t *const first[PACK_ROWS], size_t off, few_k_super *s) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    if (type == MOEE_TYPE_Q6_K) {
        for (int h = 0; h < 2; h++) {
            __m256i hi[8];
            rows8_groups(first, off + 128 + 32 * (size_t)h, hi);
            for (int part = 0; part < 2; part++) {
                __m256i lo[8];
                rows8_groups(first, off + 64 * (size_t)h + 32 * (size_t)part, lo);
                const __m256i bits45 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) {
                    const __m256i top_a = part == 0 ? _mm256_slli_epi16(hi[g], 4) : _mm256_slli_epi16(hi[g], 2);
                    const __m256i top_b = part == 0 ? hi[g] : _mm256_srli_epi16(hi[g], 2);
                    s->q[4 * h + part][g] = _mm256_or_si256(_mm256_and_si256(lo[g], low4),
                                                            _mm256_and_si256(top_a, bits45));
                    s->q[4 * h + part + 2][g] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo[g], 4), low4),
                                                                _mm256_and_si256(top_b, bits45));
                }
            }
        }
        /* per row: the 16 int8 sub-scales, even (first half of a block) and odd bytes
         * widened to int32 (lane k = block k), then transposed to lane = row */
        __m256i even[8], odd[8];
        const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
        uint16_t d16[PACK_ROWS];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(first[i] + off + 192)), split);
            even[i] = _mm256_cvtepi8_epi32(b);
            odd[i] = _mm256_cvtepi8_epi32(_mm_srli_si128(b, 8));
            memcpy(&d16[i], first[i] + off + 208, 2);
        }
        __m256i sc0[8], sc1[8];
        transpose8(even, sc0);
        transpose8(odd, sc1);
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16));
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            s->d[k] = d;
            s->sc[k][0] = sc0[k];
            s->sc[k][1] = sc1[k];
        }
        return;
    }
    /* Q4_K, Q5_K */
    const size_t qs = type == MOEE_TYPE_Q4_K ? 16 : 48;
    __m256i qh[8];
    if (type == MOEE_TYPE_Q5_K) rows8_groups(first, off + 16, qh);
    for (int c = 0; c < 4; c++) {
        __m256i nib[8];
        rows8_groups(first, off + qs + 32 * (size_t)c, nib);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            s->q[2 * c][g] = _mm256_and_si256(nib[g], low4);
            s->q[2 * c + 1][g] = _mm256_and_si256(_mm256_srli_epi16(nib[g], 4), low4);
            if (type == MOEE_TYPE_Q5_K)
                for (int e = 0; e < 2; e++) {   /* bit k = 2c + e of qh to bit 4 */
                    const int k = 2 * c + e;
                    const __m256i at4 = k <= 4 ? _mm256_slli_epi16(qh[g], 4 - k) : _mm256_srli_epi16(qh[g], k - 4);
                    s->q[k][g] = _mm256_or_si256(s->q[k][g], _mm256_and_si256(at4, _mm256_set1_epi8(0x10)));
                }
        }
    }
    /* the scales and minimums of each row's 8 blocks (q45k_scales8), transposed */
    __m256i d_rows[8], m_rows[8], d_t[8], m_t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        float d8[8], m8[8];
        q45k_scales8(first[i] + off, d8, m8);
        d_rows[i] = _mm256_castps_si256(_mm256_loadu_ps(d8));
        m_rows[i] = _mm256_castps_si256(_mm256_loadu_ps(m8));
    }
    transpose8(d_rows, d_t);
    transpose8(m_rows, m_t);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        s->d[k] = _mm256_castsi256_ps(d_t[k]);
        s->m[k] = _mm256_castsi256_ps(m_t[k]);
    }
}

/* sum over groups g0..g0+3 of block k's codes times the token's bytes x (unsigned x signed) */
INLINE __m256i few_k_groups(const few_k_super *s, int k, int g0, const int8_t *x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int g = g0; g < g0 + 4; g++) {
        int32_t x4;
        memcpy(&x4, x + 4 * g, 4);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(s->q[k][g], _mm256_set1_epi32(x4)), ones));
    }
    return acc;
}

INLINE void few_k_tile(uint32_t type, int NT, const moee_matrix *W, const int64_t row[PACK_ROWS], int n_rows,
                       const moee_qx *qx, float *Y, size_t ahead) {
    const int sub16 = type == MOEE_TYPE_Q6_K, has_min = !sub16, offset = sub16 ? 32 : 0;
    const __m256i row_mask = first_lanes(n_rows);
    const size_t row_bytes = moee_type_row_bytes(type, W->cols);
    const size_t super_bytes = moee_type(type)->block_bytes;
    const uint8_t *first[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++) first[i] = (const uint8_t *)W->data + (size_t)row[i] * row_bytes;
    __m256 acc[FEW_TOKENS];
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    few_k_super s;
    for (int64_t sb = 0; sb < qx->n_blocks / 8; sb++) {
        const size_t off = (size_t)sb * super_bytes;
        if (ahead) prefetch_rows8_span(first, off + ahead, super_bytes);
        few_k_decode(type, first, off, &s);
        for (int k = 0; k < 8; k++) {
            const int64_t b = 8 * sb + k;
            const int8_t *x = qx->qs + b * MOEE_QK;
            const int32_t *sum = qx->sum + b * qx->n_pad, *sum16 = qx->sum16 + b * qx->n_pad;
            const float *dx = qx->d + b * qx->n_pad;
            const float *sum_d = qx->sum_d + b * qx->n_pad;
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                const int8_t *xj = x + j * qx->cols;
                __m256i isum;
                if (!sub16) {
                    isum = _mm256_add_epi32(few_k_groups(&s, k, 0, xj), few_k_groups(&s, k, 4, xj));
                } else {   /* (lo - 32 sum16) * sc_lo + (hi - 32 (sum - sum16)) * sc_hi */
                    const __m256i lo = _mm256_sub_epi32(few_k_groups(&s, k, 0, xj), _mm256_set1_epi32(offset * sum16[j]));
                    const __m256i hi = _mm256_sub_epi32(few_k_groups(&s, k, 4, xj),
                                                        _mm256_set1_epi32(offset * (sum[j] - sum16[j])));
                    isum = _mm256_add_epi32(_mm256_mullo_epi32(lo, s.sc[k][0]), _mm256_mullo_epi32(hi, s.sc[k][1]));
                }
                /* acc + (float)isum * (d_w * d_x), then acc + m * ((float)msum * d_x): generic_rows' sequence */
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum),
                                                             _mm256_mul_ps(s.d[k], _mm256_set1_ps(dx[j]))));
                if (has_min)
                    acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(s.m[k], _mm256_set1_ps(sum_d[j])));
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) _mm256_maskstore_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

/* Q4_0 the same way, block by block: a row's 16 nibble bytes are its 4 dwords, dword
 * k holding group k (low nibbles) and group k + 4 (high); rows p and p + 4 go into the
 * two 128-bit lanes of vector p, and one 4 x 4 dword transpose per lane gives the
 * groups with lane i = row i. The 8 groups' pair sums add up in int16 (at most 8 x 2 x
 * 15 x 127 = 30480) before one vpmaddwd, as in the GEMM, from -8 x (activation sum). */
INLINE void few_q4_0_tile(int NT, const moee_matrix *W, const int64_t row[PACK_ROWS], int n_rows, const moee_qx *qx,
                          float *Y, size_t ahead) {
    const __m256i row_mask = first_lanes(n_rows);
    const size_t bb = sizeof(moee_block_q4_0);
    const uint8_t *first[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++) first[i] = (const uint8_t *)W->data + (size_t)(row[i] * qx->n_blocks) * bb;
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[FEW_TOKENS];
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        const size_t off = (size_t)b * bb;
        __m256i z[4];
        uint16_t d16[PACK_ROWS];
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++)
            z[p] = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(first[4 + p] + off + 2)),
                                    _mm_loadu_si128((const __m128i *)(first[p] + off + 2)));
#pragma GCC unroll 8
        for (int i = 0; i < PACK_ROWS; i++) memcpy(&d16[i], first[i] + off, 2);
        const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
        const __m256i dword[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                                  _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        __m256i q[8];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            q[k] = _mm256_and_si256(dword[k], low4);
            q[k + 4] = _mm256_and_si256(_mm256_srli_epi16(dword[k], 4), low4);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16));
        if (ahead) prefetch_rows8(first, off + ahead);
        const int8_t *x = qx->qs + b * MOEE_QK;
        const int32_t *sum = qx->sum + b * qx->n_pad;
        const float *dx = qx->d + b * qx->n_pad;
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++) {
            __m256i pairs = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                int32_t x4;
                memcpy(&x4, x + j * qx->cols + 4 * g, 4);
                pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(q[g], _mm256_set1_epi32(x4)));
            }
            const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(pairs, ones), _mm256_set1_epi32(8 * sum[j]));
            /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
            const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(dx[j]));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) _mm256_maskstore_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

INLINE void few_tile(uint32_t type, int NT, const moee_matrix *W, const int64_t row[PACK_ROWS], int n_rows,
                     const moee_qx *qx, float *Y, size_t ahead) {
    if (type == MOEE_TYPE_Q4_0) few_q4_0_tile(NT, W, row, n_rows, qx, Y, ahead);
    else few_k_tile(type, NT, W, row, n_rows, qx, Y, ahead);
}

/* Row tiles rt0..rt1-1 of 8 rows, 1..FEW_TOKENS tokens (a kernel per count). */
INLINE void few_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[PACK_ROWS];
        const int n_rows = tile_rows(W, rt, PACK_ROWS, row);
        const size_t ahead = rows_ahead(W, (rt + 1) * PACK_ROWS, PACK_ROWS);
        switch (qx->n_tokens) {
        case 1: few_tile(type, 1, W, row, n_rows, qx, Y, ahead); break;
        case 2: few_tile(type, 2, W, row, n_rows, qx, Y, ahead); break;
        case 3: few_tile(type, 3, W, row, n_rows, qx, Y, ahead); break;
        case 4: few_tile(type, 4, W, row, n_rows, qx, Y, ahead); break;
        case 5: few_tile(type, 5, W, row, n_rows, qx, Y, ahead); break;
        case 6: few_tile(type, 6, W, row, n_rows, qx, Y, ahead); break;
        case 7: few_tile(type, 7, W, row, n_rows, qx, Y, ahead); break;
        default: few_tile(type, 8, W, row, n_rows, qx, Y, ahead); break;
        }
    }
}

/* One kernel per type: type, sub16 and has_min are constants in each. */
#define GENERIC(T, SUB16, MIN) \
    static void rows_##T(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt) { \
        generic_rows(MOEE_TYPE_##T, SUB16, MIN, W, qx, Y, rt); \
    }
GENERIC(Q4_1, 0, 1)
GENERIC(Q5_0, 0, 0)
GENERIC(Q5_1, 0, 1)
GENERIC(IQ4_NL, 0, 0)
GENERIC(Q2_K, 1, 1)
GENERIC(Q3_K, 1, 0)
GENERIC(Q4_K, 0, 1)
GENERIC(Q5_K, 0, 1)
GENERIC(Q6_K, 1, 0)
GENERIC(IQ4_XS, 0, 0)
#undef GENERIC

typedef void (*generic_kernel)(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt);

static generic_kernel generic_for(uint32_t type) {
    switch (type) {
#define CASE(T) case MOEE_TYPE_##T: return rows_##T;
    MOEE_GENERIC_QUANT_TYPES(CASE)
#undef CASE
    default: return NULL;
    }
}

void moee_avx2_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1) {
    const int64_t rt0 = r0 / PACK_ROWS, rt1 = (r1 + PACK_ROWS - 1) / PACK_ROWS;   /* PACK_ROWS divides MOEE_ROW_BLOCK */
    if (qx->n_tokens <= FEW_TOKENS) {   /* no pack in memory: transposed in registers */
        switch (W->type) {
        case MOEE_TYPE_Q4_0: few_rows(MOEE_TYPE_Q4_0, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q4_K: few_rows(MOEE_TYPE_Q4_K, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q5_K: few_rows(MOEE_TYPE_Q5_K, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q6_K: few_rows(MOEE_TYPE_Q6_K, W, qx, Y, rt0, rt1); return;
        default: break;
        }
    }
    const generic_kernel gk = generic_for(W->type);
    if (gk) {
        for (int64_t rt = rt0; rt < rt1; rt++) gk(W, qx, Y, rt);
        return;
    }
    const int few = qx->n_tokens <= 2;   /* (measured: from 3 tokens on, packing pays) */
    if (few && W->type == MOEE_TYPE_Q8_0) few_tokens_q8_0(W, qx, Y, rt0, rt1);
    else if (W->type == MOEE_TYPE_Q8_0) quant_rows_q8_0(W, qx, Y, rt0, rt1);
    else quant_rows_q4_0(W, qx, Y, rt0, rt1);
}

/* For the tests: block b of (row r, token t) through the matmul's own pack and
 * micro-kernel. */
static int32_t block_dot_typed(uint32_t type, const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx,
                               int64_t t) {
    weight_pack pack;
    int64_t row[PACK_ROWS] = {r, r, r, r, r, r, r, r}, t0 = t / 4 * 4;
    pack_weights(type, W, row, qx->n_blocks, b, 1, &pack, 0);
    __m256i isum[4];
    tile_block_sums(type, &pack, 0, qx, t0, b, isum);
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, isum[t - t0]);
    return lanes[0];
}

int32_t moee_avx2_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t) {
    if (W->type != MOEE_TYPE_Q8_0 && W->type != MOEE_TYPE_Q4_0) {   /* through the generic pack and isum */
        const moee_type_traits *tt = moee_type(W->type);
        generic_pack pack;
        int64_t row[PACK_ROWS];
        for (int i = 0; i < PACK_ROWS; i++) row[i] = r;
        pack_generic(W->type, 1, tt, W, row, b, 1, &pack, 0);
        const __m256i isum = generic_isum(tt->sub16, &pack, 0, qx->qs + t * qx->cols + b * MOEE_QK);
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, isum);
        return lanes[0];
    }
    return W->type == MOEE_TYPE_Q8_0 ? block_dot_typed(MOEE_TYPE_Q8_0, W, r, b, qx, t)
                                     : block_dot_typed(MOEE_TYPE_Q4_0, W, r, b, qx, t);
}

/* ---- float weights -------------------------------------------------------------- */

#define FTILE_R 2         /* weight rows per float tile */
#define TILE_T 4          /* tokens per float tile */
#define TOKEN_CHUNK 64    /* tokens whose activations stay in L2 while the rows stream */

/* 8 elements at p of a row of `type`, widened to float. */
INLINE __m256 load8_as_float(uint32_t type, const void *p) {
    if (type == MOEE_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    if (type == MOEE_TYPE_BF16)    /* bf16 is the top half of a float */
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
    return _mm256_loadu_ps(p);
}

INLINE size_t elem_bytes(uint32_t type) { return type == MOEE_TYPE_F32 ? 4 : 2; }

/* Sum of 8 lanes, one fixed order. */
INLINE float reduce_add8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One step of 8 columns for 2 rows x nt tokens: xp[j] token j's columns, wp[i] row i's. */
INLINE void float_step(uint32_t type, int nt, const float *const xp[TILE_T], const uint8_t *const wp[FTILE_R],
                       __m256 acc[FTILE_R][TILE_T]) {
    __m256 xv[TILE_T];
#pragma GCC unroll 4
    for (int j = 0; j < nt; j++) xv[j] = _mm256_loadu_ps(xp[j]);
#pragma GCC unroll 2
    for (int i = 0; i < FTILE_R; i++) {
        const __m256 w = load8_as_float(type, wp[i]);
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j] = _mm256_fmadd_ps(xv[j], w, acc[i][j]);
    }
}

/* Y for rows row[0..1] x the nt (4 or 1) token rows x[0..nt-1]: one 8-lane FMA
 * accumulator per (row, token); a (row, token) gets the same operations whatever
 * nt is. */
INLINE void float_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[FTILE_R], int n_rows,
                       const float *const x[TILE_T], const int64_t tok[TILE_T], float *Y) {
    const size_t eb = elem_bytes(type);
    const uint8_t *w[FTILE_R];
    __m256 acc[FTILE_R][TILE_T];
#pragma GCC unroll 2
    for (int i = 0; i < FTILE_R; i++) {
        w[i] = (const uint8_t *)W->data + (size_t)(row[i] * W->cols) * eb;
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j] = _mm256_setzero_ps();
    }
    int64_t c = 0;
    for (; c + 8 <= W->cols; c += 8) {
        const float *xp[TILE_T];
        const uint8_t *wp[FTILE_R] = {w[0] + c * eb, w[1] + c * eb};
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) xp[j] = x[j] + c;
        float_step(type, nt, xp, wp, acc);
    }
    if (c < W->cols) {    /* the last partial step, through zero-padded copies */
        float xt[TILE_T][8] = {{0}};
        uint8_t wt[FTILE_R][32] = {{0}};
        const size_t n = (size_t)(W->cols - c);
        const float *xp[TILE_T];
        const uint8_t *wp[FTILE_R] = {wt[0], wt[1]};
        for (int j = 0; j < nt; j++) { memcpy(xt[j], x[j] + c, n * sizeof(float)); xp[j] = xt[j]; }
        memcpy(wt[0], w[0] + c * eb, n * eb);
        memcpy(wt[1], w[1] + c * eb, n * eb);
        float_step(type, nt, xp, wp, acc);
    }
    float y[FTILE_R][TILE_T];   /* (constant indices, so acc stays in registers) */
#pragma GCC unroll 2
    for (int i = 0; i < FTILE_R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) y[i][j] = reduce_add8(acc[i][j]);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < nt; j++) Y[tok[j] * W->rows + row[i]] = y[i][j];
}

/* The float driver (row tiles x token chunks, the public entry) is shared by
 * every ISA: it calls this file's float_tile. */
#define FLOAT_TILE_ROWS FTILE_R
#define FLOAT_MATMUL moee_avx2_matmul_float
#include "kernels/float_rows.h"
