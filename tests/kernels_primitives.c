/* kernels_primitives: the non-GEMM primitives of every variant this CPU can run,
 * against obvious double-precision computations.
 *
 * Bounds tested (u = 2^-24):
 *  - rmsnorm:   |out - ref| <= 64 u |ref| + 1e-30
 *  - rope:      |out - ref| <= 4 u (|a| + |b|) per rotated pair (exact cos/sin given), and
 *               every variant bit-identical to scalar (the same products and sums)
 *  - softmax:   |p - ref| <= (n + 16) u ref + 1e-9 (a float sum of n terms; exp a few ulps)
 *  - attention: |out - ref| <= 1e-5 (sum_j a_j |v_j|) + 1e-7, ref in double from the
 *               same float q, k, v (scores enter exp, so absolute, not ulps)
 *  - silu_mul:  |out - ref| <= 16 u |ref| + 1e-30
 *  - axpy:      |out - ref| <= 2 u (|y| + |a x|)
 *  - topk: exact (ties to the lower index, NaN never preferred). */
#include <stdlib.h>
#include <string.h>
#include "kernels/variants.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static const char *names[] = {"scalar", "avx2", "avx512", "neon"};
static const double u = 1.0 / 16777216.0;
static const int64_t sizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 128, 1000, 2048, 2051};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static void test_rmsnorm(const char *name, const moee_kernel_variant *v) {
    for (size_t s = 0; s < N_SIZES; s++) {
        int64_t n = sizes[s];
        float *x = malloc(n * sizeof(float)), *w = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
        for (int64_t i = 0; i < n; i++) { x[i] = frand() * 3; w[i] = 1 + frand() * 0.5f; }
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double inv = 1 / sqrt(ss / n + 1e-6);
        v->rmsnorm(o, x, w, n, 1e-6f);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            double ref = x[i] * inv * w[i];
            if (!(fabs(o[i] - ref) <= 64 * u * fabs(ref) + 1e-30)) ok = 0;
        }
        CHECKF(ok, "%s rmsnorm n=%lld", name, (long long)n);
        v->rmsnorm(x, x, w, n, 1e-6f);                 /* in place */
        CHECKF(!memcmp(x, o, n * sizeof(float)), "%s rmsnorm in place n=%lld", name, (long long)n);
        free(x); free(w); free(o);
    }
}

static void test_rope(const char *name, const moee_kernel_variant *v) {
    static const int64_t dims[] = {2, 6, 8, 18, 34, 64, 128};
    for (int mode = 0; mode < 2; mode++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            int64_t hd = dims[di], nh = 3;
            float *x = malloc(nh * hd * sizeof(float)), *x0 = malloc(nh * hd * sizeof(float));
            float *xs = malloc(nh * hd * sizeof(float));
            float *c = malloc(hd / 2 * sizeof(float)), *sn = malloc(hd / 2 * sizeof(float));
            for (int64_t i = 0; i < nh * hd; i++) xs[i] = x0[i] = x[i] = frand();
            for (int64_t i = 0; i < hd / 2; i++) { double a = 7.0 * pow(10000.0, -2.0 * i / hd); c[i] = (float)cos(a); sn[i] = (float)sin(a); }
            v->rope(x, nh, hd, c, sn, mode);
            moee_scalar_rope(xs, nh, hd, c, sn, mode);
            CHECKF(!memcmp(x, xs, (size_t)(nh * hd) * sizeof(float)), "%s rope mode %d head_dim %lld = scalar", name,
                   mode, (long long)hd);
            int ok = 1;
            for (int64_t h = 0; h < nh; h++)
                for (int64_t i = 0; i < hd / 2; i++) {
                    int64_t ia = h * hd + (mode == MOEE_ROPE_NEOX ? i : 2 * i);
                    int64_t ib = h * hd + (mode == MOEE_ROPE_NEOX ? i + hd / 2 : 2 * i + 1);
                    double a = x0[ia], b = x0[ib];
                    double ra = a * c[i] - b * sn[i], rb = b * c[i] + a * sn[i];
                    double tol = 4 * u * (fabs(a) + fabs(b));
                    if (!(fabs(x[ia] - ra) <= tol && fabs(x[ib] - rb) <= tol)) ok = 0;
                }
            CHECKF(ok, "%s rope mode %d head_dim %lld", name, mode, (long long)hd);
            free(x); free(x0); free(xs); free(c); free(sn);
        }
}

static void test_softmax(const char *name, const moee_kernel_variant *v) {
    for (size_t s = 0; s < N_SIZES; s++) {
        int64_t n = sizes[s];
        float *x = malloc(n * sizeof(float));
        double *ref = malloc(n * sizeof(double));
        for (int64_t i = 0; i < n; i++) x[i] = frand() * 20;
        double max = x[0], sum = 0;
        for (int64_t i = 1; i < n; i++) if (x[i] > max) max = x[i];
        for (int64_t i = 0; i < n; i++) { ref[i] = exp(x[i] - max); sum += ref[i]; }
        v->softmax(x, n);
        int ok = 1;
        for (int64_t i = 0; i < n; i++)
            if (!(fabs(x[i] - ref[i] / sum) <= (n + 16) * u * ref[i] / sum + 1e-9)) ok = 0;
        CHECKF(ok, "%s softmax n=%lld", name, (long long)n);
        free(x); free(ref);
    }
}

static void test_attention(const char *name, const moee_kernel_variant *v) {
    static const int64_t ns[] = {1, 2, 5, 17, 40};
    static const int64_t hds[] = {1, 7, 64, 128};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 4; b++) {
            int64_t n = ns[a], hd = hds[b];
            /* q, k, v as one head inside wider token-major buffers, with an offset */
            int64_t ld_q = 3 * hd + 1, ld_kv = 2 * hd, ld_o = hd + 5;
            float *q = malloc(n * ld_q * sizeof(float)), *k = malloc(n * ld_kv * sizeof(float));
            float *vv = malloc(n * ld_kv * sizeof(float)), *o = malloc(n * ld_o * sizeof(float));
            float *scratch = malloc(MOEE_ATTENTION_SCRATCH(n) * sizeof(float));
            for (int64_t i = 0; i < n * ld_q; i++) q[i] = frand() * 2;
            for (int64_t i = 0; i < n * ld_kv; i++) { k[i] = frand() * 2; vv[i] = frand(); }
            for (int64_t i = 0; i < n * ld_o; i++) o[i] = 12345.0f;
            const float *qh = q + hd, *kh = k + hd, *vh = vv;
            float scale = 1.0f / sqrtf((float)hd);
            v->attention_head(qh, ld_q, kh, ld_kv, vh, ld_kv, o + 2, ld_o, n, hd, scale, scratch);
            int ok = 1, untouched = 1;
            double *p = malloc(n * sizeof(double));
            for (int64_t i = 0; i < n; i++) {
                double max = -1e300, sum = 0;
                for (int64_t j = 0; j <= i; j++) {
                    double d = 0;
                    for (int64_t c = 0; c < hd; c++) d += (double)qh[i * ld_q + c] * kh[j * ld_kv + c];
                    p[j] = d * scale;
                    if (p[j] > max) max = p[j];
                }
                for (int64_t j = 0; j <= i; j++) { p[j] = exp(p[j] - max); sum += p[j]; }
                for (int64_t c = 0; c < hd; c++) {
                    double ref = 0, mag = 0;
                    for (int64_t j = 0; j <= i; j++) { ref += p[j] / sum * vh[j * ld_kv + c]; mag += p[j] / sum * fabs(vh[j * ld_kv + c]); }
                    if (!(fabs(o[2 + i * ld_o + c] - ref) <= 1e-5 * mag + 1e-7)) ok = 0;
                }
                if (o[i * ld_o] != 12345.0f || o[i * ld_o + 1] != 12345.0f) untouched = 0;
                for (int64_t c = hd + 2; c < ld_o; c++) if (o[i * ld_o + c] != 12345.0f) untouched = 0;
            }
            CHECKF(ok, "%s attention n=%lld head_dim=%lld", name, (long long)n, (long long)hd);
            CHECKF(untouched, "%s attention wrote outside its head", name);
            /* query i of a sequence cut after it (a last query, maybe done alone) is the
             * same bits as inside the whole sequence (maybe done in a tile of queries) */
            float *o1 = malloc(n * ld_o * sizeof(float));
            int same = 1;
            for (int64_t i = 0; i < n; i++) {
                v->attention_head(qh, ld_q, kh, ld_kv, vh, ld_kv, o1 + 2, ld_o, i + 1, hd, scale, scratch);
                same &= !memcmp(o1 + 2 + i * ld_o, o + 2 + i * ld_o, (size_t)hd * sizeof(float));
            }
            CHECKF(same, "%s attention n=%lld head_dim=%lld: a query's bits depend on the queries after it", name,
                   (long long)n, (long long)hd);
            free(o1);
            free(q); free(k); free(vv); free(o); free(scratch); free(p);
        }
}

static void test_silu_axpy(const char *name, const moee_kernel_variant *v) {
    for (size_t s = 0; s < N_SIZES; s++) {
        int64_t n = sizes[s];
        float *g = malloc(n * sizeof(float)), *up = malloc(n * sizeof(float)), *g0 = malloc(n * sizeof(float));
        for (int64_t i = 0; i < n; i++) { g0[i] = g[i] = frand() * (i % 3 ? 8 : 90); up[i] = frand(); }
        v->silu_mul(g, up, n);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            double ref = g0[i] / (1 + exp(-(double)g0[i])) * up[i];
            if (!(fabs(g[i] - ref) <= 16 * u * fabs(ref) + 1e-30)) ok = 0;
        }
        CHECKF(ok, "%s silu_mul n=%lld", name, (long long)n);

        float a = 0.37f;
        for (int64_t i = 0; i < n; i++) g[i] = g0[i];
        v->axpy(g, a, up, n);
        ok = 1;
        for (int64_t i = 0; i < n; i++) {
            double ref = (double)g0[i] + (double)a * up[i];
            if (!(fabs(g[i] - ref) <= 2 * u * (fabs(g0[i]) + fabs(a * up[i])))) ok = 0;
        }
        CHECKF(ok, "%s axpy n=%lld", name, (long long)n);
        free(g); free(up); free(g0);
    }
}

static void test_topk(const char *name, const moee_kernel_variant *v) {
    const float p[8] = {0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.0f, 0.3f, 0.05f};
    int32_t idx[8];
    v->topk(p, 8, 4, idx);
    CHECKF(idx[0] == 1 && idx[1] == 3 && idx[2] == 6 && idx[3] == 4, "%s topk ties: %d %d %d %d",
           name, idx[0], idx[1], idx[2], idx[3]);
    v->topk(p, 8, 8, idx);
    CHECKF(idx[4] == 0 && idx[5] == 2 && idx[6] == 7 && idx[7] == 5, "%s topk k=n", name);
    const float q[4] = {NAN, 0.5f, NAN, 0.25f};
    v->topk(q, 4, 3, idx);
    CHECKF(idx[0] == 1 && idx[1] == 3 && idx[2] == 0, "%s topk nan: %d %d %d", name, idx[0], idx[1], idx[2]);
    /* the same indices as the selection (the oracle) on random values with many ties,
     * +-0 and NaNs, every k */
    enum { N = 67 };
    float r[N];
    int32_t want[N], got[N];
    int same = 1;
    for (int round = 0; round < 200; round++) {
        const int64_t n = 1 + round % N;
        for (int64_t i = 0; i < n; i++) {
            const float f = frand();
            r[i] = round % 3 == 0 ? (float)(int)(f * 4) * 0.25f : f;   /* a third with ties */
            if (round % 5 == 0 && i % 7 == 3) r[i] = NAN;
            if (round % 4 == 1 && i % 6 == 2) r[i] = i % 12 == 2 ? -0.0f : 0.0f;
        }
        for (int64_t k = 1; k <= n; k += 1 + n / 9) {
            moee_scalar_topk(r, n, k, want);
            v->topk(r, n, k, got);
            if (memcmp(want, got, (size_t)k * sizeof(int32_t))) same = 0;
        }
    }
    CHECKF(same, "%s topk differs from the selection", name);
}

int main(void) {
    printf("variants on this CPU:");
    for (int i = 0; i < 4; i++) if (moee_kernels_variant(names[i])) printf(" %s", names[i]);
    printf("\n");
    for (int i = 0; i < 4; i++) {
        const moee_kernel_variant *v = moee_kernels_variant(names[i]);
        if (!v) continue;
        test_rmsnorm(names[i], v);
        test_rope(names[i], v);
        test_softmax(names[i], v);
        test_attention(names[i], v);
        test_silu_axpy(names[i], v);
        test_topk(names[i], v);
    }
    /* the public entry points dispatch to a variant and behave the same */
    CHECK(moee_kernels_select("scalar") == 0 && !strcmp(moee_kernels_name(), "scalar"));
    CHECK(moee_kernels_select("no-such-isa") == -1);
    float x[3] = {1, 2, 3};
    moee_softmax(x, 3);
    CHECK_NEAR(x[0] + x[1] + x[2], 1.0, 1e-6);
    return test_summary("kernels_primitives");
}
