/* quantize_x.c: activation rows -> Q8_0 blocks in the matmul scratch buffer, and
 * the scalar row quantizer. Every variant's quantize_row gives the same bytes as
 * ggml's reference quantizer (tests/kernels_matmul.c checks it), so the quantized
 * activations, and therefore the exact integer block sums, do not depend on the
 * ISA. (It costs O(tokens x cols), but done naively it still took a third of a
 * 512-token expert matmul: hence SIMD versions.) */
#include <math.h>
#include <string.h>
#include "kernels/variants.h"

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Layout inside the scratch buffer: qs, then d, sum_d, sum, neg_sum8, neg_sum128 and sum16,
 * each 64-byte aligned relative to the start (the start itself is aligned up to 64
 * bytes). */
size_t moee_matmul_scratch_bytes(int64_t n_tokens, int64_t cols) {
    if (n_tokens < 1) n_tokens = 1;
    int64_t n_pad = round_up(n_tokens, MOEE_TOKEN_PAD);
    int64_t n_blocks = round_up(cols, MOEE_QK) / MOEE_QK;
    size_t qs = align64((size_t)(n_pad * n_blocks * MOEE_QK));
    size_t d = align64((size_t)(n_blocks * n_pad) * sizeof(float));
    size_t sum = align64((size_t)(n_blocks * n_pad) * sizeof(int32_t));
    return 64 + qs + 2 * d + 4 * sum;
}

/* Whether all n floats are finite (exponent bits not all ones). */
static int all_finite(const float *x, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* ggml's reference quantizer (the type table's Q8_0 from_float) block by block; a
 * block with a non-finite value stops it (converting one to int8 is undefined). */
int moee_scalar_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                             int64_t stride) {
    const moee_type_traits *q8 = moee_type(MOEE_TYPE_Q8_0);
    for (int64_t b = 0; b < n_blocks; b++) {
        if (!all_finite(x + b * MOEE_QK, MOEE_QK)) return 0;
        moee_block_q8_0 blk;
        q8->from_float(x + b * MOEE_QK, &blk, MOEE_QK);
        memcpy(qs + b * MOEE_QK, blk.qs, MOEE_QK);
        int32_t s = 0, s16 = 0;
        for (int j = 0; j < MOEE_QK; j++) {
            s += blk.qs[j];
            if (j == 15) s16 = s;
        }
        d[b * stride] = moee_f16_to_f32(blk.d);
        sum[b * stride] = s;
        sum16[b * stride] = s16;
    }
    return 1;
}

/* A row holding NaN or Inf (a diverging model, a hostile file): ggml's quantizer has
 * no defined answer there (Inf makes d infinite and x / d NaN, cast to int8), so
 * each block with a non-finite value becomes d = NaN, all values 0: every product
 * with it is NaN, and the engine's non-finite-output check reports it. The other
 * blocks are quantized as usual (the scalar quantizer gives every variant's bytes). */
static void quantize_row_nonfinite(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum,
                                   int32_t *sum16, int64_t stride) {
    for (int64_t b = 0; b < n_blocks; b++) {
        if (!moee_scalar_quantize_row(x + b * MOEE_QK, 1, qs + b * MOEE_QK, d + b * stride, sum + b * stride,
                                      sum16 + b * stride, 1)) {
            memset(qs + b * MOEE_QK, 0, MOEE_QK);
            d[b * stride] = NAN;
            sum[b * stride] = sum16[b * stride] = 0;
        }
    }
}

void moee_quantize_x_layout(int64_t n, int64_t cols, uint32_t forms, void *scratch, moee_qx *qx) {
    int64_t n_pad = round_up(n < 1 ? 1 : n, MOEE_TOKEN_PAD);
    int64_t n_blocks = cols / MOEE_QK;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int8_t *qs = (int8_t *)base;
    float *d = (float *)(base + align64((size_t)(n_pad * cols)));
    const size_t per_block_bytes = align64((size_t)(n_blocks * n_pad) * sizeof(int32_t));
    float *sum_d = (float *)((uint8_t *)d + per_block_bytes);
    int32_t *sum = (int32_t *)((uint8_t *)sum_d + per_block_bytes);
    int32_t *neg_sum8 = (int32_t *)((uint8_t *)sum + per_block_bytes);
    int32_t *neg_sum128 = (int32_t *)((uint8_t *)neg_sum8 + per_block_bytes);
    int32_t *sum16 = (int32_t *)((uint8_t *)neg_sum128 + per_block_bytes);
    qx->n_tokens = n;
    qx->n_pad = n_pad;
    qx->cols = cols;
    qx->n_blocks = n_blocks;
    qx->qs = qs;
    qx->d = d;
    qx->sum = forms & MOEE_QX_SUM ? sum : NULL;
    qx->neg_sum8 = forms & MOEE_QX_NEG_SUM8 ? neg_sum8 : NULL;
    qx->neg_sum128 = forms & MOEE_QX_NEG_SUM128 ? neg_sum128 : NULL;
    qx->sum16 = forms & MOEE_QX_SUM16 ? sum16 : NULL;
    qx->sum_d = forms & MOEE_QX_SUM_D ? sum_d : NULL;
}

/* One row of floats quantized with the current variant, ggml's bytes in every one. */
static void quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                         int64_t stride) {
    if (!moee_kernels_current()->quantize_row(x, n_blocks, qs, d, sum, sum16, stride))
        quantize_row_nonfinite(x, n_blocks, qs, d, sum, sum16, stride);
}

/* The layout's own buffers, which the functions below fill. */
typedef struct {
    int8_t *qs;
    float *d, *sum_d;
    int32_t *sum, *sum16, *neg_sum8, *neg_sum128;
} qx_buffers;

static qx_buffers buffers_of(const moee_qx *qx) {
    return (qx_buffers){(int8_t *)qx->qs, (float *)qx->d, (float *)qx->sum_d, (int32_t *)qx->sum,
                        (int32_t *)qx->sum16, (int32_t *)qx->neg_sum8, (int32_t *)qx->neg_sum128};
}

/* Entry i = b * n_pad + t of the [block][token] arrays: block b of token t, its scale,
 * and those of its sums and forms of them that the layout asked for (written together,
 * while the lines are in the cache, rather than read back in a second pass). */
static void set_block(const qx_buffers *o, int64_t i, float d, int32_t sum, int32_t sum16) {
    o->d[i] = d;
    if (o->sum) o->sum[i] = sum;
    if (o->sum16) o->sum16[i] = sum16;
    if (o->neg_sum8) o->neg_sum8[i] = -8 * sum;   /* |sum| <= 32 * 128: no overflow */
    if (o->neg_sum128) o->neg_sum128[i] = -128 * sum;
    if (o->sum_d) o->sum_d[i] = (float)sum * d;
}

/* Pad tokens (n_tokens <= t < n_pad) among t0..t1-1: all zero. */
static void pad_tokens(const moee_qx *qx, const qx_buffers *o, int64_t t0, int64_t t1) {
    for (int64_t t = t0 > qx->n_tokens ? t0 : qx->n_tokens; t < t1; t++) {
        memset(o->qs + t * qx->cols, 0, (size_t)qx->cols);
        for (int64_t b = 0; b < qx->n_blocks; b++) set_block(o, b * qx->n_pad + t, 0.0f, 0, 0);
    }
}

/* Tokens and blocks quantized at a time before their scales and sums are copied into
 * the [block][token] arrays: block by block, so that a range of 16 tokens (the grain
 * the matmul hands out) writes whole cache lines of them instead of one int per line
 * per token. */
#define QX_TOKENS 16
#define QX_BLOCKS 64

void moee_quantize_x_tokens(const moee_qx *qx, const float *X, const int32_t *x_rows, int64_t t0, int64_t t1) {
    const qx_buffers o = buffers_of(qx);
    const int64_t n_pad = qx->n_pad, cols = qx->cols, n_blocks = qx->n_blocks;
    const int64_t t_end = t1 < qx->n_tokens ? t1 : qx->n_tokens;
    float d[QX_TOKENS][QX_BLOCKS];
    int32_t sum[QX_TOKENS][QX_BLOCKS], sum16[QX_TOKENS][QX_BLOCKS];
    for (int64_t g0 = t0; g0 < t_end; g0 += QX_TOKENS) {
        const int64_t g1 = t_end - g0 < QX_TOKENS ? t_end : g0 + QX_TOKENS;
        for (int64_t b0 = 0; b0 < n_blocks; b0 += QX_BLOCKS) {
            const int64_t nb = n_blocks - b0 < QX_BLOCKS ? n_blocks - b0 : QX_BLOCKS;
            for (int64_t t = g0; t < g1; t++)   /* (Q8_0 blocks are independent: a row may go in pieces) */
                quantize_row(X + (x_rows ? (int64_t)x_rows[t] : t) * cols + b0 * MOEE_QK, nb,
                             o.qs + t * cols + b0 * MOEE_QK, d[t - g0], sum[t - g0], sum16[t - g0], 1);
            for (int64_t b = 0; b < nb; b++)
                for (int64_t t = g0; t < g1; t++)
                    set_block(&o, (b0 + b) * n_pad + t, d[t - g0][b], sum[t - g0][b], sum16[t - g0][b]);
        }
    }
    pad_tokens(qx, &o, t0, t1);
}

void moee_quantize_x_gather_tokens(const moee_qx *qx, const moee_qrows *Xq, const int32_t *x_rows, int64_t t0,
                                   int64_t t1) {
    const qx_buffers o = buffers_of(qx);
    const int64_t n_pad = qx->n_pad, cols = qx->cols, n_blocks = qx->n_blocks;
    const int64_t t_end = t1 < qx->n_tokens ? t1 : qx->n_tokens;
    for (int64_t t = t0; t < t_end; t++)
        memcpy(o.qs + t * cols, Xq->qs + (x_rows ? (int64_t)x_rows[t] : t) * cols, (size_t)cols);
    for (int64_t b = 0; b < n_blocks; b++)   /* block by block: see QX_TOKENS */
        for (int64_t t = t0; t < t_end; t++) {
            const int64_t r = x_rows ? (int64_t)x_rows[t] : t;
            set_block(&o, b * n_pad + t, Xq->d[r * n_blocks + b], Xq->sum[r * n_blocks + b],
                      Xq->sum16[r * n_blocks + b]);
        }
    pad_tokens(qx, &o, t0, t1);
}

/* ---- rows quantized once (moee_quantize_rows) ---- */

size_t moee_qrows_bytes(int64_t n, int64_t cols) {
    if (n < 1) n = 1;
    const int64_t n_blocks = round_up(cols, MOEE_QK) / MOEE_QK;
    return 64 + align64((size_t)(n * n_blocks * MOEE_QK)) + 3 * align64((size_t)(n * n_blocks) * sizeof(int32_t));
}

typedef struct { const float *X; const moee_qrows *q; } qrows_job;

static void qrows_task(void *arg, int64_t t0, int64_t t1, int thread) {
    const qrows_job *job = arg;
    const moee_qrows *q = job->q;
    const int64_t nb = q->cols / MOEE_QK;
    for (int64_t t = t0; t < t1; t++)
        quantize_row(job->X + t * q->cols, nb, q->qs + t * q->cols, q->d + t * nb, q->sum + t * nb,
                     q->sum16 + t * nb, 1);
}

void moee_quantize_rows(moee_team *team, const float *X, int64_t n, int64_t cols, void *buf, moee_qrows *q) {
    const int64_t n_blocks = cols / MOEE_QK;
    uint8_t *base = (uint8_t *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    const size_t per_block = align64((size_t)((n < 1 ? 1 : n) * n_blocks) * sizeof(int32_t));
    q->n = n;
    q->cols = cols;
    q->qs = (int8_t *)base;
    q->d = (float *)(base + align64((size_t)((n < 1 ? 1 : n) * n_blocks * MOEE_QK)));
    q->sum = (int32_t *)((uint8_t *)q->d + per_block);
    q->sum16 = (int32_t *)((uint8_t *)q->sum + per_block);
    qrows_job job = {X, q};
    moee_team_for(n * cols >= ((int64_t)1 << 16) ? team : NULL, n, 16, qrows_task, &job);
}

void moee_quantize_x(const float *X, const int32_t *x_rows, int64_t n, int64_t cols, void *scratch, moee_qx *qx) {
    moee_quantize_x_layout(n, cols, MOEE_QX_ALL, scratch, qx);
    moee_quantize_x_tokens(qx, X, x_rows, 0, qx->n_pad);
}
