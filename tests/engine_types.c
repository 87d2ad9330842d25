/* engine_types: F16 and BF16 weights, and the quantized path against its own
 * dequantization.
 * 1. Each golden F32 GGUF is rewritten with the GGUF writer, every weight matrix
 *    (embeddings, attention, experts, shared/dense MLPs) converted to f16 or bf16
 *    while norms, biases and routers stay f32 (as llama.cpp's converter does), and
 *    compared with the golden expectations. The golden weights are bf16 values, so
 *    bf16 is lossless here and f16 nearly so: both must meet the F32 tolerance.
 * 2. llama.cpp's Q8_0 / Q4_0 files are dequantized to F32 and both run on the same
 *    ids: what remains is the int8 quantization of the activations in the integer
 *    matmuls, which must be small. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "golden.h"
#include "weights/gguf.h"
#include "kernels/types.h"

static char *cstr(gguf_str s) {
    char *p = malloc(s.len + 1);
    memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

/* Copies the scalar metadata (not the tokenizer arrays) and every tensor of src to
 * dst, matrices converted to `type`. */
static int convert(const char *src, const char *dst, uint32_t type, char *err, size_t err_size) {
    gguf_file *f = gguf_open(src, err, err_size);
    if (!f) return -1;
    gguf_writer *w = gguf_writer_create(dst, err, err_size);
    if (!w) { gguf_close(f); return -1; }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char *key = cstr(kv->key);
        uint32_t u; int32_t s32; float x; gguf_str s;
        switch (kv->type) {
        case GGUF_TYPE_UINT32: memcpy(&u, kv->data, 4); gguf_writer_set_u32(w, key, u); break;
        case GGUF_TYPE_INT32: memcpy(&s32, kv->data, 4); gguf_writer_set_i32(w, key, s32); break;
        case GGUF_TYPE_FLOAT32: memcpy(&x, kv->data, 4); gguf_writer_set_f32(w, key, x); break;
        case GGUF_TYPE_BOOL: gguf_writer_set_bool(w, key, kv->data[0] != 0); break;
        case GGUF_TYPE_STRING:
            if (gguf_get_str(f, key, &s) == 1) {
                char *v = cstr(s);
                gguf_writer_set_str(w, key, v);
                free(v);
            }
            break;
        default: break;
        }
        free(key);
    }
    uint32_t *types = malloc(f->n_tensors * sizeof *types);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char *name = cstr(t->name);
        int keep = type == MOEE_TYPE_F32 ? t->type == MOEE_TYPE_F32   /* dequantize everything */
                 : t->n_dims < 2 || strstr(name, "ffn_gate_inp") != NULL || t->type != MOEE_TYPE_F32;
        types[i] = keep ? t->type : type;
        gguf_writer_add_tensor(w, name, types[i], t->n_dims, t->ne);
        free(name);
    }
    int rc = gguf_writer_begin_data(w, err, err_size);
    for (uint64_t i = 0; rc == 0 && i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (types[i] == t->type) {
            rc = gguf_writer_write_tensor(w, t->data, t->nbytes, err, err_size);
            continue;
        }
        int64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= (int64_t)t->ne[d];
        float *in = malloc((size_t)n * 4);
        void *out = malloc(moee_type_row_bytes(types[i], n));
        moee_type(t->type)->to_float(t->data, in, n);
        moee_type(types[i])->from_float(in, out, n);
        rc = gguf_writer_write_tensor(w, out, moee_type_row_bytes(types[i], n), err, err_size);
        free(in);
        free(out);
    }
    if (rc == 0) rc = gguf_writer_finish(w, err, err_size);
    else gguf_writer_abort(w);
    free(types);
    gguf_close(f);
    return rc;
}

/* Runs both models on the same pseudo-random sequences (every token, POOL_NONE) and
 * returns the smallest cosine and largest difference of their hidden states. */
static int compare_models(const moee_model *a, const moee_model *b, double *min_cos, double *max_err,
                          char *err, size_t err_size) {
    enum { N = 3 };
    static const int64_t lens[N] = { 1, 20, 77 };
    int64_t total = 1 + 20 + 77, H = moee_model_get_info(a)->hidden;
    int32_t ids_buf[1 + 20 + 77];
    const int32_t *ids[N] = { ids_buf, ids_buf + 1, ids_buf + 21 };
    uint32_t rng = 99;
    for (int64_t i = 0; i < total; i++) {
        rng = rng * 1664525u + 1013904223u;
        ids_buf[i] = (int32_t)((rng >> 8) % 512);
    }
    float *ha = malloc((size_t)(total * H) * 4), *hb = malloc((size_t)(total * H) * 4);
    moee_context *ca = NULL, *cb = NULL;
    int rc = moee_context_create(a, total, 0, &ca, err, err_size) || moee_context_create(b, total, 0, &cb, err, err_size) ||
             moee_forward(ca, ids, lens, N, MOEE_POOL_NONE, ha, NULL, NULL, err, err_size) ||
             moee_forward(cb, ids, lens, N, MOEE_POOL_NONE, hb, NULL, NULL, err, err_size);
    *min_cos = 1;
    *max_err = 0;
    for (int64_t t = 0; !rc && t < total; t++) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t j = 0; j < H; j++) {
            double x = ha[t * H + j], y = hb[t * H + j];
            dot += x * y; na += x * x; nb += y * y;
            if (!(fabs(x - y) <= *max_err)) *max_err = fabs(x - y);
        }
        double cosine = dot / (sqrt(na) * sqrt(nb) + 1e-30);
        if (!(cosine >= *min_cos)) *min_cos = cosine;
    }
    moee_context_free(ca);
    moee_context_free(cb);
    free(ha);
    free(hb);
    return rc ? -1 : 0;
}

static void test_dequantized(const char *dir) {
    static const char *models[] = { "olmoe-tiny", "qwen2moe-tiny", "deepseek-tiny" };
    static const char *qtypes[] = { "q8_0", "q4_0" };
    /* measured minima: q8_0 0.99986, q4_0 0.99979 (deepseek) */
    static const double min_cos_bound[] = { 0.9997, 0.9995 };
    char err[512], src[256], dst[300];
    for (int i = 0; i < 3; i++)
        for (int q = 0; q < 2; q++) {
            snprintf(src, sizeof src, "tests/data/golden/llamacpp-gguf/%s.%s.gguf", models[i], qtypes[q]);
            snprintf(dst, sizeof dst, "%s/%s.%s-dequantized.gguf", dir, models[i], qtypes[q]);
            int rc = convert(src, dst, MOEE_TYPE_F32, err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            if (rc) continue;
            moee_model *mq = NULL, *mf = NULL;
            rc = moee_model_load(src, &mq, err, sizeof err) || moee_model_load(dst, &mf, err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            double min_cos = 0, max_err = 1;
            if (rc == 0) {
                CHECK(moee_model_get_info(mf)->weight_type == MOEE_TYPE_F32);
                rc = compare_models(mq, mf, &min_cos, &max_err, err, sizeof err);
                CHECKF(rc == 0, "%s", err);
                printf("%s vs its dequantization: min cos %.7f, max |hidden diff| %.3g\n", src, min_cos, max_err);
                CHECKF(min_cos >= min_cos_bound[q], "%s: min cos %.7f", src, min_cos);
            }
            moee_model_free(mq);
            moee_model_free(mf);
            CHECK(remove(dst) == 0);
        }
}

int main(void) {
    static const char *models[] = { "olmoe-tiny", "qwen2moe-tiny", "deepseek-tiny" };
    static const uint32_t types[] = { MOEE_TYPE_F16, MOEE_TYPE_BF16 };
    char dir[] = "/tmp/moee_engine_types_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[512], src[256], dst[300], expected[256];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            const char *tname = moee_type(types[j])->name;
            snprintf(src, sizeof src, "tests/data/golden/llamacpp-gguf/%s.f32.gguf", models[i]);
            snprintf(dst, sizeof dst, "%s/%s.%s.gguf", dir, models[i], tname);
            snprintf(expected, sizeof expected, "tests/data/golden/%s/expected.safetensors", models[i]);
            int rc = convert(src, dst, types[j], err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            if (rc) continue;
            moee_model *m;
            rc = moee_model_load(dst, &m, err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            if (rc) { remove(dst); continue; }
            CHECK(moee_model_get_info(m)->weight_type == types[j]);
            golden_report r;
            rc = golden_compare(m, expected, &r, err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            if (rc == 0) {
                char label[64];
                snprintf(label, sizeof label, "%s %s", models[i], tname);
                golden_print(label, &r);
                CHECKF(r.max_err_hidden <= GOLDEN_TOL, "%s: hidden error %g", label, r.max_err_hidden);
                CHECKF(r.max_err_logits <= GOLDEN_TOL, "%s: logit error %g", label, r.max_err_logits);
                CHECK(r.topk_changed == 0);
            }
            moee_model_free(m);
            CHECK(remove(dst) == 0);
        }
    test_dequantized(dir);
    CHECK(rmdir(dir) == 0);
    return test_summary("engine_types");
}
