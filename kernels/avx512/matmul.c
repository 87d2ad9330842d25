/* avx512/matmul.c: the matrix products with AVX-512 (F, BW, VL, DQ) and VNNI.
 *
 * Quantized weights (Q8_0, Q4_0): a GEMM over tiles of 32 weight rows x 4 tokens
 * (two packs of 16 rows; 16 x 8 where a call has only 16 rows left).
 *   The int8 instruction is vpdpbusd: in each 32-bit lane it multiplies 4 UNSIGNED
 *   bytes by 4 SIGNED bytes and adds the 4 products to the lane. To get one exact
 *   block sum per lane without any horizontal adds, the 16 rows' weight blocks are
 *   first repacked (once per call, per 16 rows; kernels/avx2/pack.h) so that a
 *   64-byte vector holds the same 4 columns of all 16 rows ("group" g = columns
 *   4g..4g+3 of the block):
 *       pack.q[b][g] = [row0 cols 4g..4g+3 | row1 cols 4g..4g+3 | ... | row15 ...]
 *   and the token's 4 bytes of the same columns are broadcast to every lane. Eight
 *   vpdpbusd (g = 0..7) then leave in lane i the whole block dot of row i. One packed
 *   weight vector serves 4 tokens; one broadcast activation serves 32 rows.
 *   The weights are made unsigned in the pack, and the activations stay signed:
 *     Q8_0: u = w + 128 (flip the sign bit): sum u*x = sum w*x + 128 * sum x
 *     Q4_0: u = nibble (0..15), value u - 8:  sum (u-8)*x = sum u*x - 8 * sum x
 *   so each lane starts from -(128 or 8) * (the block's activation sum, computed
 *   once per call by moee_quantize_x: qx->neg_sum128 / neg_sum8) and ends with the
 *   exact int32 block sum.
 *   Then, per (token, row), acc = acc + (float)isum * (d_w * d_x) in block order, the
 *   scalar oracle's exact sequence: the output is bit-identical to scalar.
 *   A last partial tile of tokens computes the zero pad tokens of the scratch and
 *   does not store them. With few tokens the pack is not stored: Q4_0 with up to 8
 *   tokens is transposed in registers block by block, Q4_K, Q5_K and Q6_K super-block
 *   by super-block, Q8_0 with 1-3 tokens is not repacked at all (see below): same
 *   integers, same float sequence, same bits.
 *   Each tile prefetches the rows of the next (kernels/avx2/pack.h, prefetch_rows8).
 *
 * Float weights (F32, F16, BF16) -- tiles of 4 rows x 4 tokens (the last n % 4
 * tokens one at a time), 16 columns per step:
 * the weights are widened to float exactly (F16 with vcvtph2ps, BF16 by a 16-bit
 * shift) and each (token, row) keeps one 16-lane FMA accumulator; the last partial
 * vector is masked; the 16 lanes are summed by one fixed reduction at the end. */
#include <immintrin.h>
#include <string.h>
#include "kernels/variants.h"
#include "kernels/avx2/pack.h"

/* Everything below is inlined into one kernel per weight type, so the type tests
 * are resolved at compile time (`type` is always a constant). */
#define INLINE static inline __attribute__((always_inline))

/* ---- quantized weights ----------------------------------------------------------- */

#define PACK_ROWS 16     /* weight rows per tile: one per 32-bit lane of a zmm */
#define PACK_BLOCKS 64   /* blocks (2048 columns) packed at a time; longer rows go in chunks */

/* Blocks packed at a time: with few tokens a pack serves few products, so keep it
 * small enough to stay in L1 between being written and read (16 blocks of 16 rows:
 * 8 KB); with many, pack whole rows of up to PACK_BLOCKS blocks. */
static inline int64_t pack_chunk(const moee_qx *qx) { return qx->n_tokens < 16 ? 16 : PACK_BLOCKS; }

/* Up to PACK_BLOCKS blocks of 16 weight rows, repacked (kernels/avx2/pack.h), with the
 * Q8_0 values made unsigned (+128). */
typedef struct {
    _Alignas(64) uint8_t q[PACK_BLOCKS][8][PACK_ROWS][4];  /* [block][group][row][byte] */
    _Alignas(64) float d[PACK_BLOCKS][PACK_ROWS];          /* the rows' block scales */
} weight_pack;

/* Packs blocks [b0, b0 + nb) of rows row[0..15] of W (n_blocks blocks per row), as
 * two halves of 8 rows. */
INLINE void pack_weights(uint32_t type, const moee_matrix *W, const int64_t row[PACK_ROWS], int64_t n_blocks,
                         int64_t b0, int64_t nb, weight_pack *pack, size_t ahead) {
    for (int half = 0; half < 2; half++) {
        const uint8_t *blk[8];
        for (int i = 0; i < 8; i++)
            blk[i] = (const uint8_t *)W->data + (size_t)(row[8 * half + i] * n_blocks + b0) * pack_block_bytes(type);
        pack_rows8(type, 1, blk, nb, &pack->q[0][0][8 * half][0], sizeof pack->q[0], sizeof pack->q[0][0],
                   &pack->d[0][8 * half], PACK_ROWS, ahead);
    }
}

/* 4 activation bytes read as one int32 (any alignment, no aliasing assumptions). */
typedef int32_t unaligned_i32 __attribute__((may_alias, aligned(1)));

/* log2 of the unsigned offset: 128 = 2^7 for Q8_0, 8 = 2^3 for Q4_0 */
INLINE int offset_shift(uint32_t type) { return type == MOEE_TYPE_Q8_0 ? 7 : 3; }

/* Tiles of R x 16 rows (R packs of 16 rows: R = 2 while the call has 32 rows left,
 * else 1) by NT tokens: with R = 2, 4 tokens; with R = 1, 8. One int32 vpdpbusd chain
 * and one float accumulator per (16 rows, token): 8 + 8 of the 32 zmm registers.
 * What bounds the tile on Zen 4 is loading more than multiplying: every vpdpbusd
 * takes one token's 4 activation bytes broadcast (a load), so 16 rows x 8 tokens
 * make 64 broadcast loads + 8 weight loads per 64 vpdpbusd, and 32 rows x 4 tokens
 * 32 + 16 (measured end to end on OLMoE Q4_0: 15% faster; 32 x 6 gained nothing
 * more). The float step costs the same per (row, token) either way: its two
 * multiplies share the execution ports of vpdpbusd. */
#define QTILE_T 8   /* most tokens in a tile (R = 1) */

/* The tile of tokens t0..t0+NT-1 over packed blocks 0..nb-1 (activation blocks
 * b0..b0+nb-1): acc[r][j] lane i = the running sum of row 16 r + i, token t0+j. The
 * exact int32 block sum of each (row, token) starts from -(offset) * (the token's
 * block sum), read precomputed from qx, and gets the 8 groups' vpdpbusd; then
 *     acc = acc + (float)isum * (d_w * d_x)
 * three separately rounded operations, the scalar oracle's exact sequence. */
INLINE void tile_blocks(uint32_t type, int R, int NT, const weight_pack *const pack[2], int64_t nb, const moee_qx *qx,
                        int64_t t0, int64_t b0, __m512 acc[2][QTILE_T]) {
    const int32_t *neg_sum = type == MOEE_TYPE_Q8_0 ? qx->neg_sum128 : qx->neg_sum8;
    for (int64_t pb = 0; pb < nb; pb++) {
        const int64_t b = b0 + pb;
        const int8_t *x = qx->qs + t0 * qx->cols + b * MOEE_QK;
        const int32_t *corr = neg_sum + b * qx->n_pad + t0;
        __m512i isum[2][QTILE_T];
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++) {
            isum[0][j] = _mm512_set1_epi32(corr[j]);
            if (R == 2) isum[1][j] = isum[0][j];
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i w0 = _mm512_load_si512((const void *)pack[0]->q[pb][g]);
            const __m512i w1 = R == 2 ? _mm512_load_si512((const void *)pack[1]->q[pb][g]) : w0;
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                const __m512i xj = _mm512_set1_epi32(*(const unaligned_i32 *)(x + j * qx->cols + 4 * g));
                isum[0][j] = _mm512_dpbusd_epi32(isum[0][j], w0, xj);
                if (R == 2) isum[1][j] = _mm512_dpbusd_epi32(isum[1][j], w1, xj);
            }
        }
        const float *dx = qx->d + b * qx->n_pad + t0;
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
            const __m512 dw = _mm512_load_ps(pack[r]->d[pb]);
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
                const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(dx[j]));
                acc[r][j] = _mm512_add_ps(acc[r][j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][j]), scale));
            }
        }
    }
}

/* The exact block sums of packed block pb (block b of the activations) for tokens
 * t0..t0+3 (for the tests: the same integer steps as tile_blocks). */
INLINE void tile_block_sums(uint32_t type, const weight_pack *pack, int64_t pb, const moee_qx *qx,
                            int64_t t0, int64_t b, __m512i isum[4]) {
    const int8_t *x = qx->qs + t0 * qx->cols + b * MOEE_QK;
    const int32_t *corr = (type == MOEE_TYPE_Q8_0 ? qx->neg_sum128 : qx->neg_sum8) + b * qx->n_pad + t0;
    for (int j = 0; j < 4; j++) isum[j] = _mm512_set1_epi32(corr[j]);
    for (int g = 0; g < 8; g++) {
        const __m512i w = _mm512_load_si512((const void *)pack->q[pb][g]);
        for (int j = 0; j < 4; j++)
            isum[j] = _mm512_dpbusd_epi32(isum[j], w,
                                          _mm512_set1_epi32(*(const unaligned_i32 *)(x + j * qx->cols + 4 * g)));
    }
}


/* Tokens t0..t0+NT-1 of one row tile (R packs) over one chunk of packed blocks: the
 * running sums start from Y (after the first chunk) and go back to Y; pad tokens
 * (past n_tokens) are computed from zeros and not stored. */
INLINE void token_tile(uint32_t type, int R, int NT, const moee_matrix *W, const moee_qx *qx,
                       const weight_pack *const pack[2], int64_t b0, int64_t nb, int64_t t0,
                       const __mmask16 row_mask[2], float *y_tile) {
    const int64_t n_tok = qx->n_tokens - t0;
    __m512 acc[2][QTILE_T];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++)
            acc[r][j] = b0 == 0 || j >= n_tok ? _mm512_setzero_ps()
                                              : _mm512_maskz_loadu_ps(row_mask[r], y_tile + (t0 + j) * W->rows + 16 * r);
    tile_blocks(type, R, NT, pack, nb, qx, t0, b0, acc);
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++)   /* (constant r, j: acc stays in registers) */
            if (j < n_tok) _mm512_mask_storeu_ps(y_tile + (t0 + j) * W->rows + 16 * r, row_mask[r], acc[r][j]);
}

/* Row tiles rt0..rt1-1 of 16 rows, all tokens, two at a time while two are left.
 * Blocks are done PACK_BLOCKS at a time; between chunks the running sums wait in Y
 * (a float is a float: the sequence of operations is unchanged). */
/* With many tokens, a tile prefetches the next tile's weight rows a few cache lines
 * per 4 tokens, spread over the whole time it computes, rather than all while packing
 * (a burst of hundreds of misses that the packing then waits for). With fewer, the
 * packing prefetches them (kernels/avx2/pack.h). */
#define SPREAD_MIN_TOKENS 64

typedef struct {
    const char *next, *end;   /* the lines still to prefetch */
    int64_t per_step;         /* lines per 4 tokens */
} spread_prefetch;

/* For the tile of R packs at row tile rt (ahead: rows_ahead of it; 0: nothing after). */
INLINE spread_prefetch spread_init(const moee_matrix *W, const moee_qx *qx, int64_t rt, int R, size_t ahead) {
    const size_t row_bytes = moee_type_row_bytes(W->type, W->cols);
    spread_prefetch p;
    p.next = (const char *)W->data + (size_t)(rt + R) * PACK_ROWS * row_bytes;   /* rows are stored in order */
    p.end = ahead && qx->n_tokens >= SPREAD_MIN_TOKENS ? p.next + (size_t)R * PACK_ROWS * row_bytes : p.next;
    const int64_t steps = qx->n_pad / 4 * ((qx->n_blocks + pack_chunk(qx) - 1) / pack_chunk(qx));
    p.per_step = ((p.end - p.next) / 64 + steps - 1) / steps;
    return p;
}

/* The lines of the next `quads` x 4 tokens. */
INLINE void spread_step(spread_prefetch *p, int quads) {
    for (int64_t i = 0; i < quads * p->per_step && p->next < p->end; i++, p->next += 64)
        _mm_prefetch(p->next, _MM_HINT_T0);
}

INLINE void quant_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y,
                       int64_t rt0, int64_t rt1, weight_pack packs[2]) {
    const weight_pack *const pack[2] = {&packs[0], &packs[1]};
    const int spread = qx->n_tokens >= SPREAD_MIN_TOKENS;
    for (int64_t rt = rt0; rt < rt1;) {
        const int R = rt + 2 <= rt1 ? 2 : 1;
        __mmask16 row_mask[2] = {0, 0};
        int64_t row[2][PACK_ROWS];
        for (int r = 0; r < R; r++) row_mask[r] = (__mmask16)((1u << tile_rows(W, rt + r, PACK_ROWS, row[r])) - 1);
        const size_t ahead = rows_ahead(W, (rt + R) * PACK_ROWS, R * PACK_ROWS);
        spread_prefetch next = spread_init(W, qx, rt, R, ahead);
        float *y_tile = Y + rt * PACK_ROWS;          /* token t's outputs: y_tile + t * W->rows */
        const int64_t chunk = pack_chunk(qx);
        for (int64_t b0 = 0; b0 < qx->n_blocks; b0 += chunk) {
            const int64_t nb = qx->n_blocks - b0 < chunk ? qx->n_blocks - b0 : chunk;
            for (int r = 0; r < R; r++)
                pack_weights(type, W, row[r], qx->n_blocks, b0, nb, &packs[r], spread ? 0 : ahead);
            int64_t t0 = 0;
            if (R == 2) {
                for (; t0 < qx->n_pad; t0 += 4) {   /* n_pad is a multiple of MOEE_TOKEN_PAD = 4 */
                    spread_step(&next, 1);
                    token_tile(type, 2, 4, W, qx, pack, b0, nb, t0, row_mask, y_tile);
                }
            } else {
                for (; t0 + QTILE_T <= qx->n_pad; t0 += QTILE_T) {
                    spread_step(&next, 2);
                    token_tile(type, 1, QTILE_T, W, qx, pack, b0, nb, t0, row_mask, y_tile);
                }
                if (t0 < qx->n_pad)   /* 4 left */
                    token_tile(type, 1, 4, W, qx, pack, b0, nb, t0, row_mask, y_tile);
            }
        }
        rt += R;
    }
}
static void quant_rows_q8_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    weight_pack packs[2];
    quant_rows(MOEE_TYPE_Q8_0, W, qx, Y, rt0, rt1, packs);
}
static void quant_rows_q4_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    weight_pack packs[2];
    quant_rows(MOEE_TYPE_Q4_0, W, qx, Y, rt0, rt1, packs);
}

/* ---- Q8_0 with few tokens: no repacking -----------------------------------------
 * With 1-3 tokens (common: a MoE expert often gets only a few of a short text's
 * tokens) packing the weights would cost more than the products (Q4_0 has its own
 * few-token tile, below). Instead each block dot is done in place: vpdpbusd of a
 * row's 32 bytes with the token's 32 bytes leaves 8 partial sums, and the 8 rows'
 * partial sums are added up together (a transposing horizontal add) into one vector
 * of 8 exact block sums. The integers are the same
 * as the GEMM's, and so is the float sequence: the results are bit-identical. */

#define FEW_ROWS 8

/* [sum(v0), ..., sum(v7)] from eight vectors of 8 int32 lanes. */
INLINE __m256i reduce8(__m256i v0, __m256i v1, __m256i v2, __m256i v3,
                       __m256i v4, __m256i v5, __m256i v6, __m256i v7) {
    const __m256i a = _mm256_hadd_epi32(v0, v1), b = _mm256_hadd_epi32(v2, v3);
    const __m256i c = _mm256_hadd_epi32(v4, v5), d = _mm256_hadd_epi32(v6, v7);
    const __m256i e = _mm256_hadd_epi32(a, b), f = _mm256_hadd_epi32(c, d);
    /* e = [v0..v3 low-half sums | v0..v3 high-half sums], f likewise for v4..v7 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(e, f, 0x20), _mm256_permute2x128_si256(e, f, 0x31));
}

/* Y for rows row[0..7] and the nt (1..3) tokens of qx. */
INLINE void few_tokens_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[FEW_ROWS], int n_rows,
                            const moee_qx *qx, float *Y, size_t ahead) {
    const size_t bb = pack_block_bytes(type);
    const uint8_t *first[FEW_ROWS];   /* the rows' first blocks */
    for (int i = 0; i < FEW_ROWS; i++) first[i] = (const uint8_t *)W->data + (size_t)(row[i] * qx->n_blocks) * bb;
    __m256 acc[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        const size_t off = (size_t)b * bb;
        __m256i w[FEW_ROWS];
        uint16_t d16[FEW_ROWS];
#pragma GCC unroll 8
        for (int i = 0; i < FEW_ROWS; i++) {
            w[i] = pack_block_values(type, 1, first[i] + off);   /* w + 128 */
            memcpy(&d16[i], first[i] + off, 2);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16));
        if (ahead) prefetch_rows8(first, off + ahead);
#pragma GCC unroll 3
        for (int j = 0; j < nt; j++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(qx->qs + j * qx->cols + b * MOEE_QK));
            const __m256i z = _mm256_setzero_si256();
            __m256i isum = reduce8(_mm256_dpbusd_epi32(z, w[0], x), _mm256_dpbusd_epi32(z, w[1], x),
                                   _mm256_dpbusd_epi32(z, w[2], x), _mm256_dpbusd_epi32(z, w[3], x),
                                   _mm256_dpbusd_epi32(z, w[4], x), _mm256_dpbusd_epi32(z, w[5], x),
                                   _mm256_dpbusd_epi32(z, w[6], x), _mm256_dpbusd_epi32(z, w[7], x));
            isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(qx->sum[b * qx->n_pad + j] * (1 << offset_shift(type))));
            /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
            const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(qx->d[b * qx->n_pad + j]));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
        }
    }
    const __mmask8 row_mask = (__mmask8)((1u << n_rows) - 1);
    for (int j = 0; j < nt; j++) _mm256_mask_storeu_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

INLINE void few_tokens_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[FEW_ROWS];
        const int n_rows = tile_rows(W, rt, FEW_ROWS, row);
        const size_t ahead = rows_ahead(W, (rt + 1) * FEW_ROWS, FEW_ROWS);
        if (qx->n_tokens == 1) few_tokens_tile(type, 1, W, row, n_rows, qx, Y, ahead);
        else if (qx->n_tokens == 2) few_tokens_tile(type, 2, W, row, n_rows, qx, Y, ahead);
        else few_tokens_tile(type, 3, W, row, n_rows, qx, Y, ahead);
    }
}
static void few_tokens_q8_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    few_tokens_rows(MOEE_TYPE_Q8_0, W, qx, Y, rt0, rt1);
}

/* ---- Q4_0 with few tokens: the pack done in registers ---------------------------
 * With up to FEW16_TOKENS tokens a row tile's packed weights would serve only a few
 * products, so storing the pack and loading it back costs more than it saves. Here
 * each block of 16 rows is transposed in registers and used at once: a row's 16
 * nibble bytes are its 4 dwords, and dword k holds group k (low nibbles) and group
 * k + 4 (high nibbles), so one 4 x 4 dword transpose per 128-bit lane (rows 4c + p
 * loaded into lane c of vector p) gives the 8 group vectors of the packed layout,
 * lane i = row i. Same integers and float sequence as the GEMM tile: same bits. */

#define FEW16_TOKENS 8

/* The 16 bytes at offset off of each of 16 rows (first[i]: row i) as 4 vectors of
 * dwords, lane i = row i: out[k] = bytes 4k..4k+3 of every row. Rows 4c + p are
 * loaded into 128-bit lane c of vector p, then one 4 x 4 dword transpose per lane. */
INLINE void transpose16x4(const uint8_t *const first[PACK_ROWS], size_t off, __m512i out[4]) {
    __m512i z[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        z[p] = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(first[p] + off)));
        z[p] = _mm512_inserti32x4(z[p], _mm_loadu_si128((const __m128i *)(first[4 + p] + off)), 1);
        z[p] = _mm512_inserti32x4(z[p], _mm_loadu_si128((const __m128i *)(first[8 + p] + off)), 2);
        z[p] = _mm512_inserti32x4(z[p], _mm_loadu_si128((const __m128i *)(first[12 + p] + off)), 3);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* The fp16 at offset off of each of 16 rows, as floats (lane i = row i; exact). */
INLINE __m512 f16x16(const uint8_t *const first[PACK_ROWS], size_t off) {
    uint16_t h[PACK_ROWS];
#pragma GCC unroll 16
    for (int i = 0; i < PACK_ROWS; i++) memcpy(&h[i], first[i] + off, 2);
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

INLINE void few16_tile_q4_0(int NT, const moee_matrix *W, const int64_t row[PACK_ROWS], __mmask16 row_mask,
                            const moee_qx *qx, float *Y, size_t ahead) {
    const size_t bb = sizeof(moee_block_q4_0);
    const uint8_t *first[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++) first[i] = (const uint8_t *)W->data + (size_t)(row[i] * qx->n_blocks) * bb;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512 acc[FEW16_TOKENS];
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        const size_t off = (size_t)b * bb;
        __m512i dword[4];
        transpose16x4(first, off + 2, dword);
        __m512i q[8];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            q[k] = _mm512_and_si512(dword[k], low4);
            q[k + 4] = _mm512_and_si512(_mm512_srli_epi16(dword[k], 4), low4);
        }
        const __m512 dw = f16x16(first, off);
        if (ahead) {
            prefetch_rows8(first, off + ahead);
            prefetch_rows8(first + 8, off + ahead);
        }
        const int8_t *x = qx->qs + b * MOEE_QK;
        const int32_t *corr = qx->neg_sum8 + b * qx->n_pad;
        const float *dx = qx->d + b * qx->n_pad;
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++) {
            __m512i isum = _mm512_set1_epi32(corr[j]);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++)
                isum = _mm512_dpbusd_epi32(isum, q[g],
                                           _mm512_set1_epi32(*(const unaligned_i32 *)(x + j * qx->cols + 4 * g)));
            /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
            const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(dx[j]));
            acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), scale));
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) _mm512_mask_storeu_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

/* ---- Q4_K, Q5_K, Q6_K with few tokens: the pack done in registers ------------------
 * As few16_tile_q4_0, for the K-quants of the files people download (Q4_K_M, Q5_K_M): with
 * up to FEW16_TOKENS tokens each 256-element super-block of 16 rows is turned into the
 * packed layout with 4 x 4 dword transposes (transpose16x4) and its scales decoded
 * with lane i = row i, then used at once, instead of being written to a pack through
 * codes32, transpose8_store and per-row scalar scales and read back. The codes, the
 * integer sums and the float sequence are generic_tile's (the scalar oracle's): same
 * bits. Byte k of a row's super-block in the layout of types.h:
 *   Q4_K / Q5_K: qs byte i of 32-byte chunk c = element i of block 2c (low nibble)
 *                and of block 2c + 1 (high); Q5_K's qh byte i bit k = bit 4 of
 *                element i of block k.
 *   Q6_K:        for half h (blocks 4h..4h+3), ql bytes 64h + i (i < 32) hold blocks
 *                4h (low nibble) and 4h + 2 (high), ql 64h + 32 + i blocks 4h + 1 and
 *                4h + 3, and qh byte 32h + i bits 2g..2g+1 are the top two bits of
 *                element i of block 4h + g. */

typedef struct {
    __m512i q[8][8];          /* the super-block's 8 blocks x 8 groups, lane = row */
    __m512 d[8], m[8];        /* per block: scale and minimum (Q4_K, Q5_K) */
    __m512i sc[8][2];         /* Q6_K: the two integer sub-scales of each block */
} few16_super;

/* The 32 bytes at off of 16 rows as 8 dword vectors (lane = row). */
INLINE void transpose16x8(const uint8_t *const first[PACK_ROWS], size_t off, __m512i out[8]) {
    transpose16x4(first, off, out);
    transpose16x4(first, off + 16, out + 4);
}

INLINE void few16_decode(uint32_t type, const uint8_t *const first[PACK_ROWS], size_t off, few16_super *s) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    if (type == MOEE_TYPE_Q6_K) {
        for (int h = 0; h < 2; h++) {
            __m512i hi[8];
            transpose16x8(first, off + 128 + 32 * (size_t)h, hi);
            for (int part = 0; part < 2; part++) {   /* ql bytes 64h + 32 part + i */
                __m512i lo[8];
                transpose16x8(first, off + 64 * (size_t)h + 32 * (size_t)part, lo);
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) {
                    /* block 4h + part: low nibbles and qh bits 2 part..; block 4h + part + 2: high, bits 4 + 2 part.. */
                    const __m512i top_a = part == 0 ? _mm512_slli_epi16(hi[g], 4) : _mm512_slli_epi16(hi[g], 2);
                    const __m512i top_b = part == 0 ? hi[g] : _mm512_srli_epi16(hi[g], 2);
                    const __m512i bits45 = _mm512_set1_epi8(0x30);
                    s->q[4 * h + part][g] = _mm512_or_si512(_mm512_and_si512(lo[g], low4),
                                                            _mm512_and_si512(top_a, bits45));
                    s->q[4 * h + part + 2][g] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo[g], 4), low4),
                                                                _mm512_and_si512(top_b, bits45));
                }
            }
        }
        __m512i scales[4];   /* dword k: the int8 sub-scales of blocks 2k (bytes 0, 1) and 2k + 1 (2, 3) */
        transpose16x4(first, off + 192, scales);
        const __m512 d = f16x16(first, off + 208);
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            s->d[k] = d;
            for (int h = 0; h < 2; h++) {
                const int byte = 2 * (k % 2) + h;
                s->sc[k][h] = _mm512_srai_epi32(_mm512_slli_epi32(scales[k / 2], 24 - 8 * byte), 24);
            }
        }
        return;
    }
    /* Q4_K, Q5_K */
    const size_t qs = type == MOEE_TYPE_Q4_K ? 16 : 48;
    __m512i qh[8];
    if (type == MOEE_TYPE_Q5_K) transpose16x8(first, off + 16, qh);
    for (int c = 0; c < 4; c++) {
        __m512i nib[8];
        transpose16x8(first, off + qs + 32 * (size_t)c, nib);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            s->q[2 * c][g] = _mm512_and_si512(nib[g], low4);
            s->q[2 * c + 1][g] = _mm512_and_si512(_mm512_srli_epi16(nib[g], 4), low4);
            if (type == MOEE_TYPE_Q5_K)
                for (int e = 0; e < 2; e++) {   /* bit k = 2c + e of qh to bit 4 */
                    const int k = 2 * c + e;
                    const __m512i at4 = k <= 4 ? _mm512_slli_epi16(qh[g], 4 - k) : _mm512_srli_epi16(qh[g], k - 4);
                    s->q[k][g] = _mm512_or_si512(s->q[k][g], _mm512_and_si512(at4, _mm512_set1_epi8(0x10)));
                }
        }
    }
    /* the 12 bytes of 6-bit scales and minimums (as scales32): dwords 0, 1, 2 = bytes
     * 0-3, 4-7, 8-11; block k < 4: low 6 bits of bytes k and k + 4; k >= 4: the
     * nibbles of byte k + 4 and the top 2 bits of bytes k - 4 and k */
    __m512i sm[4];
    transpose16x4(first, off + 4, sm);
    const __m512 d_super = f16x16(first, off), m_super = f16x16(first, off + 2);
    const __m512i six = _mm512_set1_epi32(63), four = _mm512_set1_epi32(15), two = _mm512_set1_epi32(3);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        __m512i scale, minimum;
        if (k < 4) {
            scale = _mm512_and_si512(_mm512_srli_epi32(sm[0], 8 * k), six);
            minimum = _mm512_and_si512(_mm512_srli_epi32(sm[1], 8 * k), six);
        } else {
            const int j = 8 * (k - 4);
            scale = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(sm[2], j), four),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(sm[0], j + 6), two), 4));
            minimum = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(sm[2], j + 4), four),
                                      _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(sm[1], j + 6), two), 4));
        }
        s->d[k] = _mm512_mul_ps(d_super, _mm512_cvtepi32_ps(scale));
        s->m[k] = _mm512_xor_ps(_mm512_mul_ps(m_super, _mm512_cvtepi32_ps(minimum)), _mm512_set1_ps(-0.0f));
    }
}

/* Which activation sums the generic kernels read, by the type's integer form (constants
 * in each kernel): the offset's correction starts from the block's sum (with two halves,
 * from sum16 and sum - sum16); the minimum's term is m * sum_d, or with two halves
 * built from sum16 and sum. The others are not made (moee_avx512_qx_forms). */
INLINE int reads_sum(int sub16, int offset, int has_min) { return offset != 0 || (sub16 && has_min); }
INLINE int reads_sum16(int sub16, int offset, int has_min) { return sub16 && (offset != 0 || has_min); }
INLINE int reads_sum_d(int sub16, int has_min) { return has_min && !sub16; }

INLINE void few16_tile_k(uint32_t type, int NT, const moee_matrix *W, const int64_t row[PACK_ROWS],
                         __mmask16 row_mask, const moee_qx *qx, float *Y, size_t ahead) {
    const int sub16 = type == MOEE_TYPE_Q6_K, has_min = !sub16, offset = sub16 ? 32 : 0;
    const size_t row_bytes = moee_type_row_bytes(type, W->cols);
    const size_t super_bytes = moee_type(type)->block_bytes;
    const uint8_t *first[PACK_ROWS];
    for (int i = 0; i < PACK_ROWS; i++) first[i] = (const uint8_t *)W->data + (size_t)row[i] * row_bytes;
    __m512 acc[FEW16_TOKENS];
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    few16_super s;
    for (int64_t sb = 0; sb < qx->n_blocks / 8; sb++) {
        const size_t off = (size_t)sb * super_bytes;
        if (ahead) {
            prefetch_rows8_span(first, off + ahead, super_bytes);
            prefetch_rows8_span(first + 8, off + ahead, super_bytes);
        }
        few16_decode(type, first, off, &s);
        for (int k = 0; k < 8; k++) {
            const int64_t b = 8 * sb + k;
            const int8_t *x = qx->qs + b * MOEE_QK;
            const int32_t *sum = reads_sum(sub16, offset, has_min) ? qx->sum + b * qx->n_pad : NULL;
            const int32_t *sum16 = reads_sum16(sub16, offset, has_min) ? qx->sum16 + b * qx->n_pad : NULL;
            const float *dx = qx->d + b * qx->n_pad;
            const float *sum_d = reads_sum_d(sub16, has_min) ? qx->sum_d + b * qx->n_pad : NULL;
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                const int8_t *xj = x + j * qx->cols;
                __m512i isum;
                if (!sub16) {
                    isum = _mm512_setzero_si512();   /* offset 0 */
#pragma GCC unroll 8
                    for (int g = 0; g < 8; g++)
                        isum = _mm512_dpbusd_epi32(isum, s.q[k][g], _mm512_set1_epi32(*(const unaligned_i32 *)(xj + 4 * g)));
                } else {   /* groups 0-3 and 4-7 apart, then lo * sc_lo + hi * sc_hi */
                    __m512i part[2];
                    for (int h = 0; h < 2; h++) {
                        part[h] = _mm512_set1_epi32(-offset * (h == 0 ? sum16[j] : sum[j] - sum16[j]));
#pragma GCC unroll 4
                        for (int g = 4 * h; g < 4 * h + 4; g++)
                            part[h] = _mm512_dpbusd_epi32(part[h], s.q[k][g],
                                                          _mm512_set1_epi32(*(const unaligned_i32 *)(xj + 4 * g)));
                    }
                    isum = _mm512_add_epi32(_mm512_mullo_epi32(part[0], s.sc[k][0]),
                                            _mm512_mullo_epi32(part[1], s.sc[k][1]));
                }
                /* acc + (float)isum * (d_w * d_x), then acc + m * ((float)msum * d_x): generic_tile's sequence */
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum),
                                                             _mm512_mul_ps(s.d[k], _mm512_set1_ps(dx[j]))));
                if (has_min)
                    acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(s.m[k], _mm512_set1_ps(sum_d[j])));
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NT; j++) _mm512_mask_storeu_ps(Y + j * W->rows + row[0], row_mask, acc[j]);
}

INLINE void few16_tile(uint32_t type, int NT, const moee_matrix *W, const int64_t row[PACK_ROWS], __mmask16 row_mask,
                       const moee_qx *qx, float *Y, size_t ahead) {
    if (type == MOEE_TYPE_Q4_0) few16_tile_q4_0(NT, W, row, row_mask, qx, Y, ahead);
    else few16_tile_k(type, NT, W, row, row_mask, qx, Y, ahead);
}

/* Row tiles rt0..rt1-1 of 16 rows, 1..FEW16_TOKENS tokens (a kernel per count). */
INLINE void few16_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[PACK_ROWS];
        const __mmask16 row_mask = (__mmask16)((1u << tile_rows(W, rt, PACK_ROWS, row)) - 1);
        const size_t ahead = rows_ahead(W, (rt + 1) * PACK_ROWS, PACK_ROWS);
        switch (qx->n_tokens) {
        case 1: few16_tile(type, 1, W, row, row_mask, qx, Y, ahead); break;
        case 2: few16_tile(type, 2, W, row, row_mask, qx, Y, ahead); break;
        case 3: few16_tile(type, 3, W, row, row_mask, qx, Y, ahead); break;
        case 4: few16_tile(type, 4, W, row, row_mask, qx, Y, ahead); break;
        case 5: few16_tile(type, 5, W, row, row_mask, qx, Y, ahead); break;
        case 6: few16_tile(type, 6, W, row, row_mask, qx, Y, ahead); break;
        case 7: few16_tile(type, 7, W, row, row_mask, qx, Y, ahead); break;
        default: few16_tile(type, 8, W, row, row_mask, qx, Y, ahead); break;
        }
    }
}
/* ---- every other quantized type ----------------------------------------------------
 * The same tiles (32 rows x 4 tokens, or 16 x 8) over the type table's integer form
 * (kernels/matmul.c): the packer makes each row's 32 codes u (codes32, pack.h) and
 * reads the block's d, m, sc, mn from the table (moee_type_traits.scales); the
 * micro-kernel's lanes start from -offset * (activation sum) and get 8 vpdpbusd as
 * above. Types with two sub-block scales per 32 (Q2_K, Q3_K, Q6_K) keep the two
 * halves (groups 0-3 and 4-7) apart and combine them with the integer scales; types
 * with a minimum add (float)msum * (m * d_x). Same integers, same float sequence as
 * the scalar oracle: bit-identical. */

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
    if ((type == MOEE_TYPE_Q4_K || type == MOEE_TYPE_Q5_K || type == MOEE_TYPE_Q6_K) && b0 % 8 == 0 && nb % 8 == 0) {
        /* whole super-blocks, decoded in registers (few16_decode) */
        const size_t super_bytes = tt->block_bytes;
        for (int64_t pb = 0; pb < nb; pb += 8) {
            const size_t off = (size_t)(b0 + pb) / 8 * super_bytes;
            if (ahead) {
                prefetch_rows8_span(rp, off + ahead, super_bytes);
                prefetch_rows8_span(rp + 8, off + ahead, super_bytes);
            }
            few16_super s;
            few16_decode(type, rp, off, &s);
            for (int k = 0; k < 8; k++) {
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) _mm512_store_si512((void *)pack->q[pb + k][g], s.q[k][g]);
                _mm512_store_ps(pack->d[pb + k], s.d[k]);
                if (sub16)
                    for (int h = 0; h < 2; h++) _mm512_store_si512((void *)pack->sc[pb + k][h], s.sc[k][h]);
                else
                    _mm512_store_ps(pack->m[pb + k], s.m[k]);
            }
        }
        return;
    }
    for (int64_t pb = 0; pb < nb; pb++) {
        if (ahead) {   /* about the same columns of the rows one tile on */
            const size_t off = (size_t)(b0 + pb) * row_bytes / (size_t)(W->cols / MOEE_QK) + ahead;
            prefetch_rows8(rp, off);
            prefetch_rows8(rp + 8, off);
        }
        for (int half = 0; half < 2; half++) {
            __m256i r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) r[i] = codes32(type, rp[8 * half + i], b0 + pb);
            transpose8_store(r, &pack->q[pb][0][8 * half][0], sizeof pack->q[0][0]);
        }
    }
    pack_scales(type, sub16, rp, PACK_ROWS, b0, nb, &pack->d[0][0], &pack->m[0][0], &pack->sc[0][0][0],
                &pack->mn[0][0][0]);
}

/* The exact isums of packed block pb of R packs with NT tokens (broadcast activation
 * bytes from x, row stride cols; sums s, s16), into isum[r][j]. Types with two
 * sub-block scales chain groups 0-3 and 4-7 apart and combine them with the integer
 * scales: lo * sc_lo + hi * sc_hi. */
INLINE void generic_isums(int sub16, int offset, int R, int NT, const generic_pack *const pack[2], int64_t pb,
                          const int8_t *x, int64_t cols, const int32_t *s, const int32_t *s16,
                          __m512i isum[2][QTILE_T]) {
    const int halves = sub16 ? 2 : 1;
#pragma GCC unroll 2
    for (int h = 0; h < halves; h++) {
        __m512i part[2][QTILE_T];
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++) {
            const int32_t xs = offset == 0 ? 0 : !sub16 ? s[j] : h == 0 ? s16[j] : s[j] - s16[j];
            part[0][j] = _mm512_set1_epi32(-offset * xs);
            if (R == 2) part[1][j] = part[0][j];
        }
#pragma GCC unroll 8
        for (int gg = 0; gg < 8; gg++) {
            const int g = sub16 ? 4 * h + gg : gg;
            if (sub16 && gg >= 4) break;
            const __m512i w0 = _mm512_load_si512((const void *)pack[0]->q[pb][g]);
            const __m512i w1 = R == 2 ? _mm512_load_si512((const void *)pack[1]->q[pb][g]) : w0;
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                const __m512i xj = _mm512_set1_epi32(*(const unaligned_i32 *)(x + j * cols + 4 * g));
                part[0][j] = _mm512_dpbusd_epi32(part[0][j], w0, xj);
                if (R == 2) part[1][j] = _mm512_dpbusd_epi32(part[1][j], w1, xj);
            }
        }
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
            if (!sub16) {
#pragma GCC unroll 8
                for (int j = 0; j < NT; j++) isum[r][j] = part[r][j];
                continue;
            }
            const __m512i sc = _mm512_load_si512((const void *)pack[r]->sc[pb][h]);
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                const __m512i scaled = _mm512_mullo_epi32(part[r][j], sc);
                isum[r][j] = h == 0 ? scaled : _mm512_add_epi32(isum[r][j], scaled);
            }
        }
    }
}

INLINE void generic_tile(uint32_t type, int sub16, int offset, int has_min, int R, int NT,
                         const generic_pack *const pack[2], int64_t nb, const moee_qx *qx, int64_t t0, int64_t b0,
                         __m512 acc[2][QTILE_T]) {
    for (int64_t pb = 0; pb < nb; pb++) {
        const int64_t b = b0 + pb;
        const int8_t *x = qx->qs + t0 * qx->cols + b * MOEE_QK;
        const int32_t *s = reads_sum(sub16, offset, has_min) ? qx->sum + b * qx->n_pad + t0 : NULL;
        const int32_t *s16 = reads_sum16(sub16, offset, has_min) ? qx->sum16 + b * qx->n_pad + t0 : NULL;
        const float *dx = qx->d + b * qx->n_pad + t0;
        const float *sum_d = reads_sum_d(sub16, has_min) ? qx->sum_d + b * qx->n_pad + t0 : NULL;
        __m512i isum[2][QTILE_T];
        generic_isums(sub16, offset, R, NT, pack, pb, x, qx->cols, s, s16, isum);
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
            const __m512 dw = _mm512_load_ps(pack[r]->d[pb]);
#pragma GCC unroll 8
            for (int j = 0; j < NT; j++) {
                /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
                acc[r][j] = _mm512_add_ps(acc[r][j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][j]),
                                                                   _mm512_mul_ps(dw, _mm512_set1_ps(dx[j]))));
                if (has_min) {   /* acc + m * ((float)msum * d_x) */
                    __m512 mdx;
                    if (sub16)
                        mdx = _mm512_mul_ps(
                            _mm512_cvtepi32_ps(_mm512_add_epi32(
                                _mm512_mullo_epi32(_mm512_load_si512((const void *)pack[r]->mn[pb][0]),
                                                   _mm512_set1_epi32(s16[j])),
                                _mm512_mullo_epi32(_mm512_load_si512((const void *)pack[r]->mn[pb][1]),
                                                   _mm512_set1_epi32(s[j] - s16[j])))),
                            _mm512_set1_ps(dx[j]));
                    else
                        mdx = _mm512_set1_ps(sum_d[j]);
                    acc[r][j] = _mm512_add_ps(acc[r][j], _mm512_mul_ps(_mm512_load_ps(pack[r]->m[pb]), mdx));
                }
            }
        }
    }
}

INLINE void generic_token_tile(uint32_t type, int sub16, int offset, int has_min, int R, int NT, const moee_matrix *W,
                               const moee_qx *qx, const generic_pack *const pack[2], int64_t b0, int64_t nb,
                               int64_t t0, const __mmask16 row_mask[2], float *y_tile) {
    const int64_t n_tok = qx->n_tokens - t0;
    __m512 acc[2][QTILE_T];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++)
            acc[r][j] = b0 == 0 || j >= n_tok ? _mm512_setzero_ps()
                                              : _mm512_maskz_loadu_ps(row_mask[r], y_tile + (t0 + j) * W->rows + 16 * r);
    generic_tile(type, sub16, offset, has_min, R, NT, pack, nb, qx, t0, b0, acc);
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NT; j++)
            if (j < n_tok) _mm512_mask_storeu_ps(y_tile + (t0 + j) * W->rows + 16 * r, row_mask[r], acc[r][j]);
}

/* Row tiles rt0..rt1-1 of 16 rows, two at a time while two are left (as quant_rows). */
INLINE void generic_rows(uint32_t type, int sub16, int offset, int has_min, const moee_matrix *W, const moee_qx *qx,
                         float *Y, int64_t rt0, int64_t rt1) {
    generic_pack packs[2];
    const generic_pack *const pack[2] = {&packs[0], &packs[1]};
    const moee_type_traits *tt = moee_type(type);
    const int spread = qx->n_tokens >= SPREAD_MIN_TOKENS;
    for (int64_t rt = rt0; rt < rt1;) {
        const int R = rt + 2 <= rt1 ? 2 : 1;
        __mmask16 row_mask[2] = {0, 0};
        int64_t row[2][PACK_ROWS];
        for (int r = 0; r < R; r++) row_mask[r] = (__mmask16)((1u << tile_rows(W, rt + r, PACK_ROWS, row[r])) - 1);
        float *y_tile = Y + rt * PACK_ROWS;
        const size_t ahead = rows_ahead(W, (rt + R) * PACK_ROWS, R * PACK_ROWS);
        spread_prefetch next = spread_init(W, qx, rt, R, ahead);
        const int64_t chunk = pack_chunk(qx);
        for (int64_t b0 = 0; b0 < qx->n_blocks; b0 += chunk) {
            const int64_t nb = qx->n_blocks - b0 < chunk ? qx->n_blocks - b0 : chunk;
            for (int r = 0; r < R; r++) pack_generic(type, sub16, tt, W, row[r], b0, nb, &packs[r], spread ? 0 : ahead);
            int64_t t0 = 0;
            if (R == 2) {
                for (; t0 < qx->n_pad; t0 += 4) {
                    spread_step(&next, 1);
                    generic_token_tile(type, sub16, offset, has_min, 2, 4, W, qx, pack, b0, nb, t0, row_mask, y_tile);
                }
            } else {
                for (; t0 + QTILE_T <= qx->n_pad; t0 += QTILE_T) {
                    spread_step(&next, 2);
                    generic_token_tile(type, sub16, offset, has_min, 1, QTILE_T, W, qx, pack, b0, nb, t0, row_mask,
                                       y_tile);
                }
                if (t0 < qx->n_pad)
                    generic_token_tile(type, sub16, offset, has_min, 1, 4, W, qx, pack, b0, nb, t0, row_mask, y_tile);
            }
        }
        rt += R;
    }
}

/* One kernel per type: type, sub16, offset and has_min are constants in each. */
#define GENERIC(T, SUB16, OFFSET, MIN) \
    static void rows_##T(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) { \
        generic_rows(MOEE_TYPE_##T, SUB16, OFFSET, MIN, W, qx, Y, rt0, rt1); \
    } \
    static int32_t dot_##T(const generic_pack *pack, const int8_t *x, int64_t cols, int32_t s, int32_t s16) { \
        const generic_pack *const packs[2] = {pack, pack}; \
        __m512i isum[2][QTILE_T]; \
        generic_isums(SUB16, OFFSET, 1, 1, packs, 0, x, cols, &s, &s16, isum); \
        return _mm_cvtsi128_si32(_mm512_castsi512_si128(isum[0][0])); \
    }
GENERIC(Q4_1, 0, 0, 1)
GENERIC(Q5_0, 0, 16, 0)
GENERIC(Q5_1, 0, 0, 1)
GENERIC(IQ4_NL, 0, 128, 0)
GENERIC(Q2_K, 1, 0, 1)
GENERIC(Q3_K, 1, 4, 0)
GENERIC(Q4_K, 0, 0, 1)
GENERIC(Q5_K, 0, 0, 1)
GENERIC(Q6_K, 1, 32, 0)
GENERIC(IQ4_XS, 0, 128, 0)
#undef GENERIC

typedef void (*generic_kernel)(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1);

static generic_kernel generic_for(uint32_t type) {
    switch (type) {
#define CASE(T) case MOEE_TYPE_##T: return rows_##T;
    MOEE_GENERIC_QUANT_TYPES(CASE)
#undef CASE
    default: return NULL;
    }
}

void moee_avx512_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1) {
    const int64_t rt0 = r0 / PACK_ROWS, rt1 = (r1 + PACK_ROWS - 1) / PACK_ROWS;
    if (qx->n_tokens <= FEW16_TOKENS) {   /* the packs done in registers */
        switch (W->type) {
        case MOEE_TYPE_Q4_0: few16_rows(MOEE_TYPE_Q4_0, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q4_K: few16_rows(MOEE_TYPE_Q4_K, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q5_K: few16_rows(MOEE_TYPE_Q5_K, W, qx, Y, rt0, rt1); return;
        case MOEE_TYPE_Q6_K: few16_rows(MOEE_TYPE_Q6_K, W, qx, Y, rt0, rt1); return;
        default: break;
        }
    }
    const generic_kernel gk = generic_for(W->type);
    if (gk) {
        gk(W, qx, Y, rt0, rt1);
        return;
    }
    const int few = qx->n_tokens < 4;   /* (Q8_0 only: Q4_0 went to few16 above) */
    if (few) few_tokens_q8_0(W, qx, Y, r0 / FEW_ROWS, (r1 + FEW_ROWS - 1) / FEW_ROWS);   /* divides MOEE_ROW_BLOCK */
    else if (W->type == MOEE_TYPE_Q8_0) quant_rows_q8_0(W, qx, Y, rt0, rt1);
    else quant_rows_q4_0(W, qx, Y, rt0, rt1);
}

/* The Q4_0 and Q8_0 tiles start from -8 or -128 x the block sum (Q8_0 with 1-3 tokens
 * from the sum itself); the generic kernels read what reads_sum* say (Q4_K: sum_d only). */
uint32_t moee_avx512_qx_forms(uint32_t type) {
    if (type == MOEE_TYPE_Q4_0) return MOEE_QX_NEG_SUM8;
    if (type == MOEE_TYPE_Q8_0) return MOEE_QX_NEG_SUM128 | MOEE_QX_SUM;
    const moee_type_traits *tt = moee_type(type);
    if (!tt) return 0;
    return (reads_sum(tt->sub16, tt->offset, tt->has_min) ? MOEE_QX_SUM : 0) |
           (reads_sum16(tt->sub16, tt->offset, tt->has_min) ? MOEE_QX_SUM16 : 0) |
           (reads_sum_d(tt->sub16, tt->has_min) ? MOEE_QX_SUM_D : 0);
}

/* For the tests: block b of (row r, token t) through the matmul's own pack and
 * micro-kernel. */
static int32_t block_dot_typed(uint32_t type, const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx,
                               int64_t t) {
    weight_pack pack;
    int64_t row[PACK_ROWS], t0 = t / 4 * 4;
    for (int i = 0; i < PACK_ROWS; i++) row[i] = r;
    pack_weights(type, W, row, qx->n_blocks, b, 1, &pack, 0);
    __m512i isum[4];
    tile_block_sums(type, &pack, 0, qx, t0, b, isum);
    int32_t lanes[16];
    _mm512_storeu_si512((void *)lanes, isum[t - t0]);
    return lanes[0];
}

int32_t moee_avx512_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t) {
    if (W->type != MOEE_TYPE_Q8_0 && W->type != MOEE_TYPE_Q4_0) {   /* through the generic pack and isum */
        const moee_type_traits *tt = moee_type(W->type);
        generic_pack pack;
        int64_t row[PACK_ROWS];
        for (int i = 0; i < PACK_ROWS; i++) row[i] = r;
        pack_generic(W->type, 1, tt, W, row, b, 1, &pack, 0);
        const int64_t at = b * qx->n_pad + t;
        const int8_t *x = qx->qs + t * qx->cols + b * MOEE_QK;
        switch (W->type) {
#define CASE(T) case MOEE_TYPE_##T: return dot_##T(&pack, x, qx->cols, qx->sum[at], qx->sum16[at]);
        MOEE_GENERIC_QUANT_TYPES(CASE)
#undef CASE
        default: return 0;
        }
    }
    return W->type == MOEE_TYPE_Q8_0 ? block_dot_typed(MOEE_TYPE_Q8_0, W, r, b, qx, t)
                                     : block_dot_typed(MOEE_TYPE_Q4_0, W, r, b, qx, t);
}

/* ---- float weights -------------------------------------------------------------- */

#define TILE_R 4         /* weight rows per float tile */
#define TILE_T 4         /* tokens per float tile */
#define TOKEN_CHUNK 64   /* tokens whose activations stay in L2 while the rows stream */

/* The n (<= 16) elements at p of a row of `type`, widened to float (zeros past n). */
INLINE __m512 load16_as_float(uint32_t type, const void *p, int n) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    if (type == MOEE_TYPE_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    if (type == MOEE_TYPE_BF16)    /* bf16 is the top half of a float */
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
    return _mm512_maskz_loadu_ps(m, p);
}

INLINE size_t elem_bytes(uint32_t type) { return type == MOEE_TYPE_F32 ? 4 : 2; }

/* Y for rows row[0..3] x the nt (4 or 1) token rows x[0..nt-1]: one 16-lane FMA
 * accumulator per (row, token), columns in steps of 16, then one fixed 16-lane
 * reduction. A (row, token) gets the same operations whatever nt is. */
INLINE void float_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[TILE_R], int n_rows,
                       const float *const x[TILE_T], const int64_t tok[TILE_T], float *Y) {
    const uint8_t *w[TILE_R];
    __m512 acc[TILE_R][TILE_T];
#pragma GCC unroll 4
    for (int i = 0; i < TILE_R; i++) {
        w[i] = (const uint8_t *)W->data + (size_t)(row[i] * W->cols) * elem_bytes(type);
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c < W->cols; c += 16) {
        const int n = W->cols - c < 16 ? (int)(W->cols - c) : 16;
        const __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
        const size_t off = (size_t)c * elem_bytes(type);
        __m512 xv[TILE_T];
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) xv[j] = _mm512_maskz_loadu_ps(m, x[j] + c);
#pragma GCC unroll 4
        for (int i = 0; i < TILE_R; i++) {
            const __m512 wv = load16_as_float(type, w[i] + off, n);
#pragma GCC unroll 4
            for (int j = 0; j < nt; j++) acc[i][j] = _mm512_fmadd_ps(xv[j], wv, acc[i][j]);
        }
    }
    float y[TILE_R][TILE_T];   /* (constant indices, so acc stays in registers) */
#pragma GCC unroll 4
    for (int i = 0; i < TILE_R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) y[i][j] = _mm512_reduce_add_ps(acc[i][j]);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < nt; j++) Y[tok[j] * W->rows + row[i]] = y[i][j];
}

/* The float driver (row tiles x token chunks, the public entry) is shared by
 * every ISA: it calls this file's float_tile. */
#define FLOAT_TILE_ROWS TILE_R
#define FLOAT_MATMUL moee_avx512_matmul_float
#include "kernels/float_rows.h"
