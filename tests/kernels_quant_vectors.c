/* kernels_quant_vectors: every quantized type against vectors made by ggml itself
 * (tests/data/quant/<type>.bin, cut from ../shared/golden/quant/ by cut.py there;
 * layout in that folder's README.md): from_float must write ggml's bytes, to_float
 * and the integer GEMM form (unpack) must give ggml's dequantized floats, all bit
 * for bit (signed zeros included). MOEE_QUANT_DIR=path runs the full vectors.
 *
 * Dot products: moee multiplies every type with its own Q8_0 activations (one scale
 * per 32 values; kernels/matmul.c), ggml with Q8_0, Q8_1 or Q8_K (one float scale
 * per 256). Each differs from the exact sum_j y_j a_j by its activation rounding,
 * at most (its block scale / 2) * sum |y_j| per activation block, plus float
 * rounding; ggml's Q8_1 keeps d * sum q as an fp16 (relative 2^-11). So the test:
 *     |moee - ggml dot| <= B_moee + B_ggml + 2^-10 sum_j |y_j a_j| + 1e-30
 * with B = sum over activation blocks of (d / 2) sum_{j in block} |y_j|, d read from
 * moee's and from ggml's quantized activations. The worst measured fraction of the
 * bound is printed. */
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "test.h"

typedef struct { uint8_t *p; size_t n, off; } reader;

static const void *take(reader *r, size_t n) {
    if (r->off + n > r->n) return NULL;
    r->off += n;
    return r->p + r->off - n;
}

static int load(const char *path, reader *r) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    r->n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    r->p = malloc(r->n);
    r->off = 0;
    size_t got = fread(r->p, 1, r->n, f);
    fclose(f);
    return got == r->n ? 0 : -1;
}

static uint32_t u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* value j of a block in the GEMM form, in the float order of ggml's to_float */
static float unpacked_value(const moee_type_traits *t, const moee_block32 *o, int j) {
    float v = (o->d * o->sc[j / 16]) * (float)(o->u[j] - t->offset);
    if (t->has_min) v = v + o->m * o->mn[j / 16];
    return v;
}

static double worst_fraction;

/* moee's matmul of the case's rows with its activation a vs ggml's stored dots. */
static int check_dots(const moee_type_traits *t, const uint8_t *q, const float *y, const float *a_in,
                      const uint8_t *aq, const float *dot_in, uint32_t n, uint32_t rows, uint32_t vbs, uint32_t vts) {
    float *a = malloc(4 * (size_t)n), *out = malloc(4 * (size_t)rows), *dot = malloc(4 * (size_t)rows);
    memcpy(a, a_in, 4 * (size_t)n);
    memcpy(dot, dot_in, 4 * (size_t)rows);
    void *wq = malloc(t->block_bytes * (n / t->block_size) * rows);   /* aligned copy of the rows */
    memcpy(wq, q, t->block_bytes * (n / t->block_size) * rows);
    void *scratch = malloc(moee_matmul_scratch_bytes(1, n));
    moee_matrix W = {t->id, wq, rows, n};
    moee_matmul(NULL, &W, a, 1, out, scratch);
    /* moee's activation scales */
    moee_block_q8_0 *xq = malloc(sizeof(moee_block_q8_0) * (n / 32));
    moee_type(MOEE_TYPE_Q8_0)->from_float(a, xq, n);
    int ok = 1;
    for (uint32_t r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * n;
        double b_moee = 0, b_ggml = 0, mag = 0;
        for (uint32_t j = 0; j < n; j++) {
            float yj;
            memcpy(&yj, yr + j, 4);
            const uint8_t *vb = aq + (j / vbs) * vts;
            double dg;
            if (vbs == 256) { float f; memcpy(&f, vb, 4); dg = f; }
            else { uint16_t h; memcpy(&h, vb, 2); dg = moee_f16_to_f32(h); }
            b_moee += moee_f16_to_f32(xq[j / 32].d) / 2 * fabs(yj);
            b_ggml += fabs(dg) / 2 * fabs(yj);
            mag += fabs((double)yj * a[j]);
        }
        const double bound = b_moee + b_ggml + mag / 1024 + 1e-30;
        const double err = fabs((double)out[r] - dot[r]);
        if (err / bound > worst_fraction) worst_fraction = err / bound;
        if (!(err <= bound)) {
            fprintf(stderr, "%s n=%u row %u: moee %.9g, ggml %.9g, bound %g\n", t->name, n, r, out[r], dot[r], bound);
            ok = 0;
        }
    }
    free(a); free(out); free(dot); free(wq); free(scratch); free(xq);
    return ok;
}

static void check_file(const char *dir, const char *type_name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", dir, type_name);
    reader r;
    if (load(path, &r) < 0) { CHECKF(0, "cannot read %s", path); return; }
    const uint8_t *h = take(&r, 64);
    CHECKF(h && !memcmp(h, "MOEEQV1", 8), "%s: bad header", path);
    if (!h) return;
    const moee_type_traits *t = moee_type(u32_at(h + 8));
    CHECKF(t && !strcmp(t->name, type_name), "%s: type %u", path, u32_at(h + 8));
    if (!t) return;
    CHECK((uint32_t)t->block_size == u32_at(h + 12) && t->block_bytes == u32_at(h + 16));
    CHECKF(t->ggml_act_type == u32_at(h + 20), "%s: vec_dot_type %u", type_name, u32_at(h + 20));
    const uint32_t vbs = u32_at(h + 24), vts = u32_at(h + 28), n_cases = u32_at(h + 32);
    int bytes_ok = 1, to_float_ok = 1, unpack_ok = 1, dots_ok = 1;
    for (uint32_t c = 0; c < n_cases; c++) {
        const uint8_t *ch = take(&r, 48);
        if (!ch) { CHECKF(0, "%s: truncated", path); break; }
        const uint32_t n = u32_at(ch + 4), rows = u32_at(ch + 8);
        const char *kind = (const char *)ch + 16;
        const size_t rs = n / t->block_size * t->block_bytes;
        const float *x = take(&r, 4 * (size_t)n * rows);
        const uint8_t *q = take(&r, rs * rows);
        const float *y = take(&r, 4 * (size_t)n * rows);
        const float *a = take(&r, 4 * (size_t)n);
        const uint8_t *aq = take(&r, n / vbs * vts);
        const float *dot = take(&r, 4 * (size_t)rows);
        if (!take(&r, 8 * (size_t)rows) || !a || !aq || !dot || !x || !q || !y) {
            CHECKF(0, "%s: truncated", path);
            break;
        }
        if (!check_dots(t, q, y, a, aq, dot, n, rows, vbs, vts)) dots_ok = 0;
        uint8_t *mine = malloc(rs);
        float *back = malloc(4 * (size_t)n);
        for (uint32_t row = 0; row < rows; row++) {
            float xr[4096];
            memcpy(xr, x + (size_t)row * n, 4 * (size_t)n);   /* (the file's floats may be unaligned) */
            t->from_float(xr, mine, n);
            if (memcmp(mine, q + row * rs, rs)) {
                if (bytes_ok) fprintf(stderr, "%s %s n=%u row %u: bytes differ from ggml's\n", type_name, kind, n, row);
                bytes_ok = 0;
            }
            t->to_float(q + row * rs, back, n);
            if (memcmp(back, y + (size_t)row * n, 4 * (size_t)n)) {
                if (to_float_ok) fprintf(stderr, "%s %s n=%u row %u: to_float differs from ggml's\n", type_name, kind, n, row);
                to_float_ok = 0;
            }
            for (uint32_t b = 0; b < n / 32; b++) {
                moee_block32 o;
                t->unpack(q + row * rs, b, &o);
                for (int j = 0; j < 32; j++) {
                    float v = unpacked_value(t, &o, j);
                    if (memcmp(&v, back + 32 * b + j, 4)) {
                        if (unpack_ok) fprintf(stderr, "%s %s n=%u row %u elem %u: unpack gives %g, ggml %g\n", type_name,
                                               kind, n, row, 32 * b + j, v, back[32 * b + j]);
                        unpack_ok = 0;
                    }
                }
            }
        }
        free(mine);
        free(back);
    }
    CHECKF(r.off == r.n, "%s: trailing bytes", path);
    CHECKF(bytes_ok, "%s: from_float", type_name);
    CHECKF(to_float_ok, "%s: to_float", type_name);
    CHECKF(unpack_ok, "%s: unpack", type_name);
    CHECKF(dots_ok, "%s: dot products vs ggml's", type_name);
    free(r.p);
}

int main(void) {
    const char *dir = getenv("MOEE_QUANT_DIR") ? getenv("MOEE_QUANT_DIR") : "tests/data/quant";
    static const char *types[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
                                  "iq4_nl", "iq4_xs"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_file(dir, types[i]);
    printf("dot products: worst |moee - ggml| / bound = %.3g\n", worst_fraction);
    return test_summary("kernels_quant_vectors");
}
