/* matmul.c: the scalar matrix products, Y[t][r] = sum_c X[t][c] * W[r][c].
 * This is the readable oracle the SIMD variants are tested against. */
#include "kernels/variants.h"

/* ---- integer block dot products ---------------------------------------------- */

int32_t moee_scalar_dot_q8_0_block(const moee_block_q8_0 *w, const int8_t *x) {
    int32_t sum = 0;
    for (int j = 0; j < MOEE_QK; j++) sum += (int32_t)w->qs[j] * x[j];
    return sum;
}

/* Element j < 16 is the low nibble of byte j, element j + 16 the high nibble. */
int32_t moee_scalar_dot_q4_0_block(const moee_block_q4_0 *w, const int8_t *x) {
    int32_t sum = 0;
    for (int j = 0; j < MOEE_QK / 2; j++) {
        sum += ((w->qs[j] & 0x0f) - 8) * x[j];
        sum += ((w->qs[j] >> 4) - 8) * x[j + MOEE_QK / 2];
    }
    return sum;
}

int32_t moee_scalar_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t) {
    const int8_t *x = qx->qs + t * qx->cols + b * MOEE_QK;
    if (W->type == MOEE_TYPE_Q8_0)
        return moee_scalar_dot_q8_0_block((const moee_block_q8_0 *)W->data + r * qx->n_blocks + b, x);
    return moee_scalar_dot_q4_0_block((const moee_block_q4_0 *)W->data + r * qx->n_blocks + b, x);
}

/* ---- quantized weights ----------------------------------------------------------- */

/* One output: blocks in order, acc = acc + (float)isum * (d_w * d_x). The product
 * and the sum are separate roundings (the build is ISO C, so no FMA contraction);
 * every SIMD variant does exactly the same, so all variants agree bit for bit. */
static float quant_row_dot(const moee_matrix *W, int64_t r, const moee_qx *qx, int64_t t) {
    float acc = 0.0f;
    for (int64_t b = 0; b < qx->n_blocks; b++) {
        float d_w;
        int32_t isum;
        if (W->type == MOEE_TYPE_Q8_0) {
            const moee_block_q8_0 *blk = (const moee_block_q8_0 *)W->data + r * qx->n_blocks + b;
            d_w = moee_f16_to_f32(blk->d);
            isum = moee_scalar_dot_q8_0_block(blk, qx->qs + t * qx->cols + b * MOEE_QK);
        } else {
            const moee_block_q4_0 *blk = (const moee_block_q4_0 *)W->data + r * qx->n_blocks + b;
            d_w = moee_f16_to_f32(blk->d);
            isum = moee_scalar_dot_q4_0_block(blk, qx->qs + t * qx->cols + b * MOEE_QK);
        }
        float scale = d_w * qx->d[b * qx->n_pad + t];
        float term = (float)isum * scale;
        acc = acc + term;
    }
    return acc;
}

void moee_scalar_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < qx->n_tokens; t++)
            Y[t * W->rows + r] = quant_row_dot(W, r, qx, t);
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
