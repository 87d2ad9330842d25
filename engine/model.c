/* model.c: moee_model_load, a GGUF file -> hyperparameters and tensor views.
 *
 * Conventions are llama.cpp's (architecture names, metadata keys, tensor names,
 * 3-D expert tensors with ne = {in, out, E}). Every tensor the forward pass reads
 * is checked here, once, for presence, shape, type and alignment, so that the
 * forward pass itself never has to doubt its inputs. Nothing is copied: the
 * views point into the mapping that gguf_open made. */
#include "weights/file.h"
#include "weights/fingerprint.h"
#include "weights/gguf_names.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/model.h"

/* Sanity limits that keep hostile metadata from asking for absurd buffers. */
#define MAX_LAYERS  4096
#define MAX_DIM     (1 << 20)
#define MAX_EXPERTS 4096

typedef struct {
    moee_model *m;
    char *err;
    size_t err_size;
} loader;

/* Writes "path: message" into the caller's buffer and returns -1. */
static int fail(loader *L, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->err && L->err_size) snprintf(L->err, L->err_size, "%s: %s", L->m->path, msg);
    return -1;
}

/* ---- metadata ------------------------------------------------------------ */

/* An integer hyperparameter "{arch}.suffix" in [lo, hi]. Absent: *out = def, or an
 * error when required. */
static int get_int(loader *L, const char *suffix, int required, int64_t def, int64_t lo,
                   int64_t hi, int64_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->info.arch, suffix);
    int64_t v;
    int r = gguf_get_i64(L->m->file, key, &v);
    if (r < 0) return fail(L, "metadata %s has the wrong type", key);
    if (r == 0) {
        if (required) return fail(L, "metadata %s is missing", key);
        v = def;
    }
    if (v < lo || v > hi)
        return fail(L, "metadata %s = %lld is out of range [%lld, %lld]", key, (long long)v,
                    (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int get_float(loader *L, const char *suffix, int required, float def, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->info.arch, suffix);
    float v;
    int r = gguf_get_f32(L->m->file, key, &v);
    if (r < 0) return fail(L, "metadata %s has the wrong type", key);
    if (r == 0) {
        if (required) return fail(L, "metadata %s is missing", key);
        v = def;
    }
    if (!(v == v) || v > 1e30f || v < -1e30f) return fail(L, "metadata %s is not a finite number", key);
    *out = v;
    return 0;
}

/* ---- tensors ------------------------------------------------------------- */

/* Finds tensor `name` and checks it has shape ne (innermost first; trailing
 * dimensions of 1 may be left out either side) and, if want_type >= 0, that type.
 * Returns NULL without error when it is absent and optional. */
static const gguf_tensor *get_tensor(loader *L, const char *name, int required, int n_dims,
                                     const int64_t *ne, int want_type, int *error) {
    const gguf_tensor *t = gguf_find_tensor(L->m->file, name);
    if (!t) {
        if (required) { fail(L, "tensor %s is missing", name); *error = 1; }
        return NULL;
    }
    int bad_shape = 0;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) {
        uint64_t want = i < n_dims ? (uint64_t)ne[i] : 1;
        if (t->ne[i] != want) bad_shape = 1;
    }
    if (bad_shape) {
        char want_s[96], have_s[96];
        int a = 0, b = 0;
        for (int i = 0; i < n_dims; i++)
            a += snprintf(want_s + a, sizeof want_s - (size_t)a, "%s%lld", i ? ", " : "", (long long)ne[i]);
        for (uint32_t i = 0; i < t->n_dims && i < GGUF_MAX_DIMS; i++)
            b += snprintf(have_s + b, sizeof have_s - (size_t)b, "%s%llu", i ? ", " : "",
                          (unsigned long long)t->ne[i]);
        if (b == 0) snprintf(have_s, sizeof have_s, "scalar");
        fail(L, "tensor %s has shape {%s}, expected {%s}", name, have_s, want_s);
        *error = 1;
        return NULL;
    }
    const moee_type_traits *tt = moee_type(t->type);
    if (!tt) {
        fail(L, "tensor %s has type %u, which moee does not support", name, t->type);
        *error = 1;
        return NULL;
    }
    if (want_type >= 0 && t->type != (uint32_t)want_type) {
        fail(L, "tensor %s has type %s, expected %s", name, tt->name, moee_type((uint32_t)want_type)->name);
        *error = 1;
        return NULL;
    }
    if (ne[0] % tt->block_size != 0) {
        fail(L, "tensor %s: row length %lld is not a multiple of the %s block size %lld", name,
             (long long)ne[0], tt->name, (long long)tt->block_size);
        *error = 1;
        return NULL;
    }
    if ((uintptr_t)t->data % tt->align != 0) {
        fail(L, "tensor %s is not aligned in the file", name);
        *error = 1;
        return NULL;
    }
    return t;
}

/* An F32 vector of n elements, e.g. "blk.3.attn_norm.weight". */
static const float *get_vector(loader *L, const char *name, int required, int64_t n, int *error) {
    const gguf_tensor *t = get_tensor(L, name, required, 1, &n, MOEE_TYPE_F32, error);
    return t ? (const float *)t->data : NULL;
}

/* A 2-D weight matrix [rows][cols] of any supported type. */
static int get_matrix(loader *L, const char *name, int required, int64_t rows, int64_t cols,
                      moee_matrix *out, int *error) {
    int64_t ne[2] = { cols, rows };
    const gguf_tensor *t = get_tensor(L, name, required, 2, ne, -1, error);
    memset(out, 0, sizeof *out);
    if (!t) return 0;
    out->type = t->type;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    return 1;
}

/* The intermediate width of a SwiGLU block, read from its gate's shape (ne = {H, ff}
 * or {H, ff, E}): 0 when the gate is absent, MAX_DIM + 1 for anything too wide. */
static int64_t ffn_width(loader *L, const char *gate_name) {
    const gguf_tensor *t = gguf_find_tensor(L->m->file, gate_name);
    if (!t) return 0;
    return t->ne[1] > MAX_DIM ? MAX_DIM + 1 : (int64_t)t->ne[1];
}

/* Loads a 2-D SwiGLU block (the dense MLP, or the shared expert), all three matrices
 * or none. Returns 1 if present, 0 if absent, -1 on error. */
static int load_ffn(loader *L, int layer, gguf_layer_tensor gate, gguf_layer_tensor up, gguf_layer_tensor down,
                    moee_ffn *f) {
    int64_t H = L->m->info.hidden;
    char g[96], u[96], d[96];
    gguf_layer_tensor_name(g, sizeof g, layer, gate);
    gguf_layer_tensor_name(u, sizeof u, layer, up);
    gguf_layer_tensor_name(d, sizeof d, layer, down);
    memset(f, 0, sizeof *f);
    int64_t ff = ffn_width(L, g);
    if (ff == 0) {
        if (gguf_find_tensor(L->m->file, u) || gguf_find_tensor(L->m->file, d))
            return fail(L, "tensor %s is missing", g);
        return 0;
    }
    if (ff > MAX_DIM) return fail(L, "tensor %s is too wide (%lld)", g, (long long)ff);
    int error = 0;
    get_matrix(L, g, 1, ff, H, &f->gate, &error);
    if (!error) get_matrix(L, u, 1, ff, H, &f->up, &error);
    if (!error) get_matrix(L, d, 1, H, ff, &f->down, &error);
    if (error) return -1;
    f->ff = ff;
    return 1;
}

/* The routed experts of a MoE layer: 3-D tensors ne = {H, ff, E} (gate, up) and
 * {ff, H, E} (down). */
static int load_experts(loader *L, int layer, moee_layer *ly) {
    moee_model *m = L->m;
    int64_t H = m->info.hidden, E = m->info.n_experts;
    char g[96], u[96], d[96];
    gguf_layer_tensor_name(g, sizeof g, layer, GGUF_GATE_EXPS);
    gguf_layer_tensor_name(u, sizeof u, layer, GGUF_UP_EXPS);
    gguf_layer_tensor_name(d, sizeof d, layer, GGUF_DOWN_EXPS);
    int64_t ff = ffn_width(L, g);
    if (ff == 0) return fail(L, "tensor %s is missing", g);
    if (ff > MAX_DIM) return fail(L, "tensor %s is too wide (%lld)", g, (long long)ff);
    int error = 0;
    int64_t ne_in[3] = { H, ff, E }, ne_out[3] = { ff, H, E };
    const gguf_tensor *tg = get_tensor(L, g, 1, 3, ne_in, -1, &error);
    const gguf_tensor *tu = error ? NULL : get_tensor(L, u, 1, 3, ne_in, -1, &error);
    const gguf_tensor *td = error ? NULL : get_tensor(L, d, 1, 3, ne_out, -1, &error);
    if (error) return -1;
    moee_ffn *f = &ly->experts;
    f->ff = ff;
    f->gate = (moee_matrix){ tg->type, tg->data, ff, H };
    f->up = (moee_matrix){ tu->type, tu->data, ff, H };
    f->down = (moee_matrix){ td->type, td->data, H, ff };
    ly->gate_expert_bytes = (size_t)ff * moee_type_row_bytes(tg->type, H);
    ly->up_expert_bytes = (size_t)ff * moee_type_row_bytes(tu->type, H);
    ly->down_expert_bytes = (size_t)H * moee_type_row_bytes(td->type, ff);
    return 0;
}

static int load_layer(loader *L, int i) {
    moee_model *m = L->m;
    moee_layer *ly = &m->layers[i];
    const moee_model_info *in = &m->info;
    int64_t H = in->hidden, qd = (int64_t)in->n_heads * in->head_dim,
            kvd = (int64_t)in->n_kv_heads * in->head_dim;
    char name[96];
    int error = 0;
#define NAME(t) gguf_layer_tensor_name(name, sizeof name, i, t)
    ly->attn_norm = get_vector(L, NAME(GGUF_ATTN_NORM), 1, H, &error);
    if (!error) get_matrix(L, NAME(GGUF_ATTN_Q), 1, qd, H, &ly->wq, &error);
    if (!error) get_matrix(L, NAME(GGUF_ATTN_K), 1, kvd, H, &ly->wk, &error);
    if (!error) get_matrix(L, NAME(GGUF_ATTN_V), 1, kvd, H, &ly->wv, &error);
    if (!error) get_matrix(L, NAME(GGUF_ATTN_OUTPUT), 1, H, qd, &ly->wo, &error);
    if (!error) ly->bq = get_vector(L, NAME(GGUF_ATTN_Q_BIAS), 0, qd, &error);
    /* biases come as a set: once q has one, k and v must too */
    if (!error) ly->bk = get_vector(L, NAME(GGUF_ATTN_K_BIAS), ly->bq != NULL, kvd, &error);
    if (!error) ly->bv = get_vector(L, NAME(GGUF_ATTN_V_BIAS), ly->bq != NULL, kvd, &error);
    if (!error) ly->q_norm = get_vector(L, NAME(GGUF_ATTN_Q_NORM), 0, qd, &error);
    if (!error) ly->k_norm = get_vector(L, NAME(GGUF_ATTN_K_NORM), ly->q_norm != NULL, kvd, &error);
    if (!error) ly->ffn_norm = get_vector(L, NAME(GGUF_FFN_NORM), 1, H, &error);
    if (error) return -1;

    ly->is_moe = gguf_layer_is_moe(m->file, i);
    ly->moe_index = -1;
    if (ly->is_moe) {
        if (in->n_experts == 0)
            return fail(L, "layer %d has a router but metadata %s.expert_count is missing", i, in->arch);
        if (!get_matrix(L, gguf_layer_tensor_name(name, sizeof name, i, GGUF_ROUTER), 1, in->n_experts, H, &ly->router, &error))
            return -1;
        if (ly->router.type != MOEE_TYPE_F32)
            return fail(L, "tensor %s has type %s, expected f32", name, moee_type(ly->router.type)->name);
        if (load_experts(L, i, ly)) return -1;
        int r = load_ffn(L, i, GGUF_GATE_SHEXP, GGUF_UP_SHEXP, GGUF_DOWN_SHEXP, &ly->shared);
        if (r < 0) return -1;
        ly->shared_gate = get_vector(L, gguf_layer_tensor_name(name, sizeof name, i, GGUF_SHEXP_GATE), 0, H, &error);
        if (error) return -1;
        if (ly->shared_gate && !ly->shared.ff)
            return fail(L, "layer %d has a shared-expert gate but no shared expert", i);
    } else {
        int r = load_ffn(L, i, GGUF_FFN_GATE, GGUF_FFN_UP, GGUF_FFN_DOWN, &ly->shared);
        if (r < 0) return -1;
        char router[96];
        if (r == 0) return fail(L, "layer %d has neither a router (%s) nor a dense MLP (%s)", i,
                                gguf_layer_tensor_name(router, sizeof router, i, GGUF_ROUTER), NAME(GGUF_FFN_GATE));
    }
#undef NAME
    if (ly->experts.ff > m->max_ff) m->max_ff = ly->experts.ff;
    if (ly->shared.ff > m->max_ff) m->max_ff = ly->shared.ff;
    return 0;
}

static int read_hparams(loader *L) {
    moee_model *m = L->m;
    moee_model_info *in = &m->info;
    gguf_str s;
    int r = gguf_get_str(m->file, "general.architecture", &s);
    if (r <= 0) return fail(L, "metadata general.architecture is missing or not a string");
    if (s.len == 5 && !memcmp(s.ptr, "olmoe", 5)) m->arch = MOEE_ARCH_OLMOE;
    else if (s.len == 8 && !memcmp(s.ptr, "qwen2moe", 8)) m->arch = MOEE_ARCH_QWEN2MOE;
    else if (s.len == 8 && !memcmp(s.ptr, "deepseek", 8)) m->arch = MOEE_ARCH_DEEPSEEK;
    else {
        char shown[40];
        size_t n = s.len < 32 ? (size_t)s.len : 32;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s.ptr[i];
            shown[i] = (c >= 32 && c < 127) ? (char)c : '?';
        }
        shown[n] = 0;
        return fail(L, "unknown architecture '%s%s' (moee supports olmoe, qwen2moe, deepseek)", shown,
                    s.len > 32 ? "..." : "");
    }
    memcpy(in->arch, s.ptr, s.len);
    in->arch[s.len] = 0;
    if (gguf_get_str(m->file, "general.name", &s) == 1) {
        size_t n = s.len < sizeof in->name - 1 ? (size_t)s.len : sizeof in->name - 1;
        memcpy(in->name, s.ptr, n);
        in->name[n] = 0;
    }
    /* NEOX = Hugging Face rotate_half; llama.cpp's converter permuted deepseek's q/k
     * rows so that adjacent-pair (NORM) RoPE gives the same result. */
    m->rope_mode = m->arch == MOEE_ARCH_DEEPSEEK ? MOEE_ROPE_NORM : MOEE_ROPE_NEOX;

    int64_t layers, hidden, heads, kv_heads, ctx, experts, used, key_len, rope_dims;
    if (get_int(L, "block_count", 1, 0, 1, MAX_LAYERS, &layers) ||
        get_int(L, "embedding_length", 1, 0, 1, MAX_DIM, &hidden) ||
        get_int(L, "attention.head_count", 1, 0, 1, MAX_DIM, &heads) ||
        get_int(L, "attention.head_count_kv", 0, heads, 1, heads, &kv_heads) ||
        get_int(L, "context_length", 1, 0, 1, (int64_t)1 << 30, &ctx) ||
        get_int(L, "expert_count", 0, 0, 0, MAX_EXPERTS, &experts) ||
        get_int(L, "expert_used_count", 0, experts ? 1 : 0, experts ? 1 : 0, experts, &used) ||
        get_int(L, "attention.key_length", 0, hidden / heads, 2, MAX_DIM, &key_len) ||
        get_int(L, "rope.dimension_count", 0, key_len, 1, MAX_DIM, &rope_dims) ||
        get_float(L, "rope.freq_base", 0, 10000.0f, &m->rope_theta) ||
        get_float(L, "attention.layer_norm_rms_epsilon", 1, 0, &m->rms_eps))
        return -1;
    if (heads % kv_heads) return fail(L, "head_count %lld is not a multiple of head_count_kv %lld",
                                      (long long)heads, (long long)kv_heads);
    if (key_len % 2) return fail(L, "head dimension %lld is odd", (long long)key_len);
    if (rope_dims != key_len)
        return fail(L, "partial RoPE (rope.dimension_count %lld of head dimension %lld) is not supported",
                    (long long)rope_dims, (long long)key_len);
    if (!(m->rope_theta > 0)) return fail(L, "metadata %s.rope.freq_base must be positive", in->arch);
    if (!(m->rms_eps > 0)) return fail(L, "metadata %s.attention.layer_norm_rms_epsilon must be positive", in->arch);
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", in->arch);
    if (gguf_get_str(m->file, key, &s) == 1 && !(s.len == 4 && !memcmp(s.ptr, "none", 4)))
        return fail(L, "RoPE scaling (%s) is not supported", key);
    snprintf(key, sizeof key, "%s.expert_weights_norm", in->arch);
    m->norm_topk_prob = 0;
    if (gguf_get_bool(m->file, key, &m->norm_topk_prob) < 0)
        return fail(L, "metadata %s is not a bool", key);

    in->n_layers = (int)layers;
    in->hidden = in->hs_dim = (int)hidden;
    in->n_heads = (int)heads;
    in->n_kv_heads = (int)kv_heads;
    in->head_dim = (int)key_len;
    in->context_length = (int)(ctx > 0x7fffffff ? 0x7fffffff : ctx);
    in->n_experts = (int)experts;
    in->n_experts_used = (int)used;
    return 0;
}

static int load(loader *L) {
    moee_model *m = L->m;
    if (read_hparams(L)) return -1;
    moee_model_info *in = &m->info;
    int error = 0;

    /* token embeddings: ne = {H, V}; the vocabulary size comes from the tensor */
    const gguf_tensor *te = gguf_find_tensor(m->file, GGUF_TOKEN_EMBD);
    if (!te) return fail(L, "tensor token_embd.weight is missing");
    if (te->ne[1] < 1 || te->ne[1] > 0x7fffffff) return fail(L, "tensor token_embd.weight has a bad vocabulary size");
    int64_t vocab = (int64_t)te->ne[1];
    if (!get_matrix(L, GGUF_TOKEN_EMBD, 1, vocab, in->hidden, &m->token_embd, &error)) return -1;
    in->vocab_size = (int)vocab;
    m->output_norm = get_vector(L, GGUF_OUTPUT_NORM, 1, in->hidden, &error);
    if (error) return -1;

    m->layers = calloc((size_t)in->n_layers, sizeof *m->layers);
    if (!m->layers) return fail(L, "out of memory");
    for (int i = 0; i < in->n_layers; i++) {
        if (load_layer(L, i)) return -1;
        if (m->layers[i].is_moe) m->layers[i].moe_index = in->n_moe_layers++;
    }
    in->rw_dim = in->n_moe_layers * in->n_experts;
    in->weight_type = m->token_embd.type;
    for (int i = 0; i < in->n_layers; i++) {   /* the bulk of the file: the first MoE layer's experts */
        const moee_layer *ly = &m->layers[i];
        in->weight_type = ly->is_moe ? ly->experts.gate.type : ly->shared.gate.type;
        if (ly->is_moe) break;
    }
    in->file_bytes = m->file->map_size;

    /* The tokenizer is optional: a placeholder vocabulary that does not load is not an error. */
    if (gguf_find_kv(m->file, "tokenizer.ggml.tokens")) {
        char terr[256];
        m->tokenizer = tokenizer_load_gguf(m->file, terr, sizeof terr);
    }
    /* ...but one that loads must only make ids the embedding has rows for */
    if (m->tokenizer && tokenizer_vocab_size(m->tokenizer) > in->vocab_size) {
        return fail(L, "the tokenizer has %d tokens, more than the %d rows of token_embd.weight",
                    tokenizer_vocab_size(m->tokenizer), in->vocab_size);
    }
    in->has_tokenizer = m->tokenizer != NULL;
    gguf_fingerprint(m->file, in->fingerprint);
    return 0;
}

static int moee_model_load_unchecked(const char *gguf_path, moee_model **out, char *err, size_t err_size) {
    *out = NULL;
    moee_model *m = calloc(1, sizeof *m);
    char *path = strdup(gguf_path ? gguf_path : "");
    if (!m || !path) {
        free(m);
        free(path);
        if (err && err_size) snprintf(err, err_size, "%s: out of memory", gguf_path);
        return -1;
    }
    m->path = path;
    m->file = gguf_open(gguf_path, err, err_size);  /* its errors already name the file */
    if (!m->file) {
        moee_model_free(m);
        return -1;
    }
    /* The first batch reads nearly every weight: map them all now, in one go, and
     * before the checks below touch the tensors: on a file not in the page cache their
     * faults would read it in 4 KB pages (8 MB around each of the fingerprint's
     * samples: a quarter of a 3.9 GB model), which no later process maps as huge pages
     * (weights/file.h). */
    moee_map_populate(m->file->path, m->file->map, m->file->map_size);
    loader L = { m, err, err_size };
    if (load(&L)) {
        moee_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void moee_model_free(moee_model *m) {
    if (!m) return;
    if (m->tokenizer) tokenizer_free(m->tokenizer);
    free(m->layers);
    if (m->file) gguf_close(m->file);
    free(m->path);
    free(m);
}

const moee_model_info *moee_model_get_info(const moee_model *m) { return &m->info; }

const moee_tokenizer *moee_model_tokenizer(const moee_model *m) { return m->tokenizer; }

/* The public entry point: every error it returns is one printable line. */
int moee_model_load(const char *gguf_path, moee_model **out, char *err, size_t err_size) {
    int r = moee_model_load_unchecked(gguf_path, out, err, err_size);
    if (r) moee_err_oneline(err);
    return r;
}
