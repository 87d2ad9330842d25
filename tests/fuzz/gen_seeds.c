/* gen_seeds.c: writes the binary seed files of tests/fuzz/corpus/ (small valid
 * inputs the fuzzers start mutating from). Run from the repository root after
 * `sh tests/fuzz/build.sh gen_seeds`: build/fuzz/gen_seeds. The outputs are
 * committed; rerun only when the formats change.
 *
 *   corpus/tokenizer_gguf/vocab-<pre>.gguf   vocab-only GGUFs, one per family: the
 *       256 byte-level symbols, a few merged tokens and merges, and one token of
 *       each special type (control, user-defined, unused, a "[PAD<id>]")
 *   corpus/model/<arch>-micro*.q4_0.gguf     random-weight models of each
 *       architecture, shrunk to 20-40 KB (hidden 32, 2 layers, 4 experts, 32 ids),
 *       written by the same code as `moee synth`; the OLMoE one carries the
 *       byte-level OLMoE tokenizer (tests/data/tokenizer/), so 271 ids
 *   corpus/gguf/                             one of each of the above */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/types.h"
#include "tokenizer/byte_level.h"
#include "tools/convert/arch.h"
#include "tools/convert/model_write.h"
#include "tools/convert/recipe.h"
#include "weights/gguf.h"

#define CORPUS "tests/fuzz/corpus/"

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;   /* the byte-level alphabet stays below U+0800 */
}

static int write_vocab(const char *path, const char *pre) {
    static char symbols[256][4];
    const char *tokens[300];
    size_t lens[300];
    int32_t types[300];
    size_t n = 0;
    for (unsigned b = 0; b < 256; b++, n++) {
        lens[n] = utf8_encode(byte_level_char(b), symbols[b]);
        tokens[n] = symbols[b];
        types[n] = 1;
    }
    /* merged tokens ("Ġ" is the space's symbol) */
    static const char *merged[] = {"\xC4\xA0t", "he", "\xC4\xA0the", "in", "\xC4\xA0\x61", "er"};
    static const char *merges[] = {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "\xC4\xA0 a", "e r"};
    for (size_t i = 0; i < 6; i++, n++) { tokens[n] = merged[i]; lens[n] = strlen(merged[i]); types[n] = 1; }
    size_t merge_lens[6];
    for (size_t i = 0; i < 6; i++) merge_lens[i] = strlen(merges[i]);
    /* one of each special kind */
    char pad[32];
    snprintf(pad, sizeof pad, "[PAD%zu]", n + 4);
    static const char *special[] = {"<|endoftext|>", "<|user|>", "<|embed|>", "[unused]"};
    static const int32_t special_type[] = {3, 4, 4, 5};
    for (size_t i = 0; i < 4; i++, n++) { tokens[n] = special[i]; lens[n] = strlen(special[i]); types[n] = special_type[i]; }
    tokens[n] = pad; lens[n] = strlen(pad); types[n] = 4; n++;

    char err[512];
    gguf_writer *w = gguf_writer_create(path, err, sizeof err);
    if (!w) { fprintf(stderr, "%s\n", err); return -1; }
    gguf_writer_set_str(w, "general.architecture", "olmoe");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_str_array(w, "tokenizer.ggml.tokens", tokens, lens, n);
    gguf_writer_set_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    gguf_writer_set_str_array(w, "tokenizer.ggml.merges", merges, merge_lens, 6);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 262);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 262);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", !strcmp(pre, "deepseek-llm"));
    if (gguf_writer_begin_data(w, err, sizeof err) || gguf_writer_finish(w, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        gguf_writer_abort(w);
        return -1;
    }
    return 0;
}

/* Deterministic small weights: norms near 1, everything else a fixed pattern. */
static int fill(void *user, const tensor_plan *t, int64_t slice, int64_t first_row,
                int64_t n_rows, float *out, char *err, size_t err_size) {
    int64_t row_len = (int64_t)t->ne[0];
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < row_len; i++) {
            float x = sinf((float)(1 + slice * 7919 + (first_row + r) * 131 + i * 17 + t->role));
            out[r * row_len + i] = t->role == ROLE_NORM ? 1.0f + 0.1f * x : x / sqrtf((float)row_len);
        }
    return 0;
}

/* tokenizer_json: NULL, or a tokenizer.json to embed (the vocabulary grows to its size) */
static int write_model(const char *path, const char *arch, uint32_t type, const char *tokenizer_json) {
    char err[512];
    moee_tokenizer *tok = NULL;
    model_config *c = calloc(1, sizeof *c);
    tensor_plan *plan = NULL;
    size_t n_plan = 0;
    int rc = -1;
    if (!c || arch_config_preset(arch, "tiny", c, err, sizeof err)) goto done;
    snprintf(c->name, sizeof c->name, "%s-micro", arch);
    c->vocab_size = 32; c->hidden = 32; c->n_layers = 2; c->n_heads = c->n_kv_heads = 2;
    c->head_dim = 16; c->n_experts = 4; c->n_experts_used = 2; c->context_length = 64;
    c->ffn_dense = c->ffn_expert = 32;
    if (c->ffn_shared) c->ffn_shared = 32;
    if (c->n_shared_experts) c->n_shared_experts = 1;
    for (int64_t i = 0; i < c->n_layers; i++) c->is_moe[i] = i >= c->leading_dense;
    if (tokenizer_json) {
        if (!(tok = tokenizer_load_json(tokenizer_json, NULL, err, sizeof err))) goto done;
        c->vocab_size = tokenizer_vocab_size(tok);
    }
    if (arch_tensor_plan(c, &plan, &n_plan, err, sizeof err)) goto done;
    /* every matrix in the one type (--pure): the recipe named like the type */
    model_write_options wo = {recipe_by_name(moee_type(type)->name), 1, tok, NULL, 0, "gen_seeds"};
    model_write_stats stats;
    rc = model_write(path, c, plan, n_plan, &wo, fill, NULL, &stats, err, sizeof err);
done:
    if (rc) fprintf(stderr, "%s: %s\n", path, err);
    tokenizer_free(tok);
    free(plan);
    free(c);
    return rc;
}

int main(void) {
    static const char *pres[] = {"olmo", "qwen2", "deepseek-llm"};
    static const char *archs[] = {"olmoe", "qwen2moe", "deepseek"};
    char path[256];
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, CORPUS "tokenizer_gguf/vocab-%s.gguf", pres[i]);
        rc |= write_vocab(path, pres[i]);
        if (i == 0) continue;   /* OLMoE's model seed is the one with a tokenizer, below */
        snprintf(path, sizeof path, CORPUS "model/%s-micro.q4_0.gguf", archs[i]);
        rc |= write_model(path, archs[i], MOEE_TYPE_Q4_0, NULL);
    }
    /* other types are covered by mutation of the type ids (an f16 model is 74 KB:
     * over the corpus budget) */
    rc |= write_vocab(CORPUS "gguf/vocab-olmo.gguf", "olmo");
    rc |= write_model(CORPUS "gguf/deepseek-micro.q4_0.gguf", "deepseek", MOEE_TYPE_Q4_0, NULL);
    /* with a tokenizer, so that fuzz_model also embeds texts */
    rc |= write_model(CORPUS "model/olmoe-micro-tokenizer.q4_0.gguf", "olmoe", MOEE_TYPE_Q4_0,
                      "tests/data/tokenizer/olmoe-bytes-tokenizer.json");
    return rc ? 1 : 0;
}
