/* avx512/peak.c: loops that run the machine's fastest AVX-512 arithmetic back to back
 * (no loads), so bench/bench_kernels.c can measure the attainable peak the kernels
 * are compared against. Each returns the number of operations it did (a multiply-add
 * counts 2) and writes a value depending on all of them to *sink (so the work
 * cannot be optimized away). */
#include <immintrin.h>
#include "kernels/variants.h"

/* 16 independent chains of 16-lane FMAs: enough to cover the FMA latency. */
double moee_avx512_peak_f32(int64_t iters, float *sink) {
    __m512 acc[16];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float)i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
    *sink = _mm512_reduce_add_ps(s);
    return (double)iters * 16 * 16 * 2;
}

/* 16 independent chains of vpdpbusd on 64 bytes: 64 int8 multiply-adds each. */
double moee_avx512_peak_int8(int64_t iters, float *sink) {
    __m512i acc[16];
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_epi32(i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    __m512i s = acc[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_epi32(s, acc[i]);
    *sink = (float)_mm512_reduce_add_epi32(s);
    return (double)iters * 16 * 64 * 2;
}

/* The arithmetic of the quantized GEMM tile (kernels/avx512/matmul.c) without its
 * loads: per 32-value block, 8 chains (32 rows x 4 tokens) of 8 vpdpbusd each, then
 * per chain the exact float step acc = acc + (float)isum * (d_w * d_x). Its two
 * multiplies per chain compete with vpdpbusd for the same execution ports, so this is
 * what a bit-exact block-scaled int8 GEMM can reach at most, below the int8 peak
 * above. Counts the int8 operations only, as the GEMM's GOP/s do. (Each block's
 * chains start from a value that changes every round, as the tile's start from the
 * activations' block sums, so that no part of the loop is the same each time.) */
double moee_avx512_peak_int8_exact(int64_t iters, float *sink) {
    /* block scales as the tile reads them: a row vector d_w and a token's d_x, from L1 */
    _Alignas(64) float dw[8][2][16], dx[8][4];
    for (int b = 0; b < 8; b++) {
        for (int i = 0; i < 16; i++) dw[b][0][i] = dw[b][1][i] = 1e-20f * (float)(b + i + 1);
        for (int j = 0; j < 4; j++) dx[b][j] = 0.25f * (float)(b + j + 1);
    }
    const __m512i w0 = _mm512_set1_epi8(3), w1 = _mm512_set1_epi8(5);
    const __m512i x[4] = {_mm512_set1_epi8(-2), _mm512_set1_epi8(1), _mm512_set1_epi8(-1), _mm512_set1_epi8(2)};
    __m512i isum[8], start = _mm512_setzero_si512();
    __m512 acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t it = 0; it < iters; it++) {
        start = _mm512_add_epi32(start, _mm512_set1_epi32(1));
        for (int i = 0; i < 8; i++) isum[i] = start;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                isum[j] = _mm512_dpbusd_epi32(isum[j], w0, x[j]);
                isum[4 + j] = _mm512_dpbusd_epi32(isum[4 + j], w1, x[j]);
            }
        const int b = (int)(it & 7);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512 scale = _mm512_mul_ps(_mm512_load_ps(dw[b][i / 4]), _mm512_set1_ps(dx[b][i % 4]));
            acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(_mm512_cvtepi32_ps(isum[i]), scale));
        }
    }
    __m512 s = acc[0];
    for (int i = 1; i < 8; i++) s = _mm512_add_ps(s, acc[i]);
    *sink = _mm512_reduce_add_ps(s);
    return (double)iters * 64 * 64 * 2;
}
