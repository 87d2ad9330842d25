/* tools/convert/arch.c: the GGUF layout of olmoe, qwen2moe and deepseek (see arch.h).
 *
 * Tensor and key names, shapes and orders are those of llama.cpp's
 * convert_hf_to_gguf.py (checked against GGUF files it wrote for the golden
 * models). Where llama.cpp has no support (Qwen dense layers, OLMoE with grouped-
 * query attention, norm_topk_prob) we write what moee needs under llama.cpp's key
 * and tensor names: dense layers as blk.N.ffn_{gate,up,down}, the k-norm with its
 * real size n_kv_heads * head_dim, and {arch}.expert_weights_norm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/convert/arch.h"
#include "weights/gguf_names.h"

static const char *const arch_names[] = {"olmoe", "qwen2moe", "deepseek"};

const char *arch_name(arch_id a) { return arch_names[a]; }

int arch_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, arch_names[i])) return i;
    return -1;
}

/* ---- config.json ------------------------------------------------------------ */

/* Reads an integer key; absent (or null) gives def, def < 0 means required.
 * Values must lie in [lo, hi]. */
static int get_int(const json_value *cfg, const char *path, const char *key, long long def,
                   long long lo, long long hi, int64_t *out, char *err, size_t err_size) {
    const json_value *v = json_get(cfg, key);
    long long x;
    if (!v || v->kind == JSON_NULL) {
        if (def < 0) { snprintf(err, err_size, "%s: missing key \"%s\"", path, key); return -1; }
        *out = def;
        return 0;
    }
    if (!json_get_int(v, &x)) {
        snprintf(err, err_size, "%s: \"%s\" is not an integer", path, key);
        return -1;
    }
    if (x < lo || x > hi) {
        snprintf(err, err_size, "%s: \"%s\" = %lld is out of range [%lld, %lld]", path, key, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int get_float(const json_value *cfg, const char *path, const char *key, double def,
                     double lo, double hi, float *out, char *err, size_t err_size) {
    const json_value *v = json_get(cfg, key);
    double x;
    if (!v || v->kind == JSON_NULL) { *out = (float)def; return 0; }
    if (!json_get_number(v, &x)) {
        snprintf(err, err_size, "%s: \"%s\" is not a number", path, key);
        return -1;
    }
    if (!(x >= lo && x <= hi)) {
        snprintf(err, err_size, "%s: \"%s\" = %g is out of range [%g, %g]", path, key, x, lo, hi);
        return -1;
    }
    *out = (float)x;
    return 0;
}

static int get_bool(const json_value *cfg, const char *path, const char *key, int def, int *out,
                    char *err, size_t err_size) {
    const json_value *v = json_get(cfg, key);
    if (!v || v->kind == JSON_NULL) { *out = def; return 0; }
    if (!json_get_bool(v, out)) {
        snprintf(err, err_size, "%s: \"%s\" is not true or false", path, key);
        return -1;
    }
    return 0;
}

/* Which architecture: architectures[0] as convert_hf_to_gguf.py does, else model_type. */
static int detect_arch(const json_value *cfg, const char *path, arch_id *a, char *err, size_t err_size) {
    static const struct { const char *hf_class, *model_type; arch_id arch; } known[] = {
        {"OlmoeForCausalLM", "olmoe", ARCH_OLMOE},
        {"Qwen2MoeForCausalLM", "qwen2_moe", ARCH_QWEN2MOE},
        {"DeepseekForCausalLM", "deepseek", ARCH_DEEPSEEK},
    };
    const char *s;
    size_t len;
    const json_value *archs = json_get(cfg, "architectures");
    if (archs && json_get_string(json_at(archs, 0), &s, &len)) {
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(s, known[i].hf_class)) { *a = known[i].arch; return 0; }
        snprintf(err, err_size, "%s: unsupported architecture \"%.64s\" (supported: OlmoeForCausalLM, "
                 "Qwen2MoeForCausalLM, DeepseekForCausalLM)", path, s);
        return -1;
    }
    if (json_get_string(json_get(cfg, "model_type"), &s, &len)) {
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(s, known[i].model_type)) { *a = known[i].arch; return 0; }
        snprintf(err, err_size, "%s: unsupported model_type \"%.64s\" (supported: olmoe, qwen2_moe, deepseek)",
                 path, s);
        return -1;
    }
    snprintf(err, err_size, "%s: neither \"architectures\" nor \"model_type\" says which model this is", path);
    return -1;
}

/* A key that must be absent, null or false for moee to compute the right thing. */
static int reject_if_set(const json_value *cfg, const char *path, const char *key, char *err, size_t err_size) {
    const json_value *v = json_get(cfg, key);
    int b;
    if (!v || v->kind == JSON_NULL || (json_get_bool(v, &b) && !b)) return 0;
    snprintf(err, err_size, "%s: \"%s\" is set; moee does not support it", path, key);
    return -1;
}

#define DIM_MAX (1LL << 20)    /* generous bounds that keep every product in range */

int arch_config_from_hf(const json_value *cfg, const char *path, const char *name,
                        model_config *c, char *err, size_t err_size) {
    memset(c, 0, sizeof *c);
    if (!cfg || cfg->kind != JSON_OBJECT) {
        snprintf(err, err_size, "%s: not a JSON object", path);
        return -1;
    }
    if (detect_arch(cfg, path, &c->arch, err, err_size)) return -1;
    snprintf(c->name, sizeof c->name, "%s", name ? name : "");
    const int olmoe = c->arch == ARCH_OLMOE, qwen = c->arch == ARCH_QWEN2MOE, deepseek = c->arch == ARCH_DEEPSEEK;

    int64_t head_dim = 0;
    if (get_int(cfg, path, "vocab_size", -1, 1, 1LL << 24, &c->vocab_size, err, err_size) ||
        get_int(cfg, path, "hidden_size", -1, 1, DIM_MAX, &c->hidden, err, err_size) ||
        get_int(cfg, path, "num_hidden_layers", -1, 1, ARCH_MAX_LAYERS, &c->n_layers, err, err_size) ||
        get_int(cfg, path, "num_attention_heads", -1, 1, 4096, &c->n_heads, err, err_size) ||
        get_int(cfg, path, "num_key_value_heads", c->n_heads, 1, c->n_heads, &c->n_kv_heads, err, err_size) ||
        get_int(cfg, path, "head_dim", 0, 0, DIM_MAX, &head_dim, err, err_size) ||
        get_int(cfg, path, "max_position_embeddings", qwen ? 8192 : 4096, 1, 1LL << 24, &c->context_length,
                err, err_size) ||
        get_int(cfg, path, "intermediate_size", -1, 1, DIM_MAX, &c->ffn_dense, err, err_size) ||
        get_int(cfg, path, "num_experts_per_tok", -1, 1, 4096, &c->n_experts_used, err, err_size) ||
        get_float(cfg, path, "rms_norm_eps", olmoe ? 1e-5 : 1e-6, 0.0, 1.0, &c->rms_eps, err, err_size) ||
        get_float(cfg, path, "rope_theta", 10000.0, 1e-3, 1e12, &c->rope_theta, err, err_size) ||
        get_bool(cfg, path, "norm_topk_prob", 0, &c->norm_topk_prob, err, err_size) ||
        reject_if_set(cfg, path, "rope_scaling", err, err_size))
        return -1;
    const char *act;
    size_t act_len;
    if (json_get_string(json_get(cfg, "hidden_act"), &act, &act_len) && strcmp(act, "silu")) {
        snprintf(err, err_size, "%s: \"hidden_act\" is \"%.32s\"; moee implements silu", path, act);
        return -1;
    }
    if (c->hidden % c->n_heads) {
        snprintf(err, err_size, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", path,
                 (long long)c->hidden, (long long)c->n_heads);
        return -1;
    }
    c->head_dim = c->hidden / c->n_heads;
    if (head_dim && head_dim != c->head_dim) {
        snprintf(err, err_size, "%s: head_dim %lld differs from hidden_size / num_attention_heads = %lld; "
                 "moee does not support that", path, (long long)head_dim, (long long)c->head_dim);
        return -1;
    }
    if (c->n_heads % c->n_kv_heads) {
        snprintf(err, err_size, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                 path, (long long)c->n_heads, (long long)c->n_kv_heads);
        return -1;
    }
    if (c->head_dim % 2) {
        snprintf(err, err_size, "%s: head dimension %lld is odd; RoPE needs it even", path, (long long)c->head_dim);
        return -1;
    }

    if (olmoe) {
        /* clip_qkv (null in the real model) is rejected until the engine clamps */
        if (get_int(cfg, path, "num_experts", 64, 1, 4096, &c->n_experts, err, err_size) ||
            reject_if_set(cfg, path, "attention_bias", err, err_size) ||
            reject_if_set(cfg, path, "clip_qkv", err, err_size))
            return -1;
        c->ffn_expert = c->ffn_dense;
        for (int64_t i = 0; i < c->n_layers; i++) c->is_moe[i] = 1;
    } else if (qwen) {
        int64_t step;
        if (get_int(cfg, path, "num_experts", 60, 0, 4096, &c->n_experts, err, err_size) ||
            get_int(cfg, path, "moe_intermediate_size", -1, 1, DIM_MAX, &c->ffn_expert, err, err_size) ||
            get_int(cfg, path, "shared_expert_intermediate_size", 0, 0, DIM_MAX, &c->ffn_shared, err, err_size) ||
            get_int(cfg, path, "decoder_sparse_step", 1, 1, ARCH_MAX_LAYERS, &step, err, err_size) ||
            reject_if_set(cfg, path, "use_sliding_window", err, err_size))
            return -1;
        for (int64_t i = 0; i < c->n_layers; i++) c->is_moe[i] = c->n_experts > 0 && (i + 1) % step == 0;
        const json_value *dense = json_get(cfg, "mlp_only_layers");
        if (dense && dense->kind != JSON_NULL) {
            if (dense->kind != JSON_ARRAY) {
                snprintf(err, err_size, "%s: \"mlp_only_layers\" is not an array", path);
                return -1;
            }
            for (size_t j = 0; j < dense->u.array.count; j++) {
                long long layer;
                if (!json_get_int(json_at(dense, j), &layer) || layer < 0 || layer >= c->n_layers) {
                    snprintf(err, err_size, "%s: \"mlp_only_layers\"[%zu] is not a layer index", path, j);
                    return -1;
                }
                c->is_moe[layer] = 0;
            }
        }
    } else if (deepseek) {
        int64_t freq;
        const json_value *scoring = json_get(cfg, "scoring_func");
        const char *s;
        size_t len;
        if (scoring && scoring->kind != JSON_NULL &&
            (!json_get_string(scoring, &s, &len) || strcmp(s, "softmax"))) {
            snprintf(err, err_size, "%s: \"scoring_func\" is not \"softmax\"; moee does not support that", path);
            return -1;
        }
        if (get_int(cfg, path, "n_routed_experts", 0, 0, 4096, &c->n_experts, err, err_size) ||
            get_int(cfg, path, "moe_intermediate_size", -1, 1, DIM_MAX, &c->ffn_expert, err, err_size) ||
            get_int(cfg, path, "n_shared_experts", 0, 0, 4096, &c->n_shared_experts, err, err_size) ||
            get_int(cfg, path, "first_k_dense_replace", 0, 0, ARCH_MAX_LAYERS, &c->leading_dense, err, err_size) ||
            get_int(cfg, path, "moe_layer_freq", 1, 1, ARCH_MAX_LAYERS, &freq, err, err_size) ||
            reject_if_set(cfg, path, "attention_bias", err, err_size))
            return -1;
        c->ffn_shared = c->ffn_expert * c->n_shared_experts;
        for (int64_t i = 0; i < c->n_layers; i++)
            c->is_moe[i] = c->n_experts > 0 && i >= c->leading_dense && i % freq == 0;
    }
    int any_moe = 0;
    for (int64_t i = 0; i < c->n_layers; i++) any_moe |= c->is_moe[i];
    if (!any_moe) {
        snprintf(err, err_size, "%s: no layer has routed experts; moee needs a mixture-of-experts model", path);
        return -1;
    }
    if (c->n_experts_used > c->n_experts) {
        snprintf(err, err_size, "%s: num_experts_per_tok %lld exceeds the %lld experts", path,
                 (long long)c->n_experts_used, (long long)c->n_experts);
        return -1;
    }
    int tie;
    if (get_bool(cfg, path, "tie_word_embeddings", 0, &tie, err, err_size)) return -1;
    c->has_output = !tie;
    return 0;
}

/* ---- synth presets ---------------------------------------------------------- */

int arch_config_preset(const char *arch, const char *shape, model_config *c, char *err, size_t err_size) {
    memset(c, 0, sizeof *c);
    int a = arch_from_name(arch);
    if (a < 0) {
        snprintf(err, err_size, "unknown architecture \"%s\" (olmoe, qwen2moe, deepseek)", arch);
        return -1;
    }
    int full = !strcmp(shape, "full");
    if (!full && strcmp(shape, "tiny")) {
        snprintf(err, err_size, "unknown shape \"%s\" (tiny, full)", shape);
        return -1;
    }
    c->arch = (arch_id)a;
    snprintf(c->name, sizeof c->name, "%s-synth-%s", arch, shape);
    c->has_output = 1;
    /* tiny: the golden models (shared/golden/<arch>-tiny/config.json) */
    c->vocab_size = 512; c->hidden = 64; c->n_layers = 4; c->n_heads = 4; c->n_kv_heads = 4;
    c->n_experts = 8;
    c->rope_theta = 10000.0f;
    c->rms_eps = 1e-6f;
    c->context_length = 4096;
    switch (c->arch) {
    case ARCH_OLMOE:     /* allenai/OLMoE-1B-7B-0924 */
        c->rms_eps = 1e-5f;
        c->n_experts_used = 2; c->ffn_dense = c->ffn_expert = 32;
        if (full) {
            c->vocab_size = 50304; c->hidden = 2048; c->n_layers = 16; c->n_heads = c->n_kv_heads = 16;
            c->n_experts = 64; c->n_experts_used = 8; c->ffn_dense = c->ffn_expert = 1024;
        }
        break;
    case ARCH_QWEN2MOE:  /* Qwen/Qwen1.5-MoE-A2.7B */
        c->rope_theta = 1000000.0f; c->context_length = 8192;
        c->n_experts_used = 3; c->ffn_dense = 96; c->ffn_expert = 32; c->ffn_shared = 96;
        if (full) {
            c->vocab_size = 151936; c->hidden = 2048; c->n_layers = 24; c->n_heads = c->n_kv_heads = 16;
            c->n_experts = 60; c->n_experts_used = 4; c->ffn_dense = 5632; c->ffn_expert = 1408;
            c->ffn_shared = 5632;
        }
        break;
    case ARCH_DEEPSEEK:  /* deepseek-ai/deepseek-moe-16b-base */
        c->n_experts_used = 3; c->ffn_dense = 128; c->ffn_expert = 32; c->n_shared_experts = 2;
        c->leading_dense = 1;
        if (full) {
            c->vocab_size = 102400; c->hidden = 2048; c->n_layers = 28; c->n_heads = c->n_kv_heads = 16;
            c->n_experts = 64; c->n_experts_used = 6; c->ffn_dense = 10944; c->ffn_expert = 1408;
        }
        c->ffn_shared = c->ffn_expert * c->n_shared_experts;
        break;
    }
    c->head_dim = c->hidden / c->n_heads;
    for (int64_t i = 0; i < c->n_layers; i++) c->is_moe[i] = i >= c->leading_dense;
    return 0;
}

/* ---- tensors ------------------------------------------------------------------ */

typedef struct {
    tensor_plan *items;
    size_t n, cap;
    int failed;
} plan_list;

static tensor_plan *plan_push(plan_list *l) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        tensor_plan *p = realloc(l->items, cap * sizeof *p);
        if (!p) { l->failed = 1; return NULL; }
        l->items = p;
        l->cap = cap;
    }
    tensor_plan *t = &l->items[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* A 1-D tensor of n elements from HF tensor hf. */
static void add_vector(plan_list *l, tensor_role role, const char *name, const char *hf, int64_t n) {
    tensor_plan *t = plan_push(l);
    if (!t) return;
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->hf_name, sizeof t->hf_name, "%s", hf);
    t->role = role;
    t->n_dims = 1;
    t->ne[0] = (uint64_t)n; t->ne[1] = t->ne[2] = 1;
    t->hf_n_dims = 1;
    t->hf_shape[0] = n;
}

/* A matrix from HF [rows, cols] (= [out, in]): ne = {cols, rows}. The pointer
 * returned is valid only until the next tensor is added (the list may move). */
static tensor_plan *add_matrix(plan_list *l, tensor_role role, const char *name, const char *hf,
                               int64_t rows, int64_t cols) {
    tensor_plan *t = plan_push(l);
    if (!t) return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->hf_name, sizeof t->hf_name, "%s", hf);
    t->role = role;
    t->n_dims = 2;
    t->ne[0] = (uint64_t)cols; t->ne[1] = (uint64_t)rows; t->ne[2] = 1;
    t->hf_n_dims = 2;
    t->hf_shape[0] = rows; t->hf_shape[1] = cols;
    return t;
}

/* n_experts matrices HF [rows, cols] named hf_prefix + e + hf_suffix, stacked. */
static void add_experts(plan_list *l, tensor_role role, const char *name, const char *hf_prefix,
                        const char *hf_suffix, int64_t n_experts, int64_t rows, int64_t cols) {
    tensor_plan *t = add_matrix(l, role, name, hf_prefix, rows, cols);
    if (!t) return;
    snprintf(t->hf_suffix, sizeof t->hf_suffix, "%s", hf_suffix);
    t->n_stacked = n_experts;
    t->n_dims = 3;
    t->ne[2] = (uint64_t)n_experts;
}

int arch_tensor_plan(const model_config *c, tensor_plan **plan, size_t *n, char *err, size_t err_size) {
    plan_list l = {0};
    char name[64], hf[96], hf2[96];
    const int64_t H = c->hidden, q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
#define GG(t) gguf_layer_tensor_name(name, sizeof name, b, t)
#define HF(...) (snprintf(hf, sizeof hf, __VA_ARGS__), hf)

    add_matrix(&l, ROLE_EMBEDDING, GGUF_TOKEN_EMBD, "model.embed_tokens.weight", c->vocab_size, H);
    for (int64_t i = 0; i < c->n_layers; i++) {
        const long long b = (long long)i;
        add_vector(&l, ROLE_NORM, GG(GGUF_ATTN_NORM), HF("model.layers.%lld.input_layernorm.weight", b), H);
        /* deepseek: llama.cpp rotates adjacent pairs, so q and k rows are permuted */
        tensor_plan *q = add_matrix(&l, ROLE_MATRIX, GG(GGUF_ATTN_Q),
                                    HF("model.layers.%lld.self_attn.q_proj.weight", b), q_dim, H);
        if (q && c->arch == ARCH_DEEPSEEK) q->permute_heads = c->n_heads;
        tensor_plan *k = add_matrix(&l, ROLE_MATRIX, GG(GGUF_ATTN_K),
                                    HF("model.layers.%lld.self_attn.k_proj.weight", b), kv_dim, H);
        if (k && c->arch == ARCH_DEEPSEEK) k->permute_heads = c->n_kv_heads;
        add_matrix(&l, ROLE_MATRIX, GG(GGUF_ATTN_V), HF("model.layers.%lld.self_attn.v_proj.weight", b),
                   kv_dim, H);
        if (c->arch == ARCH_QWEN2MOE) {
            add_vector(&l, ROLE_BIAS, GG(GGUF_ATTN_Q_BIAS), HF("model.layers.%lld.self_attn.q_proj.bias", b), q_dim);
            add_vector(&l, ROLE_BIAS, GG(GGUF_ATTN_K_BIAS), HF("model.layers.%lld.self_attn.k_proj.bias", b), kv_dim);
            add_vector(&l, ROLE_BIAS, GG(GGUF_ATTN_V_BIAS), HF("model.layers.%lld.self_attn.v_proj.bias", b), kv_dim);
        }
        add_matrix(&l, ROLE_MATRIX_OUT, GG(GGUF_ATTN_OUTPUT),
                   HF("model.layers.%lld.self_attn.o_proj.weight", b), H, q_dim);
        if (c->arch == ARCH_OLMOE) {
            add_vector(&l, ROLE_NORM, GG(GGUF_ATTN_Q_NORM),
                       HF("model.layers.%lld.self_attn.q_norm.weight", b), q_dim);
            add_vector(&l, ROLE_NORM, GG(GGUF_ATTN_K_NORM),
                       HF("model.layers.%lld.self_attn.k_norm.weight", b), kv_dim);
        }
        add_vector(&l, ROLE_NORM, GG(GGUF_FFN_NORM),
                   HF("model.layers.%lld.post_attention_layernorm.weight", b), H);
        if (!c->is_moe[i]) {
            static const char *const part[3] = {"gate", "up", "down"};
            static const gguf_layer_tensor gguf_part[3] = {GGUF_FFN_GATE, GGUF_FFN_UP, GGUF_FFN_DOWN};
            for (int p = 0; p < 3; p++) {
                int down = p == 2;
                add_matrix(&l, down ? ROLE_MATRIX_OUT : ROLE_MATRIX, GG(gguf_part[p]),
                           HF("model.layers.%lld.mlp.%s_proj.weight", b, part[p]),
                           down ? H : c->ffn_dense, down ? c->ffn_dense : H);
            }
            continue;
        }
        add_matrix(&l, ROLE_ROUTER, GG(GGUF_ROUTER), HF("model.layers.%lld.mlp.gate.weight", b),
                   c->n_experts, H);
        snprintf(hf2, sizeof hf2, "model.layers.%lld.mlp.experts.", b);
        add_experts(&l, ROLE_MATRIX, GG(GGUF_GATE_EXPS), hf2, ".gate_proj.weight", c->n_experts,
                    c->ffn_expert, H);
        add_experts(&l, ROLE_MATRIX, GG(GGUF_UP_EXPS), hf2, ".up_proj.weight", c->n_experts,
                    c->ffn_expert, H);
        add_experts(&l, ROLE_MATRIX_OUT, GG(GGUF_DOWN_EXPS), hf2, ".down_proj.weight",
                    c->n_experts, H, c->ffn_expert);
        if (c->ffn_shared > 0) {
            const char *shared = c->arch == ARCH_QWEN2MOE ? "shared_expert" : "shared_experts";
            add_matrix(&l, ROLE_MATRIX, GG(GGUF_GATE_SHEXP),
                       HF("model.layers.%lld.mlp.%s.gate_proj.weight", b, shared), c->ffn_shared, H);
            add_matrix(&l, ROLE_MATRIX, GG(GGUF_UP_SHEXP),
                       HF("model.layers.%lld.mlp.%s.up_proj.weight", b, shared), c->ffn_shared, H);
            add_matrix(&l, ROLE_MATRIX_OUT, GG(GGUF_DOWN_SHEXP),
                       HF("model.layers.%lld.mlp.%s.down_proj.weight", b, shared), H, c->ffn_shared);
            if (c->arch == ARCH_QWEN2MOE) {
                /* HF [1, H]; llama.cpp stores it as a vector of H */
                add_vector(&l, ROLE_SHARED_GATE, GG(GGUF_SHEXP_GATE),
                           HF("model.layers.%lld.mlp.shared_expert_gate.weight", b), H);
                if (!l.failed) {
                    tensor_plan *g = &l.items[l.n - 1];
                    g->hf_n_dims = 2;
                    g->hf_shape[0] = 1; g->hf_shape[1] = H;
                }
            }
        }
    }
    add_vector(&l, ROLE_NORM, "output_norm.weight", "model.norm.weight", H);
    if (c->has_output) add_matrix(&l, ROLE_MATRIX, "output.weight", "lm_head.weight", c->vocab_size, H);
#undef GG
#undef HF
    if (l.failed) {
        free(l.items);
        snprintf(err, err_size, "out of memory listing the tensors");
        return -1;
    }
    *plan = l.items;
    *n = l.n;
    return 0;
}

/* ---- metadata ------------------------------------------------------------------ */

void arch_write_metadata(const model_config *c, gguf_writer *w, int write_vocab_size) {
    const char *a = arch_name(c->arch);
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, a), key)
    gguf_writer_set_str(w, "general.architecture", a);
    gguf_writer_set_str(w, "general.name", c->name);
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)c->context_length);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)c->hidden);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)c->ffn_dense);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), c->rope_theta);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->rms_eps);
    gguf_writer_set_u32(w, KEY("expert_count"), (uint32_t)c->n_experts);
    gguf_writer_set_u32(w, KEY("expert_used_count"), (uint32_t)c->n_experts_used);
    if (c->arch == ARCH_QWEN2MOE) {
        gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), (uint32_t)c->ffn_expert);
        gguf_writer_set_u32(w, KEY("expert_shared_feed_forward_length"), (uint32_t)c->ffn_shared);
    }
    if (c->arch == ARCH_DEEPSEEK) {
        gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
        gguf_writer_set_str(w, KEY("rope.scaling.type"), "none");
        gguf_writer_set_u32(w, KEY("leading_dense_block_count"), (uint32_t)c->leading_dense);
        gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size);
        gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), (uint32_t)c->ffn_expert);
        gguf_writer_set_f32(w, KEY("expert_weights_scale"), 1.0f);
        gguf_writer_set_u32(w, KEY("expert_shared_count"), (uint32_t)c->n_shared_experts);
    } else if (write_vocab_size) {
        gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size);
    }
    /* What llama.cpp lacks, under its key names: */
    if (c->norm_topk_prob) gguf_writer_set_bool(w, KEY("expert_weights_norm"), 1);
    if (c->clip_qkv > 0) gguf_writer_set_f32(w, KEY("attention.clamp_kqv"), c->clip_qkv);
#undef KEY
}
