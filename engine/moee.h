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

typedef struct {
    const char *template_name;     /* default "none" */
    const char *custom_template;   /* default NULL */
    const char *instruction;       /* default NULL */
    moee_pool pool;                /* default MOEE_POOL_LAST (NONE is not allowed here) */
    moee_rw_source rw_source;      /* default AUTO: logits for olmoe/qwen2moe, probs for deepseek */
    int64_t batch_tokens;          /* token budget of one forward batch; default 8192 */
    int truncate;                  /* default 1: a text longer than the context is truncated
                                      (counted); 0: it is an error naming the text */
    int replace_invalid_utf8;      /* default 0: invalid UTF-8 is an error naming the text */
    /* Called after each batch (may be NULL). */
    void (*progress)(void *user, int64_t texts_done, int64_t texts_total, int64_t tokens_done);
    void *progress_user;
} moee_embed_options;
void moee_embed_options_init(moee_embed_options *o);

typedef struct { int64_t texts, tokens, truncated; } moee_embed_counts;

/* Raw (unstandardized) vectors of n texts: hs [n][hs_dim], rw [n][rw_dim] (either
 * may be NULL), row i belonging to texts[i] whatever order they ran in. Texts are
 * bytes with lengths (they may contain NUL); an empty text is valid. Every row is
 * a function of its own text, the model and the options only (not of n, the other
 * texts, batch_tokens or the thread count). Errors name the text by its 0-based
 * index: "text 17: invalid UTF-8 at byte 3". */
int moee_embed_raw(const moee_model *m, const moee_embed_options *o,
                   const char *const *texts, const size_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts,
                   char *err, size_t err_size);

/* Per-dimension standardization statistics (MOEE.md section 3): mean and unbiased
 * (n-1) standard deviation over n vectors, applied as z = (x - mean) / (std + 1e-8).
 * HS and RW get separate statistics. Computed in double precision, in a fixed order. */
typedef struct { int64_t dim; int64_t count; double *mean; double *std; } moee_stats;
int moee_stats_compute(const float *x, int64_t n, int64_t dim, moee_stats *out,
                       char *err, size_t err_size);
void moee_stats_apply(const moee_stats *s, float *x, int64_t n);
void moee_stats_free(moee_stats *s);
/* One JSON file holding the HS and the RW statistics (either may be absent: dim 0). */
int moee_stats_save(const char *path, const moee_stats *hs, const moee_stats *rw,
                    char *err, size_t err_size);
int moee_stats_load(const char *path, moee_stats *hs, moee_stats *rw,
                    char *err, size_t err_size);

/* The kinds of embedding (MOEE.md section 3):
 *   HS        hs                                   dim hs_dim
 *   RW        rw                                   dim rw_dim
 *   MOEE      [hs, rw]                             dim hs_dim + rw_dim
 *   MOEE_SUM  [hs/|hs|, sqrt(alpha) * rw/|rw|]     dim hs_dim + rw_dim
 *             (u_a . u_b = cos(hs_a, hs_b) + alpha * cos(rw_a, rw_b))
 * hs and rw are given already standardized (or raw, when the user turned that off). */
typedef enum { MOEE_KIND_HS = 0, MOEE_KIND_RW = 1, MOEE_KIND_MOEE = 2, MOEE_KIND_MOEE_SUM = 3 } moee_kind;
const char *moee_kind_name(moee_kind k);          /* "hs", "rw", "moee", "moee-sum" */
int moee_kind_from_name(const char *name);        /* -1 if unknown */
int64_t moee_kind_dim(moee_kind k, int64_t hs_dim, int64_t rw_dim);
void moee_kind_combine(moee_kind k, const float *hs, const float *rw, int64_t n,
                       int64_t hs_dim, int64_t rw_dim, float alpha, float *out);

/* moee_embed_raw for pre-tokenized sequences: ids[i][0..lens[i]) for i < n, run as
 * they are (no prompt, no special tokens added). Same batching, ordering, pooling,
 * RW source and truncation rules (a truncated sequence keeps its first
 * context_length ids); errors name the sequence by its 0-based index:
 * "sequence 3: id 70000 is outside the vocabulary (50304 ids)". template_name,
 * custom_template, instruction and replace_invalid_utf8 of o are ignored. */
int moee_embed_ids(const moee_model *m, const moee_embed_options *o,
                   const int32_t *const *ids, const int64_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts,
                   char *err, size_t err_size);

/* Texts -> one kind of embedding, in one call (what `moee embed --kind K` does):
 * raw HS/RW (moee_embed_raw), standardized unless standardize is 0 (with hs_stats /
 * rw_stats if given, else statistics over these n texts, which needs n >= 2), then
 * combined (moee_kind_combine). out is [n][moee_kind_dim(kind, hs_dim, rw_dim)].
 *
 *   moee_embed_options o; moee_embed_options_init(&o); o.template_name = "prompteol";
 *   float *u = malloc(n * (info->hs_dim + info->rw_dim) * sizeof *u);
 *   if (moee_embed(m, &o, MOEE_KIND_MOEE_SUM, 1.0f, 1, NULL, NULL, texts, lens, n, u,
 *                  err, sizeof err)) ...   // u_a . u_b = cos(HS) + cos(RW)
 */
int moee_embed(const moee_model *m, const moee_embed_options *o, moee_kind kind, float alpha,
               int standardize, const moee_stats *hs_stats, const moee_stats *rw_stats,
               const char *const *texts, const size_t *lens, int64_t n, float *out,
               char *err, size_t err_size);

/* The RW source moee_embed_raw uses for this model and option (AUTO resolved). */
moee_rw_source moee_rw_source_resolve(const moee_model *m, moee_rw_source requested);

#ifdef __cplusplus
}
#endif
#endif
