/* moee.h: the public API of libmoee, MoE LLMs as text-embedding models on CPU.
 *
 *   moee_model *m; char err[512];
 *   if (moee_model_load("olmoe.q4_0.gguf", &m, err, sizeof err)) { puts(err); exit(1); }
 *   ... moee_embed(...) or, one level down, moee_forward(...) on token ids ...
 *   moee_model_free(m);
 *
 * Conventions: functions that can fail return 0 on success and non-zero on error,
 * after writing one line (no newline) into err: what went wrong and, where a file
 * is involved, its path. The library never prints and never exits. */
#ifndef MOEE_H
#define MOEE_H
#include <stddef.h>
#include <stdint.h>

#define MOEE_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== model =================================================================== */

typedef struct moee_model moee_model;

typedef struct {
    char arch[16];          /* "olmoe", "qwen2moe" or "deepseek" */
    char name[128];         /* general.name, or "" */
    int n_layers;
    int n_moe_layers;       /* layers with a router */
    int hidden;             /* H */
    int n_heads, n_kv_heads, head_dim;
    int n_experts;          /* E, routed experts per MoE layer */
    int n_experts_used;     /* k */
    int vocab_size;         /* embedding rows */
    int context_length;     /* longest sequence the model accepts */
    int hs_dim;             /* = hidden */
    int rw_dim;             /* = n_moe_layers * n_experts */
    int has_tokenizer;      /* the GGUF carries a tokenizer */
    uint32_t weight_type;   /* ggml type of the expert weights (the bulk of the file) */
    uint64_t file_bytes;
    char fingerprint[33];   /* hex digest of the GGUF header and a fixed sample of every tensor's
                               bytes: changes when the weights file does (weights/fingerprint.c) */
} moee_model_info;

/* Memory-maps a GGUF file; weights are used in place, never copied. */
int moee_model_load(const char *gguf_path, moee_model **out, char *err, size_t err_size);
void moee_model_free(moee_model *m);
const moee_model_info *moee_model_get_info(const moee_model *m);

/* The process default number of threads for contexts created with n_threads 0
 * (n <= 0: all cores, the initial default). Results never depend on it. */
void moee_set_threads(int n);

/* ==== forward pass: token ids -> hidden states and routing vectors ============= */

typedef enum {
    MOEE_POOL_LAST = 0,     /* the last token of each sequence (the paper's choice) */
    MOEE_POOL_MEAN = 1,     /* the mean over each sequence's tokens */
    MOEE_POOL_NONE = 2,     /* every token: outputs have one row per token, sequences in order */
} moee_pool;

/* Working memory for forward passes, sized once for batches of up to
 * max_batch_tokens tokens (sum over the batch's sequences), and the context's own
 * n_threads threads (0: moee_set_threads's default), which sleep between calls.
 * Several contexts, each used by one thread at a time, may run at once on the same
 * model. */
typedef struct moee_context moee_context;
int moee_context_create(const moee_model *m, int64_t max_batch_tokens, int n_threads, moee_context **out,
                        char *err, size_t err_size);
void moee_context_free(moee_context *ctx);

/* Runs n_seqs independent sequences (each at positions 0..len-1, causal attention
 * over itself only) in one batch. Sequence i is ids[i][0..lens[i]), 1 <= lens[i] <=
 * context_length, sum of lens <= max_batch_tokens, every id < vocab_size.
 * Outputs (each may be NULL), one row per sequence (per token for MOEE_POOL_NONE):
 *   hs        [rows][hs_dim]  final-normed hidden state
 *   rw_logits [rows][rw_dim]  router logits of every MoE layer, concatenated in layer order
 *   rw_probs  [rows][rw_dim]  the same after the per-layer softmax over all experts
 * Every output row is bit-identical whatever else is in the batch, in what order,
 * and with any number of threads. */
int moee_forward(moee_context *ctx, const int32_t *const *ids, const int64_t *lens,
                 int64_t n_seqs, moee_pool pool, float *hs, float *rw_logits,
                 float *rw_probs, char *err, size_t err_size);

/* ==== text -> MoEE embeddings ================================================= */

/* The prompt the model sees, built as the paper's code builds it (shared/spec
 * MOEE.md section 2): t = instruction-block + text; if t is non-empty and does not
 * end in . ? ! " ' append "."; every " becomes '; substitute into the template at
 * "*sent 0*"; every _ becomes a space; strip. template_name is one of
 * moee_template_names ("none", "prompteol", "style", "sentiment", "tone", "intent",
 * "complexity", "subjectivity", "language_style", "grammar_structure") or "raw"
 * (the text exactly as given: no preprocessing, no template, no instruction).
 * custom_template (NULL if none) overrides template_name and must contain
 * "*sent 0*". instruction (NULL if none) becomes "<|user|>\n" + instruction +
 * "\n<|embed|>\n" ("<|embed|>\n" if empty). *out is malloc'ed, NUL-terminated. */
extern const char *const moee_template_names[];   /* NULL-terminated */
int moee_prompt_build(const char *text, size_t len, const char *template_name,
                      const char *custom_template, const char *instruction,
                      char **out, size_t *out_len, char *err, size_t err_size);

/* The model's tokenizer, with its default special tokens (BOS for deepseek).
 * *ids is malloc'ed. Invalid UTF-8 is an error unless replace_invalid (U+FFFD). */
int moee_tokenize(const moee_model *m, const char *text, size_t len, int replace_invalid,
                  int32_t **ids, int64_t *n_ids, char *err, size_t err_size);

typedef enum { MOEE_RW_AUTO = 0, MOEE_RW_LOGITS = 1, MOEE_RW_PROBS = 2 } moee_rw_source;

/* The kinds of embedding (MOEE.md section 3):
 *   HS        hs                                   dim hs_dim
 *   RW        rw                                   dim rw_dim
 *   MOEE      [hs, rw]                             dim hs_dim + rw_dim
 *   MOEE_SUM  [hs/|hs|, sqrt(alpha) * rw/|rw|]     dim hs_dim + rw_dim
 *             (u_a . u_b = cos(hs_a, hs_b) + alpha * cos(rw_a, rw_b))
 * built from hs and rw standardized (or raw, when standardization is off for it). */
typedef enum { MOEE_KIND_HS = 0, MOEE_KIND_RW = 1, MOEE_KIND_MOEE = 2, MOEE_KIND_MOEE_SUM = 3 } moee_kind;
#define MOEE_N_KINDS 4
const char *moee_kind_name(moee_kind k);          /* "hs", "rw", "moee", "moee-sum" */
int moee_kind_from_name(const char *name);        /* -1 if unknown */
int64_t moee_kind_dim(moee_kind k, int64_t hs_dim, int64_t rw_dim);

/* Standardization, per dimension and HS and RW apart (MOEE.md section 3):
 * z = (x - mean) / (std + 1e-8), mean and unbiased (n-1) std of the statistics. */
typedef enum { MOEE_STANDARDIZE_AUTO = 0, MOEE_STANDARDIZE_ON = 1, MOEE_STANDARDIZE_OFF = 2 } moee_standardize;
/* The one rule: 1 if kind k is standardized under mode (AUTO: rw, moee, moee-sum yes, hs no). */
int moee_kind_standardized(moee_standardize mode, moee_kind k);

/* Statistics of one part (hs or rw): dim 0 when absent. */
typedef struct { int64_t dim; int64_t count; double *mean; double *std; } moee_stats;

/* Statistics with what produced them (provenance), so they are never applied to
 * vectors of another model, prompt, pooling or RW source. */
typedef struct {
    moee_stats hs, rw;            /* either may be absent: dim 0 */
    char model_fingerprint[33];   /* moee_model_info.fingerprint of the model that produced them */
    char arch[16];
    int64_t hs_dim, rw_dim;       /* the model's dimensions */
    char *prompt;                 /* template name, "custom", or "ids" (token-id input) */
    char *template_text;          /* the custom template, or NULL */
    char *instruction;            /* or NULL */
    moee_pool pool;
    moee_rw_source rw_source;     /* resolved (never AUTO) */
} moee_statistics;
void moee_statistics_free(moee_statistics *s);
/* A JSON file (format "moee-stats", version 2); written atomically (see the file comment of stats.c). */
int moee_statistics_save(const char *path, const moee_statistics *s, char *err, size_t err_size);
int moee_statistics_load(const char *path, moee_statistics *s, char *err, size_t err_size);

/* The default token budget of one forward batch. The context's activations take
 * ~43 KB per token for these models (OLMoE), so 3072 tokens keep them near 3% of a
 * 4 GB weights file (peak memory <= 1.05x the file), while every expert still sees
 * hundreds of tokens per batch (its weights read once for all of them). */
#define MOEE_DEFAULT_BATCH_TOKENS 3072

typedef struct {
    const char *template_name;     /* default "none" */
    const char *custom_template;   /* default NULL */
    const char *instruction;       /* default NULL */
    moee_pool pool;                /* default MOEE_POOL_LAST (NONE is not allowed here) */
    moee_rw_source rw_source;      /* default AUTO: logits for olmoe/qwen2moe, probs for deepseek */
    int64_t batch_tokens;          /* token budget of one forward batch; default MOEE_DEFAULT_BATCH_TOKENS */
    int truncate;                  /* default 1: an input longer than the context is truncated
                                      (counted); 0: it is an error naming the input */
    int replace_invalid_utf8;      /* default 0: invalid UTF-8 is an error naming the text */
    int threads;                   /* threads for this call; 0 (default) = the process default
                                      (moee_set_threads). Results never depend on it. */
    moee_standardize standardize;  /* default AUTO: on for rw, moee, moee-sum; off for hs */
    float alpha;                   /* weight of RW in moee-sum, >= 0; default 1 */
    const moee_statistics *stats;  /* default NULL: statistics over this call's inputs (n >= 2);
                                      else these (checked with moee_statistics_check) */
    int token_ids;                 /* for moee_embed_finish only: the raw rows came from token ids
                                      (provenance prompt "ids"); moee_embed sets it from its input */
    /* Called after each forward batch (may be NULL). */
    void (*progress)(void *user, int64_t texts_done, int64_t texts_total, int64_t tokens_done);
    void *progress_user;
} moee_embed_options;
void moee_embed_options_init(moee_embed_options *o);

/* 0 if s was produced by this model with these options; else 1, and err names
 * what differs ("the statistics were made with prompt 'none', this run uses 'prompteol'"). */
int moee_statistics_check(const moee_statistics *s, const moee_model *m, const moee_embed_options *o,
                          char *err, size_t err_size);

typedef struct {                   /* exactly one of texts / ids is non-NULL */
    const char *const *texts;      /* UTF-8 texts (may contain NUL when lens is given) */
    const size_t *lens;            /* byte lengths, or NULL: the texts are NUL-terminated */
    const int32_t *const *ids;     /* token ids, run as given (no prompt, no special tokens) */
    const int64_t *id_lens;
    int64_t n;
} moee_input;

typedef struct { int64_t texts, tokens, truncated; } moee_embed_counts;

typedef struct {
    float *kinds[MOEE_N_KINDS];    /* indexed by moee_kind: [n][moee_kind_dim(k)] for each wanted
                                      kind, NULL = not wanted */
    float *raw_hs, *raw_rw;        /* optional: raw (unstandardized) rows [n][hs_dim], [n][rw_dim] */
    moee_statistics *stats_out;    /* optional: receives the statistics used (computed here or
                                      copied from o->stats), provenance filled; free with
                                      moee_statistics_free. Asking for it computes the statistics of
                                      every part the call produces, standardized or not. */
    moee_embed_counts counts;      /* filled: inputs, tokens, truncated */
    int64_t *truncated_rows;       /* optional, [n]: the indices of the truncated inputs, in order;
                                      how many in counts.truncated */
} moee_output;

/* THE pipeline: prompt, tokenize, batch, forward, pool, standardize, combine.
 *
 *   moee_embed_options o; moee_embed_options_init(&o); o.template_name = "prompteol";
 *   moee_input in = {.texts = texts, .n = n};
 *   moee_output out = {0};
 *   out.kinds[MOEE_KIND_MOEE_SUM] = malloc(n * (info->hs_dim + info->rw_dim) * sizeof(float));
 *   if (moee_embed(m, &o, &in, &out, err, sizeof err)) ...   // u_a . u_b = cos(HS) + cos(RW)
 *
 * Every row depends only on its own input, the model and the options (never on n, the
 * other inputs, batch_tokens or threads). Standardization uses o->stats (checked with
 * moee_statistics_check) or statistics over the n inputs; a kind that needs statistics
 * with n < 2 and no o->stats is an error (checked before any work). A row with NaN or
 * infinity is an error. Errors about one input name it by its 0-based index: "text 17:
 * invalid UTF-8 at byte 3", "sequence 3: id 70000 is outside the vocabulary (50304 ids)".
 * Several threads may call it on the same model at once (each call makes its own context). */
int moee_embed(const moee_model *m, const moee_embed_options *o, const moee_input *in,
               moee_output *out, char *err, size_t err_size);

/* The second half alone (raw rows -> statistics -> kinds), for merging shards and
 * resuming: moee_embed == (raw rows of every input) + moee_embed_finish, bit for bit.
 * raw_hs / raw_rw may be NULL when no wanted kind needs them. out->raw_* are ignored;
 * out->counts are left as they are. Set o->token_ids when the rows came from token ids. */
int moee_embed_finish(const moee_model *m, const moee_embed_options *o, const float *raw_hs,
                      const float *raw_rw, int64_t n, moee_output *out, char *err, size_t err_size);

/* The RW source moee_embed uses for this model and option (AUTO resolved). */
moee_rw_source moee_rw_source_resolve(const moee_model *m, moee_rw_source requested);

#ifdef __cplusplus
}
#endif
#endif
