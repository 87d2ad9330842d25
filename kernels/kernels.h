/* kernels.h: every numeric primitive the engine calls, over plain arrays.
 *
 * Each primitive has a plain scalar reference (the .c files directly in kernels/, the readable oracle)
 * and AVX2 / AVX-512 / NEON versions with the same signature; the public functions
 * below dispatch to the variant chosen once at start-up by CPUID, or forced with
 * MOEE_KERNELS=scalar|avx2|avx512|neon (or moee_kernels_select()).
 *
 * Determinism contract (the engine's embeddings rely on it): every output element
 * is computed by one fixed sequence of operations that depends only on its own
 * inputs and the chosen variant, never on n_tokens, on the row's place in a tile,
 * on which other rows are in the call, or on the thread count.
 *
 * Threading: moee_matmul* share their work out over the team they are given
 * (kernels/team.h; NULL: the calling thread alone); all other primitives are
 * serial, and the caller may run them in parallel on independent data. */
#ifndef MOEE_KERNELS_H
#define MOEE_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/team.h"
#include "kernels/types.h"

/* A weight matrix in GGUF layout: rows = output features, cols = input features,
 * row-major, each row cols/block_size blocks of `type`. cols % block_size == 0. */
typedef struct {
    uint32_t type;
    const void *data;
    int64_t rows;
    int64_t cols;
} moee_matrix;

/* Working memory for the integer paths (activations quantized to int8 blocks).
 * Size it once with the largest n_tokens and cols the caller will use. */
size_t moee_matmul_scratch_bytes(int64_t n_tokens, int64_t cols);

/* Y[t][r] = sum_c X[t][c] * W[r][c] for t < n_tokens, r < W->rows.
 * X is [n_tokens][W->cols], Y is [n_tokens][W->rows], both contiguous float.
 * F32/F16/BF16 weights: float products, float accumulation. Quantized weights (every
 * type of the type table): each X row is quantized to Q8_0 blocks (ggml's reference
 * quantizer), exact int32 block dot products with the weights' integer codes, then
 * scaled (kernels/matmul.c). */
void moee_matmul(moee_team *team, const moee_matrix *W, const float *X, int64_t n_tokens, float *Y, void *scratch);

/* Activation rows quantized once to Q8_0 blocks (ggml's reference quantizer), token
 * by token, for several expert-grouped matmuls that each take some of the rows: a MoE
 * layer's routed experts read every token's normed row k times, and copying its
 * quantized row is much cheaper than quantizing it again (the float rows of a large
 * batch do not fit in the caches). Row t: its 32-blocks at qs + t * cols; block b's
 * scale, sum and first-half sum at [t * (cols / 32) + b]. */
typedef struct {
    int64_t n, cols;
    int8_t *qs;
    float *d;
    int32_t *sum, *sum16;
} moee_qrows;
size_t moee_qrows_bytes(int64_t n, int64_t cols);
/* Quantizes the n rows of X (cols a multiple of 32) into buf (moee_qrows_bytes(n,
 * cols) bytes, any alignment), the rows shared out over the team. */
void moee_quantize_rows(moee_team *team, const float *X, int64_t n, int64_t cols, void *buf, moee_qrows *q);

/* Expert-grouped variant: Y[i][r] = W[r] . X[x_rows[i]] for i < n, X rows of
 * W->cols floats, Y compact [n][W->rows]. Gives bit-identical rows to moee_matmul. */
void moee_matmul_gather(moee_team *team, const moee_matrix *W, const float *X, const int32_t *x_rows,
                        int64_t n, float *Y, void *scratch);

/* Two matrices with the same input columns (an expert's gate and up) applied to the
 * same gathered rows: YA = moee_matmul_gather(A, ...), YB = moee_matmul_gather(B, ...),
 * bit for bit, but the rows are read and quantized once. x_rows may be NULL (rows
 * 0..n-1); B may be NULL (then it is moee_matmul_gather). A->cols must equal B->cols.
 * Xq, if not NULL, holds X's rows already quantized (moee_quantize_rows, with
 * Xq->cols == A->cols): quantized weights take them from there, bit for bit the same. */
void moee_matmul_gather2(moee_team *team, const moee_matrix *A, const moee_matrix *B, const float *X,
                         const moee_qrows *Xq, const int32_t *x_rows, int64_t n, float *YA, float *YB,
                         void *scratch);

/* The general form of gather2: n_mats matrices with the same input columns (q, k and
 * v of an attention layer) applied to the same rows, Y[m] = moee_matmul_gather(W[m], ...)
 * bit for bit, with the rows read and quantized once. W[m] may be NULL (skipped). */
void moee_matmul_gather_n(moee_team *team, const moee_matrix *const *W, int n_mats, const float *X,
                          const int32_t *x_rows, int64_t n, float *const *Y, void *scratch);

/* out = w * x / sqrt(mean(x^2) + eps), over n elements (out may equal x). */
void moee_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* RoPE on n_heads consecutive heads of head_dim floats, at one position whose
 * cos/sin of each frequency i < head_dim/2 are given (the engine keeps a table).
 * MOEE_ROPE_NEOX pairs (i, i + head_dim/2) (Hugging Face rotate_half; olmoe,
 * qwen2moe); MOEE_ROPE_NORM pairs (2i, 2i+1) (llama.cpp's deepseek GGUFs). */
enum { MOEE_ROPE_NEOX = 0, MOEE_ROPE_NORM = 1 };
void moee_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t,
               const float *sin_t, int mode);

/* Causal attention for ONE sequence of n tokens and ONE query head:
 * out[i] = sum_{j<=i} softmax_j(q[i].k[j] * scale) v[j]. Row i of q/k/v/out starts at
 * i * ld_* floats (so heads inside a token-major [n][heads*head_dim] buffer can be
 * passed with an offset). scratch: MOEE_ATTENTION_SCRATCH(n) floats (a few score
 * rows: queries may be done a few at a time). */
#define MOEE_ATTENTION_SCRATCH(n) (4 * (n))
void moee_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                         const float *v, int64_t ld_v, float *out, int64_t ld_out,
                         int64_t n, int64_t head_dim, float scale, float *scratch);

/* In-place softmax over n values (max-subtracted, float). */
void moee_softmax(float *x, int64_t n);
/* Indices of the k largest values of p[0..n), largest first, ties to the lower index. */
void moee_topk(const float *p, int64_t n, int64_t k, int32_t *idx);
/* gate[i] = silu(gate[i]) * up[i] */
void moee_silu_mul(float *gate, const float *up, int64_t n);
/* y[i] += a * x[i] */
void moee_axpy(float *y, float a, const float *x, int64_t n);

/* ---- dispatch ------------------------------------------------------------- */
/* Name of the variant in use: "scalar", "avx2", "avx512" or "neon". (A MOEE_KERNELS
 * value this CPU/build cannot run, or an unknown one, is ignored: the best variant is
 * used.) Quantized matmuls give bit-identical results in every variant; float paths
 * and the other primitives differ between variants by rounding only. */
const char *moee_kernels_name(void);
/* Forces a variant; returns 0, or -1 if this CPU/build cannot run it. */
int moee_kernels_select(const char *name);

#endif
