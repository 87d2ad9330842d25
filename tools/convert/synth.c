/* tools/convert/synth.c: random weights for an architecture's tensor plan (see synth.h).
 *
 * Every row has its own generator state, derived from (seed, tensor, slice, row)
 * by splitmix64, so rows can be drawn in parallel and in any chunking with the
 * same result. Values are Gaussian-ish (a sum of four uniforms, rescaled to unit
 * variance): enough for realistic magnitudes at a fraction of Box-Muller's cost.
 *   matrices      std 1/sqrt(fan_in), fan_in = row length (keeps activations O(1))
 *   ... writing into the residual stream (attn_output, ffn_down*): that over
 *                 sqrt(2 n_layers), as GPT-2 initializes them. Without it the
 *                 layers' outputs, alike for every token (attention averages),
 *                 swamp the token embeddings in deep models and every token ends
 *                 up routed to the same experts.
 *   embeddings    std 1
 *   RMSNorm       1 + 0.1 N(0,1)
 *   biases        0.02 N(0,1)
 *   routers       std 1/sqrt(hidden): logits of order 1 over normed inputs, so
 *                 routing is spread over the experts instead of collapsing */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tools/convert/arch.h"
#include "tools/convert/synth.h"
#include "weights/json.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Sum of four 16-bit uniforms on (0, 1): mean 2, variance 1/3 -> unit variance. */
static float gaussianish(uint64_t *state) {
    const uint64_t r = splitmix64(state);
    const uint32_t sum = (uint32_t)(r & 0xffff) + (uint32_t)(r >> 16 & 0xffff) + (uint32_t)(r >> 32 & 0xffff) +
                         (uint32_t)(r >> 48);
    /* each uniform is (u + 0.5) / 65536 */
    return (((float)sum + 2.0f) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

typedef struct {
    uint64_t seed;
    const tensor_plan *plan;    /* to number the tensors */
    int64_t hidden;
    int64_t n_layers;
} synth_source;

static int fill_random(void *user, const tensor_plan *t, int64_t slice, int64_t first_row,
                       int64_t n_rows, float *out, char *err, size_t err_size) {
    const synth_source *src = user;
    const int64_t row_len = (int64_t)t->ne[0];
    const uint64_t tensor_index = (uint64_t)(t - src->plan);
    float mean = 0.0f, std = 1.0f / sqrtf((float)row_len);
    switch (t->role) {
    case ROLE_EMBEDDING: std = 1.0f; break;
    case ROLE_NORM: mean = 1.0f; std = 0.1f; break;
    case ROLE_BIAS: std = 0.02f; break;
    case ROLE_ROUTER: case ROLE_SHARED_GATE: std = 1.0f / sqrtf((float)src->hidden); break;
    case ROLE_MATRIX: break;
    case ROLE_MATRIX_OUT: std /= sqrtf(2.0f * (float)src->n_layers); break;
    }
#ifdef _OPENMP
    #pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < n_rows; r++) {
        uint64_t state = src->seed;
        state ^= splitmix64(&state) + tensor_index;
        state ^= splitmix64(&state) + (uint64_t)slice;
        state ^= splitmix64(&state) + (uint64_t)(first_row + r);
        float *row = out + r * row_len;
        for (int64_t i = 0; i < row_len; i++) row[i] = mean + std * gaussianish(&state);
    }
    return 0;
}

/* A tokenizer from a tokenizer.json, or from a GGUF's tokenizer.ggml.* keys (a
 * model or a vocab-only file), told apart by the GGUF magic. */
static moee_tokenizer *load_tokenizer(const char *path, const char *config, char *err, size_t err_size) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got < 4 || memcmp(magic, "GGUF", 4)) return tokenizer_load_json(path, config, err, err_size);
    gguf_file *g = gguf_open(path, err, err_size);
    if (!g) return NULL;
    moee_tokenizer *t = tokenizer_load_gguf(g, err, err_size);
    gguf_close(g);
    return t;
}

int synth_model(const char *out_path, const synth_options *o, model_write_stats *stats,
                char *err, size_t err_size) {
    int rc = -1;
    moee_tokenizer *tok = NULL;
    tensor_plan *plan = NULL;
    size_t n_plan = 0;
    model_config *c = malloc(sizeof *c);
    if (!c) { snprintf(err, err_size, "out of memory"); return -1; }
    if (o->config) {
        /* any shape: the dimensions of a Hugging Face config.json */
        json_doc *doc = json_parse_file(o->config, err, err_size);
        if (!doc) goto done;
        int bad = arch_config_from_hf(json_root(doc), o->config, "synth", c, err, err_size);
        json_free(doc);
        if (bad) goto done;
    } else if (arch_config_preset(o->arch, o->shape, c, err, err_size)) goto done;
    if (o->tokenizer_file) {
        if (!(tok = load_tokenizer(o->tokenizer_file, o->tokenizer_config, err, err_size))) goto done;
        /* every token id must have an embedding row */
        if (tokenizer_vocab_size(tok) > c->vocab_size) c->vocab_size = tokenizer_vocab_size(tok);
    }
    if (arch_tensor_plan(c, &plan, &n_plan, err, err_size)) goto done;
    synth_source src = {o->seed, plan, c->hidden, c->n_layers};
    model_write_options wo = {o->recipe, o->pure, tok, o->log, o->progress, "moee synth"};
    rc = model_write(out_path, c, plan, n_plan, &wo, fill_random, &src, stats, err, err_size);
done:
    if (tok) tokenizer_free(tok);
    free(plan);
    free(c);
    return rc;
}
