/* variants.h: what the kernel variants (scalar, avx2, avx512, neon) share, and the
 * functions each of them provides. Internal to kernels/ and its tests; the engine
 * uses only kernels.h.
 *
 * How a quantized matmul runs (every variant):
 *   1. moee_quantize_x_tokens() turns the float activation rows into Q8_0 blocks with
 *      ggml's reference quantizer (the same bytes in every variant), in the
 *      caller's scratch buffer, plus each block's scale as a float and the exact
 *      sum of its 32 int8 values (the SIMD kernels use it to correct for the
 *      unsigned operand of their int8 dot instructions).
 *   2. The variant's matmul_quant computes, for every (token, row) and every block
 *      b in order, the exact int32 block dot product isum_b and accumulates
 *          acc = acc + (float)isum_b * (d_w_b * d_x_b)
 *      as three separately rounded float operations (no FMA), starting from 0
 *      (plus a minimum term for the types that have one: kernels/matmul.c).
 *   Because the integer part is exact and the float sequence is the same, the
 *   quantized matmul gives bit-identical results in every variant.
 *
 * Float weights (F32/F16/BF16) are widened to float exactly; each variant sums the
 * products in its own fixed order (scalar: one running sum over the columns in
 * order; SIMD: one partial sum per vector lane, FMA, then a fixed reduction tree),
 * so results differ between variants by rounding only (see tests/kernels_matmul.c
 * for the bound tested). */
#ifndef MOEE_KERNELS_VARIANTS_H
#define MOEE_KERNELS_VARIANTS_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels.h"

/* Token rows are padded to a multiple of this in the quantized-activation scratch,
 * so SIMD kernels can always work on whole tiles of tokens (pad tokens are zeros). */
#define MOEE_TOKEN_PAD 4

/* Activations quantized to Q8_0 blocks, laid out for the GEMM kernels. */
typedef struct {
    int64_t n_tokens;   /* real tokens */
    int64_t n_pad;      /* n_tokens rounded up to MOEE_TOKEN_PAD */
    int64_t cols;       /* a multiple of MOEE_QK */
    int64_t n_blocks;   /* cols / MOEE_QK */
    const int8_t *qs;   /* [n_pad][cols]: token t, block b at qs + t*cols + b*MOEE_QK */
    const float *d;     /* [n_blocks][n_pad]: block scale (the fp16 value, as float) */
    const int32_t *sum; /* [n_blocks][n_pad]: sum of the block's 32 qs */
    const int32_t *sum16; /* [n_blocks][n_pad]: sum of the block's first 16 qs */
    /* -8 * sum and -128 * sum: where the x86 kernels' block sums with unsigned
     * weights start (Q4_0 nibbles are value + 8, Q8_0 bytes value + 128), computed
     * once per call so the kernels' inner loops only load them. */
    const int32_t *neg_sum8;
    const int32_t *neg_sum128;
    /* (float)sum * d: a whole block's factor of the weights' minimum (types with one
     * and 32-value sub-blocks), the oracle's value, computed once per call likewise. */
    const float *sum_d;
} moee_qx;

/* Which of the per-block sums above a matmul reads (qs and d it always does): only
 * those are written, the others are NULL. Filling the [block][token] arrays is most
 * of what copying a token's quantized row to an expert costs, and the AVX-512 Q4_0
 * tile reads one of the five. */
enum {
    MOEE_QX_SUM = 1,
    MOEE_QX_SUM16 = 2,
    MOEE_QX_NEG_SUM8 = 4,
    MOEE_QX_NEG_SUM128 = 8,
    MOEE_QX_SUM_D = 16,
    MOEE_QX_ALL = 31
};

/* Describes in *qx where the n rows quantized for `cols` columns live in scratch
 * (moee_matmul_scratch_bytes(n, cols) bytes), with the sums `forms` asks for (MOEE_QX_
 * flags); moee_quantize_x_tokens fills tokens
 * [t0, t1) of the n_pad (pad tokens are zeros): row i is X[x_rows[i]] (X[i] when
 * x_rows is NULL), quantized with the current variant's quantize_row. Token ranges
 * are independent: threads may fill different ones at once. */
void moee_quantize_x_layout(int64_t n, int64_t cols, uint32_t forms, void *scratch, moee_qx *qx);
void moee_quantize_x_tokens(const moee_qx *qx, const float *X, const int32_t *x_rows, int64_t t0, int64_t t1);
/* As moee_quantize_x_tokens, with row i copied from the already quantized row
 * x_rows[i] (i when x_rows is NULL) of Xq: the same bytes. */
void moee_quantize_x_gather_tokens(const moee_qx *qx, const moee_qrows *Xq, const int32_t *x_rows, int64_t t0,
                                   int64_t t1);
/* Both at once, on the calling thread, with every sum (MOEE_QX_ALL). */
void moee_quantize_x(const float *X, const int32_t *x_rows, int64_t n, int64_t cols, void *scratch, moee_qx *qx);

/* The exact integer parts of a weight block (type table form) with one activation
 * block x whose halves sum to s_lo and s_hi (kernels/matmul.c explains them). */
void moee_block32_dot(const moee_type_traits *t, const moee_block32 *o, const int8_t *x, int32_t s_lo,
                      int32_t s_hi, int32_t *isum, int32_t *msum);

/* One row per variant. Functions a variant does not vectorize point at the scalar
 * ones. The table of variants and the CPU checks live in dispatch.c. */
/* The matmuls of a variant compute the output rows [r0, r1) of W for every token,
 * r0 a multiple of MOEE_ROW_BLOCK, r1 one too or W->rows: dispatch.c shares the row
 * blocks of a call out over a team of threads (kernels/team.h). They start no threads
 * of their own. */
#define MOEE_ROW_BLOCK 32
typedef struct {
    const char *name;
    /* W is any quantized type; Y is [qx->n_tokens][W->rows] */
    void (*matmul_quant)(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1);
    /* the MOEE_QX_ forms of the sums matmul_quant reads for weights of `type` */
    uint32_t (*qx_forms)(uint32_t type);
    /* W is F32, F16 or BF16; token t is X + (x_rows ? x_rows[t] : t) * W->cols */
    /* One activation row of n_blocks blocks to Q8_0 with ggml's reference quantizer,
     * bit for bit: block b's values at qs + 32 b, its scale (the fp16 value, as
     * float) at d[b * stride], the sum of its values at sum[b * stride] and of its
     * first 16 at sum16[b * stride]. Returns 1, or 0 if the row holds a NaN or an
     * infinity: then the outputs are not defined (kernels/quantize_x.c redoes it). */
    int (*quantize_row)(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                        int64_t stride);
    void (*matmul_float)(const moee_matrix *W, const float *X, const int32_t *x_rows,
                         int64_t n, float *Y, int64_t r0, int64_t r1);
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);
    void (*rope)(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t,
                 const float *sin_t, int mode);
    void (*attention_head)(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                           const float *v, int64_t ld_v, float *out, int64_t ld_out,
                           int64_t n, int64_t head_dim, float scale, float *scratch);
    void (*softmax)(float *x, int64_t n);
    void (*topk)(const float *p, int64_t n, int64_t k, int32_t *idx);
    void (*silu_mul)(float *gate, const float *up, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    /* For the tests: the int32 isum (kernels/matmul.c) of weight row r, block b with
     * token t of qx, computed by this variant's GEMM micro-kernel code. */
    int32_t (*block_dot)(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t);
} moee_kernel_variant;

/* The variant in use (chosen on first call), and a variant by name (NULL if this
 * CPU or build cannot run it). */
const moee_kernel_variant *moee_kernels_current(void);
const moee_kernel_variant *moee_kernels_variant(const char *name);

/* The rows of row tile rt (of `size` rows) into row[]; past the last row, the last
 * row again (computed, never stored). Returns how many are real rows. */
static inline int tile_rows(const moee_matrix *W, int64_t rt, int size, int64_t *row) {
    int n = 0;
    for (int i = 0; i < size; i++) {
        int64_t r = rt * size + i;
        if (r < W->rows) n++;
        row[i] = r < W->rows ? r : W->rows - 1;
    }
    return n;
}

/* For prefetching the weight rows one tile ahead (kernels/avx2/pack.h): the distance
 * in bytes from a tile's rows (ending before row end_row) to the rows `distance` rows
 * further on, or 0 when those are not all in W (the last tiles prefetch nothing). */
static inline size_t rows_ahead(const moee_matrix *W, int64_t end_row, int64_t distance) {
    return end_row + distance <= W->rows ? (size_t)distance * moee_type_row_bytes(W->type, W->cols) : 0;
}

/* The quantized types whose x86 GEMM goes through the generic per-type kernels (every
 * quantized type but Q8_0 and Q4_0, which have hand-tuned tiles): each x86 variant defines
 * rows_<T> for every one of them and picks it with this list. */
#define MOEE_GENERIC_QUANT_TYPES(X) \
    X(Q4_1) X(Q5_0) X(Q5_1) X(IQ4_NL) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K) X(IQ4_XS)

/* Whether a matmul call of `macs` multiply-adds is worth sharing with the team:
 * below ~0.5M (a few microseconds of work) handing it out costs about what it saves. */
#define MOEE_PARALLEL_MIN_MACS ((int64_t)1 << 19)

/* Peak-throughput loops for the benchmark (kernels/<isa>/peak.c): `iters` rounds of
 * independent FMA (f32) or int8 dot-product instructions; return the operations done
 * (a multiply-add counts 2) and write a checksum to *sink. */
double moee_avx2_peak_f32(int64_t iters, float *sink);
double moee_avx2_peak_int8(int64_t iters, float *sink);
double moee_avx512_peak_f32(int64_t iters, float *sink);
double moee_avx512_peak_int8(int64_t iters, float *sink);
double moee_avx512_peak_int8_exact(int64_t iters, float *sink);
double moee_neon_peak_f32(int64_t iters, float *sink);
double moee_neon_peak_int8(int64_t iters, float *sink);

/* ---- scalar (the .c files directly in kernels/) ---- */
void moee_scalar_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1);
int moee_scalar_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                             int64_t stride);
void moee_scalar_matmul_float(const moee_matrix *W, const float *X, const int32_t *x_rows,
                              int64_t n, float *Y, int64_t r0, int64_t r1);
void moee_scalar_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void moee_scalar_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t,
                      const float *sin_t, int mode);
void moee_scalar_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                                const float *v, int64_t ld_v, float *out, int64_t ld_out,
                                int64_t n, int64_t head_dim, float scale, float *scratch);
void moee_scalar_softmax(float *x, int64_t n);
void moee_scalar_topk(const float *p, int64_t n, int64_t k, int32_t *idx);
void moee_topk_one_pass(const float *p, int64_t n, int64_t k, int32_t *idx);   /* (the SIMD rows' topk) */
void moee_scalar_silu_mul(float *gate, const float *up, int64_t n);
void moee_scalar_axpy(float *y, float a, const float *x, int64_t n);
int32_t moee_scalar_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t);
/* sum, sum16 and sum_d: what the scalar, AVX2 and NEON matmuls read, for every type */
uint32_t moee_scalar_qx_forms(uint32_t type);

/* ---- AVX2 + FMA + F16C (kernels/avx2/) ---- */
void moee_avx2_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1);
int moee_avx2_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                           int64_t stride);
void moee_avx2_matmul_float(const moee_matrix *W, const float *X, const int32_t *x_rows,
                            int64_t n, float *Y, int64_t r0, int64_t r1);
void moee_avx2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void moee_avx2_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                              const float *v, int64_t ld_v, float *out, int64_t ld_out,
                              int64_t n, int64_t head_dim, float scale, float *scratch);
void moee_avx2_softmax(float *x, int64_t n);
void moee_avx2_silu_mul(float *gate, const float *up, int64_t n);
void moee_avx2_axpy(float *y, float a, const float *x, int64_t n);
int32_t moee_avx2_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t);

/* ---- AVX-512 F/BW/VL/DQ + VNNI (+BF16) (kernels/avx512/) ---- */
void moee_avx512_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1);
int moee_avx512_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                             int64_t stride);
void moee_avx512_matmul_float(const moee_matrix *W, const float *X, const int32_t *x_rows,
                              int64_t n, float *Y, int64_t r0, int64_t r1);
void moee_avx512_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void moee_avx512_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                                const float *v, int64_t ld_v, float *out, int64_t ld_out,
                                int64_t n, int64_t head_dim, float scale, float *scratch);
void moee_avx512_softmax(float *x, int64_t n);
void moee_avx512_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t, const float *sin_t,
                      int mode);
void moee_avx512_silu_mul(float *gate, const float *up, int64_t n);
void moee_avx512_axpy(float *y, float a, const float *x, int64_t n);
int32_t moee_avx512_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t);
uint32_t moee_avx512_qx_forms(uint32_t type);

/* ---- NEON + dotprod (kernels/neon/) ---- */
void moee_neon_matmul_quant(const moee_matrix *W, const moee_qx *qx, float *Y, int64_t r0, int64_t r1);
int moee_neon_quantize_row(const float *x, int64_t n_blocks, int8_t *qs, float *d, int32_t *sum, int32_t *sum16,
                           int64_t stride);
void moee_neon_matmul_float(const moee_matrix *W, const float *X, const int32_t *x_rows,
                            int64_t n, float *Y, int64_t r0, int64_t r1);
void moee_neon_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void moee_neon_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                              const float *v, int64_t ld_v, float *out, int64_t ld_out,
                              int64_t n, int64_t head_dim, float scale, float *scratch);
void moee_neon_softmax(float *x, int64_t n);
void moee_neon_silu_mul(float *gate, const float *up, int64_t n);
void moee_neon_axpy(float *y, float a, const float *x, int64_t n);
int32_t moee_neon_block_dot(const moee_matrix *W, int64_t r, int64_t b, const moee_qx *qx, int64_t t);

#endif
