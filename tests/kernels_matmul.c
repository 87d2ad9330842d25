/* kernels_matmul: the matrix products of every variant this CPU can run.
 *
 * Bounds tested (u = 2^-24, S = sum over the dot product of |x_c * w_c|):
 *  - quantized weights (every type): every variant's int32 block dot products equal
 *    the test's own integer sums exactly, and the outputs of every variant are
 *    bit-identical to scalar (the float part is one fixed sequence, see
 *    kernels/matmul.c); scalar vs a double-precision sum of the dequantized weights
 *    times the quantized activations: |y - ref| <= (2 n_blocks + 2) u S_parts, S_parts
 *    = sum of |scale part| + |min part| of every term (the two are rounded apart).
 *  - float weights (F32, F16, BF16): scalar (one running sum) |y - ref| <= (cols + 2) u S;
 *    SIMD (>= 8 lane partial sums, FMA, reduction tree) |y - ref| <= (cols/8 + 8) u S,
 *    ref = the double-precision sum of the exact float products.
 *  - determinism: a token's row is bit-identical alone and inside batches of
 *    1..9 tokens (up to an 8-token tile and a last 4-token tile) and of 13..24,
 *    gather / gather2 / gather_n rows equal matmul rows bit for bit, and 1 vs 2
 *    threads (kernels/team.h) are bit-identical (for the shapes with enough work to use
 *    threads: see MOEE_PARALLEL_MIN_MACS). */
#include <stdlib.h>
#include <string.h>
#include "kernels/variants.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) {                       /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static const char *variant_names[] = {"scalar", "avx2", "avx512", "neon"};
#define N_NAMES 4

/* Weights as any file may hold them, not only as the quantizer writes them: random
 * bytes (Q8_0 values include -128, which the quantizer never writes), scale 1/64. */
static int raw_weights;

/* A random weight matrix of the given type (random floats through from_float). */
static void *make_weights(uint32_t type, int64_t rows, int64_t cols) {
    const moee_type_traits *t = moee_type(type);
    if (raw_weights && t->is_quantized) {
        size_t bytes = moee_type_row_bytes(type, cols) * (size_t)rows;
        uint8_t *w = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) { frand(); w[i] = (uint8_t)(rng >> 24); }
        for (size_t i = 0; i + 1 < bytes; i += 2)     /* no fp16 field may be inf or NaN */
            if ((w[i + 1] & 0x7c) == 0x7c) w[i + 1] ^= 0x40;
        if (type == MOEE_TYPE_Q8_0 || type == MOEE_TYPE_Q4_0) {
            for (size_t i = 0; i < bytes; i += t->block_bytes) { w[i] = 0x00; w[i + 1] = 0x24; } /* fp16 1/64 */
            for (size_t i = 2; i < bytes; i += t->block_bytes) w[i] = 0x80;                    /* -128 */
        }
        return w;
    }
    float *f = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++) f[i] = frand() * (i % 7 == 0 ? 3.0f : 1.0f);
    void *w = malloc(moee_type_row_bytes(type, cols) * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        t->from_float(f + r * cols, (char *)w + moee_type_row_bytes(type, cols) * (size_t)r, cols);
    free(f);
    return w;
}

static float *make_x(int64_t n, int64_t cols) {
    float *x = malloc((size_t)(n * cols) * sizeof(float));
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand() * (i % 5 == 0 ? 4.0f : 1.0f);
    return x;
}

/* Reference for one output: *ref = the double sum, *mag = S (see the top comment),
 * *n_terms = number of float roundings in the scalar order. */
static void reference(const moee_matrix *W, const float *x, int64_t r, double *ref, double *mag) {
    const moee_type_traits *t = moee_type(W->type);
    size_t row_bytes = moee_type_row_bytes(W->type, W->cols);
    float *w = malloc((size_t)W->cols * sizeof(float));
    t->to_float((const char *)W->data + row_bytes * (size_t)r, w, W->cols);
    double sum = 0, abs_sum = 0;
    if (!t->is_quantized) {
        for (int64_t c = 0; c < W->cols; c++) {
            double p = (double)x[c] * w[c];
            sum += p; abs_sum += fabs(p);
        }
    } else {
        /* the activation quantized exactly as the kernel does; d_w*q and d_x*q are exact */
        const moee_type_traits *q8 = moee_type(MOEE_TYPE_Q8_0);
        moee_block_q8_0 *xq = malloc(moee_type_row_bytes(MOEE_TYPE_Q8_0, W->cols));
        q8->from_float(x, xq, W->cols);
        for (int64_t b = 0; b < W->cols / MOEE_QK; b++) {
            moee_block32 o;
            t->unpack((const char *)W->data + row_bytes * (size_t)r, b, &o);
            double dx = moee_f16_to_f32(xq[b].d), blk = 0;
            for (int j = 0; j < MOEE_QK; j++) {
                const double xa = dx * xq[b].qs[j];
                blk += (double)w[b * MOEE_QK + j] * xa;
                abs_sum += fabs((double)o.d * o.sc[j / 16] * (o.u[j] - t->offset) * xa) +
                           fabs((double)o.m * o.mn[j / 16] * xa);
            }
            sum += blk;
        }
        free(xq);
    }
    free(w);
    *ref = sum; *mag = abs_sum;
}

static int bits_equal(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof(float)); }

/* One shape and type: every variant vs reference and vs scalar, determinism. */
static void test_shape(uint32_t type, int64_t rows, int64_t cols, int64_t n) {
    const moee_type_traits *tt = moee_type(type);
    moee_matrix W = {type, make_weights(type, rows, cols), rows, cols};
    float *X = make_x(n, cols);
    float *Y = malloc((size_t)(n * rows) * sizeof(float));
    float *Y_scalar = malloc((size_t)(n * rows) * sizeof(float));
    float *Y_one = malloc((size_t)rows * sizeof(float));
    void *scratch = malloc(moee_matmul_scratch_bytes(n, cols));
    double u = 1.0 / 16777216.0;

    for (int vi = 0; vi < N_NAMES; vi++) {
        if (moee_kernels_select(variant_names[vi]) != 0) continue;
        const char *name = variant_names[vi];
        int is_scalar = vi == 0;
        moee_matmul(NULL, &W, X, n, Y, scratch);
        if (is_scalar) memcpy(Y_scalar, Y, (size_t)(n * rows) * sizeof(float));

        /* vs the double-precision reference */
        int bad = 0;
        for (int64_t t = 0; t < n && !bad; t++)
            for (int64_t r = 0; r < rows && !bad; r++) {
                double ref, mag;
                reference(&W, X + t * cols, r, &ref, &mag);
                double k = tt->is_quantized ? (double)(2 * (cols / MOEE_QK) + 2)
                         : is_scalar ? (double)(cols + 2) : (double)(cols / 8 + 8);
                double err = fabs(Y[t * rows + r] - ref);
                if (!(err <= k * u * mag)) {
                    bad = 1;
                    CHECKF(0, "%s %s %lldx%lld n=%lld t=%lld r=%lld: y=%.9g ref=%.9g err=%g bound=%g", name,
                           tt->name, (long long)rows, (long long)cols, (long long)n, (long long)t,
                           (long long)r, Y[t * rows + r], ref, err, k * u * mag);
                }
            }
        if (!bad) CHECK(1);

        /* quantized: bit-identical to scalar, and exact int32 block sums */
        if (tt->is_quantized) {
            if (!is_scalar)
                CHECKF(bits_equal(Y, Y_scalar, n * rows), "%s %s %lldx%lld n=%lld differs from scalar",
                       name, tt->name, (long long)rows, (long long)cols, (long long)n);
            moee_qx qx;
            moee_quantize_x(X, NULL, n, cols, scratch, &qx);
            const moee_kernel_variant *v = moee_kernels_variant(name);
            int ok = 1;
            for (int64_t t = 0; t < n; t++)
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t b = 0; b < qx.n_blocks; b++) {
                        /* the test's own integer sum, from the type table's form */
                        moee_block32 o;
                        tt->unpack((const char *)W.data + moee_type_row_bytes(type, cols) * (size_t)r, b, &o);
                        const int8_t *x = qx.qs + t * cols + b * MOEE_QK;
                        int32_t want = 0;
                        for (int j = 0; j < MOEE_QK; j++) want += o.sc[j / 16] * (o.u[j] - tt->offset) * x[j];
                        if (v->block_dot(&W, r, b, &qx, t) != want) ok = 0;
                    }
            CHECKF(ok, "%s %s block dot products not exact", name, tt->name);
        }

        /* determinism: each token alone equals its row in the batch */
        int same = 1;
        for (int64_t t = 0; t < n; t++) {
            moee_matmul(NULL, &W, X + t * cols, 1, Y_one, scratch);
            if (!bits_equal(Y_one, Y + t * rows, rows)) same = 0;
        }
        CHECKF(same, "%s %s %lldx%lld: token alone != token in batch of %lld", name, tt->name,
               (long long)rows, (long long)cols, (long long)n);

        /* gather: rows in reverse order, with a repeat, equal the matmul rows */
        int32_t *idx = malloc((size_t)(n + 1) * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++) idx[i] = (int32_t)(n - 1 - i);
        idx[n] = 0;
        float *G = malloc((size_t)((n + 1) * rows) * sizeof(float));
        void *scratch_g = malloc(moee_matmul_scratch_bytes(n + 1, cols));
        moee_matmul_gather(NULL, &W, X, idx, n + 1, G, scratch_g);
        int gsame = 1;
        for (int64_t i = 0; i <= n; i++)
            if (!bits_equal(G + i * rows, Y + idx[i] * rows, rows)) gsame = 0;
        CHECKF(gsame, "%s %s: gather rows differ from matmul rows", name, tt->name);

        /* gather2 with a second matrix of another type: both equal their own gathers */
        uint32_t other_type = type == MOEE_TYPE_Q4_0 ? MOEE_TYPE_Q8_0 : MOEE_TYPE_Q4_0;
        if (cols % moee_type(other_type)->block_size == 0) {
            moee_matrix W2 = {other_type, make_weights(other_type, rows + 3, cols), rows + 3, cols};
            float *G2 = malloc((size_t)((n + 1) * (rows + 3)) * sizeof(float));
            float *GA = malloc((size_t)((n + 1) * rows) * sizeof(float));
            float *GB = malloc((size_t)((n + 1) * (rows + 3)) * sizeof(float));
            moee_matmul_gather(NULL, &W2, X, idx, n + 1, G2, scratch_g);
            moee_matmul_gather2(NULL, &W, &W2, X, NULL, idx, n + 1, GA, GB, scratch_g);
            CHECKF(bits_equal(GA, G, (n + 1) * rows) && bits_equal(GB, G2, (n + 1) * (rows + 3)),
                   "%s %s + %s: gather2 differs from two gathers", name, tt->name, moee_type(other_type)->name);
            /* gather_n with three matrices (q, k, v), one of them skipped (NULL) */
            float *G3 = malloc((size_t)((n + 1) * rows) * sizeof(float));
            const moee_matrix *W3[4] = {&W, NULL, &W2, &W};
            float *Y3[4] = {GA, NULL, GB, G3};
            moee_matmul_gather_n(NULL, W3, 4, X, idx, n + 1, Y3, scratch_g);
            CHECKF(bits_equal(GA, G, (n + 1) * rows) && bits_equal(GB, G2, (n + 1) * (rows + 3)) &&
                   bits_equal(G3, G, (n + 1) * rows),
                   "%s %s + %s: gather_n differs from gathers", name, tt->name, moee_type(other_type)->name);
            free(G3);
            /* the rows quantized once (moee_quantize_rows, on a team of 2) give the same bits */
            void *qbuf = malloc(moee_qrows_bytes(n, cols));
            moee_qrows xq;
            moee_team *team2;
            CHECK(moee_team_create(2, &team2) == 0);
            moee_quantize_rows(team2, X, n, cols, qbuf, &xq);
            memset(GA, 0, (size_t)((n + 1) * rows) * sizeof(float));
            memset(GB, 0, (size_t)((n + 1) * (rows + 3)) * sizeof(float));
            moee_matmul_gather2(team2, &W, &W2, X, &xq, idx, n + 1, GA, GB, scratch_g);
            CHECKF(bits_equal(GA, G, (n + 1) * rows) && bits_equal(GB, G2, (n + 1) * (rows + 3)),
                   "%s %s + %s: gather2 from rows quantized once differs", name, tt->name,
                   moee_type(other_type)->name);
            moee_team_free(team2);
            free(qbuf);
            free((void *)W2.data); free(G2); free(GA); free(GB);
        }
        free(idx); free(G); free(scratch_g);

        /* teams of 2 and 3 threads give the same bits as one (whatever size the call) */
        float *Y1 = malloc((size_t)(n * rows) * sizeof(float));
        memcpy(Y1, Y, (size_t)(n * rows) * sizeof(float));
        for (int threads = 2; threads <= 3; threads++) {
            moee_team *team;
            CHECK(moee_team_create(threads, &team) == 0);
            memset(Y, 0, (size_t)(n * rows) * sizeof(float));
            moee_matmul(team, &W, X, n, Y, scratch);
            CHECKF(bits_equal(Y1, Y, n * rows), "%s %s: 1 thread != %d threads", name, tt->name, threads);
            moee_team_free(team);
        }
        free(Y1);
    }
    free((void *)W.data); free(X); free(Y); free(Y_scalar); free(Y_one); free(scratch);
}

/* Every variant's activation quantizer gives ggml's reference bytes (the type
 * table's from_float), including exact .5 ties, zeros, -0, subnormal scales and huge
 * values. (Not tested: blocks whose max|x| is below ~3.7e-37, where 1/d overflows
 * and the reference itself converts inf/NaN to int8 -- undefined in C; their fp16
 * scale is 0, so their values cannot change a product.) */
static void test_quantize_rows(void) {
    enum { NB = 41 };   /* two groups of 16 blocks (the AVX-512 quantizer's) and 9 alone */
    float x[NB * MOEE_QK];
    for (int i = 0; i < NB * MOEE_QK; i++) x[i] = frand();
    for (int g = 0; g < NB; g += 16) {   /* the special blocks in each group and in the rest */
        float *b = x + (size_t)g * MOEE_QK;
        for (int j = 0; j < MOEE_QK; j++) {
            b[MOEE_QK + j] = (float)(j % 2 ? -(j + 0.5) : j + 0.5);  /* d = 1: every x*id a tie */
            b[2 * MOEE_QK + j] = 0.0f;                                /* all zero */
            b[3 * MOEE_QK + j] = j % 3 ? 6.35e-37f * frand() : -0.0f; /* d = max/127 subnormal; -0 */
            b[4 * MOEE_QK + j] = 1e30f * frand();                     /* huge */
            b[5 * MOEE_QK + j] = j == 7 ? -127.0f : 0.5f * j;         /* negative extreme, ties */
            b[6 * MOEE_QK + j] = 3e-36f * frand();                    /* tiny: d is an fp16 zero */
        }
        b[MOEE_QK + 31] = 127.0f;
    }
    const moee_type_traits *q8 = moee_type(MOEE_TYPE_Q8_0);
    moee_block_q8_0 ref[NB];
    q8->from_float(x, ref, NB * MOEE_QK);
    for (int vi = 0; vi < N_NAMES; vi++) {
        const moee_kernel_variant *v = moee_kernels_variant(variant_names[vi]);
        if (!v) continue;
        int8_t qs[NB * MOEE_QK];
        float d[NB * 2];
        int32_t sum[NB * 2], sum16[NB * 2];
        int ok = v->quantize_row(x, NB, qs, d, sum, sum16, 2) == 1;
        for (int b = 0; b < NB; b++) {
            int32_t s = 0, s16 = 0;
            for (int j = 0; j < MOEE_QK; j++) s += ref[b].qs[j], s16 += j < 16 ? ref[b].qs[j] : 0;
            float rd = moee_f16_to_f32(ref[b].d);
            if (memcmp(qs + b * MOEE_QK, ref[b].qs, MOEE_QK) || memcmp(&d[2 * b], &rd, 4) || sum[2 * b] != s ||
                sum16[2 * b] != s16) {
                ok = 0;
                fprintf(stderr, "%s quantize_row block %d differs\n", variant_names[vi], b);
            }
        }
        CHECKF(ok, "%s quantize_row != reference quantizer", variant_names[vi]);
        /* a NaN or an infinity anywhere in the row: reported, not converted */
        const float bad[3] = {NAN, INFINITY, -INFINITY};
        for (int i = 0; i < 3; i++)
            for (int at = 5; at < NB; at += 15) {   /* in the first group, the second, the rest */
                float y[NB * MOEE_QK];
                memcpy(y, x, sizeof y);
                y[at * MOEE_QK + 3 + 9 * i] = bad[i];
                CHECKF(v->quantize_row(y, NB, qs, d, sum, sum16, 2) == 0, "%s quantize_row: %g in block %d not reported",
                       variant_names[vi], (double)bad[i], at);
            }
    }
}

/* Non-finite activations (NaN, +-Inf) give NaN outputs for their token in every
 * variant and type (each such block becomes d = NaN, values 0), and leave the other
 * tokens of the batch exactly as they are alone. */
static void test_nonfinite(void) {
    static const uint32_t types[] = {MOEE_TYPE_Q8_0, MOEE_TYPE_Q4_0, MOEE_TYPE_Q4_K, MOEE_TYPE_Q6_K, MOEE_TYPE_Q2_K};
    const int64_t rows = 9, cols = 512, n = 5;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        moee_matrix W = {types[i], make_weights(types[i], rows, cols), rows, cols};
        float *X = make_x(n, cols), Y[5 * 9], Y1[9];
        X[1 * cols + 3] = NAN;
        X[2 * cols + 300] = INFINITY;
        X[3 * cols + 511] = -INFINITY;
        void *scratch = malloc(moee_matmul_scratch_bytes(n, cols));
        for (int vi = 0; vi < N_NAMES; vi++) {
            if (moee_kernels_select(variant_names[vi]) != 0) continue;
            moee_matmul(NULL, &W, X, n, Y, scratch);
            int ok = 1;
            for (int64_t t = 0; t < n; t++) {
                moee_matmul(NULL, &W, X + t * cols, 1, Y1, scratch);
                for (int64_t r = 0; r < rows; r++) {
                    if ((t >= 1 && t <= 3) != (isnan(Y[t * rows + r]) != 0)) ok = 0;
                    if (t == 0 || t == 4) ok &= !memcmp(&Y1[r], &Y[t * rows + r], 4);
                }
            }
            CHECKF(ok, "%s %s: non-finite activations", variant_names[vi], moee_type(types[i])->name);
        }
        free((void *)W.data); free(X); free(scratch);
    }
}

int main(void) {
    printf("variants on this CPU:");
    for (int i = 0; i < 4; i++) if (moee_kernels_variant(variant_names[i])) printf(" %s", variant_names[i]);
    printf("\n");
    test_quantize_rows();
    test_nonfinite();
    static const uint32_t quant[] = {MOEE_TYPE_Q8_0, MOEE_TYPE_Q4_0, MOEE_TYPE_Q4_1, MOEE_TYPE_Q5_0,
                                     MOEE_TYPE_Q5_1, MOEE_TYPE_IQ4_NL, MOEE_TYPE_Q2_K, MOEE_TYPE_Q3_K,
                                     MOEE_TYPE_Q4_K, MOEE_TYPE_Q5_K, MOEE_TYPE_Q6_K, MOEE_TYPE_IQ4_XS};
    static const uint32_t flt[] = {MOEE_TYPE_F32, MOEE_TYPE_F16, MOEE_TYPE_BF16};
    /* rows, cols, tokens: one block, odd tiles, large cols, the batch sweep */
    static const int64_t qshapes[][3] = {
        {1, 32, 1}, {3, 32, 2}, {5, 64, 3}, {7, 96, 5}, {4, 128, 4}, {17, 160, 9},
        {13, 2048, 6}, {9, 1408, 7}, {2, 8192, 3}, {33, 64, 8},
        /* token tiles of 8 with a last 4 or 8; rows longer than one weight pack (> 2048
         * columns) with a full tile; big enough for the matmul to use 2 threads */
        {17, 160, 21}, {20, 4096, 13}, {48, 2048, 24},
        /* several row tiles with few tokens (tiles prefetch the next one's rows) */
        {50, 2048, 1}, {70, 1024, 4}, {64, 320, 8}, {49, 1408, 11},
        /* many tokens (the next tile's rows prefetched while computing) */
        {70, 320, 66},
    };
    /* the other quantized types (one integer form, so fewer shapes): odd tiles, a
     * 1408-wide row, 256-element super-blocks, and enough work for 2 threads */
    static const int64_t kshapes[][3] = {
        {3, 32, 2}, {7, 96, 5}, {17, 160, 21}, {9, 1408, 7}, {5, 256, 3}, {17, 768, 9}, {3, 512, 1},
        {33, 512, 8}, {40, 1024, 16}, {70, 1024, 5}, {36, 256, 67},
        /* K-quants with <= 8 tokens go through their own in-register path: long rows */
        {50, 2048, 2},
    };
    static const int64_t fshapes[][3] = {
        {1, 1, 1}, {3, 37, 2}, {5, 64, 3}, {7, 100, 5}, {4, 128, 4}, {17, 33, 9},
        {13, 2048, 6}, {9, 1408, 7}, {2, 8195, 3}, {33, 48, 8},
    };
    for (size_t i = 0; i < 2; i++)
        for (size_t s = 0; s < sizeof qshapes / sizeof qshapes[0]; s++)
            test_shape(quant[i], qshapes[s][0], qshapes[s][1], qshapes[s][2]);
    for (size_t i = 2; i < sizeof quant / sizeof quant[0]; i++)
        for (size_t s = 0; s < sizeof kshapes / sizeof kshapes[0]; s++)
            if (kshapes[s][1] % moee_type(quant[i])->block_size == 0)
                test_shape(quant[i], kshapes[s][0], kshapes[s][1], kshapes[s][2]);
    for (size_t i = 0; i < sizeof flt / sizeof flt[0]; i++)
        for (size_t s = 0; s < sizeof fshapes / sizeof fshapes[0]; s++)
            test_shape(flt[i], fshapes[s][0], fshapes[s][1], fshapes[s][2]);

    /* weights with every byte pattern (Q8_0 -128 included) */
    raw_weights = 1;
    for (size_t i = 0; i < sizeof quant / sizeof quant[0]; i++) {
        if (moee_type(quant[i])->block_size == MOEE_QK) test_shape(quant[i], 5, 96, 3);
        test_shape(quant[i], 19, i < 2 ? 2048 : 512, 6);
    }
    raw_weights = 0;

    /* the batch sweep: a token is the same alone and in batches of 1..9 */
    for (size_t i = 0; i < 5; i++) {
        uint32_t type = i < 2 ? quant[i] : flt[i - 2];
        for (int64_t n = 1; n <= 9; n++) test_shape(type, 6, 64, n);
    }
    return test_summary("kernels_matmul");
}
