/* arch.h: the one description of each architecture's GGUF layout, shared by
 * `moee convert` and `moee synth` so that the two never disagree.
 *
 * A model_config holds the hyperparameters (read from a Hugging Face config.json,
 * or a preset shape for synth). From it, arch_tensor_plan lists every GGUF tensor
 * in the order llama.cpp's convert_hf_to_gguf.py writes it, with its GGUF name and
 * shape, the Hugging Face tensor(s) it comes from, and how (stacking experts,
 * permuting rows). arch_write_metadata writes the `{arch}.*` keys under llama.cpp's
 * names and in its order.
 *
 * Names and shapes follow llama.cpp: ne[0] is the innermost dimension, so a
 * Hugging Face [out, in] matrix is ne = {in, out}, and the experts of a layer are
 * stacked into one tensor ne = {in, out, n_experts}. */
#ifndef MOEE_ARCH_H
#define MOEE_ARCH_H
#include <stddef.h>
#include <stdint.h>
#include "weights/gguf.h"
#include "weights/json.h"

typedef enum { ARCH_OLMOE = 0, ARCH_QWEN2MOE = 1, ARCH_DEEPSEEK = 2 } arch_id;

#define ARCH_MAX_LAYERS 512

typedef struct {
    arch_id arch;
    char name[128];             /* general.name */
    int64_t vocab_size;         /* embedding rows */
    int64_t hidden;
    int64_t n_layers;
    int64_t n_heads, n_kv_heads, head_dim;
    int64_t context_length;
    float rope_theta;
    float rms_eps;
    int64_t n_experts, n_experts_used;
    int64_t ffn_dense;          /* width of a dense MLP (intermediate_size); OLMoE: the expert width */
    int64_t ffn_expert;         /* width of one routed expert */
    int64_t ffn_shared;         /* width of the (fused) shared expert, 0 if none */
    int64_t n_shared_experts;   /* deepseek: shared experts fused into ffn_shared */
    int64_t leading_dense;      /* deepseek: first_k_dense_replace */
    int norm_topk_prob;         /* renormalize the top-k routing weights */
    float clip_qkv;             /* OLMoE clamp of q, k, v; 0 = none (config.json clip_qkv is
                                   rejected for now: the engine does not clamp) */
    int has_output;             /* an lm_head (output.weight) is written */
    unsigned char is_moe[ARCH_MAX_LAYERS];  /* per layer: 1 = routed experts, 0 = dense MLP */
} model_config;

/* How synth initializes a tensor (which type it gets is the recipe's business:
 * tools/convert/recipe.h). */
typedef enum {
    ROLE_EMBEDDING,     /* token_embd */
    ROLE_MATRIX,        /* attention, MLP, expert and output matrices */
    ROLE_MATRIX_OUT,    /* the same, for those that write into the residual stream
                           (attn_output, ffn_down*): synth draws them smaller */
    ROLE_NORM,          /* RMSNorm weights: F32 */
    ROLE_BIAS,          /* F32 */
    ROLE_ROUTER,        /* ffn_gate_inp: F32 */
    ROLE_SHARED_GATE,   /* ffn_gate_inp_shexp: F32 */
} tensor_role;

typedef struct {
    char name[64];              /* GGUF name, e.g. "blk.3.ffn_up_exps.weight" */
    tensor_role role;
    uint32_t n_dims;
    uint64_t ne[3];             /* GGUF dims, ne[0] innermost; unused dims are 1 */
    /* Where the data comes from in a Hugging Face checkpoint. A single tensor is
     * hf_name; a stacked one (n_stacked > 0) is n_stacked tensors named
     * hf_name + expert index + hf_suffix, each one slice of ne[0] * ne[1]. */
    char hf_name[96];
    char hf_suffix[32];
    int64_t n_stacked;
    int hf_n_dims;              /* expected shape of the HF tensor (of each slice) */
    int64_t hf_shape[2];
    /* > 0: rows are permuted per head as convert_hf_to_gguf.py's LLaMA permute
     * does (deepseek attn_q/attn_k; the runtime then rotates adjacent pairs). */
    int64_t permute_heads;
} tensor_plan;

/* "olmoe", "qwen2moe", "deepseek": general.architecture. */
const char *arch_name(arch_id a);
/* -1 if unknown. Accepts the GGUF names. */
int arch_from_name(const char *name);

/* Reads a Hugging Face config.json (already parsed). name becomes general.name.
 * Rejects configurations moee cannot run (rope scaling, attention biases on OLMoE,
 * sliding windows, non-softmax DeepSeek scoring...), naming the key. */
int arch_config_from_hf(const json_value *config, const char *config_path, const char *name,
                        model_config *c, char *err, size_t err_size);

/* Synth presets: shape "tiny" (the golden test models' dimensions) or "full" (the
 * real OLMoE-1B-7B / Qwen1.5-MoE-A2.7B / deepseek-moe-16b dimensions). */
int arch_config_preset(const char *arch, const char *shape, model_config *c,
                       char *err, size_t err_size);

/* Every GGUF tensor of the model, in llama.cpp's order. *plan is malloc'ed. */
int arch_tensor_plan(const model_config *c, tensor_plan **plan, size_t *n,
                     char *err, size_t err_size);

/* general.architecture, general.name and the {arch}.* hyperparameters (the file
 * type is the recipe's: tools/convert/model_write.c).
 * write_vocab_size: also write {arch}.vocab_size (deepseek always has it; llama.cpp
 * needs it for the others when the file has no tokenizer). */
void arch_write_metadata(const model_config *c, gguf_writer *w, int write_vocab_size);

#endif
