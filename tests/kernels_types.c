/* kernels_types: the weight-type table and the scalar number conversions. */
#include <stdlib.h>
#include <string.h>
#include "kernels/types.h"
#include "test.h"

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

int main(void) {
    /* the table */
    static const char *names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K",
                                  "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs"};
    static const uint32_t ids[] = {0, 1, 30, 8, 2, 3, 6, 7, 10, 11, 12, 13, 14, 20, 23};
    static const size_t block_bytes[] = {4, 2, 2, 34, 18, 20, 22, 24, 84, 110, 144, 176, 210, 18, 136};
    static const uint32_t file_types[] = {0, 1, 32, 7, 2, 3, 8, 9, 10, 12, 15, 17, 18, 25, 30};
    for (int i = 0; i < 15; i++) {
        const moee_type_traits *t = moee_type(ids[i]);
        CHECKF(t && !strcmp(t->name, names[i]) && t->block_bytes == block_bytes[i] && t->file_type == file_types[i],
               "type %u", ids[i]);
        CHECK(moee_type_by_name(names[i]) == t);
        CHECK(!strcmp(moee_ggml_type_name(ids[i]), names[i]));
        CHECK(t->is_quantized == (t->block_size > 1) && (t->unpack != NULL) == t->is_quantized);
    }
    CHECK(moee_type_by_name("Q4_K") == moee_type(MOEE_TYPE_Q4_K) && moee_type_by_name("q4_k_m") == NULL);
    CHECK(moee_type(16) == NULL && moee_type(12345) == NULL && moee_type_by_name("iq2_xxs") == NULL);
    CHECK(!strcmp(moee_ggml_type_name(16), "iq2_xxs") && !strcmp(moee_ggml_type_name(34), "tq1_0"));
    CHECK(moee_ggml_type_name(4) == NULL && moee_ggml_type_name(36) == NULL && moee_ggml_type_name(99999) == NULL);
    CHECK(moee_type_row_bytes(MOEE_TYPE_Q4_0, 64) == 36);
    CHECK(moee_type_row_bytes(MOEE_TYPE_Q8_0, 33) == 0);
    CHECK(moee_type_row_bytes(MOEE_TYPE_F16, 3) == 6);
    CHECK(moee_type_row_bytes(99, 32) == 0 && moee_type_row_bytes(MOEE_TYPE_F32, -1) == 0);

    /* every half and bfloat16 survives to float and back (NaNs stay NaN) */
    int f16_ok = 1, bf16_ok = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = moee_f16_to_f32((uint16_t)h);
        if (isnan(f) ? !isnan(moee_f16_to_f32(moee_f32_to_f16(f))) : moee_f32_to_f16(f) != h) f16_ok = 0;
        float g = moee_bf16_to_f32((uint16_t)h);
        if (isnan(g) ? !isnan(moee_bf16_to_f32(moee_f32_to_bf16(g))) : moee_f32_to_bf16(g) != h) bf16_ok = 0;
    }
    CHECK(f16_ok);
    CHECK(bf16_ok);
    /* round to nearest, ties to even */
    CHECK(moee_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);          /* tie -> even (1.0) */
    CHECK(moee_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);          /* tie -> even (up) */
    CHECK(moee_f32_to_f16(65520.0f) == 0x7c00 && moee_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(moee_f32_to_f16(from_bits(0x33000000)) == 0);            /* 2^-25: tie -> 0 */
    CHECK(moee_f32_to_f16(from_bits(0x33000001)) == 1);            /* just above: smallest subnormal */
    CHECK(moee_f32_to_bf16(from_bits(0x3f808000)) == 0x3f80);      /* tie -> even */
    CHECK(moee_f32_to_bf16(from_bits(0x3f818000)) == 0x3f82);
    CHECK(moee_f32_to_bf16(from_bits(0x7f7fffff)) == 0x7f80);      /* rounds up to inf */
    CHECK(bits(moee_bf16_to_f32(0x3f80)) == 0x3f800000);

    /* Q8_0 / Q4_0: known blocks */
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 10) * 0.25f;   /* -2.5 .. 5.25 */
    moee_block_q8_0 b8;
    moee_type(MOEE_TYPE_Q8_0)->from_float(x, &b8, 32);
    CHECK_NEAR(moee_f16_to_f32(b8.d), 5.25 / 127, 3e-5);        /* fp16 ulp there: 3e-5 */
    CHECK(b8.qs[31] == 127 && b8.qs[10] == 0);
    moee_block_q4_0 b4;
    moee_type(MOEE_TYPE_Q4_0)->from_float(x, &b4, 32);
    CHECK_NEAR(moee_f16_to_f32(b4.d), -5.25 / 8, 1e-3);            /* max magnitude with sign -> -8 */
    CHECK((b4.qs[15] >> 4) == 0);                                   /* element 31 = 5.25 -> nibble 0 */
    float y[32];
    moee_type(MOEE_TYPE_Q8_0)->to_float(&b8, y, 32);
    double max_err = 0;
    for (int j = 0; j < 32; j++) if (fabs(y[j] - x[j]) > max_err) max_err = fabs(y[j] - x[j]);
    CHECK(max_err <= 0.5 * 5.25 / 127 + 1e-4);
    moee_type(MOEE_TYPE_Q4_0)->to_float(&b4, y, 32);
    max_err = 0;
    for (int j = 0; j < 32; j++) if (fabs(y[j] - x[j]) > max_err) max_err = fabs(y[j] - x[j]);
    CHECK(max_err <= 0.5 * 5.25 / 8 + 1e-3);
    /* an all-zero block: d = 0 (Q4_0: -0, as ggml), all values 0 (no division by zero) */
    memset(x, 0, sizeof x);
    moee_type(MOEE_TYPE_Q8_0)->from_float(x, &b8, 32);
    moee_type(MOEE_TYPE_Q4_0)->from_float(x, &b4, 32);
    CHECK(b8.d == 0 && b8.qs[0] == 0 && moee_f16_to_f32(b4.d) == 0 && b4.qs[0] == 0x88);
    return test_summary("kernels_types");
}
