/* gguf_names.c: see gguf_names.h. */
#include <stdio.h>
#include "weights/gguf_names.h"

static const char *const suffixes[] = {
    [GGUF_ATTN_NORM] = "attn_norm.weight",
    [GGUF_ATTN_Q] = "attn_q.weight",
    [GGUF_ATTN_K] = "attn_k.weight",
    [GGUF_ATTN_V] = "attn_v.weight",
    [GGUF_ATTN_OUTPUT] = "attn_output.weight",
    [GGUF_ATTN_Q_BIAS] = "attn_q.bias",
    [GGUF_ATTN_K_BIAS] = "attn_k.bias",
    [GGUF_ATTN_V_BIAS] = "attn_v.bias",
    [GGUF_ATTN_Q_NORM] = "attn_q_norm.weight",
    [GGUF_ATTN_K_NORM] = "attn_k_norm.weight",
    [GGUF_FFN_NORM] = "ffn_norm.weight",
    [GGUF_FFN_GATE] = "ffn_gate.weight",
    [GGUF_FFN_UP] = "ffn_up.weight",
    [GGUF_FFN_DOWN] = "ffn_down.weight",
    [GGUF_ROUTER] = "ffn_gate_inp.weight",
    [GGUF_GATE_EXPS] = "ffn_gate_exps.weight",
    [GGUF_UP_EXPS] = "ffn_up_exps.weight",
    [GGUF_DOWN_EXPS] = "ffn_down_exps.weight",
    [GGUF_GATE_SHEXP] = "ffn_gate_shexp.weight",
    [GGUF_UP_SHEXP] = "ffn_up_shexp.weight",
    [GGUF_DOWN_SHEXP] = "ffn_down_shexp.weight",
    [GGUF_SHEXP_GATE] = "ffn_gate_inp_shexp.weight",
};

const char *gguf_layer_tensor_name(char *buf, size_t size, int64_t layer, gguf_layer_tensor t) {
    snprintf(buf, size, "blk.%lld.%s", (long long)layer, suffixes[t]);
    return buf;
}

static int has(const gguf_file *f, int64_t layer, gguf_layer_tensor t) {
    char name[96];
    return gguf_find_tensor(f, gguf_layer_tensor_name(name, sizeof name, layer, t)) != NULL;
}

int gguf_layer_is_moe(const gguf_file *f, int64_t layer) { return has(f, layer, GGUF_ROUTER); }

int gguf_layer_has_shared_expert(const gguf_file *f, int64_t layer) { return has(f, layer, GGUF_GATE_SHEXP); }
