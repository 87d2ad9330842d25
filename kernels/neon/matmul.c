/* neon/matmul.c: the matrix products with NEON and the dot-product extension
 * (armv8.2-a+dotprod).
 *
 * Quantized weights: a GEMM on tiles of 4 weight rows x 4 tokens (each weight block
 * is loaded once per 4 tokens, each activation block once per 4 rows). sdot multiplies SIGNED by SIGNED bytes, so no offset is needed:
 * Q8_0 weights are used as they are, Q4_0 nibbles become nibble - 8 (-8..7). The
 * 4 int32 lanes of each block dot are summed with pairwise adds (4 dot products
 * at a time), exactly; then per (token, row) acc = acc + (float)isum * (d_w * d_x),
 * the scalar oracle's sequence, so the output is bit-identical to scalar. The last
 * n % 4 tokens go one at a time.
 *
 * Float weights: tiles of 2 rows x 4 tokens (the last n % 4 tokens one at a time),
 * 8 columns per step, two 4-lane FMA accumulators per (row, token) (8 partial sums,
 * like AVX2); the last partial step goes through zero-padded copies; one fixed
 * reduction at the end. */
#include <arm_neon.h>
#include <string.h>
#include "kernels/variants.h"

#define TILE_R 4
#define TILE_T 4
#define TOKEN_CHUNK 64   /* tokens whose activations stay in cache while rows stream */
#define INLINE static inline __attribute__((always_inline))

INLINE size_t block_bytes(uint32_t type) {
    return type == MOEE_TYPE_Q8_0 ? sizeof(moee_block_q8_0) : sizeof(moee_block_q4_0);
}

/* Weight block `blk` as its 32 signed integer values: lo = elements 0..15, hi = 16..31. */
INLINE void weight_block_s8(uint32_t type, const uint8_t *blk, int8x16_t *lo, int8x16_t *hi) {
    if (type == MOEE_TYPE_Q8_0) {
        const int8_t *qs = (const int8_t *)(blk + 2);
        *lo = vld1q_s8(qs);
        *hi = vld1q_s8(qs + 16);
        return;
    }
    const uint8x16_t q = vld1q_u8(blk + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
}

INLINE uint16_t block_d(const uint8_t *blk) { uint16_t d; memcpy(&d, blk, 2); return d; }

/* Where a tile reads (block b of weight row i at w[i] + b * block bytes, of token j at
 * x[j] + b * 32), and the per-block token scales. */
typedef struct {
    const uint8_t *w[TILE_R];
    const int8_t *x[TILE_T];
    const float *d_x;       /* + b * n_pad: the 4 tokens' scales */
    int64_t n_pad;
} quant_tile_src;

static quant_tile_src tile_src(uint32_t type, const moee_matrix *W, const int64_t row[TILE_R],
                               const moee_qx *qx, int64_t t0) {
    quant_tile_src s;
    for (int i = 0; i < TILE_R; i++)
        s.w[i] = (const uint8_t *)W->data + (size_t)(row[i] * qx->n_blocks) * block_bytes(type);
    for (int j = 0; j < TILE_T; j++) s.x[j] = qx->qs + (t0 + j) * qx->cols;
    s.d_x = qx->d + t0;
    s.n_pad = qx->n_pad;
    return s;
}

/* The 4 int32 lanes of one block dot product (they sum to it). */
INLINE int32x4_t dot_lanes(int8x16_t wlo, int8x16_t whi, int8x16_t xlo, int8x16_t xhi) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), wlo, xlo), whi, xhi);
}

/* The exact block sums of the tile for block b: sums[i] lane j = row i, token j. */
INLINE void tile_block_sums(uint32_t type, int nt, const quant_tile_src *s, int64_t b, int32x4_t sums[TILE_R]) {
    const size_t wb = (size_t)b * block_bytes(type), xb = (size_t)b * MOEE_QK;
    int8x16_t xlo[TILE_T], xhi[TILE_T];
#pragma GCC unroll 4
    for (int j = 0; j < nt; j++) {
        xlo[j] = vld1q_s8(s->x[j] + xb);
        xhi[j] = vld1q_s8(s->x[j] + xb + 16);
    }
#pragma GCC unroll 4
    for (int i = 0; i < TILE_R; i++) {
        int8x16_t wlo, whi;
        weight_block_s8(type, s->w[i] + wb, &wlo, &whi);
        if (nt == 1) {   /* one token: its sum in every lane */
            const int32x4_t d0 = dot_lanes(wlo, whi, xlo[0], xhi[0]);
            sums[i] = vdupq_n_s32(vaddvq_s32(d0));
            continue;
        }
        const int32x4_t d0 = dot_lanes(wlo, whi, xlo[0], xhi[0]), d1 = dot_lanes(wlo, whi, xlo[1], xhi[1]);
        const int32x4_t d2 = dot_lanes(wlo, whi, xlo[2], xhi[2]), d3 = dot_lanes(wlo, whi, xlo[3], xhi[3]);
        sums[i] = vpaddq_s32(vpaddq_s32(d0, d1), vpaddq_s32(d2, d3));
    }
}

/* Y for rows row[0..3] x tokens t0..t0+nt-1 (nt = 4, or 1 for the last n % 4 tokens;
 * lane j of the vectors is token t0 + j, and lanes past nt are never stored). */
INLINE void quant_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[TILE_R], int n_rows,
                       const moee_qx *qx, int64_t t0, float *Y) {
    const quant_tile_src s = tile_src(type, W, row, qx, t0);
    float32x4_t acc[TILE_R];
#pragma GCC unroll 4
    for (int i = 0; i < TILE_R; i++) acc[i] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        int32x4_t sums[TILE_R];
        tile_block_sums(type, nt, &s, b, sums);
        const size_t wb = (size_t)b * block_bytes(type);
        const uint16_t d16[4] = {block_d(s.w[0] + wb), block_d(s.w[1] + wb), block_d(s.w[2] + wb), block_d(s.w[3] + wb)};
        const float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d16)));
        const float32x4_t dx = vld1q_f32(s.d_x + b * s.n_pad);   /* (n_pad keeps 4 lanes in bounds) */
        /* acc + (float)isum * (d_w * d_x): three roundings, as in the scalar oracle */
        acc[0] = vaddq_f32(acc[0], vmulq_f32(vcvtq_f32_s32(sums[0]), vmulq_laneq_f32(dx, dw, 0)));
        acc[1] = vaddq_f32(acc[1], vmulq_f32(vcvtq_f32_s32(sums[1]), vmulq_laneq_f32(dx, dw, 1)));
        acc[2] = vaddq_f32(acc[2], vmulq_f32(vcvtq_f32_s32(sums[2]), vmulq_laneq_f32(dx, dw, 2)));
        acc[3] = vaddq_f32(acc[3], vmulq_f32(vcvtq_f32_s32(sums[3]), vmulq_laneq_f32(dx, dw, 3)));
    }
    float out[TILE_R][TILE_T];
#pragma GCC unroll 4
    for (int i = 0; i < TILE_R; i++) vst1q_f32(out[i], acc[i]);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < nt; j++) Y[(t0 + j) * W->rows + row[i]] = out[i][j];
}


INLINE void quant_rows(uint32_t type, const moee_matrix *W, const moee_qx *qx, float *Y,
                       int64_t rt0, int64_t rt1) {
    for (int64_t c0 = 0; c0 < qx->n_tokens; c0 += TOKEN_CHUNK)
        for (int64_t rt = rt0; rt < rt1; rt++) {
            int64_t row[TILE_R];
            int n_rows = tile_rows(W, rt, TILE_R, row);
            for (int64_t t0 = c0; t0 < c0 + TOKEN_CHUNK && t0 < qx->n_tokens;) {
                if (qx->n_tokens - t0 >= TILE_T) quant_tile(type, TILE_T, W, row, n_rows, qx, t0, Y);
                else quant_tile(type, 1, W, row, n_rows, qx, t0, Y);
                t0 += qx->n_tokens - t0 >= TILE_T ? TILE_T : 1;
            }
        }
}
static void quant_rows_q8_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    quant_rows(MOEE_TYPE_Q8_0, W, qx, Y, rt0, rt1);
}
static void quant_rows_q4_0(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    quant_rows(MOEE_TYPE_Q4_0, W, qx, Y, rt0, rt1);
}

/* ---- every other quantized type ----------------------------------------------------
 * The same tiles of 4 rows x 4 tokens over the type table's integer form
 * (kernels/matmul.c): each row's block is unpacked by the table (codes and scales),
 * its values u - offset (signed bytes for every type) dotted with sdot, the two
 * 16-element halves kept apart for the sub-block scales; then the scalar oracle's
 * float sequence, lane j = token j. Bit-identical to scalar. (The unpack is the
 * table's scalar one: correct everywhere, not tuned for ARM.) */

INLINE void generic_tile(const moee_type_traits *tt, int nt, const moee_matrix *W, const int64_t row[TILE_R],
                         int n_rows, const moee_qx *qx, int64_t t0, float *Y) {
    const size_t row_bytes = moee_type_row_bytes(W->type, W->cols);
    float32x4_t acc[TILE_R];
    for (int i = 0; i < TILE_R; i++) acc[i] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        int8x16_t xlo[TILE_T], xhi[TILE_T];
        for (int j = 0; j < nt; j++) {
            xlo[j] = vld1q_s8(qx->qs + (t0 + j) * qx->cols + b * MOEE_QK);
            xhi[j] = vld1q_s8(qx->qs + (t0 + j) * qx->cols + b * MOEE_QK + 16);
        }
        const int64_t at = b * qx->n_pad + t0;
        const float32x4_t dx = vld1q_f32(qx->d + at);             /* (n_pad keeps 4 lanes in bounds) */
        const int32x4_t s = vld1q_s32(qx->sum + at), s16 = vld1q_s32(qx->sum16 + at);
        for (int i = 0; i < TILE_R; i++) {
            moee_block32 o;
            tt->unpack((const uint8_t *)W->data + (size_t)row[i] * row_bytes, b, &o);
            const int8x16_t off = vdupq_n_s8((int8_t)tt->offset);
            const int8x16_t wlo = vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(o.u)), off);
            const int8x16_t whi = vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(o.u + 16)), off);
            int32x4_t lo, hi;
            if (nt == 1) {
                lo = vdupq_n_s32(vaddvq_s32(vdotq_s32(vdupq_n_s32(0), wlo, xlo[0])));
                hi = vdupq_n_s32(vaddvq_s32(vdotq_s32(vdupq_n_s32(0), whi, xhi[0])));
            } else {
                int32x4_t l[TILE_T], h[TILE_T];
                for (int j = 0; j < TILE_T; j++) {
                    l[j] = vdotq_s32(vdupq_n_s32(0), wlo, xlo[j]);
                    h[j] = vdotq_s32(vdupq_n_s32(0), whi, xhi[j]);
                }
                lo = vpaddq_s32(vpaddq_s32(l[0], l[1]), vpaddq_s32(l[2], l[3]));
                hi = vpaddq_s32(vpaddq_s32(h[0], h[1]), vpaddq_s32(h[2], h[3]));
            }
            const int32x4_t isum = vaddq_s32(vmulq_n_s32(lo, o.sc[0]), vmulq_n_s32(hi, o.sc[1]));
            /* acc + (float)isum * (d_w * d_x), then + m * ((float)msum * d_x): the oracle's roundings */
            acc[i] = vaddq_f32(acc[i], vmulq_f32(vcvtq_f32_s32(isum), vmulq_n_f32(dx, o.d)));
            if (tt->has_min) {
                const int32x4_t msum = vaddq_s32(vmulq_n_s32(s16, o.mn[0]), vmulq_n_s32(vsubq_s32(s, s16), o.mn[1]));
                acc[i] = vaddq_f32(acc[i], vmulq_n_f32(vmulq_f32(vcvtq_f32_s32(msum), dx), o.m));
            }
        }
    }
    float out[TILE_R][TILE_T];
    for (int i = 0; i < TILE_R; i++) vst1q_f32(out[i], acc[i]);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < nt; j++) Y[(t0 + j) * W->rows + row[i]] = out[i][j];
}

static void generic_rows(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t rt0, int64_t rt1) {
    const moee_type_traits *tt = moee_type(W->type);
    for (int64_t rt = rt0; rt < rt1; rt++) {
        int64_t row[TILE_R];
        const int n_rows = tile_rows(W, rt, TILE_R, row);
        for (int64_t t0 = 0; t0 < qx->n_tokens;) {
            const int nt = qx->n_tokens - t0 >= TILE_T ? TILE_T : 1;
            generic_tile(tt, nt, W, row, n_rows, qx, t0, Y);
            t0 += nt;
        }
    }
}

void moee_neon_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1) {
    const int64_t rt0 = r0 / TILE_R, rt1 = (r1 + TILE_R - 1) / TILE_R;   /* TILE_R divides MOEE_ROW_BLOCK */
    if (W->type == MOEE_TYPE_Q8_0) quant_rows_q8_0(W, qx, Y, rt0, rt1);
    else if (W->type == MOEE_TYPE_Q4_0) quant_rows_q4_0(W, qx, Y, rt0, rt1);
    else generic_rows(W, qx, Y, rt0, rt1);
}

int32_t moee_neon_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t) {
    if (W->type != MOEE_TYPE_Q8_0 && W->type != MOEE_TYPE_Q4_0) {   /* the generic tile's integer steps */
        const moee_type_traits *tt = moee_type(W->type);
        moee_block32 o;
        tt->unpack((const uint8_t *)W->data + (size_t)r * moee_type_row_bytes(W->type, W->cols), b, &o);
        const int8x16_t off = vdupq_n_s8((int8_t)tt->offset);
        const int8_t *x = qx->qs + t * qx->cols + b * MOEE_QK;
        const int32_t lo = vaddvq_s32(vdotq_s32(vdupq_n_s32(0), vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(o.u)), off),
                                                vld1q_s8(x)));
        const int32_t hi = vaddvq_s32(vdotq_s32(vdupq_n_s32(0),
                                                vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(o.u + 16)), off), vld1q_s8(x + 16)));
        return o.sc[0] * lo + o.sc[1] * hi;
    }
    /* the tile that holds (r, t), through the same code as the matmul */
    int64_t row[TILE_R] = {r, r, r, r}, t0 = t / TILE_T * TILE_T;
    int32x4_t sums[TILE_R];
    if (W->type == MOEE_TYPE_Q8_0) {
        quant_tile_src s = tile_src(MOEE_TYPE_Q8_0, W, row, qx, t0);
        tile_block_sums(MOEE_TYPE_Q8_0, TILE_T, &s, b, sums);
    } else {
        quant_tile_src s = tile_src(MOEE_TYPE_Q4_0, W, row, qx, t0);
        tile_block_sums(MOEE_TYPE_Q4_0, TILE_T, &s, b, sums);
    }
    int32_t lanes[4];
    vst1q_s32(lanes, sums[0]);
    return lanes[t - t0];
}

/* ---- float weights -------------------------------------------------------------- */

#define FTILE_R 2

INLINE size_t elem_bytes(uint32_t type) { return type == MOEE_TYPE_F32 ? 4 : 2; }

/* 4 elements at p of a row of `type`, widened to float. */
INLINE float32x4_t load4_as_float(uint32_t type, const uint8_t *p) {
    if (type == MOEE_TYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p)));
    if (type == MOEE_TYPE_BF16)    /* bf16 is the top half of a float */
        return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p), 16));
    return vld1q_f32((const float *)p);
}

/* One step of 8 columns (two halves of 4) for 2 rows x nt tokens. */
INLINE void float_step(uint32_t type, int nt, const float *const x[TILE_T], const uint8_t *w0, const uint8_t *w1,
                       float32x4_t acc[FTILE_R][TILE_T][2]) {
    const size_t eb = elem_bytes(type);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const float32x4_t wa = load4_as_float(type, w0 + 4 * h * eb), wb = load4_as_float(type, w1 + 4 * h * eb);
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) {
            const float32x4_t xv = vld1q_f32(x[j] + 4 * h);
            acc[0][j][h] = vfmaq_f32(acc[0][j][h], xv, wa);
            acc[1][j][h] = vfmaq_f32(acc[1][j][h], xv, wb);
        }
    }
}

/* Y for rows row[0..1] x the nt (4 or 1) token rows x[0..nt-1]; a (row, token) gets
 * the same operations whatever nt is. */
INLINE void float_tile(uint32_t type, int nt, const moee_matrix *W, const int64_t row[FTILE_R], int n_rows,
                       const float *const x[TILE_T], const int64_t tok[TILE_T], float *Y) {
    const size_t eb = elem_bytes(type);
    const uint8_t *w0 = (const uint8_t *)W->data + (size_t)(row[0] * W->cols) * eb;
    const uint8_t *w1 = (const uint8_t *)W->data + (size_t)(row[1] * W->cols) * eb;
    float32x4_t acc[FTILE_R][TILE_T][2];
#pragma GCC unroll 2
    for (int i = 0; i < FTILE_R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j][0] = acc[i][j][1] = vdupq_n_f32(0.0f);
    int64_t c = 0;
    for (; c + 8 <= W->cols; c += 8) {
        const float *xc[TILE_T];
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) xc[j] = x[j] + c;
        float_step(type, nt, xc, w0 + c * eb, w1 + c * eb, acc);
    }
    if (c < W->cols) {    /* the last partial step, through zero-padded copies */
        float xt[TILE_T][8] = {{0}};
        uint8_t wt[FTILE_R][32] = {{0}};
        const size_t n = (size_t)(W->cols - c);
        const float *xc[TILE_T];
        for (int j = 0; j < nt; j++) { memcpy(xt[j], x[j] + c, n * sizeof(float)); xc[j] = xt[j]; }
        memcpy(wt[0], w0 + c * eb, n * eb);
        memcpy(wt[1], w1 + c * eb, n * eb);
        float_step(type, nt, xc, wt[0], wt[1], acc);
    }
    float y[FTILE_R][TILE_T];   /* (constant indices, so acc stays in registers) */
#pragma GCC unroll 2
    for (int i = 0; i < FTILE_R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) y[i][j] = vaddvq_f32(vaddq_f32(acc[i][j][0], acc[i][j][1]));
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < nt; j++) Y[tok[j] * W->rows + row[i]] = y[i][j];
}

/* The float driver (row tiles x token chunks, the public entry) is shared by
 * every ISA: it calls this file's float_tile. */
#define FLOAT_TILE_ROWS FTILE_R
#define FLOAT_MATMUL moee_neon_matmul_float
#include "kernels/float_rows.h"
