/* recipe.h: llama-quantize's file types ("Q4_K_M", "Q2_K", ...) and the recipe
 * each applies: which ggml type every tensor of a model gets.
 *
 * The rules are those of llama.cpp's llama-quantize as of commit c392e509 (Feb
 * 2025, src/llama-quant.cpp) without an importance matrix, for the file types moee
 * can write. Which type a tensor gets is a pure function of its name, its row
 * width, a few facts about the model (layer count, expert count, query heads per
 * KV head, whether the source has an output.weight) and the file type, so that
 * `moee convert` from a Hugging Face checkpoint, `moee convert` of a GGUF and
 * `moee synth` all pick the same types, and tests can check the choice without
 * writing a file (tests/tools_recipes.c against llama-quantize's own choices).
 *
 * Adding a file type: its row in recipe.c's recipe table and its lines in the
 * rule table (and, for a new weight type, its fallback row). */
#ifndef MOEE_RECIPE_H
#define MOEE_RECIPE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;        /* as llama-quantize spells it: "Q4_K_M" */
    uint32_t file_type;      /* llama.cpp's general.file_type (LLAMA_FTYPE_*) */
    uint32_t base_type;      /* ggml type of the matrices no rule singles out */
    int index;               /* position in the recipe table (the rules' bit) */
} recipe;

/* Case-insensitive; also llama-quantize's aliases Q3_K, Q4_K, Q5_K (= the _M
 * recipes). NULL for an unknown name. */
const recipe *recipe_by_name(const char *name);
/* The recipe whose general.file_type is file_type, or NULL. */
const recipe *recipe_by_file_type(uint32_t file_type);
/* "Q2_K, Q3_K_S, ..., F32": the names moee accepts, for usage messages. */
const char *recipe_names(void);

/* What the choice depends on beyond the tensor itself. */
typedef struct {
    int64_t n_layer;         /* {arch}.block_count */
    int64_t n_expert;        /* {arch}.expert_count (0 if none) */
    int64_t n_gqa;           /* query heads per KV head */
    int has_output;          /* the source has output.weight (else token_embd doubles as it) */
} recipe_model;

/* Would llama-quantize quantize this tensor at all? 2-D and 3-D weights, but not
 * norms or expert routers (ffn_gate_inp). Others keep their type (F32 when
 * converting from a checkpoint). */
int recipe_quantizable(const char *name, uint32_t n_dims);

/* The ggml type of a quantizable tensor named name with rows of row_width values.
 * pure: every tensor in the recipe's base type (llama-quantize --pure), or F16 when
 * rows are not whole blocks of it. Else the recipe's rules, then llama-quantize's
 * fallback when rows are not whole blocks of the chosen type (Q4_K -> Q5_0 ...);
 * *wanted (if not NULL) gets the type before the fallback. Returns 0, or -1 with
 * one line in err (a layer number outside the model, a row width with no
 * fallback: as llama-quantize, which stops there). */
int recipe_tensor_type(const recipe *r, int pure, const recipe_model *m, const char *name,
                       int64_t row_width, uint32_t *type, uint32_t *wanted, char *err, size_t err_size);

#endif
