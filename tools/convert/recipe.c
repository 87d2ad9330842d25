/* tools/convert/recipe.c: llama-quantize's file types and their per-tensor rules
 * (see recipe.h).
 *
 * Three tables hold everything: the recipes (name, general.file_type, base type),
 * the rules (for a class of tensor and a set of recipes, a condition and the type
 * it gives; the first rule that matches wins, none: the base type), and the
 * fallbacks for rows that are not whole blocks of the chosen type. The code below
 * them only classifies a tensor by its name and evaluates conditions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kernels/types.h"
#include "tools/convert/recipe.h"

/* ---- the recipes ---------------------------------------------------------------- */

enum {
    R_Q2_K, R_Q3_K_S, R_Q3_K_M, R_Q3_K_L, R_Q4_K_S, R_Q4_K_M, R_Q5_K_S, R_Q5_K_M, R_Q6_K,
    R_IQ4_NL, R_IQ4_XS, R_Q4_0, R_Q4_1, R_Q5_0, R_Q5_1, R_Q8_0, R_F16, R_BF16, R_F32, N_RECIPES
};

/* file_type: LLAMA_FTYPE_MOSTLY_* of llama.cpp's include/llama.h */
static const recipe recipes[N_RECIPES] = {
    {"Q2_K",   10, MOEE_TYPE_Q2_K,   R_Q2_K},
    {"Q3_K_S", 11, MOEE_TYPE_Q3_K,   R_Q3_K_S},
    {"Q3_K_M", 12, MOEE_TYPE_Q3_K,   R_Q3_K_M},
    {"Q3_K_L", 13, MOEE_TYPE_Q3_K,   R_Q3_K_L},
    {"Q4_K_S", 14, MOEE_TYPE_Q4_K,   R_Q4_K_S},
    {"Q4_K_M", 15, MOEE_TYPE_Q4_K,   R_Q4_K_M},
    {"Q5_K_S", 16, MOEE_TYPE_Q5_K,   R_Q5_K_S},
    {"Q5_K_M", 17, MOEE_TYPE_Q5_K,   R_Q5_K_M},
    {"Q6_K",   18, MOEE_TYPE_Q6_K,   R_Q6_K},
    {"IQ4_NL", 25, MOEE_TYPE_IQ4_NL, R_IQ4_NL},
    {"IQ4_XS", 30, MOEE_TYPE_IQ4_XS, R_IQ4_XS},
    {"Q4_0",    2, MOEE_TYPE_Q4_0,   R_Q4_0},
    {"Q4_1",    3, MOEE_TYPE_Q4_1,   R_Q4_1},
    {"Q5_0",    8, MOEE_TYPE_Q5_0,   R_Q5_0},
    {"Q5_1",    9, MOEE_TYPE_Q5_1,   R_Q5_1},
    {"Q8_0",    7, MOEE_TYPE_Q8_0,   R_Q8_0},
    {"F16",     1, MOEE_TYPE_F16,    R_F16},
    {"BF16",   32, MOEE_TYPE_BF16,   R_BF16},
    {"F32",     0, MOEE_TYPE_F32,    R_F32},
};

/* llama-quantize's other names for recipes */
static const struct { const char *alias; int recipe; } aliases[] = {
    {"Q3_K", R_Q3_K_M}, {"Q4_K", R_Q4_K_M}, {"Q5_K", R_Q5_K_M},
};

/* ---- the rules ---------------------------------------------------------------------- */

/* Tensor classes, told apart by name in this order (llama-quantize's order: a
 * name is in the first class whose test it passes). */
typedef enum {
    C_OUTPUT,       /* output.weight; token_embd.weight too when there is no output.weight */
    C_TOKEN_EMBD,
    C_ATTN_V, C_ATTN_K, C_ATTN_Q,
    C_FFN_DOWN,     /* ffn_down, ffn_down_exps, ffn_down_shexp */
    C_ATTN_OUTPUT,
    C_OTHER,
} tensor_class;

typedef enum {
    W_ALWAYS,
    W_8_EXPERTS,            /* n_expert == 8 (Mixtral's count: llama.cpp tuned for it) */
    W_NOT_8_EXPERTS,
    W_GQA_4,                /* n_gqa >= 4 */
    W_MORE_BITS,            /* use_more_bits: the first and last eighth of the layers, and every third between */
    W_LAYER_BELOW_2,
    W_LAYER_BELOW_4,
    W_FIRST_EIGHTH,         /* layer < n_layer / 8 */
    W_FIRST_SIXTEENTH,      /* layer < n_layer / 16 */
    W_ROWS_NOT_BASE_BLOCKS, /* row width not a multiple of the base type's block */
    W_BASE_NOT_Q8_0,
} condition;

#define R(x) (1u << R_##x)
#define ALL_RECIPES 0xffffffffu

typedef struct {
    tensor_class cls;
    uint32_t recipes;       /* bit set of R(...) */
    condition when;
    uint32_t type;
} rule;

/* First match wins. Only recipes with a quantized base type use rules. */
static const rule rules[] = {
    /* the output matrix: Q8_0 if its rows do not fit the base type, else Q6_K (Q8_0 stays) */
    {C_OUTPUT,      ALL_RECIPES,                 W_ROWS_NOT_BASE_BLOCKS, MOEE_TYPE_Q8_0},
    {C_OUTPUT,      ALL_RECIPES,                 W_BASE_NOT_Q8_0,        MOEE_TYPE_Q6_K},
    /* attn_v: with 8 experts always Q8_0 */
    {C_ATTN_V,      ALL_RECIPES,                 W_8_EXPERTS,            MOEE_TYPE_Q8_0},
    {C_ATTN_V,      R(Q2_K),                     W_GQA_4,                MOEE_TYPE_Q4_K},
    {C_ATTN_V,      R(Q2_K),                     W_ALWAYS,               MOEE_TYPE_Q3_K},
    {C_ATTN_V,      R(Q3_K_M),                   W_LAYER_BELOW_2,        MOEE_TYPE_Q5_K},
    {C_ATTN_V,      R(Q3_K_M),                   W_ALWAYS,               MOEE_TYPE_Q4_K},
    {C_ATTN_V,      R(Q3_K_L),                   W_ALWAYS,               MOEE_TYPE_Q5_K},
    {C_ATTN_V,      R(IQ4_NL) | R(IQ4_XS),       W_GQA_4,                MOEE_TYPE_Q5_K},
    {C_ATTN_V,      R(Q4_K_M) | R(Q5_K_M),       W_MORE_BITS,            MOEE_TYPE_Q6_K},
    {C_ATTN_V,      R(Q4_K_S),                   W_LAYER_BELOW_4,        MOEE_TYPE_Q5_K},
    {C_ATTN_K,      ALL_RECIPES,                 W_8_EXPERTS,            MOEE_TYPE_Q8_0},
    /* ffn_down (layer from the name) */
    {C_FFN_DOWN,    R(Q2_K),                     W_ALWAYS,               MOEE_TYPE_Q3_K},
    {C_FFN_DOWN,    R(Q3_K_M),                   W_FIRST_SIXTEENTH,      MOEE_TYPE_Q5_K},
    {C_FFN_DOWN,    R(Q3_K_M),                   W_ALWAYS,               MOEE_TYPE_Q4_K},
    {C_FFN_DOWN,    R(Q3_K_L),                   W_ALWAYS,               MOEE_TYPE_Q5_K},
    {C_FFN_DOWN,    R(Q4_K_M) | R(Q5_K_M),       W_MORE_BITS,            MOEE_TYPE_Q6_K},
    {C_FFN_DOWN,    R(IQ4_NL) | R(IQ4_XS) | R(Q4_K_S), W_FIRST_EIGHTH,   MOEE_TYPE_Q5_K},
    /* attn_output */
    {C_ATTN_OUTPUT, R(Q2_K) | R(Q3_K_S) | R(Q3_K_M) | R(Q4_K_S) | R(Q4_K_M) | R(IQ4_NL) | R(IQ4_XS),
                                                 W_8_EXPERTS,            MOEE_TYPE_Q5_K},
    {C_ATTN_OUTPUT, R(Q2_K),                     W_NOT_8_EXPERTS,        MOEE_TYPE_Q3_K},
    {C_ATTN_OUTPUT, R(Q3_K_M),                   W_NOT_8_EXPERTS,        MOEE_TYPE_Q4_K},
    {C_ATTN_OUTPUT, R(Q3_K_L),                   W_NOT_8_EXPERTS,        MOEE_TYPE_Q5_K},
};

/* Rows that are not whole blocks of the chosen type: llama-quantize's substitute
 * (checked again; F16 if the substitute does not fit either). A chosen type
 * without a row here is an error, as in llama-quantize. */
static const struct { uint32_t type, fallback; } fallbacks[] = {
    {MOEE_TYPE_Q2_K,   MOEE_TYPE_IQ4_NL},
    {MOEE_TYPE_Q3_K,   MOEE_TYPE_IQ4_NL},
    {MOEE_TYPE_IQ4_XS, MOEE_TYPE_IQ4_NL},
    {MOEE_TYPE_Q4_K,   MOEE_TYPE_Q5_0},
    {MOEE_TYPE_Q5_K,   MOEE_TYPE_Q5_1},
    {MOEE_TYPE_Q6_K,   MOEE_TYPE_Q8_0},
};

/* ---- lookups --------------------------------------------------------------------- */

const recipe *recipe_by_name(const char *name) {
    for (int i = 0; i < N_RECIPES; i++)
        if (!strcasecmp(name, recipes[i].name)) return &recipes[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(name, aliases[i].alias)) return &recipes[aliases[i].recipe];
    return NULL;
}

const recipe *recipe_by_file_type(uint32_t file_type) {
    for (int i = 0; i < N_RECIPES; i++)
        if (recipes[i].file_type == file_type) return &recipes[i];
    return NULL;
}

const char *recipe_names(void) {
    static char names[256];
    if (!names[0]) {
        size_t used = 0;
        for (int i = 0; i < N_RECIPES && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", recipes[i].name);
    }
    return names;
}

/* ---- classifying tensors ------------------------------------------------------------- */

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

int recipe_quantizable(const char *name, uint32_t n_dims) {
    return n_dims >= 2 && ends_with(name, "weight") && !strstr(name, "_norm.weight") &&
           !strstr(name, "ffn_gate_inp.weight");
}

static tensor_class classify(const char *name, int has_output) {
    if (!strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight"))) return C_OUTPUT;
    if (!strcmp(name, "token_embd.weight")) return C_TOKEN_EMBD;
    if (strstr(name, "attn_v.weight")) return C_ATTN_V;
    if (strstr(name, "attn_k.weight")) return C_ATTN_K;
    if (strstr(name, "attn_q.weight")) return C_ATTN_Q;
    if (strstr(name, "ffn_down")) return C_FFN_DOWN;
    if (strstr(name, "attn_output.weight")) return C_ATTN_OUTPUT;
    return C_OTHER;
}

static int64_t block_size(uint32_t type) {
    const moee_type_traits *tt = moee_type(type);
    return tt ? tt->block_size : 0;
}

static const char *type_name(uint32_t type) {
    const moee_type_traits *tt = moee_type(type);
    return tt ? tt->name : "?";
}

static int use_more_bits(int64_t layer, int64_t n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

static int holds(condition when, const recipe *r, const recipe_model *m, int64_t layer, int64_t row_width) {
    switch (when) {
    case W_ALWAYS: return 1;
    case W_8_EXPERTS: return m->n_expert == 8;
    case W_NOT_8_EXPERTS: return m->n_expert != 8;
    case W_GQA_4: return m->n_gqa >= 4;
    case W_MORE_BITS: return use_more_bits(layer, m->n_layer);
    case W_LAYER_BELOW_2: return layer < 2;
    case W_LAYER_BELOW_4: return layer < 4;
    case W_FIRST_EIGHTH: return layer < m->n_layer / 8;
    case W_FIRST_SIXTEENTH: return layer < m->n_layer / 16;
    case W_ROWS_NOT_BASE_BLOCKS: return row_width % block_size(r->base_type) != 0;
    case W_BASE_NOT_Q8_0: return r->base_type != MOEE_TYPE_Q8_0;
    }
    return 0;
}

/* The layer a rule sees: llama-quantize counts attn_v tensors in file order
 * (sorted by layer: the layer number for these models) and, for models with
 * experts, reads the layer of ffn_down from the name. */
static int layer_of(const char *name, const recipe_model *m, int64_t *layer, char *err, size_t err_size) {
    int l;
    if (sscanf(name, "blk.%d.", &l) != 1) {
        snprintf(err, err_size, "tensor %s: cannot tell its layer from the name", name);
        return -1;
    }
    if (l < 0 || l >= m->n_layer) {
        snprintf(err, err_size, "tensor %s: layer %d is outside the model's %lld layers", name, l, (long long)m->n_layer);
        return -1;
    }
    *layer = l;
    return 0;
}

int recipe_tensor_type(const recipe *r, int pure, const recipe_model *m, const char *name,
                       int64_t row_width, uint32_t *type, uint32_t *wanted, char *err, size_t err_size) {
    const moee_type_traits *base = moee_type(r->base_type);
    if (!base) {
        snprintf(err, err_size, "recipe %s: its type is not available", r->name);
        return -1;
    }
    uint32_t t = r->base_type;
    if (pure || !base->is_quantized) {
        /* --pure and the float recipes: one type; rows that are not whole blocks: f16 */
        if (wanted) *wanted = t;
        *type = row_width % base->block_size ? MOEE_TYPE_F16 : t;
        return 0;
    }
    const tensor_class cls = classify(name, m->has_output);
    int64_t layer = 0;
    if ((cls == C_ATTN_V || cls == C_FFN_DOWN) && layer_of(name, m, &layer, err, err_size)) return -1;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule *u = &rules[i];
        if (u->cls == cls && (u->recipes >> r->index & 1) && holds(u->when, r, m, layer, row_width)) {
            t = u->type;
            break;
        }
    }
    if (wanted) *wanted = t;
    if (block_size(t) && row_width % block_size(t) == 0) {
        *type = t;
        return 0;
    }
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        if (fallbacks[i].type != t) continue;
        const uint32_t f = fallbacks[i].fallback;
        *type = block_size(f) && row_width % block_size(f) == 0 ? f : MOEE_TYPE_F16;
        return 0;
    }
    snprintf(err, err_size, "tensor %s: rows of %lld values are not whole %s blocks, and llama-quantize's %s "
             "recipe has no fallback for %s (--pure writes such tensors as f16)", name, (long long)row_width,
             type_name(t), r->name, type_name(t));
    return -1;
}
