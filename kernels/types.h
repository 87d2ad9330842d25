/* types.h: the weight types, one table row per type (ggml's type-traits idea).
 *
 * Ids and block layouts are GGUF's/ggml's, so tensors move byte for byte between
 * moee and llama.cpp: F32, F16, BF16 (one element per block), the 32-blocks Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL and the 256-element super-blocks Q2_K ... Q6_K and
 * IQ4_XS (structs below; ../shared/golden/quant/README.md has the bit layouts).
 * from_float is ggml's quantizer, bit for bit (so `moee convert --type T` writes
 * what llama-quantize writes); tests/kernels_types.c checks every type against
 * vectors made by ggml itself (tests/data/quant/). Adding a type: its row in
 * types.c (layout, to_float, from_float, unpack); the kernels need nothing else. */
#ifndef MOEE_TYPES_H
#define MOEE_TYPES_H
#include <stddef.h>
#include <stdint.h>

enum moee_type {
    MOEE_TYPE_F32 = 0,
    MOEE_TYPE_F16 = 1,
    MOEE_TYPE_Q4_0 = 2,
    MOEE_TYPE_Q4_1 = 3,
    MOEE_TYPE_Q5_0 = 6,
    MOEE_TYPE_Q5_1 = 7,
    MOEE_TYPE_Q8_0 = 8,
    MOEE_TYPE_Q8_1 = 9,     /* activation type only (ggml's vec_dot partner of Q4_1/Q5_1) */
    MOEE_TYPE_Q2_K = 10,
    MOEE_TYPE_Q3_K = 11,
    MOEE_TYPE_Q4_K = 12,
    MOEE_TYPE_Q5_K = 13,
    MOEE_TYPE_Q6_K = 14,
    MOEE_TYPE_Q8_K = 15,    /* activation type only (ggml's vec_dot partner of the K types) */
    MOEE_TYPE_IQ4_NL = 20,
    MOEE_TYPE_IQ4_XS = 23,
    MOEE_TYPE_BF16 = 30,
};

#define MOEE_QK 32   /* elements per 32-block (Q4_0 ... Q8_0, IQ4_NL; the activation blocks) */
#define MOEE_QK_K 256 /* elements per K-type super-block (Q2_K ... Q6_K, IQ4_XS) */

/* The block layouts, field for field as ggml's block_* structs (fp16 fields as uint16_t). */
typedef struct { uint16_t d; uint8_t qs[MOEE_QK / 2]; } moee_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[MOEE_QK / 2]; } moee_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[MOEE_QK / 2]; } moee_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[MOEE_QK / 2]; } moee_block_q5_1;
typedef struct { uint16_t d; int8_t qs[MOEE_QK]; } moee_block_q8_0;
/* Q2_K: 16 sub-blocks of 16; scales[i] = scale (low 4 bits) | min (high 4 bits) */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } moee_block_q2_K;
/* Q3_K: 16 sub-blocks of 16; 2 low bits in qs, the high bit in hmask; 16 6-bit scales (-32) */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } moee_block_q3_K;
/* Q4_K / Q5_K: 8 sub-blocks of 32 with a 6-bit scale and a 6-bit min each */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } moee_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } moee_block_q5_K;
/* Q6_K: 16 sub-blocks of 16; 4 low bits in ql, 2 high bits in qh; int8 scales */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } moee_block_q6_K;
/* IQ4_NL / IQ4_XS: nibbles index the 16-value codebook moee_iq4nl_values */
typedef struct { uint16_t d; uint8_t qs[MOEE_QK / 2]; } moee_block_iq4_nl;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } moee_block_iq4_xs;

extern const int8_t moee_iq4nl_values[16];

/* One 32-element block of a weight row in the integer form every quantized GEMM of
 * moee uses, whatever the type (kernels/matmul.c has the dot product built on it):
 *     value[j] = d * sc[j / 16] * (u[j] - offset) + m * mn[j / 16]
 * u are unsigned codes (Q8_0: q + 128; IQ4: codebook value + 128), offset is the
 * type's (moee_type_traits.offset). Types with one scale per 32 elements have
 * sc = {1, 1}, mn = {1, 1} (or {0, 0} without a minimum) and their scale and minimum
 * in the floats d and m (Q4_K: d = fp16 d * 6-bit scale, m = -fp16 dmin * 6-bit
 * min, both exact in float). Types with two 16-element sub-blocks in a 32-block
 * (Q2_K, Q3_K, Q6_K: moee_type_traits.sub16) keep their integer sub-block scales
 * and mins in sc and mn and the super-block's d and -dmin in d and m. Every
 * product here is exact in float, and to_float's value is this, bit for bit, when
 * computed as (d * sc) * (u - offset) + m * mn. */
typedef struct {
    uint8_t u[MOEE_QK];
    int16_t sc[2], mn[2];
    float d, m;
} moee_block32;

typedef struct {
    const char *name;        /* ggml's name: "f32", "q4_K", "iq4_xs", ... */
    uint32_t id;             /* enum moee_type = ggml's type id */
    int64_t block_size;      /* elements per block */
    size_t block_bytes;      /* bytes per block */
    size_t align;            /* bytes a tensor's data must be aligned to (its widest field) */
    int is_quantized;
    uint32_t file_type;      /* llama.cpp's general.file_type (LLAMA_FTYPE_*) of a file mostly of this type */
    uint32_t ggml_act_type;  /* the activation type ggml's vec_dot pairs it with (Q8_0, Q8_1 or Q8_K);
                              * moee pairs every quantized type with its Q8_0 32-blocks instead */
    /* n must be a multiple of block_size */
    void (*to_float)(const void *src, float *dst, int64_t n);
    /* ggml's quantizer without importance matrix (what ggml_quantize_chunk and so
     * llama-quantize write), bit for bit */
    void (*from_float)(const float *src, void *dst, int64_t n);
    /* quantized types: block b (of 32 elements) of a row in the integer GEMM form */
    void (*unpack)(const void *row, int64_t b, moee_block32 *out);
    /* the same without the codes u (d, m, sc, mn only) */
    void (*scales)(const void *row, int64_t b, moee_block32 *out);
    int offset;              /* see moee_block32 */
    int has_min;             /* the m * mn term is not always zero */
    int sub16;               /* sc, mn differ between the halves of a 32-block */
} moee_type_traits;

/* NULL for a type moee does not support. */
const moee_type_traits *moee_type(uint32_t id);
/* ggml's name of any ggml type id ("iq2_xxs", "tq1_0", ...; moee supports only
 * those moee_type() knows), or NULL for an id ggml does not have. For errors. */
const char *moee_ggml_type_name(uint32_t id);
/* NULL for an unknown name (case-insensitive). */
const moee_type_traits *moee_type_by_name(const char *name);
/* Bytes of n elements (n a multiple of the block size), or 0 if it is not. */
size_t moee_type_row_bytes(uint32_t id, int64_t n);

/* Scalar conversions (round to nearest even, as numpy/torch/ggml do). */
float moee_f16_to_f32(uint16_t h);
uint16_t moee_f32_to_f16(float f);
float moee_bf16_to_f32(uint16_t b);
uint16_t moee_f32_to_bf16(float f);

#endif
