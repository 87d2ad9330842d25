/* gguf_names.h: llama.cpp's GGUF naming of MoE models, stated once. The reader
 * (engine/model.c), the writer (tools/convert/arch.c) and `moee info` all use it.
 *
 *   token_embd.weight                  [V][H] token embeddings
 *   output_norm.weight                 [H] final RMSNorm
 *   blk.N.attn_norm.weight             [H]
 *   blk.N.attn_{q,k,v,output}.weight   attention projections (+ attn_{q,k,v}.bias: Qwen)
 *   blk.N.attn_{q,k}_norm.weight       OLMoE's q/k RMSNorm over all heads
 *   blk.N.ffn_norm.weight              [H]
 *   blk.N.ffn_gate_inp.weight          [E][H] the router: its presence makes layer N an MoE layer
 *   blk.N.ffn_{gate,up,down}_exps.weight   the routed experts stacked: [E][ff][H], [E][H][ff]
 *   blk.N.ffn_{gate,up,down}_shexp.weight  the shared expert (Qwen, DeepSeek)
 *   blk.N.ffn_gate_inp_shexp.weight    [H] Qwen's shared-expert gate
 *   blk.N.ffn_{gate,up,down}.weight    the MLP of a dense layer (no router)
 */
#ifndef MOEE_GGUF_NAMES_H
#define MOEE_GGUF_NAMES_H
#include <stddef.h>
#include <stdint.h>
#include "weights/gguf.h"

#define GGUF_TOKEN_EMBD  "token_embd.weight"
#define GGUF_OUTPUT_NORM "output_norm.weight"

/* Every per-layer tensor, named by gguf_layer_tensor_name as "blk.N.<suffix>". */
typedef enum {
    GGUF_ATTN_NORM,       /* attn_norm.weight */
    GGUF_ATTN_Q,          /* attn_q.weight */
    GGUF_ATTN_K,          /* attn_k.weight */
    GGUF_ATTN_V,          /* attn_v.weight */
    GGUF_ATTN_OUTPUT,     /* attn_output.weight */
    GGUF_ATTN_Q_BIAS,     /* attn_q.bias (Qwen) */
    GGUF_ATTN_K_BIAS,     /* attn_k.bias */
    GGUF_ATTN_V_BIAS,     /* attn_v.bias */
    GGUF_ATTN_Q_NORM,     /* attn_q_norm.weight (OLMoE) */
    GGUF_ATTN_K_NORM,     /* attn_k_norm.weight */
    GGUF_FFN_NORM,        /* ffn_norm.weight */
    GGUF_FFN_GATE,        /* ffn_gate.weight: the MLP of a dense layer */
    GGUF_FFN_UP,          /* ffn_up.weight */
    GGUF_FFN_DOWN,        /* ffn_down.weight */
    GGUF_ROUTER,          /* ffn_gate_inp.weight */
    GGUF_GATE_EXPS,       /* ffn_gate_exps.weight */
    GGUF_UP_EXPS,         /* ffn_up_exps.weight */
    GGUF_DOWN_EXPS,       /* ffn_down_exps.weight */
    GGUF_GATE_SHEXP,      /* ffn_gate_shexp.weight */
    GGUF_UP_SHEXP,        /* ffn_up_shexp.weight */
    GGUF_DOWN_SHEXP,      /* ffn_down_shexp.weight */
    GGUF_SHEXP_GATE,      /* ffn_gate_inp_shexp.weight */
} gguf_layer_tensor;

/* "blk.<layer>.<suffix of t>" into buf; returns buf. */
const char *gguf_layer_tensor_name(char *buf, size_t size, int64_t layer, gguf_layer_tensor t);

/* 1 if layer holds a router (blk.N.ffn_gate_inp.weight): the one rule for "MoE layer". */
int gguf_layer_is_moe(const gguf_file *f, int64_t layer);

/* 1 if layer holds a shared expert (blk.N.ffn_gate_shexp.weight). */
int gguf_layer_has_shared_expert(const gguf_file *f, int64_t layer);

#endif
