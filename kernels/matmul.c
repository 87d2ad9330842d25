/* matmul.c: the scalar matrix products, Y[t][r] = sum_c X[t][c] * W[r][c].
 * This is the readable oracle the SIMD variants are tested against. */
#include "kernels/variants.h"

/* ---- quantized weights ----------------------------------------------------------- *
 * Every quantized type is multiplied with the same activations: each token row
 * quantized to Q8_0 32-blocks (moee_quantize_x: int8 a_j, float scale d_x, and the
 * exact sums S_lo, S_hi of the block's first and last 16 a_j). ggml instead pairs the
 * K types with Q8_K (256-element blocks, float scale) and Q4_1/Q5_1 with Q8_1; moee
 * keeps one activation format because then (a) one quantization of a token row
 * serves every matrix it meets (q, k, v of mixed types; an expert's gate, up), (b)
 * the SIMD kernels keep one int8 micro-kernel, fed by a per-type unpack of the
 * weights, and (c) the activation error is no worse: a 32-block's scale follows the
 * values more closely than a 256-block's.
 *
 * A weight 32-block in the type table's integer form (types.h, moee_block32),
 *     w_j = d * sc_h * (u_j - offset) + m * mn_h      (h = j / 16)
 * dotted with a_j * d_x is, exactly,
 *     d_x * (d * isum + m * msum),
 *     isum = sc_0 * sum_{j<16} (u_j - offset) a_j + sc_1 * sum_{j>=16} (u_j - offset) a_j
 *     msum = mn_0 * S_lo + mn_1 * S_hi
 * with isum and msum exact int32 (|isum| < 2^31 for every type: Q6_K's is the
 * largest, 2 * 128 * 32 * 16 * 128 = 2^24). Per output, in block order:
 *     acc = acc + (float)isum * (d * d_x)
 *     acc = acc + m * ((float)msum * d_x)        (types with a minimum only)
 * (the second grouping lets the SIMD kernels compute (float)msum * d_x once per
 * token when msum is the activation sum, i.e. for every type but Q2_K)
 * each a separately rounded float operation (ISO C: no FMA contraction); every SIMD
 * variant does exactly this, so all variants agree bit for bit. For Q8_0 and Q4_0
 * this is the sequence moee always had.
 *
 * Error against the exact dot product of the dequantized row with the float
 * activations: only the activation rounding, |a_j d_x - x_j| <= d_x / 2, so
 * |result - sum_j w_j x_j| <= sum_blocks (d_x / 2) sum_j |w_j| (+ float rounding,
 * ~1e-6 relative). ggml's own vec_dot (with Q8_K or Q8_1 activations) has the same
 * kind of error with its own block scales; tests/kernels_quant_vectors.c checks
 * moee's result against ggml's stored dot products within the sum of both bounds. */

/* The exact integer parts of weight block `o` with activation block x: *isum and *msum. */
void moee_block32_dot(const moee_type_traits *t, const moee_block32 *o, const int8_t *x, int32_t s_lo,
                      int32_t s_hi, int32_t *isum, int32_t *msum) {
    int32_t half[2] = {0, 0};
    for (int j = 0; j < MOEE_QK; j++) half[j / 16] += ((int32_t)o->u[j] - t->offset) * x[j];
    *isum = o->sc[0] * half[0] + o->sc[1] * half[1];
    *msum = o->mn[0] * s_lo + o->mn[1] * s_hi;
}

uint32_t moee_scalar_qx_forms(uint32_t type) {
    (void)type;
    return MOEE_QX_SUM | MOEE_QX_SUM16 | MOEE_QX_SUM_D;
}

int32_t moee_scalar_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t) {
    const moee_type_traits *tt = moee_type(W->type);
    moee_block32 o;
    tt->unpack((const uint8_t *)W->data + r * moee_type_row_bytes(W->type, W->cols), b, &o);
    const int32_t s_lo = qx->sum16[b * qx->n_pad + t], s_hi = qx->sum[b * qx->n_pad + t] - s_lo;
    int32_t isum, msum;
    moee_block32_dot(tt, &o, qx->qs + t * qx->cols + b * MOEE_QK, s_lo, s_hi, &isum, &msum);
    return isum;
}

#define ORACLE_TOKENS 64   /* tokens whose running sums wait on the stack while a row's blocks go by */

/* Rows r0..r1-1: each weight block is unpacked once per ORACLE_TOKENS tokens. */
void moee_scalar_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1) {
    const moee_type_traits *tt = moee_type(W->type);
    const size_t row_bytes = moee_type_row_bytes(W->type, W->cols);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)W->data + r * row_bytes;
        for (int64_t t0 = 0; t0 < qx->n_tokens; t0 += ORACLE_TOKENS) {
            const int64_t nt = qx->n_tokens - t0 < ORACLE_TOKENS ? qx->n_tokens - t0 : ORACLE_TOKENS;
            float acc[ORACLE_TOKENS] = {0};
            for (int64_t b = 0; b < qx->n_blocks; b++) {
                moee_block32 o;
                tt->unpack(row, b, &o);
                for (int64_t j = 0; j < nt; j++) {
                    const int64_t t = t0 + j, at = b * qx->n_pad + t;
                    int32_t isum, msum;
                    moee_block32_dot(tt, &o, qx->qs + t * qx->cols + b * MOEE_QK, qx->sum16[at],
                                     qx->sum[at] - qx->sum16[at], &isum, &msum);
                    acc[j] = acc[j] + (float)isum * (o.d * qx->d[at]);
                    if (tt->has_min) acc[j] = acc[j] + o.m * ((float)msum * qx->d[at]);
                }
            }
            for (int64_t j = 0; j < nt; j++) Y[(t0 + j) * W->rows + r] = acc[j];
        }
    }
}

/* ---- float weights ------------------------------------------------------------- */

/* One weight element widened to float (exact for all three types). */
static float weight_at(const moee_matrix *W, int64_t i) {
    switch (W->type) {
    case MOEE_TYPE_F16:  return moee_f16_to_f32(((const uint16_t *)W->data)[i]);
    case MOEE_TYPE_BF16: return moee_bf16_to_f32(((const uint16_t *)W->data)[i]);
    default:             return ((const float *)W->data)[i];
    }
}

/* One running float sum over the columns in order: acc = acc + x * w. */
void moee_scalar_matmul_float(const moee_matrix *W, const float *X, const int32_t *x_rows,
                              int64_t n, float *Y, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < n; t++) {
            const float *x = X + (x_rows ? (int64_t)x_rows[t] : t) * W->cols;
            float acc = 0.0f;
            for (int64_t c = 0; c < W->cols; c++) acc = acc + x[c] * weight_at(W, r * W->cols + c);
            Y[t * W->rows + r] = acc;
        }
}
