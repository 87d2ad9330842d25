/* fuzz_model.c: mutated small model GGUFs through moee_model_load; a model that
 * loads then runs one forward pass over a few ids (two sequences, every output),
 * embeds the same ids with moee_embed (whose rows must be finite: a model
 * that computes NaN must give an error there) and, if it carries a tokenizer,
 * tokenizes a short text and embeds two texts with moee_embed. Seeds: tests/fuzz/corpus/model/ (gen_seeds.c), and the golden
 * GGUFs of tests/data/golden/llamacpp-gguf/ can be added as extra seed folders. */
#define FUZZ_NAME "model"
#include "fuzz.h"
#include <math.h>
#include "moee.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_as_file(data, size);
    if (!path) return 0;
    char err[256];
    err[0] = 0;
    moee_model *m;
    if (moee_model_load(path, &m, err, sizeof err)) {
        fuzz_check_err(err, sizeof err, "moee_model_load");
        return 0;
    }
    const moee_model_info *in = moee_model_get_info(m);
    if (in->vocab_size < 1 || in->context_length < 1 || in->hs_dim < 1) abort();
    /* a few ids from the input's first bytes, inside the vocabulary */
    int32_t a[3], b[2];
    for (int i = 0; i < 3; i++) a[i] = (int32_t)((size > (size_t)i ? data[size - 1 - i] : i) % in->vocab_size);
    b[0] = in->vocab_size - 1;
    b[1] = 0;
    const int32_t *seqs[2] = {a, b};
    int64_t lens[2] = {in->context_length < 3 ? in->context_length : 3, in->context_length < 2 ? 1 : 2};
    moee_context *ctx;
    if (moee_context_create(m, 8, 0, &ctx, err, sizeof err)) {
        fuzz_check_err(err, sizeof err, "moee_context_create");
    } else {
        float *hs = malloc(2 * (size_t)in->hs_dim * sizeof *hs);
        float *rl = malloc(2 * ((size_t)in->rw_dim + 1) * sizeof *rl);
        float *rp = malloc(2 * ((size_t)in->rw_dim + 1) * sizeof *rp);
        if (hs && rl && rp && moee_forward(ctx, seqs, lens, 2, MOEE_POOL_LAST, hs, rl, rp, err, sizeof err))
            fuzz_check_err(err, sizeof err, "moee_forward");
        free(hs);
        free(rl);
        free(rp);
        moee_context_free(ctx);
    }
    /* the same through the embedding API, which must refuse non-finite rows */
    float *hs = malloc(2 * (size_t)in->hs_dim * sizeof *hs);
    float *rw = malloc(2 * ((size_t)in->rw_dim + 1) * sizeof *rw);
    moee_embed_options o;
    moee_embed_options_init(&o);
    moee_input input = {.ids = seqs, .id_lens = lens, .n = 2};
    moee_output out = {.raw_hs = hs, .raw_rw = in->rw_dim ? rw : NULL};
    if (hs && rw && moee_embed(m, &o, &input, &out, err, sizeof err) == 0) {
        for (int64_t i = 0; i < 2 * (int64_t)in->hs_dim; i++)
            if (!isfinite(hs[i])) { fprintf(stderr, "moee_embed returned a non-finite value\n"); abort(); }
    } else if (hs && rw) {
        fuzz_check_err(err, sizeof err, "moee_embed");
    }
    free(hs);
    free(rw);
    if (in->has_tokenizer) {
        int32_t *ids = NULL;
        int64_t n_ids = 0;
        if (moee_tokenize(m, "Hello world <|endoftext|>", 25, 0, &ids, &n_ids, err, sizeof err))
            fuzz_check_err(err, sizeof err, "moee_tokenize");
        for (int64_t i = 0; i < n_ids; i++)
            if (ids[i] < 0 || ids[i] >= in->vocab_size) {
                fprintf(stderr, "moee_tokenize: id %ld outside the %d embedding rows\n", (long)ids[i], in->vocab_size);
                abort();
            }
        free(ids);
        /* two texts (the input's last bytes, any bytes) through the whole text path */
        size_t tail = size < 24 ? size : 24;
        const char *texts[2] = {(const char *)data + size - tail, "A short text."};
        size_t text_lens[2] = {tail, 13};
        o.template_name = "prompteol";
        o.replace_invalid_utf8 = 1;
        hs = malloc(2 * (size_t)in->hs_dim * sizeof *hs);
        rw = malloc(2 * ((size_t)in->rw_dim + 1) * sizeof *rw);
        input = (moee_input){.texts = texts, .lens = text_lens, .n = 2};
        out = (moee_output){.raw_hs = hs, .raw_rw = in->rw_dim ? rw : NULL};
        if (hs && rw && moee_embed(m, &o, &input, &out, err, sizeof err))
            fuzz_check_err(err, sizeof err, "moee_embed");
        free(hs);
        free(rw);
    }
    moee_model_free(m);
    return 0;
}
