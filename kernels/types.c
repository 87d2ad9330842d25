/* types.c: the weight-type table and the scalar conversions behind it.
 * Quantizers follow ggml's quantizers without importance matrix (quantize_row_*_ref;
 * quantize_iq4_nl / quantize_iq4_xs) operation for operation, in the same float
 * order (the build is ISO C: no FMA contraction, like ggml-base's), so the bytes are
 * identical, NaN/Inf and signed zeros included. */
#include <float.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include "kernels/types.h"

/* ---- scalar number formats ---------------------------------------------- */

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float moee_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));     /* inf / nan */
    if (exp == 0) {                                                           /* zero / subnormal */
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t moee_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0); /* inf / nan */
    if (ax >= 0x477ff000u) return sign | 0x7c00;                   /* rounds to >= 65536: inf */
    if (ax < 0x38800000u) {                                        /* below 2^-14: subnormal half */
        /* value / 2^-24 rounded to nearest even; float arithmetic is exact here */
        float v = bits_f32(ax) * 16777216.0f;                      /* * 2^24 */
        return sign | (uint16_t)nearbyintf(v);
    }
    uint32_t man = ax & 0x7fffff, exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;                                  /* the 13 dropped bits */
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;         /* nearest, ties to even */
    return sign | (uint16_t)h;
}

float moee_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t moee_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);                                  /* nearest, ties to even */
    return (uint16_t)(x >> 16);
}

/* ---- per-type row conversions ------------------------------------------------ */

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = moee_f16_to_f32(s[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = moee_f32_to_f16(src[i]);
}
static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = moee_bf16_to_f32(s[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = moee_f32_to_bf16(src[i]);
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        float d = moee_f16_to_f32(b[i].d);
        for (int j = 0; j < MOEE_QK; j++) dst[i * MOEE_QK + j] = d * b[i].qs[j];
    }
}

/* ggml quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d). */
static void q8_0_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float *x = src + i * MOEE_QK;
        float amax = 0.0f;
        for (int j = 0; j < MOEE_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        b[i].d = moee_f32_to_f16(d);
        for (int j = 0; j < MOEE_QK; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        float d = moee_f16_to_f32(b[i].d);
        for (int j = 0; j < MOEE_QK / 2; j++) {
            dst[i * MOEE_QK + j] = d * ((b[i].qs[j] & 0x0f) - 8);
            dst[i * MOEE_QK + j + MOEE_QK / 2] = d * ((b[i].qs[j] >> 4) - 8);
        }
    }
}

/* ggml quantize_row_q4_0_ref: the element of largest magnitude (first one on ties),
 * with its sign, maps to -8; d = max / -8; q = min(15, (int8)(x / d + 8.5)). */
static void q4_0_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float *x = src + i * MOEE_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < MOEE_QK; j++) {
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        }
        const float d = max / -8.0f;
        const float id = d ? 1.0f / d : 0.0f;
        b[i].d = moee_f32_to_f16(d);
        for (int j = 0; j < MOEE_QK / 2; j++) {
            const float x0 = x[j] * id, x1 = x[MOEE_QK / 2 + j] * id;
            int8_t q0 = (int8_t)(x0 + 8.5f), q1 = (int8_t)(x1 + 8.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}


/* ---- 32-blocks with a minimum, 5-bit 32-blocks ------------------------------------- */

/* The 5th bit of element j (of 32) sits in bit j of qh. */
static uint32_t load_qh(const uint8_t qh[4]) { uint32_t v; memcpy(&v, qh, 4); return v; }

static void q4_1_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float d = moee_f16_to_f32(b[i].d), m = moee_f16_to_f32(b[i].m);
        for (int j = 0; j < 16; j++) {
            dst[i * 32 + j] = (b[i].qs[j] & 0x0f) * d + m;
            dst[i * 32 + j + 16] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ggml quantize_row_q4_1_ref: d = (max - min) / 15, q = min(15, (int8)((x - min) / d + 0.5)). */
static void q4_1_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float *x = src + i * MOEE_QK;
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        b[i].d = moee_f32_to_f16(d);
        b[i].m = moee_f32_to_f16(min);
        for (int j = 0; j < 16; j++) {
            int8_t q0 = (int8_t)((x[j] - min) * id + 0.5f), q1 = (int8_t)((x[j + 16] - min) * id + 0.5f);
            uint8_t u0 = (uint8_t)(q0 < 15 ? q0 : 15), u1 = (uint8_t)(q1 < 15 ? q1 : 15);
            b[i].qs[j] = (uint8_t)(u0 | (u1 << 4));
        }
    }
}

static void q5_0_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float d = moee_f16_to_f32(b[i].d);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < 16; j++) {
            const int q0 = ((b[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4)) - 16;
            const int q1 = ((b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            dst[i * 32 + j] = q0 * d;
            dst[i * 32 + j + 16] = q1 * d;
        }
    }
}

/* Stores 32 5-bit codes: low nibbles as Q4_0, bit 4 of element j in bit j of qh. */
static void store_q5(const uint8_t q[32], uint8_t qs[16], uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
        qh |= (uint32_t)((q[j] & 0x10) >> 4) << j;
        qh |= (uint32_t)((q[j + 16] & 0x10) >> 4) << (j + 16);
    }
    memcpy(qh_out, &qh, 4);
}

/* ggml quantize_row_q5_0_ref: as Q4_0 with -16 and 16.5. */
static void q5_0_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float *x = src + i * MOEE_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        b[i].d = moee_f32_to_f16(d);
        uint8_t q[32];
        for (int j = 0; j < 32; j++) {
            int8_t v = (int8_t)(x[j] * id + 16.5f);
            q[j] = (uint8_t)(v < 31 ? v : 31);
        }
        store_q5(q, b[i].qs, b[i].qh);
    }
}

static void q5_1_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float d = moee_f16_to_f32(b[i].d), m = moee_f16_to_f32(b[i].m);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < 16; j++) {
            const int q0 = (b[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4);
            const int q1 = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            dst[i * 32 + j] = q0 * d + m;
            dst[i * 32 + j + 16] = q1 * d + m;
        }
    }
}

/* ggml quantize_row_q5_1_ref: d = (max - min) / 31, q = (uint8)((x - min) / d + 0.5). */
static void q5_1_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float *x = src + i * MOEE_QK;
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        b[i].d = moee_f32_to_f16(d);
        b[i].m = moee_f32_to_f16(min);
        uint8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = (uint8_t)((x[j] - min) * id + 0.5f);
        store_q5(q, b[i].qs, b[i].qh);
    }
}

/* ---- the K types' shared helpers (ggml-quants.c) ------------------------------------ */

#define GROUP_MAX_EPS 1e-15f

/* Round to nearest (ties to even) by the float magic-number trick, as ggml. */
static int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

/* ggml make_qx_quants with rmse_type 1 and no weights (Q6_K): signed codes
 * L in [0, 2 nmax) (value L - nmax) and the scale, searched over 19 trial scales. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = imax(-nmax, imin(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ggml make_q3_quants with do_rmse (Q3_K): signed codes refined element by element. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = nearest_int(x[i] * sl2 / slx);
                new_l = imax(-nmax, imin(nmax - 1, new_l));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* ggml make_qkx2_quants: unsigned codes L in [0, nmax] with a scale and a minimum
 * (returned negated in *the_min), searched over nstep + 1 trial scales. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              int use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_mad = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_mad += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = imax(0, imin(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                mad += weights[i] * diff;
            }
            if (mad < best_mad) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* The 6-bit scale and min of sub-block j (of 8) of a Q4_K / Q5_K block. */
static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* The 6-bit scale (minus 32) of sub-block j (of 16) of a Q3_K block. */
static int q3_K_scale(const uint8_t *scales, int j) {
    int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
    return (lo | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* Code j (of 256) of the 2-bit fields of Q2_K / Q3_K: 128-element halves, each 32
 * bytes holding four 32-element groups in bit pairs 0-1, 2-3, 4-5, 6-7. */
static int q2_code(const uint8_t *qs, int j) {
    return (qs[(j / 128) * 32 + j % 32] >> (2 * ((j % 128) / 32))) & 3;
}
static void store_q2_codes(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < MOEE_QK_K; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/* ---- Q2_K --------------------------------------------------------------------------- */

static void q2_K_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q2_K *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d = moee_f16_to_f32(b[i].d), dmin = moee_f16_to_f32(b[i].dmin);
        for (int j = 0; j < MOEE_QK_K; j++) {
            const uint8_t sc = b[i].scales[j / 16];
            const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
            dst[i * MOEE_QK_K + j] = dl * q2_code(b[i].qs, j) - ml;
        }
    }
}

static void q2_K_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q2_K *y = dst;
    uint8_t L[MOEE_QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    const float q4scale = 15.f;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float *x = src + i * MOEE_QK_K;
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < 16; ++j) y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
            y[i].d = moee_f32_to_f16(max_scale / q4scale);
        } else {
            for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
            y[i].d = moee_f32_to_f16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < 16; ++j) y[i].scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = moee_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = moee_f32_to_f16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const float d = moee_f16_to_f32(y[i].d) * (y[i].scales[j] & 0xF);
            if (!d) continue;
            const float dm = moee_f16_to_f32(y[i].dmin) * (y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = (uint8_t)imax(0, imin(3, l));
            }
        }
        store_q2_codes(L, y[i].qs);
    }
}

/* ---- Q3_K --------------------------------------------------------------------------- */

/* Signed code j (-4..3): the 2 low bits, minus 4 unless the hmask bit is set. */
static int q3_K_code(const moee_block_q3_K *b, int j) {
    const int hbit = (b->hmask[j % 32] >> (j / 32)) & 1;
    return q2_code(b->qs, j) - (hbit ? 0 : 4);
}

static void q3_K_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q3_K *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d_all = moee_f16_to_f32(b[i].d);
        for (int j = 0; j < MOEE_QK_K; j++) {
            const float dl = d_all * q3_K_scale(b[i].scales, j / 16);
            dst[i * MOEE_QK_K + j] = dl * q3_K_code(&b[i], j);
        }
    }
}

static void q3_K_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q3_K *y = dst;
    int8_t L[MOEE_QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float *x = src + i * MOEE_QK_K;
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            float scale = fabsf(scales[j]);
            if (scale > amax) { amax = scale; max_scale = scales[j]; }
        }
        memset(y[i].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; ++j) {
                int8_t l = (int8_t)nearest_int(iscale * scales[j]);
                l = (int8_t)(imax(-32, imin(31, l)) + 32);
                if (j < 8) y[i].scales[j] = l & 0xF;
                else y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                l >>= 4;
                y[i].scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
            }
            y[i].d = moee_f32_to_f16(1 / iscale);
        } else {
            y[i].d = moee_f32_to_f16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const int8_t sc = (int8_t)q3_K_scale(y[i].scales, j);
            float d = moee_f16_to_f32(y[i].d) * sc;
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-4, imin(3, l)) + 4);
            }
        }
        memset(y[i].hmask, 0, 32);
        int m = 0;
        uint8_t hm = 1;
        for (int j = 0; j < MOEE_QK_K; ++j) {   /* the high bit of element j: hmask[j % 32] bit j / 32 */
            if (L[j] > 3) {
                y[i].hmask[m] |= hm;
                L[j] -= 4;
            }
            if (++m == 32) { m = 0; hm <<= 1; }
        }
        store_q2_codes((const uint8_t *)L, y[i].qs);
    }
}

/* ---- Q4_K / Q5_K -------------------------------------------------------------------- */

/* Code j (of 256) of a Q4_K block: 64-element chunks of 32 bytes, low nibbles first. */
static int q4_K_code(const uint8_t *qs, int j) {
    const uint8_t q = qs[(j / 64) * 32 + j % 32];
    return (j % 64) < 32 ? q & 0xF : q >> 4;
}
static int q5_K_code(const moee_block_q5_K *b, int j) {
    return q4_K_code(b->qs, j) | (((b->qh[j % 32] >> (j / 32)) & 1) << 4);
}

static void q4_K_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q4_K *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d = moee_f16_to_f32(b[i].d), min = moee_f16_to_f32(b[i].dmin);
        for (int j = 0; j < MOEE_QK_K; j++) {
            uint8_t sc, m;
            get_scale_min_k4(j / 32, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            dst[i * MOEE_QK_K + j] = d1 * q4_K_code(b[i].qs, j) - m1;
        }
    }
}

static void q5_K_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q5_K *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d = moee_f16_to_f32(b[i].d), min = moee_f16_to_f32(b[i].dmin);
        for (int j = 0; j < MOEE_QK_K; j++) {
            uint8_t sc, m;
            get_scale_min_k4(j / 32, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            dst[i * MOEE_QK_K + j] = d1 * q5_K_code(&b[i], j) - m1;
        }
    }
}

/* The part Q4_K and Q5_K share: 8 sub-blocks of 32 with scale and min searched by
 * make_qkx2_quants (nmax 15 or 31), the 6-bit scales and mins packed into 12 bytes,
 * then every element re-coded against the rounded scales. Writes d, dmin, scales
 * and the codes L. */
static void qk_scales_mins(const float *x, int nmax, float rmin, int nstep, uint16_t *d_out,
                           uint16_t *dmin_out, uint8_t scales_out[12], uint8_t L[MOEE_QK_K]) {
    uint8_t Laux[32];
    float weights[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, 0);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; ++j) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            scales_out[j] = ls;
            scales_out[j + 4] = lm;
        } else {
            scales_out[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales_out[j - 0] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d_out = moee_f32_to_f16(max_scale / 63.f);
    *dmin_out = moee_f32_to_f16(max_min / 63.f);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales_out, &sc, &m);
        const float d = moee_f16_to_f32(*d_out) * sc;
        if (!d) continue;
        const float dm = moee_f16_to_f32(*dmin_out) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

static void q4_K_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q4_K *y = dst;
    uint8_t L[MOEE_QK_K];
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        qk_scales_mins(src + i * MOEE_QK_K, 15, -1.f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < MOEE_QK_K; j += 64) {
            for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
            q += 32;
        }
    }
}

static void q5_K_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q5_K *y = dst;
    uint8_t L[MOEE_QK_K];
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        qk_scales_mins(src + i * MOEE_QK_K, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int nn = 0; nn < MOEE_QK_K; nn += 64) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[nn + j], l2 = L[nn + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 <<= 2;
            m2 <<= 2;
            ql += 32;
        }
    }
}

/* ---- Q6_K --------------------------------------------------------------------------- */

/* Code j (0..63, value code - 32) of a Q6_K block: 128-element halves; in each, the
 * four 32-element groups take ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high
 * nibbles and bit pairs 0-1, 2-3, 4-5, 6-7 of qh[l]. */
static int q6_K_code(const moee_block_q6_K *b, int j) {
    const int h = j / 128, g = (j % 128) / 32, l = j % 32;
    const uint8_t ql = b->ql[h * 64 + l + (g & 1) * 32];
    const int lo = g < 2 ? ql & 0xF : ql >> 4;
    return lo | (((b->qh[h * 32 + l] >> (2 * g)) & 3) << 4);
}

static void q6_K_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_q6_K *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d = moee_f16_to_f32(b[i].d);
        for (int j = 0; j < MOEE_QK_K; j++)
            dst[i * MOEE_QK_K + j] = d * b[i].scales[j / 16] * (int8_t)(q6_K_code(&b[i], j) - 32);
    }
}

static void q6_K_from_float(const float *src, void *dst, int64_t n) {
    moee_block_q6_K *y = dst;
    int8_t L[MOEE_QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float *x = src + i * MOEE_QK_K;
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scale; }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            y[i].d = moee_f32_to_f16(0.f);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = moee_f32_to_f16(1 / iscale);
        for (int ib = 0; ib < 16; ++ib) y[i].scales[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < 16; ++j) {
            float d = moee_f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < MOEE_QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

/* ---- IQ4_NL / IQ4_XS ---------------------------------------------------------------- */

const int8_t moee_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* ggml best_index_int8: the codebook entry nearest to x (the upper one on ties). */
static int best_index_int8(int n, const int8_t *val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[n - 1]) return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* ggml quantize_row_iq4_nl_impl without importance weights and ntry = 7 (what
 * quantize_iq4_nl / quantize_iq4_xs call): each 32-block gets the best of 15 trial
 * scales; with more than one block (IQ4_XS), the block scales become 6-bit
 * multiples of one fp16 d and the codes are recomputed. */
static void iq4_quantize(int super, const float *x, uint16_t *dh, uint8_t *q4, uint16_t *scales_h,
                         uint8_t *scales_l) {
    const int8_t *values = moee_iq4nl_values;
    const int ntry = 7;
    uint8_t L[MOEE_QK_K];
    float scales[MOEE_QK_K / 32], weight[32];
    memset(q4, 0, (size_t)super / 2);
    *dh = moee_f32_to_f16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super / 32; ++ib) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j) {
            float ax = fabsf(xb[j]);
            if (ax > amax) { amax = ax; max = xb[j]; }
        }
        if (amax < GROUP_MAX_EPS) {
            scales[ib] = 0;
            continue;
        }
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
            float al = id * xb[j];
            int l = best_index_int8(16, values, al);
            Lb[j] = (uint8_t)l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                float al = id * xb[j];
                int l = best_index_int8(16, values, al);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        float abs_d = fabsf(d);
        if (abs_d > amax_scale) { amax_scale = abs_d; max_scale = d; }
    }
    if (super > 32) {
        *scales_h = 0;
        float d = -max_scale / 32;
        *dh = moee_f32_to_f16(d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < super / 32; ++ib) {
            int l = nearest_int(id * scales[ib]);
            l = imax(-32, imin(31, l));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; ++j) L[ib * 32 + j] = (uint8_t)best_index_int8(16, values, idl * x[ib * 32 + j]);
            l += 32;
            uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0) scales_l[ib / 2] = l_l;
            else scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            *scales_h |= (uint16_t)(l_h << 2 * (ib % 8));
        }
    } else {
        *dh = moee_f32_to_f16(scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < super; ++j) L[j] = (uint8_t)best_index_int8(16, values, id * x[j]);
    }
    for (int i = 0; i < super / 32; ++i)
        for (int j = 0; j < 16; ++j) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

static void iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / MOEE_QK; i++) {
        const float d = moee_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            dst[i * 32 + j] = d * moee_iq4nl_values[b[i].qs[j] & 0xf];
            dst[i * 32 + j + 16] = d * moee_iq4nl_values[b[i].qs[j] >> 4];
        }
    }
}

static void iq4_nl_from_float(const float *src, void *dst, int64_t n) {
    moee_block_iq4_nl *y = dst;
    for (int64_t i = 0; i < n / MOEE_QK; i++) iq4_quantize(32, src + i * 32, &y[i].d, y[i].qs, NULL, NULL);
}

/* The 6-bit scale (minus 32) of sub-block ib (of 8) of an IQ4_XS block. */
static int iq4_xs_scale(const moee_block_iq4_xs *b, int ib) {
    return (((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4)) - 32;
}

static void iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const moee_block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++) {
        const float d = moee_f16_to_f32(b[i].d);
        for (int ib = 0; ib < 8; ib++) {
            const float dl = d * iq4_xs_scale(&b[i], ib);
            const uint8_t *qs = b[i].qs + 16 * ib;
            float *y = dst + i * MOEE_QK_K + 32 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * moee_iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * moee_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

static void iq4_xs_from_float(const float *src, void *dst, int64_t n) {
    moee_block_iq4_xs *y = dst;
    for (int64_t i = 0; i < n / MOEE_QK_K; i++)
        iq4_quantize(MOEE_QK_K, src + i * MOEE_QK_K, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}

/* ---- the integer GEMM form (types.h, moee_block32) ------------------------------------
 * X_scales fills d, m, sc, mn of 32-block b of a row (the SIMD packers call it and
 * make the codes themselves); X_unpack adds the 32 codes u. K types: 32-block b is
 * part k = b % 8 of super-block b / 8. */

static void set_plain(moee_block32 *o, float d, float m, int has_min) {
    o->sc[0] = o->sc[1] = 1;
    o->mn[0] = o->mn[1] = (int16_t)has_min;
    o->d = d;
    o->m = m;
}

static void q8_0_scales(const void *row, int64_t b, moee_block32 *o) {
    set_plain(o, moee_f16_to_f32(((const moee_block_q8_0 *)row)[b].d), 0.0f, 0);
}
static void q4_0_scales(const void *row, int64_t b, moee_block32 *o) {
    set_plain(o, moee_f16_to_f32(((const moee_block_q4_0 *)row)[b].d), 0.0f, 0);
}
static void q4_1_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q4_1 *blk = (const moee_block_q4_1 *)row + b;
    set_plain(o, moee_f16_to_f32(blk->d), moee_f16_to_f32(blk->m), 1);
}
static void q5_0_scales(const void *row, int64_t b, moee_block32 *o) {
    set_plain(o, moee_f16_to_f32(((const moee_block_q5_0 *)row)[b].d), 0.0f, 0);
}
static void q5_1_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q5_1 *blk = (const moee_block_q5_1 *)row + b;
    set_plain(o, moee_f16_to_f32(blk->d), moee_f16_to_f32(blk->m), 1);
}
static void iq4_nl_scales(const void *row, int64_t b, moee_block32 *o) {
    set_plain(o, moee_f16_to_f32(((const moee_block_iq4_nl *)row)[b].d), 0.0f, 0);
}
static void q2_K_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q2_K *blk = (const moee_block_q2_K *)row + b / 8;
    const int k = (int)(b % 8);
    for (int h = 0; h < 2; h++) {
        o->sc[h] = blk->scales[2 * k + h] & 0xF;
        o->mn[h] = blk->scales[2 * k + h] >> 4;
    }
    o->d = moee_f16_to_f32(blk->d);
    o->m = -moee_f16_to_f32(blk->dmin);
}
static void q3_K_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q3_K *blk = (const moee_block_q3_K *)row + b / 8;
    const int k = (int)(b % 8);
    set_plain(o, moee_f16_to_f32(blk->d), 0.0f, 0);
    for (int h = 0; h < 2; h++) o->sc[h] = (int16_t)q3_K_scale(blk->scales, 2 * k + h);
}
/* Q4_K and Q5_K share the head: d, dmin, scales[12] */
static void q45_K_scales(const moee_block_q4_K *blk, int k, moee_block32 *o) {
    uint8_t sc, m;
    get_scale_min_k4(k, blk->scales, &sc, &m);
    set_plain(o, moee_f16_to_f32(blk->d) * sc, -(moee_f16_to_f32(blk->dmin) * m), 1);
}
static void q4_K_scales(const void *row, int64_t b, moee_block32 *o) {
    q45_K_scales((const moee_block_q4_K *)row + b / 8, (int)(b % 8), o);
}
static void q5_K_scales(const void *row, int64_t b, moee_block32 *o) {
    q45_K_scales((const moee_block_q4_K *)(const void *)((const moee_block_q5_K *)row + b / 8), (int)(b % 8), o);
}
static void q6_K_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q6_K *blk = (const moee_block_q6_K *)row + b / 8;
    const int k = (int)(b % 8);
    set_plain(o, moee_f16_to_f32(blk->d), 0.0f, 0);
    for (int h = 0; h < 2; h++) o->sc[h] = blk->scales[2 * k + h];
}
static void iq4_xs_scales(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_iq4_xs *blk = (const moee_block_iq4_xs *)row + b / 8;
    set_plain(o, moee_f16_to_f32(blk->d) * iq4_xs_scale(blk, (int)(b % 8)), 0.0f, 0);
}

/* 32 codes of 16 bytes of nibbles: low nibbles first, then high */
static void nibble_codes(const uint8_t *qs, uint8_t *u) {
    for (int j = 0; j < 16; j++) { u[j] = qs[j] & 0xf; u[j + 16] = qs[j] >> 4; }
}
static void q5_codes(const uint8_t *qs, const uint8_t qh[4], uint8_t *u) {
    const uint32_t h = load_qh(qh);
    nibble_codes(qs, u);
    for (int j = 0; j < 32; j++) u[j] = (uint8_t)(u[j] | (((h >> j) & 1) << 4));
}
static void iq4_codes(const uint8_t *qs, uint8_t *u) {
    nibble_codes(qs, u);
    for (int j = 0; j < 32; j++) u[j] = (uint8_t)(moee_iq4nl_values[u[j]] + 128);
}

static void q8_0_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q8_0 *blk = (const moee_block_q8_0 *)row + b;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)(blk->qs[j] + 128);
    q8_0_scales(row, b, o);
}
static void q4_0_unpack(const void *row, int64_t b, moee_block32 *o) {
    nibble_codes(((const moee_block_q4_0 *)row)[b].qs, o->u);
    q4_0_scales(row, b, o);
}
static void q4_1_unpack(const void *row, int64_t b, moee_block32 *o) {
    nibble_codes(((const moee_block_q4_1 *)row)[b].qs, o->u);
    q4_1_scales(row, b, o);
}
static void q5_0_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q5_0 *blk = (const moee_block_q5_0 *)row + b;
    q5_codes(blk->qs, blk->qh, o->u);
    q5_0_scales(row, b, o);
}
static void q5_1_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q5_1 *blk = (const moee_block_q5_1 *)row + b;
    q5_codes(blk->qs, blk->qh, o->u);
    q5_1_scales(row, b, o);
}
static void iq4_nl_unpack(const void *row, int64_t b, moee_block32 *o) {
    iq4_codes(((const moee_block_iq4_nl *)row)[b].qs, o->u);
    iq4_nl_scales(row, b, o);
}
static void q2_K_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q2_K *blk = (const moee_block_q2_K *)row + b / 8;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)q2_code(blk->qs, 32 * (int)(b % 8) + j);
    q2_K_scales(row, b, o);
}
static void q3_K_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q3_K *blk = (const moee_block_q3_K *)row + b / 8;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)(q3_K_code(blk, 32 * (int)(b % 8) + j) + 4);
    q3_K_scales(row, b, o);
}
static void q4_K_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q4_K *blk = (const moee_block_q4_K *)row + b / 8;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)q4_K_code(blk->qs, 32 * (int)(b % 8) + j);
    q4_K_scales(row, b, o);
}
static void q5_K_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q5_K *blk = (const moee_block_q5_K *)row + b / 8;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)q5_K_code(blk, 32 * (int)(b % 8) + j);
    q5_K_scales(row, b, o);
}
static void q6_K_unpack(const void *row, int64_t b, moee_block32 *o) {
    const moee_block_q6_K *blk = (const moee_block_q6_K *)row + b / 8;
    for (int j = 0; j < 32; j++) o->u[j] = (uint8_t)q6_K_code(blk, 32 * (int)(b % 8) + j);
    q6_K_scales(row, b, o);
}
static void iq4_xs_unpack(const void *row, int64_t b, moee_block32 *o) {
    iq4_codes(((const moee_block_iq4_xs *)row)[b / 8].qs + 16 * (b % 8), o->u);
    iq4_xs_scales(row, b, o);
}

/* ---- the table ---------------------------------------------------------------- */

#define Q(T) MOEE_TYPE_##T
#define BLK(s) sizeof(s), _Alignof(s)
static const moee_type_traits type_table[] = {
    /* name    id         block      bytes, align               quant ftype act      to_float         from_float         unpack         scales        offset min sub16 */
    {"f32",    Q(F32),    1,         4, 4,                      0,  0,  Q(F32),  f32_to_float,    f32_from_float,    NULL,          NULL,         0,   0, 0},
    {"f16",    Q(F16),    1,         2, 2,                      0,  1,  Q(F16),  f16_to_float,    f16_from_float,    NULL,          NULL,         0,   0, 0},
    {"bf16",   Q(BF16),   1,         2, 2,                      0,  32, Q(BF16), bf16_to_float,   bf16_from_float,   NULL,          NULL,         0,   0, 0},
    {"q8_0",   Q(Q8_0),   MOEE_QK,   BLK(moee_block_q8_0),      1,  7,  Q(Q8_0), q8_0_to_float,   q8_0_from_float,   q8_0_unpack, q8_0_scales,   128, 0, 0},
    {"q4_0",   Q(Q4_0),   MOEE_QK,   BLK(moee_block_q4_0),      1,  2,  Q(Q8_0), q4_0_to_float,   q4_0_from_float,   q4_0_unpack, q4_0_scales,   8,   0, 0},
    {"q4_1",   Q(Q4_1),   MOEE_QK,   BLK(moee_block_q4_1),      1,  3,  Q(Q8_1), q4_1_to_float,   q4_1_from_float,   q4_1_unpack, q4_1_scales,   0,   1, 0},
    {"q5_0",   Q(Q5_0),   MOEE_QK,   BLK(moee_block_q5_0),      1,  8,  Q(Q8_0), q5_0_to_float,   q5_0_from_float,   q5_0_unpack, q5_0_scales,   16,  0, 0},
    {"q5_1",   Q(Q5_1),   MOEE_QK,   BLK(moee_block_q5_1),      1,  9,  Q(Q8_1), q5_1_to_float,   q5_1_from_float,   q5_1_unpack, q5_1_scales,   0,   1, 0},
    {"q2_K",   Q(Q2_K),   MOEE_QK_K, BLK(moee_block_q2_K),      1,  10, Q(Q8_K), q2_K_to_float,   q2_K_from_float,   q2_K_unpack, q2_K_scales,   0,   1, 1},
    {"q3_K",   Q(Q3_K),   MOEE_QK_K, BLK(moee_block_q3_K),      1,  12, Q(Q8_K), q3_K_to_float,   q3_K_from_float,   q3_K_unpack, q3_K_scales,   4,   0, 1},
    {"q4_K",   Q(Q4_K),   MOEE_QK_K, BLK(moee_block_q4_K),      1,  15, Q(Q8_K), q4_K_to_float,   q4_K_from_float,   q4_K_unpack, q4_K_scales,   0,   1, 0},
    {"q5_K",   Q(Q5_K),   MOEE_QK_K, BLK(moee_block_q5_K),      1,  17, Q(Q8_K), q5_K_to_float,   q5_K_from_float,   q5_K_unpack, q5_K_scales,   0,   1, 0},
    {"q6_K",   Q(Q6_K),   MOEE_QK_K, BLK(moee_block_q6_K),      1,  18, Q(Q8_K), q6_K_to_float,   q6_K_from_float,   q6_K_unpack, q6_K_scales,   32,  0, 1},
    {"iq4_nl", Q(IQ4_NL), MOEE_QK,   BLK(moee_block_iq4_nl),    1,  25, Q(Q8_0), iq4_nl_to_float, iq4_nl_from_float, iq4_nl_unpack, iq4_nl_scales, 128, 0, 0},
    {"iq4_xs", Q(IQ4_XS), MOEE_QK_K, BLK(moee_block_iq4_xs),    1,  30, Q(Q8_K), iq4_xs_to_float, iq4_xs_from_float, iq4_xs_unpack, iq4_xs_scales, 128, 0, 0},
};
#undef Q
#undef BLK
#define N_TYPES (sizeof type_table / sizeof type_table[0])

const moee_type_traits *moee_type(uint32_t id) {
    for (size_t i = 0; i < N_TYPES; i++)
        if (type_table[i].id == id) return &type_table[i];
    return NULL;
}

const moee_type_traits *moee_type_by_name(const char *name) {
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcasecmp(type_table[i].name, name)) return &type_table[i];
    return NULL;
}

/* Every ggml type id of the Feb 2025 ggml (ids 4, 5 and 31-33 were removed). */
const char *moee_ggml_type_name(uint32_t id) {
    static const char *const names[] = {
        "f32", "f16", "q4_0", "q4_1", NULL, NULL, "q5_0", "q5_1", "q8_0", "q8_1", "q2_K", "q3_K", "q4_K",
        "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs",
        "i8", "i16", "i32", "i64", "f64", "iq1_m", "bf16", NULL, NULL, NULL, "tq1_0", "tq2_0",
    };
    return id < sizeof names / sizeof names[0] ? names[id] : NULL;
}

size_t moee_type_row_bytes(uint32_t id, int64_t n) {
    const moee_type_traits *t = moee_type(id);
    if (!t || n < 0 || n % t->block_size) return 0;
    return (size_t)(n / t->block_size) * t->block_bytes;
}
