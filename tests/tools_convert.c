/* tools_convert.c: `moee convert` and `moee synth` against llama.cpp.
 *
 * 1. The golden HF checkpoints converted to f32 / q8_0 / q4_0 must equal the GGUF
 *    files llama.cpp wrote for them (tests/data/golden/llamacpp-gguf): same keys
 *    and values (but general.name and the tokenizer, which there is a placeholder),
 *    same tensors in the same order with the same names, shapes, types and bytes.
 * 2. f16 / bf16 conversions against the f32 fixture, within the bounds stated below.
 * 3. Configurations llama.cpp lacks: OLMoE with grouped-query attention, Qwen dense
 *    layers, norm_topk_prob.
 * 4. Errors: one line naming the problem, no output file left behind.
 * 5. synth: the same tensor list and keys as a conversion; deterministic. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernels/types.h"
#include "test.h"
#include "tools/convert/arch.h"
#include "tools/convert/convert.h"
#include "tools/convert/recipe.h"
#include "tools/convert/synth.h"
#include "weights/gguf.h"
#include "weights/safetensors.h"

#define GOLDEN "tests/data/golden"

static char tmp_dir[] = "/tmp/moee_convert_XXXXXX";

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static int copy_file(const char *from, const char *to) {
    FILE *f = fopen(from, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    int rc = got == (size_t)n ? write_file(to, buf, (size_t)n) : -1;
    free(buf);
    return rc;
}

/* ---- comparing GGUF files ------------------------------------------------------ */

static int str_is(gguf_str s, const char *c) { return s.len == strlen(c) && !memcmp(s.ptr, c, s.len); }
static int starts(gguf_str s, const char *c) { return s.len >= strlen(c) && !memcmp(s.ptr, c, strlen(c)); }

/* Keys of the fixture that we write differently on purpose. */
static int key_exempt(gguf_str key) {
    return str_is(key, "general.name") || starts(key, "tokenizer.") ||
           str_is(key, "general.quantization_version");
}

static size_t scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

static void compare_metadata(const gguf_file *ref, const gguf_file *ours, const char *what) {
    for (uint64_t i = 0; i < ref->n_kv; i++) {
        const gguf_kv *a = &ref->kv[i];
        if (key_exempt(a->key)) continue;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
        const gguf_kv *b = gguf_find_kv(ours, key);
        CHECKF(b != NULL, "%s: key %s missing", what, key);
        if (!b) continue;
        CHECKF(a->type == b->type, "%s: key %s has type %u, llama.cpp %u", what, key, b->type, a->type);
        if (a->type != b->type) continue;
        if (a->type == GGUF_TYPE_STRING) {
            gguf_str sa, sb;
            gguf_get_str(ref, key, &sa);
            gguf_get_str(ours, key, &sb);
            CHECKF(sa.len == sb.len && !memcmp(sa.ptr, sb.ptr, sa.len), "%s: key %s = \"%.*s\", llama.cpp \"%.*s\"",
                   what, key, (int)sb.len, sb.ptr, (int)sa.len, sa.ptr);
        } else if (scalar_size(a->type)) {
            CHECKF(!memcmp(a->data, b->data, scalar_size(a->type)), "%s: key %s differs", what, key);
        }
    }
    /* What we add: the no-tokenizer marker and the vocabulary size llama.cpp then needs. */
    for (uint64_t i = 0; i < ours->n_kv; i++) {
        const gguf_kv *b = &ours->kv[i];
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)b->key.len, b->key.ptr);
        int extra_ok = str_is(b->key, "tokenizer.ggml.model") || str_is(b->key, "general.quantization_version") ||
                       (b->key.len > 11 && !memcmp(b->key.ptr + b->key.len - 11, ".vocab_size", 11));
        CHECKF(gguf_find_kv(ref, key) != NULL || extra_ok, "%s: unexpected key %s", what, key);
    }
}

/* Same tensors (order too when same_order), names, shapes, types, bytes. */
static void compare_tensors(const gguf_file *ref, const gguf_file *ours, int same_order, const char *what) {
    CHECKF(ref->n_tensors == ours->n_tensors, "%s: %llu tensors, llama.cpp %llu", what,
           (unsigned long long)ours->n_tensors, (unsigned long long)ref->n_tensors);
    int bad = 0;
    for (uint64_t i = 0; i < ref->n_tensors && i < ours->n_tensors; i++) {
        const gguf_tensor *a = &ref->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)a->name.len, a->name.ptr);
        const gguf_tensor *b = gguf_find_tensor(ours, name);
        if (!b) { CHECKF(0, "%s: tensor %s missing", what, name); bad++; continue; }
        if (same_order) CHECKF(str_is(ours->tensors[i].name, name), "%s: tensor %llu is not %s", what,
                               (unsigned long long)i, name);
        int same = a->n_dims == b->n_dims && a->type == b->type && a->nbytes == b->nbytes;
        for (uint32_t d = 0; same && d < a->n_dims; d++) same = a->ne[d] == b->ne[d];
        CHECKF(same, "%s: tensor %s: shape/type differ (type %u vs llama.cpp %u)", what, name, b->type, a->type);
        if (!same) { bad++; continue; }
        if (memcmp(a->data, b->data, a->nbytes)) {
            CHECKF(0, "%s: tensor %s: bytes differ", what, name);
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: %d tensors differ", what, bad);
}

/* ---- 1. byte-identical to llama.cpp ------------------------------------------------ */

static const char *const golden_archs[3] = {"olmoe", "qwen2moe", "deepseek"};

static int convert_to(const char *model, const char *type, const char *out) {
    char dir[256], err[1024];
    snprintf(dir, sizeof dir, GOLDEN "/%s", model);
    /* the fixtures are llama-quantize --pure files */
    convert_options o = {.recipe = recipe_by_name(type), .pure = 1};
    int rc = convert_hf(dir, out, &o, err, sizeof err);
    CHECKF(rc == 0, "convert %s %s: %s", model, type, err);
    return rc;
}

static void test_against_llamacpp(void) {
    static const char *const types[3] = {"f32", "q8_0", "q4_0"};
    for (int a = 0; a < 3; a++) {
        for (int t = 0; t < 3; t++) {
            char model[64], ref_path[256], what[96], *out = tmp_path("out.gguf"), err[1024];
            snprintf(model, sizeof model, "%s-tiny", golden_archs[a]);
            snprintf(ref_path, sizeof ref_path, GOLDEN "/llamacpp-gguf/%s.%s.gguf", model, types[t]);
            snprintf(what, sizeof what, "%s %s", model, types[t]);
            if (convert_to(model, types[t], out)) continue;
            gguf_file *ref = gguf_open(ref_path, err, sizeof err);
            CHECKF(ref != NULL, "%s", err);
            gguf_file *ours = gguf_open(out, err, sizeof err);
            CHECKF(ours != NULL, "%s", err);
            if (ref && ours) {
                compare_metadata(ref, ours, what);
                /* llama-quantize reorders tensors; convert_hf_to_gguf.py's order is the f32 one */
                compare_tensors(ref, ours, t == 0, what);
                gguf_str name;
                CHECK(gguf_get_str(ours, "general.name", &name) == 1 && str_is(name, model));
                CHECK(gguf_get_str(ours, "tokenizer.ggml.model", &name) == 1 && str_is(name, "none"));
            }
            if (ref) gguf_close(ref);
            if (ours) gguf_close(ours);
            unlink(out);
        }
    }
}

/* ---- 2. f16 / bf16 against the f32 fixture --------------------------------------------- */

static void test_half_types(void) {
    for (int a = 0; a < 3; a++) {
        char model[64], ref_path[256], err[1024];
        snprintf(model, sizeof model, "%s-tiny", golden_archs[a]);
        snprintf(ref_path, sizeof ref_path, GOLDEN "/llamacpp-gguf/%s.f32.gguf", model);
        gguf_file *ref = gguf_open(ref_path, err, sizeof err);
        CHECKF(ref != NULL, "%s", err);
        if (!ref) continue;
        for (int half = 0; half < 2; half++) {
            const char *type = half ? "bf16" : "f16";
            const uint32_t id = half ? MOEE_TYPE_BF16 : MOEE_TYPE_F16;
            char *out = tmp_path("half.gguf");
            if (convert_to(model, type, out)) continue;
            gguf_file *ours = gguf_open(out, err, sizeof err);
            CHECKF(ours != NULL, "%s", err);
            if (!ours) continue;
            /* Error relative to half an ulp of the target format, with f16's
             * subnormal spacing (2^-24) as the floor: f16 rounding must stay <= 1,
             * bf16 (the source format) must be exact. */
            double worst = 0, max_abs = 0;
            int types_ok = 1;
            for (uint64_t i = 0; i < ref->n_tensors; i++) {
                const gguf_tensor *r = &ref->tensors[i];
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)r->name.len, r->name.ptr);
                const gguf_tensor *o = gguf_find_tensor(ours, name);
                if (!o) { types_ok = 0; continue; }
                int keep_f32 = r->n_dims == 1 || strstr(name, "ffn_gate_inp");
                if (o->type != (keep_f32 ? MOEE_TYPE_F32 : id)) { types_ok = 0; continue; }
                uint64_t n = r->nbytes / 4;
                float *vals = malloc(n * sizeof *vals);
                moee_type(o->type)->to_float(o->data, vals, (int64_t)n);
                const float *want = r->data;
                for (uint64_t j = 0; j < n; j++) {
                    double d = fabs((double)vals[j] - want[j]);
                    double half_ulp = fabs(want[j]) * (1.0 / 2048) + 1.0 / (1 << 25);
                    if (d / half_ulp > worst) worst = d / half_ulp;
                    if (d > max_abs) max_abs = d;
                }
                free(vals);
            }
            CHECKF(types_ok, "%s %s: tensor types", model, type);
            if (half) CHECKF(max_abs == 0, "%s bf16: max error %g (want exact)", model, max_abs);
            else CHECKF(worst <= 1.0, "%s f16: error %g half-ulps (max abs %g)", model, worst, max_abs);
            if (getenv("MOEE_TEST_VERBOSE"))
                printf("%s %s: max abs error %g, %g half-ulps\n", model, type, max_abs, worst);
            gguf_close(ours);
            unlink(out);
        }
        gguf_close(ref);
    }
}

/* ---- a small safetensors writer, to build hostile and unusual checkpoints --------- */

typedef struct {
    char name[96];
    const char *dtype;      /* "BF16", "F64", ... */
    int n_dims;
    int64_t shape[2];
    const void *data;       /* NULL: zeros */
    size_t nbytes;
} st_entry;

static int write_safetensors(const char *path, const st_entry *e, size_t n) {
    size_t cap = 256 + n * 256, len = 0;
    char *hdr = malloc(cap);
    uint64_t off = 0;
    len += (size_t)snprintf(hdr + len, cap - len, "{");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(hdr + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "",
                                e[i].name, e[i].dtype);
        for (int d = 0; d < e[i].n_dims; d++)
            len += (size_t)snprintf(hdr + len, cap - len, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                (unsigned long long)(off + e[i].nbytes));
        off += e[i].nbytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    FILE *f = fopen(path, "wb");
    uint64_t hl = len;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, len, f);
    for (size_t i = 0; i < n; i++) {
        if (e[i].data) fwrite(e[i].data, 1, e[i].nbytes, f);
        else for (size_t j = 0; j < e[i].nbytes; j++) fputc(0, f);
    }
    free(hdr);
    return fclose(f);
}

/* Copies the golden checkpoint `model` into tmp_dir/name, with one tensor
 * (`victim`) dropped (mode 0), reshaped (1), given dtype F64 (2); or an extra
 * tensor added (3). */
static char *make_variant(const char *model, const char *name, const char *victim, int mode) {
    char src[256], err[512];
    char *dir = tmp_path(name);
    mkdir(dir, 0700);
    snprintf(src, sizeof src, GOLDEN "/%s/config.json", model);
    char dst[512];
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    copy_file(src, dst);
    snprintf(src, sizeof src, GOLDEN "/%s", model);
    st_checkpoint *ck = st_open(src, err, sizeof err);
    if (!ck) return dir;
    size_t n = st_count(ck);
    st_entry *e = calloc(n + 1, sizeof *e);
    size_t k = 0;
    static const double f64_zeros[64 * 64];
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_at(ck, i);
        st_entry *x = &e[k];
        snprintf(x->name, sizeof x->name, "%s", t->name);
        x->dtype = "BF16";
        x->n_dims = t->n_dims;
        x->shape[0] = t->shape[0];
        x->shape[1] = t->n_dims > 1 ? t->shape[1] : 0;
        x->data = t->data;
        x->nbytes = t->nbytes;
        if (!strcmp(t->name, victim)) {
            if (mode == 0) continue;
            if (mode == 1) { x->shape[0] = t->shape[0] / 2; x->shape[1] = t->shape[1] * 2; }
            if (mode == 2) { x->dtype = "F64"; x->data = f64_zeros; x->nbytes = (size_t)t->n_elements * 8; }
        }
        k++;
    }
    if (mode == 3) {
        st_entry *x = &e[k++];
        snprintf(x->name, sizeof x->name, "model.layers.0.self_attn.o_proj.bias");
        x->dtype = "BF16";
        x->n_dims = 1;
        x->shape[0] = 64;
        x->nbytes = 128;
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    write_safetensors(dst, e, k);
    free(e);
    st_close(ck);
    return dir;
}

/* ---- 3. errors ------------------------------------------------------------------ */

static void expect_error(const char *dir, const char *want, const char *what) {
    char err[1024] = "", *out = tmp_path("bad.gguf"), tmp[600];
    convert_options o = {.recipe = recipe_by_name("Q8_0")};
    int rc = convert_hf(dir, out, &o, err, sizeof err);
    CHECKF(rc != 0, "%s: conversion succeeded", what);
    CHECKF(strstr(err, want) != NULL, "%s: error \"%s\" does not mention \"%s\"", what, err, want);
    CHECKF(strchr(err, '\n') == NULL, "%s: error has a newline", what);
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    CHECKF(!exists(out) && !exists(tmp), "%s: output left behind", what);
    unlink(out);
    unlink(tmp);
}

static void test_errors(void) {
    char *empty = tmp_path("empty");
    mkdir(empty, 0700);
    expect_error(empty, "config.json", "no config.json");

    char *dir = make_variant("olmoe-tiny", "unknown_arch", "", -1);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    const char *llama = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\"}";
    write_file(cfg, llama, strlen(llama));
    expect_error(dir, "LlamaForCausalLM", "unknown architecture");

    expect_error(make_variant("olmoe-tiny", "missing", "model.layers.2.mlp.experts.5.up_proj.weight", 0),
                 "model.layers.2.mlp.experts.5.up_proj.weight", "missing tensor");
    expect_error(make_variant("olmoe-tiny", "misshaped", "model.layers.1.self_attn.q_proj.weight", 1),
                 "model.layers.1.self_attn.q_proj.weight has shape [32, 128]", "mis-shaped tensor");
    expect_error(make_variant("olmoe-tiny", "f64", "model.layers.0.self_attn.v_proj.weight", 2), "dtype F64",
                 "unsupported dtype");
    expect_error(make_variant("olmoe-tiny", "extra", "", 3), "o_proj.bias", "unexpected tensor");

    /* a truncated shard */
    char *trunc = make_variant("olmoe-tiny", "truncated", "", -1);
    char st_path[600];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", trunc);
    FILE *f = fopen(GOLDEN "/olmoe-tiny/model.safetensors", "rb");
    char *buf = malloc(300000);
    size_t got = fread(buf, 1, 300000, f);
    fclose(f);
    write_file(st_path, buf, got);
    free(buf);
    expect_error(trunc, "model.safetensors", "truncated safetensors");

    /* configs moee cannot run (or that do not match the weights) */
    static const struct { const char *extra, *want; } configs[] = {
        {"\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", "rope_scaling"},
        {"\"clip_qkv\": 8.0", "clip_qkv"},
        {"\"attention_bias\": true", "attention_bias"},
        {"\"hidden_act\": \"gelu\"", "gelu"},
        {"\"num_key_value_heads\": 3", "num_key_value_heads"},
        {"\"num_experts_per_tok\": 9", "num_experts_per_tok"},
        {"\"num_experts\": 6", "mlp.gate.weight has shape [8, 64], expected [6, 64]"},
        {"\"intermediate_size\": 48", "has shape [32, 64], expected [48, 64]"},
        {"\"hidden_size\": \"64\"", "hidden_size"},
    };
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        dir = make_variant("olmoe-tiny", "config", "", -1);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        char text[1024];
        snprintf(text, sizeof text, "{\"architectures\": [\"OlmoeForCausalLM\"], \"vocab_size\": 512, "
                 "\"num_hidden_layers\": 4, \"num_attention_heads\": 4, \"intermediate_size\": 32, "
                 "\"num_experts\": 8, \"num_experts_per_tok\": 2, \"hidden_size\": 64, %s}", configs[i].extra);
        write_file(cfg, text, strlen(text));
        expect_error(dir, configs[i].want, configs[i].extra);
    }
}

/* ---- 4. what llama.cpp lacks ---------------------------------------------------- */

static void test_gqa(void) {
    char *out = tmp_path("gqa.gguf"), err[1024];
    if (convert_to("olmoe-tiny-gqa", "f32", out)) return;
    gguf_file *f = gguf_open(out, err, sizeof err);
    CHECKF(f != NULL, "%s", err);
    if (!f) return;
    uint32_t kv = 0;
    CHECK(gguf_get_u32(f, "olmoe.attention.head_count_kv", &kv) == 1 && kv == 2);
    const gguf_tensor *kn = gguf_find_tensor(f, "blk.0.attn_k_norm.weight");
    const gguf_tensor *k = gguf_find_tensor(f, "blk.3.attn_k.weight");
    CHECK(kn && kn->n_dims == 1 && kn->ne[0] == 32);
    CHECK(k && k->ne[0] == 64 && k->ne[1] == 32);
    gguf_close(f);
    unlink(out);
}

/* A Qwen checkpoint with layer 1 dense (mlp_only_layers) and norm_topk_prob: built
 * from the golden one by replacing layer 1's MoE block with a dense MLP. */
static void test_qwen_dense_layer(void) {
    char err[1024], *dir = tmp_path("qwen_dense");
    mkdir(dir, 0700);
    st_checkpoint *ck = st_open(GOLDEN "/qwen2moe-tiny", err, sizeof err);
    CHECKF(ck != NULL, "%s", err);
    if (!ck) return;
    size_t n = st_count(ck), k = 0;
    st_entry *e = calloc(n + 3, sizeof *e);
    static uint16_t ones[64 * 96];
    for (size_t i = 0; i < 64 * 96; i++) ones[i] = moee_f32_to_bf16(0.01f * (float)(i % 7));
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_at(ck, i);
        if (!strncmp(t->name, "model.layers.1.mlp.", 19)) continue;
        st_entry *x = &e[k++];
        snprintf(x->name, sizeof x->name, "%s", t->name);
        x->dtype = "BF16";
        x->n_dims = t->n_dims;
        x->shape[0] = t->shape[0];
        x->shape[1] = t->n_dims > 1 ? t->shape[1] : 0;
        x->data = t->data;
        x->nbytes = t->nbytes;
    }
    static const char *const parts[3] = {"gate", "up", "down"};
    for (int p = 0; p < 3; p++) {
        st_entry *x = &e[k++];
        snprintf(x->name, sizeof x->name, "model.layers.1.mlp.%s_proj.weight", parts[p]);
        x->dtype = "BF16";
        x->n_dims = 2;
        x->shape[0] = p == 2 ? 64 : 80;
        x->shape[1] = p == 2 ? 80 : 64;
        x->data = ones;
        x->nbytes = 64 * 80 * 2;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_safetensors(path, e, k);
    free(e);
    st_close(ck);
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *cfg = "{\"architectures\": [\"Qwen2MoeForCausalLM\"], \"vocab_size\": 512, \"hidden_size\": 64,"
        "\"num_hidden_layers\": 4, \"num_attention_heads\": 4, \"num_key_value_heads\": 4,"
        "\"intermediate_size\": 80, \"moe_intermediate_size\": 32, \"shared_expert_intermediate_size\": 96,"
        "\"num_experts\": 8, \"num_experts_per_tok\": 3, \"decoder_sparse_step\": 1, \"mlp_only_layers\": [1],"
        "\"norm_topk_prob\": true, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0,"
        "\"max_position_embeddings\": 8192, \"tie_word_embeddings\": false}";
    write_file(path, cfg, strlen(cfg));

    char *out = tmp_path("qwen_dense.gguf");
    /* Q8_0's recipe has no fallback for rows of 80 (llama-quantize stops); --pure writes f16 */
    convert_options recipe_q8 = {.recipe = recipe_by_name("Q8_0")};
    CHECK(convert_hf(dir, out, &recipe_q8, err, sizeof err) != 0 && strstr(err, "blk.1.ffn_down.weight"));
    CHECK(access(out, F_OK) != 0);
    convert_options o = {.recipe = recipe_by_name("Q8_0"), .pure = 1};
    int rc = convert_hf(dir, out, &o, err, sizeof err);
    CHECKF(rc == 0, "qwen dense layer: %s", err);
    if (rc) return;
    gguf_file *f = gguf_open(out, err, sizeof err);
    CHECKF(f != NULL, "%s", err);
    if (!f) return;
    int norm = 0;
    CHECK(gguf_get_bool(f, "qwen2moe.expert_weights_norm", &norm) == 1 && norm);
    CHECK(gguf_find_tensor(f, "blk.1.ffn_gate_inp.weight") == NULL);
    CHECK(gguf_find_tensor(f, "blk.1.ffn_up_exps.weight") == NULL);
    CHECK(gguf_find_tensor(f, "blk.0.ffn_gate_inp.weight") != NULL);
    const gguf_tensor *down = gguf_find_tensor(f, "blk.1.ffn_down.weight");
    /* rows of 80 are not whole q8_0 blocks: f16, as llama.cpp falls back */
    CHECK(down && down->ne[0] == 80 && down->ne[1] == 64 && down->type == MOEE_TYPE_F16);
    const gguf_tensor *gate = gguf_find_tensor(f, "blk.1.ffn_gate.weight");
    CHECK(gate && gate->ne[0] == 64 && gate->ne[1] == 80 && gate->type == MOEE_TYPE_Q8_0);
    uint32_t ff = 0;
    CHECK(gguf_get_u32(f, "qwen2moe.feed_forward_length", &ff) == 1 && ff == 80);
    gguf_close(f);
    unlink(out);
}

/* ---- 5. synth -------------------------------------------------------------------- */

static void test_synth(void) {
    for (int a = 0; a < 3; a++) {
        char err[1024], *conv = tmp_path("conv.gguf"), *s1 = tmp_path("s1.gguf"), *s2 = tmp_path("s2.gguf");
        char model[64];
        snprintf(model, sizeof model, "%s-tiny", golden_archs[a]);
        if (convert_to(model, "q4_0", conv)) continue;
        synth_options o = {.arch = golden_archs[a], .shape = "tiny", .recipe = recipe_by_name("Q4_0"), .pure = 1,
                           .seed = 7};
        int rc1 = synth_model(s1, &o, NULL, err, sizeof err);
        CHECKF(rc1 == 0, "synth %s: %s", model, err);
        int rc2 = synth_model(s2, &o, NULL, err, sizeof err);
        CHECKF(rc2 == 0, "synth %s: %s", model, err);
        gguf_file *c = gguf_open(conv, err, sizeof err), *f1 = rc1 ? NULL : gguf_open(s1, err, sizeof err),
                  *f2 = rc2 ? NULL : gguf_open(s2, err, sizeof err);
        CHECK(c && f1 && f2);
        if (c && f1 && f2) {
            /* same keys and values as a conversion (the golden configs are the tiny shape) */
            compare_metadata(c, f1, "synth vs convert");
            CHECK(c->n_kv == f1->n_kv);
            CHECK(c->n_tensors == f1->n_tensors);
            for (uint64_t i = 0; i < c->n_tensors && i < f1->n_tensors; i++) {
                const gguf_tensor *x = &c->tensors[i], *y = &f1->tensors[i];
                int same = x->name.len == y->name.len && !memcmp(x->name.ptr, y->name.ptr, x->name.len) &&
                           x->type == y->type && x->n_dims == y->n_dims && x->nbytes == y->nbytes;
                for (uint32_t d = 0; same && d < x->n_dims; d++) same = x->ne[d] == y->ne[d];
                CHECKF(same, "synth %s: tensor %llu (%.*s) differs in name/shape/type", model,
                       (unsigned long long)i, (int)x->name.len, x->name.ptr);
            }
            CHECK(f1->map_size == f2->map_size && !memcmp(f1->map, f2->map, f1->map_size));
            /* values are sane: norms near 1, matrices centered with std ~ 1/sqrt(fan_in) */
            const gguf_tensor *norm = gguf_find_tensor(f1, "blk.0.attn_norm.weight");
            const gguf_tensor *up = gguf_find_tensor(f1, "blk.1.ffn_up_exps.weight");
            if (norm && up) {
                const float *g = norm->data;
                double mean = 0;
                for (int j = 0; j < 64; j++) mean += g[j] / 64;
                CHECK_NEAR(mean, 1.0, 0.05);
                int64_t n = (int64_t)(up->ne[0] * up->ne[1] * up->ne[2]);
                float *v = malloc((size_t)n * sizeof *v);
                moee_type(up->type)->to_float(up->data, v, n);
                double s = 0, sq = 0;
                for (int64_t j = 0; j < n; j++) { s += v[j]; sq += (double)v[j] * v[j]; }
                CHECK_NEAR(s / n, 0.0, 0.01);
                CHECK_NEAR(sqrt(sq / n), 1.0 / 8.0, 0.01);
                free(v);
            }
        }
        if (c) gguf_close(c);
        if (f1) gguf_close(f1);
        if (f2) gguf_close(f2);
        unlink(conv);
        unlink(s1);
        unlink(s2);
    }
    char err[512];
    synth_options bad = {.arch = "llama", .shape = "tiny", .recipe = recipe_by_name("F16"), .seed = 1};
    CHECK(synth_model(tmp_path("bad.gguf"), &bad, NULL, err, sizeof err) != 0 && strstr(err, "llama"));
}

/* The full shapes (MODELS.md section 3) without writing them: tensor counts and
 * parameter totals of the real models (6.9B, 14.3B, 16.4B). */
static void test_full_presets(void) {
    static const struct { const char *arch; size_t n_tensors; double params_b; int64_t moe_layers; } want[3] = {
        {"olmoe", 195, 6.92, 16}, {"qwen2moe", 411, 14.32, 24}, {"deepseek", 363, 16.38, 27},
    };
    for (int a = 0; a < 3; a++) {
        model_config c;
        char err[256];
        tensor_plan *plan;
        size_t n;
        CHECK(arch_config_preset(want[a].arch, "full", &c, err, sizeof err) == 0);
        CHECK(arch_tensor_plan(&c, &plan, &n, err, sizeof err) == 0);
        double params = 0;
        for (size_t i = 0; i < n; i++) params += (double)plan[i].ne[0] * (double)plan[i].ne[1] * (double)plan[i].ne[2];
        CHECKF(n == want[a].n_tensors, "%s full: %zu tensors", want[a].arch, n);
        CHECK_NEAR(params / 1e9, want[a].params_b, 0.01);
        int64_t moe = 0;
        for (int64_t l = 0; l < c.n_layers; l++) moe += c.is_moe[l];
        CHECK(moe == want[a].moe_layers);
        size_t fallbacks = 0;   /* every matrix row fits whole q4_0 blocks: no fallback */
        uint32_t *types = malloc(n * sizeof *types);
        CHECK(model_write_tensor_types(&c, plan, n, recipe_by_name("Q4_0"), 0, types, NULL, "", &fallbacks,
                                       err, sizeof err) == 0);
        CHECK(fallbacks == 0);
        free(types);
        size_t permuted = 0, wrong = 0;   /* deepseek: every attn_q / attn_k, nothing else */
        for (size_t i = 0; i < n; i++) {
            int qk = strstr(plan[i].name, ".attn_q.weight") || strstr(plan[i].name, ".attn_k.weight");
            permuted += plan[i].permute_heads == 16;
            wrong += (plan[i].permute_heads != 0) != (qk && a == 2);
        }
        CHECK(wrong == 0 && permuted == (a == 2 ? 56u : 0u));
        free(plan);
    }
}

int main(void) {
    if (!mkdtemp(tmp_dir)) { perror("mkdtemp"); return 1; }
    test_against_llamacpp();
    test_half_types();
    test_errors();
    test_gqa();
    test_qwen_dense_layer();
    test_synth();
    test_full_presets();
    remove_tree(tmp_dir);
    return test_summary("tools_convert");
}
