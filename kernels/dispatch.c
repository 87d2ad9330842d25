/* dispatch.c: the table of kernel variants, which one this CPU can run, and the
 * public functions of kernels.h, which call the chosen variant.
 *
 * The choice is made once, on first use: MOEE_KERNELS=scalar|avx2|avx512|neon if set
 * (ignored if this CPU/build cannot run it), else the best the CPU supports. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/variants.h"
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* ---- the variants -------------------------------------------------------------- */

static const moee_kernel_variant variants[] = {
#if defined(__x86_64__)
    {"avx512", moee_avx512_matmul_quant, moee_avx512_qx_forms,
     moee_avx512_quantize_row, moee_avx512_matmul_float, moee_avx512_rmsnorm,
     moee_avx512_rope, moee_avx512_attention_head, moee_avx512_softmax, moee_topk_one_pass,
     moee_avx512_silu_mul, moee_avx512_axpy, moee_avx512_block_dot},
    {"avx2", moee_avx2_matmul_quant, moee_scalar_qx_forms,
     moee_avx2_quantize_row, moee_avx2_matmul_float, moee_avx2_rmsnorm,
     moee_scalar_rope, moee_avx2_attention_head, moee_avx2_softmax, moee_topk_one_pass,
     moee_avx2_silu_mul, moee_avx2_axpy, moee_avx2_block_dot},
#endif
#if defined(__aarch64__)
    {"neon", moee_neon_matmul_quant, moee_scalar_qx_forms,
     moee_neon_quantize_row, moee_neon_matmul_float, moee_neon_rmsnorm,
     moee_scalar_rope, moee_neon_attention_head, moee_neon_softmax, moee_topk_one_pass,
     moee_neon_silu_mul, moee_neon_axpy, moee_neon_block_dot},
#endif
    {"scalar", moee_scalar_matmul_quant, moee_scalar_qx_forms,
     moee_scalar_quantize_row, moee_scalar_matmul_float, moee_scalar_rmsnorm,
     moee_scalar_rope, moee_scalar_attention_head, moee_scalar_softmax, moee_scalar_topk,
     moee_scalar_silu_mul, moee_scalar_axpy, moee_scalar_block_dot},
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

/* Can this CPU run the variant? (The table holds only what this build compiled.) */
static int cpu_can_run(const char *name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
#endif
#if defined(__aarch64__)
    if (!strcmp(name, "neon")) return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
    return !strcmp(name, "scalar");
}

const moee_kernel_variant *moee_kernels_variant(const char *name) {
    for (size_t i = 0; i < N_VARIANTS; i++)
        if (!strcmp(variants[i].name, name)) return cpu_can_run(name) ? &variants[i] : NULL;
    return NULL;
}

static _Atomic(const moee_kernel_variant *) current;

const moee_kernel_variant *moee_kernels_current(void) {
    const moee_kernel_variant *v = atomic_load(&current);
    if (v) return v;
    const char *forced = getenv("MOEE_KERNELS");
    if (forced && *forced) v = moee_kernels_variant(forced);
    for (size_t i = 0; !v && i < N_VARIANTS; i++)    /* best first */
        if (cpu_can_run(variants[i].name)) v = &variants[i];
    atomic_store(&current, v);
    return v;
}

const char *moee_kernels_name(void) { return moee_kernels_current()->name; }

int moee_kernels_select(const char *name) {
    const moee_kernel_variant *v = name ? moee_kernels_variant(name) : NULL;
    if (!v) return -1;
    atomic_store(&current, v);
    return 0;
}

/* ---- the public primitives ------------------------------------------------------- */

/* Quantized weights need whole blocks; anything else the type table does not know
 * cannot be multiplied. The engine validates weights on load, so this only guards
 * against misuse: the output is NaN, never a plausible-looking number. */
static int matmul_supported(const moee_matrix *W) {
    const moee_type_traits *t = moee_type(W->type);
    return t && W->cols % t->block_size == 0;
}

static void fill_nan(float *Y, int64_t n) {
    for (int64_t i = 0; i < n; i++) Y[i] = NAN;
}

void moee_matmul(moee_team *team, const moee_matrix *W, const float *X, int64_t n_tokens, float *Y, void *scratch) {
    moee_matmul_gather(team, W, X, NULL, n_tokens, Y, scratch);
}

/* moee_matmul_gather_n with the rows' quantization taken from Xq when given. */
static void matmul_gather_q(moee_team *team, const moee_matrix *const *W, int n_mats, const float *X,
                            const moee_qrows *Xq, const int32_t *x_rows, int64_t n, float *const *Y, void *scratch);

/* x_rows == NULL means rows 0..n-1 (that is moee_matmul). */
void moee_matmul_gather(moee_team *team, const moee_matrix *W, const float *X, const int32_t *x_rows,
                        int64_t n, float *Y, void *scratch) {
    moee_matmul_gather2(team, W, NULL, X, NULL, x_rows, n, Y, NULL, scratch);
}

/* B may be NULL (one matrix). */
void moee_matmul_gather2(moee_team *team, const moee_matrix *A, const moee_matrix *B, const float *X,
                         const moee_qrows *Xq, const int32_t *x_rows, int64_t n, float *YA, float *YB,
                         void *scratch) {
    const moee_matrix *W[2] = {A, B};
    float *Y[2] = {YA, YB};
    matmul_gather_q(team, W, 2, X, Xq, x_rows, n, Y, scratch);
}

/* One call's work, shared out by the team: first the activation rows are quantized
 * (if any matrix is quantized: the quantization depends only on the rows), then the
 * row blocks of all matrices, numbered one after another, go out one at a time. */
#define MAX_MATS 8
typedef struct {
    const moee_kernel_variant *v;
    const moee_matrix *const *W;
    int n_mats;
    int64_t first_block[MAX_MATS + 1];   /* matrix m's row blocks: first_block[m] .. first_block[m+1]-1 */
    const float *X;
    const moee_qrows *Xq;   /* the rows already quantized, or NULL */
    const int32_t *x_rows;
    int64_t n;
    float *const *Y;
    moee_qx qx;
} matmul_job;

static void quantize_task(void *arg, int64_t t0, int64_t t1, int thread) {
    const matmul_job *job = arg;
    if (job->Xq) moee_quantize_x_gather_tokens(&job->qx, job->Xq, job->x_rows, t0, t1);
    else moee_quantize_x_tokens(&job->qx, job->X, job->x_rows, t0, t1);
}

static void blocks_task(void *arg, int64_t begin, int64_t end, int thread) {
    const matmul_job *job = arg;
    for (int m = 0; m < job->n_mats && begin < end; m++) {
        const int64_t b0 = begin > job->first_block[m] ? begin : job->first_block[m];
        const int64_t b1 = end < job->first_block[m + 1] ? end : job->first_block[m + 1];
        if (b0 >= b1) continue;
        const moee_matrix *W = job->W[m];
        const int64_t r0 = (b0 - job->first_block[m]) * MOEE_ROW_BLOCK;
        int64_t r1 = (b1 - job->first_block[m]) * MOEE_ROW_BLOCK;
        if (r1 > W->rows) r1 = W->rows;
        if (!matmul_supported(W) || W->cols != job->W[0]->cols) {
            for (int64_t t = 0; t < job->n; t++) fill_nan(job->Y[m] + t * W->rows + r0, r1 - r0);
        } else if (moee_type(W->type)->is_quantized) {
            job->v->matmul_quant(W, &job->qx, job->Y[m], r0, r1);
        } else {
            job->v->matmul_float(W, job->X, job->x_rows, job->n, job->Y[m], r0, r1);
        }
    }
}

void moee_matmul_gather_n(moee_team *team, const moee_matrix *const *W, int n_mats, const float *X,
                          const int32_t *x_rows, int64_t n, float *const *Y, void *scratch) {
    matmul_gather_q(team, W, n_mats, X, NULL, x_rows, n, Y, scratch);
}

static void matmul_gather_q(moee_team *team, const moee_matrix *const *W, int n_mats, const float *X,
                            const moee_qrows *Xq, const int32_t *x_rows, int64_t n, float *const *Y, void *scratch) {
    if (n <= 0 || n_mats <= 0 || !W[0]) return;
    for (int m0 = MAX_MATS; m0 < n_mats; m0 += MAX_MATS)   /* (more than MAX_MATS: in groups) */
        matmul_gather_q(team, W + m0, n_mats - m0 < MAX_MATS ? n_mats - m0 : MAX_MATS, X, Xq, x_rows, n,
                        Y + m0, scratch);
    if (Xq && Xq->cols != W[0]->cols) Xq = NULL;   /* (misuse: quantize X instead) */
    matmul_job job = {.v = moee_kernels_current(), .W = W, .n_mats = n_mats < MAX_MATS ? n_mats : MAX_MATS,
                      .X = X, .Xq = Xq, .x_rows = x_rows, .n = n, .Y = Y};
    int64_t macs = 0;
    uint32_t forms = 0;   /* the activation sums the quantized matrices' kernels read */
    job.first_block[0] = 0;
    for (int m = 0; m < job.n_mats; m++) {
        int64_t rows = W[m] && W[m]->rows > 0 ? W[m]->rows : 0;
        job.first_block[m + 1] = job.first_block[m] + (rows + MOEE_ROW_BLOCK - 1) / MOEE_ROW_BLOCK;
        if (!rows) continue;
        macs += rows * W[m]->cols * n;
        if (matmul_supported(W[m]) && W[m]->cols == W[0]->cols && moee_type(W[m]->type)->is_quantized)
            forms |= job.v->qx_forms(W[m]->type);
    }
    if (macs < MOEE_PARALLEL_MIN_MACS) team = NULL;   /* not worth waking anyone */
    if (forms) {
        moee_quantize_x_layout(n, W[0]->cols, forms, scratch, &job.qx);
        moee_team_for(team, job.qx.n_pad, 16, quantize_task, &job);
    }
    /* Few tokens: blocks are cheap, hand them out at least four at a time. (The kernels
     * prefetch the next row tile's weights while working, which a thread's next claim
     * may not start with: its first tile is then read cold.) */
    moee_team_for(team, job.first_block[job.n_mats], n <= 8 ? 4 : 1, blocks_task, &job);
}

void moee_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    moee_kernels_current()->rmsnorm(out, x, w, n, eps);
}

void moee_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_t,
               const float *sin_t, int mode) {
    moee_kernels_current()->rope(x, n_heads, head_dim, cos_t, sin_t, mode);
}

void moee_attention_head(const float *q, int64_t ld_q, const float *k, int64_t ld_k,
                         const float *v, int64_t ld_v, float *out, int64_t ld_out,
                         int64_t n, int64_t head_dim, float scale, float *scratch) {
    moee_kernels_current()->attention_head(q, ld_q, k, ld_k, v, ld_v, out, ld_out, n,
                                           head_dim, scale, scratch);
}

void moee_softmax(float *x, int64_t n) {
    if (n > 0) moee_kernels_current()->softmax(x, n);
}

void moee_topk(const float *p, int64_t n, int64_t k, int32_t *idx) {
    moee_kernels_current()->topk(p, n, k < n ? k : n, idx);
}

void moee_silu_mul(float *gate, const float *up, int64_t n) {
    moee_kernels_current()->silu_mul(gate, up, n);
}

void moee_axpy(float *y, float a, const float *x, int64_t n) {
    moee_kernels_current()->axpy(y, a, x, n);
}
