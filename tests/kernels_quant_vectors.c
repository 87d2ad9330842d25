/* kernels_quant_vectors: every quantized type against vectors made by ggml itself
 * (tests/data/quant/<type>.bin, cut from ../shared/golden/quant/ by cut.py there;
 * layout in that folder's README.md): from_float must write ggml's bytes, to_float
 * and the integer GEMM form (unpack) must give ggml's dequantized floats, all bit
 * for bit (signed zeros included). MOEE_QUANT_DIR=path runs the full vectors. */
#include <stdlib.h>
#include <string.h>
#include "kernels/types.h"
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
    int bytes_ok = 1, to_float_ok = 1, unpack_ok = 1;
    for (uint32_t c = 0; c < n_cases; c++) {
        const uint8_t *ch = take(&r, 48);
        if (!ch) { CHECKF(0, "%s: truncated", path); break; }
        const uint32_t n = u32_at(ch + 4), rows = u32_at(ch + 8);
        const char *kind = (const char *)ch + 16;
        const size_t rs = n / t->block_size * t->block_bytes;
        const float *x = take(&r, 4 * (size_t)n * rows);
        const uint8_t *q = take(&r, rs * rows);
        const float *y = take(&r, 4 * (size_t)n * rows);
        if (!take(&r, 4 * (size_t)n) || !take(&r, n / vbs * vts) || !take(&r, 12 * (size_t)rows) || !x || !q || !y) {
            CHECKF(0, "%s: truncated", path);
            break;
        }
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
    free(r.p);
}

int main(void) {
    const char *dir = getenv("MOEE_QUANT_DIR") ? getenv("MOEE_QUANT_DIR") : "tests/data/quant";
    static const char *types[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
                                  "iq4_nl", "iq4_xs"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_file(dir, types[i]);
    return test_summary("kernels_quant_vectors");
}
