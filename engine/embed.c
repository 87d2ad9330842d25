/* embed.c: moee_embed, THE pipeline: texts (or token ids) in, embeddings out.
 *
 * First the raw HS and RW rows, in input order:
 *   1. each text -> prompt (prompt.c) -> token ids (the model's tokenizer), all
 *      texts in parallel; a text whose prompt is longer than the context is
 *      truncated (or rejected);
 *   2. sequences sorted by length, longest first, and packed greedily into forward
 *      batches of at most batch_tokens tokens (so similar lengths share a batch);
 *   3. moee_forward on each batch; its rows are copied to the rows of their texts.
 * then moee_embed_finish: the rows checked finite, statistics (given, or over the
 * inputs), standardization, and each requested kind (kinds.c).
 *
 * The engine guarantees that a row never depends on the rest of its batch or on
 * the thread count, so the output is a function of each text alone: the sort and
 * the packing only change the speed.
 *
 * Truncation (the paper never truncates; the models' contexts are 4096 tokens and
 * more). For last-token pooling the end of the prompt matters most: PromptEOL's
 * `means in one word:"` is what makes the last token summarize the text. So moee
 * does not cut the token sequence; it cuts the TEXT: the truncated text is the
 * longest prefix of the text (whole UTF-8 characters) whose full prompt (template,
 * instruction, BOS) fits in the context, found by binary search on its length. The
 * prompt is rebuilt from that prefix with the paper's rules. Pre-tokenized input has
 * no template, so there a sequence keeps its first context_length ids. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "engine/embed.h"
#include "engine/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

/* At most this many sequences per forward batch: bounds the per-batch output
 * buffers (short texts would otherwise make batch_tokens rows). */
#define MAX_BATCH_SEQS 512

void moee_embed_options_init(moee_embed_options *o) {
    memset(o, 0, sizeof *o);
    o->template_name = "none";
    o->pool = MOEE_POOL_LAST;
    o->rw_source = MOEE_RW_AUTO;
    o->batch_tokens = MOEE_DEFAULT_BATCH_TOKENS;
    o->truncate = 1;
    o->standardize = MOEE_STANDARDIZE_AUTO;
    o->alpha = 1.0f;
}

moee_rw_source moee_rw_source_resolve(const moee_model *m, moee_rw_source requested) {
    if (requested != MOEE_RW_AUTO) return requested;
    /* as the paper's code: DeepSeek's gate returns probabilities, the others logits */
    return strcmp(moee_model_get_info(m)->arch, "deepseek") == 0 ? MOEE_RW_PROBS : MOEE_RW_LOGITS;
}

static const moee_tokenizer *tokenizer_of(const moee_model *m, char *err, size_t err_size) {
    const moee_tokenizer *t = moee_model_tokenizer(m);
    if (!t) snprintf(err, err_size, "the model file carries no usable tokenizer, so it can only embed token ids");
    return t;
}

int moee_tokenize(const moee_model *m, const char *text, size_t len, int replace_invalid,
                  int32_t **ids, int64_t *n_ids, char *err, size_t err_size) {
    *ids = NULL;
    *n_ids = 0;
    const moee_tokenizer *t = tokenizer_of(m, err, err_size);
    if (!t) return 1;
    tokenizer_ids v = {0};
    int flags = TOKENIZER_ADD_SPECIAL | (replace_invalid ? TOKENIZER_REPLACE_INVALID : 0);
    if (tokenizer_encode(t, text, len, flags, &v, err, err_size)) {
        tokenizer_ids_free(&v);
        return 1;
    }
    *ids = malloc((v.n ? v.n : 1) * sizeof **ids);
    if (!*ids) {
        tokenizer_ids_free(&v);
        snprintf(err, err_size, "out of memory (%zu token ids)", v.n);
        return 1;
    }
    if (v.n) memcpy(*ids, v.ids, v.n * sizeof **ids);
    *n_ids = (int64_t)v.n;
    tokenizer_ids_free(&v);
    return 0;
}

/* ---- running sequences in batches ------------------------------------------------ */

/* One sequence to run and the output row it fills. */
typedef struct { const int32_t *ids; int64_t len; int64_t row; } job;

static int longest_first(const void *a, const void *b) {
    const job *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int check_options(const moee_embed_options *o, char *err, size_t err_size) {
    if (o->pool != MOEE_POOL_LAST && o->pool != MOEE_POOL_MEAN) {
        snprintf(err, err_size, "pooling must be last or mean");
        return 1;
    }
    if (o->rw_source != MOEE_RW_AUTO && o->rw_source != MOEE_RW_LOGITS && o->rw_source != MOEE_RW_PROBS) {
        snprintf(err, err_size, "unknown RW source %d", (int)o->rw_source);
        return 1;
    }
    if (o->batch_tokens < 1) {
        snprintf(err, err_size, "the batch token budget must be at least 1 (got %" PRId64 ")", o->batch_tokens);
        return 1;
    }
    return 0;
}

/* Runs every job (each len >= 1 and <= context_length) and fills hs/rw rows. */
static int run_jobs(const moee_model *m, const moee_embed_options *o, job *jobs, int64_t n,
                    float *hs, float *rw, moee_embed_counts *counts, char *err, size_t err_size) {
    if (n == 0 || (!hs && !rw)) return 0;
    const moee_model_info *info = moee_model_get_info(m);
    int64_t hs_dim = info->hs_dim, rw_dim = info->rw_dim;
    int probs = moee_rw_source_resolve(m, o->rw_source) == MOEE_RW_PROBS;

    qsort(jobs, (size_t)n, sizeof *jobs, longest_first);
    int64_t budget = o->batch_tokens > jobs[0].len ? o->batch_tokens : jobs[0].len;
    int64_t max_seqs = n < MAX_BATCH_SEQS ? n : MAX_BATCH_SEQS;
    if (max_seqs > budget) max_seqs = budget;

    moee_context *ctx = NULL;
    if (moee_context_create(m, budget, o->threads, &ctx, err, err_size)) return 1;
    const int32_t **batch_ids = malloc((size_t)max_seqs * sizeof *batch_ids);
    int64_t *batch_lens = malloc((size_t)max_seqs * sizeof *batch_lens);
    float *batch_hs = hs ? malloc((size_t)(max_seqs * hs_dim) * sizeof *batch_hs) : NULL;
    float *batch_rw = rw ? malloc((size_t)(max_seqs * rw_dim) * sizeof *batch_rw) : NULL;
    int rc = 0;
    if (!batch_ids || !batch_lens || (hs && !batch_hs) || (rw && !batch_rw)) {
        snprintf(err, err_size, "out of memory for batches of %" PRId64 " sequences", max_seqs);
        rc = 1;
    }

    int64_t done = 0;
    while (rc == 0 && done < n) {
        /* greedy packing: the next sequences while they fit the token budget */
        int64_t count = 0, tokens = 0;
        while (done + count < n && count < max_seqs && tokens + jobs[done + count].len <= budget) {
            batch_ids[count] = jobs[done + count].ids;
            batch_lens[count] = jobs[done + count].len;
            tokens += batch_lens[count];
            count++;
        }
        if (moee_forward(ctx, batch_ids, batch_lens, count, o->pool, batch_hs,
                         probs ? NULL : batch_rw, probs ? batch_rw : NULL, err, err_size)) {
            rc = 1;
            break;
        }
        for (int64_t s = 0; s < count; s++) {
            int64_t row = jobs[done + s].row;
            if (hs) memcpy(hs + row * hs_dim, batch_hs + s * hs_dim, (size_t)hs_dim * sizeof *hs);
            if (rw) memcpy(rw + row * rw_dim, batch_rw + s * rw_dim, (size_t)rw_dim * sizeof *rw);
        }
        done += count;
        counts->tokens += tokens;
        if (o->progress) o->progress(o->progress_user, done, n, counts->tokens);
    }
    free(batch_ids);
    free(batch_lens);
    free(batch_hs);
    free(batch_rw);
    moee_context_free(ctx);
    return rc;
}

/* ---- pre-tokenized input ---------------------------------------------------------- */

int moee_embed_ids(const moee_model *m, const moee_embed_options *o,
                   const int32_t *const *ids, const int64_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts, char *truncated,
                   char *err, size_t err_size) {
    moee_embed_counts local;
    if (!counts) counts = &local;
    memset(counts, 0, sizeof *counts);
    if (check_options(o, err, err_size)) return 1;
    if (truncated) memset(truncated, 0, (size_t)n);
    const moee_model_info *info = moee_model_get_info(m);
    job *jobs = malloc((size_t)(n ? n : 1) * sizeof *jobs);
    if (!jobs) { snprintf(err, err_size, "out of memory (%" PRId64 " sequences)", n); return 1; }
    for (int64_t i = 0; i < n; i++) {
        if (lens[i] < 1) {
            snprintf(err, err_size, "sequence %" PRId64 ": no token ids", i);
            free(jobs);
            return 1;
        }
        for (int64_t j = 0; j < lens[i]; j++)
            if (ids[i][j] < 0 || ids[i][j] >= info->vocab_size) {
                snprintf(err, err_size, "sequence %" PRId64 ": id %" PRId32 " is outside the vocabulary "
                         "(%d ids)", i, ids[i][j], info->vocab_size);
                free(jobs);
                return 1;
            }
        int64_t len = lens[i];
        if (len > info->context_length) {
            if (!o->truncate) {
                snprintf(err, err_size, "sequence %" PRId64 ": %" PRId64 " ids, longer than the model's "
                         "context (%d)", i, len, info->context_length);
                free(jobs);
                return 1;
            }
            len = info->context_length;
            counts->truncated++;
            if (truncated) truncated[i] = 1;
        }
        jobs[i] = (job){ids[i], len, i};
    }
    counts->texts = n;
    int rc = run_jobs(m, o, jobs, n, hs, rw, counts, err, err_size);
    free(jobs);
    return rc;
}

/* ---- texts --------------------------------------------------------------------------- */

/* Tokenizes the prompt of text[0..len) into v. */
static int encode_prompt(const moee_tokenizer *tok, const moee_embed_options *o, const char *text,
                         size_t len, tokenizer_ids *v, char *err, size_t err_size) {
    char *prompt;
    size_t prompt_len;
    if (moee_prompt_build(text, len, o->template_name, o->custom_template, o->instruction,
                          &prompt, &prompt_len, err, err_size))
        return 1;
    int flags = TOKENIZER_ADD_SPECIAL | (o->replace_invalid_utf8 ? TOKENIZER_REPLACE_INVALID : 0);
    int rc = tokenizer_encode(tok, prompt, prompt_len, flags, v, err, err_size);
    free(prompt);
    return rc;
}

/* Text i -> its ids (malloc'ed into *ids), truncated as the file comment says. */
static int prepare_text(const moee_tokenizer *tok, const moee_embed_options *o, int64_t context,
                        const char *text, size_t len, int64_t i, tokenizer_ids *v,
                        int32_t **ids, int64_t *n_ids, int *truncated, char *err, size_t err_size) {
    char msg[256];
    *truncated = 0;
    int64_t bad = o->replace_invalid_utf8 ? -1 : utf8_first_invalid((const unsigned char *)text, len);
    if (bad >= 0) {
        snprintf(err, err_size, "text %" PRId64 ": invalid UTF-8 at byte %" PRId64, i, bad);
        return 1;
    }
    if (encode_prompt(tok, o, text, len, v, msg, sizeof msg)) {
        snprintf(err, err_size, "text %" PRId64 ": %s", i, msg);
        return 1;
    }
    if ((int64_t)v->n > context) {
        if (!o->truncate) {
            snprintf(err, err_size, "text %" PRId64 ": %zu tokens, longer than the model's context (%" PRId64 ")",
                     i, v->n, context);
            return 1;
        }
        /* the longest text prefix whose prompt fits: lo always fits, hi never does */
        size_t lo = 0, hi = len;
        if (encode_prompt(tok, o, text, 0, v, msg, sizeof msg) || (int64_t)v->n > context) {
            snprintf(err, err_size, "text %" PRId64 ": the prompt is longer than the model's context "
                     "(%" PRId64 ") even without the text", i, context);
            return 1;
        }
        while (hi - lo > 1) {
            size_t mid = utf8_char_start((const unsigned char *)text, lo + (hi - lo) / 2);
            if (mid <= lo) {            /* no character starts in (lo, middle]: look after it */
                mid = lo + (hi - lo) / 2 + 1;
                while (mid < hi && ((unsigned char)text[mid] & 0xC0) == 0x80) mid++;
                if (mid >= hi) break;
            }
            if (encode_prompt(tok, o, text, mid, v, msg, sizeof msg) == 0 && (int64_t)v->n <= context) lo = mid;
            else hi = mid;
        }
        if (encode_prompt(tok, o, text, lo, v, msg, sizeof msg)) {
            snprintf(err, err_size, "text %" PRId64 ": %s", i, msg);
            return 1;
        }
        *truncated = 1;
    }
    if (v->n == 0) {
        snprintf(err, err_size, "text %" PRId64 ": the prompt has no tokens (an empty text with the raw "
                 "prompt, on a model that adds no BOS)", i);
        return 1;
    }
    *ids = malloc(v->n * sizeof **ids);
    if (!*ids) { snprintf(err, err_size, "text %" PRId64 ": out of memory", i); return 1; }
    memcpy(*ids, v->ids, v->n * sizeof **ids);
    *n_ids = (int64_t)v->n;
    return 0;
}

int moee_embed_raw(const moee_model *m, const moee_embed_options *o,
                   const char *const *texts, const size_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts, char *truncated_rows,
                   char *err, size_t err_size) {
    moee_embed_counts local;
    if (!counts) counts = &local;
    memset(counts, 0, sizeof *counts);
    if (check_options(o, err, err_size)) return 1;
    const moee_tokenizer *tok = tokenizer_of(m, err, err_size);
    if (!tok) return 1;
    /* the options themselves (template, instruction) fail for every text alike: say so once */
    char *probe;
    if (moee_prompt_build("", 0, o->template_name, o->custom_template, o->instruction, &probe, NULL,
                          err, err_size))
        return 1;
    free(probe);
    if (!o->replace_invalid_utf8) {
        int64_t bad;
        if (o->instruction && (bad = utf8_first_invalid((const unsigned char *)o->instruction, strlen(o->instruction))) >= 0) {
            snprintf(err, err_size, "instruction: invalid UTF-8 at byte %" PRId64, bad);
            return 1;
        }
        if (o->custom_template && (bad = utf8_first_invalid((const unsigned char *)o->custom_template, strlen(o->custom_template))) >= 0) {
            snprintf(err, err_size, "template: invalid UTF-8 at byte %" PRId64, bad);
            return 1;
        }
    }
    int64_t context = moee_model_get_info(m)->context_length;

    int32_t **ids = calloc((size_t)(n ? n : 1), sizeof *ids);
    job *jobs = malloc((size_t)(n ? n : 1) * sizeof *jobs);
    char *failed = calloc((size_t)(n ? n : 1), 1);
    char *truncated = calloc((size_t)(n ? n : 1), 1);
    int rc = 0;
    if (!ids || !jobs || !failed || !truncated) {
        snprintf(err, err_size, "out of memory (%" PRId64 " texts)", n);
        rc = 1;
    }

    /* 1. prompts and token ids, in parallel; a failure is only marked here and its
     *    message rebuilt below for the first failing text, whatever the threads did */
    if (rc == 0) {
#ifdef _OPENMP
#pragma omp parallel
#endif
        {
            tokenizer_ids v = {0};
            char msg[8];
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
            for (int64_t i = 0; i < n; i++) {
                int64_t len = 0;
                int cut = 0;
                failed[i] = (char)prepare_text(tok, o, context, texts[i], lens[i], i, &v, &ids[i], &len,
                                               &cut, msg, sizeof msg);
                truncated[i] = (char)cut;
                jobs[i] = (job){ids[i], len, i};
            }
            tokenizer_ids_free(&v);
        }
        for (int64_t i = 0; i < n; i++) {
            if (failed[i]) {
                tokenizer_ids v = {0};
                int32_t *unused = NULL;
                int64_t len;
                int cut;
                prepare_text(tok, o, context, texts[i], lens[i], i, &v, &unused, &len, &cut, err, err_size);
                free(unused);
                tokenizer_ids_free(&v);
                rc = 1;
                break;
            }
            counts->truncated += truncated[i];
        }
        if (rc == 0 && truncated_rows) memcpy(truncated_rows, truncated, (size_t)n);
    }

    /* 2 and 3: batches */
    if (rc == 0) {
        counts->texts = n;
        rc = run_jobs(m, o, jobs, n, hs, rw, counts, err, err_size);
    }
    for (int64_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(jobs);
    free(failed);
    free(truncated);
    return rc;
}

/* ---- the pipeline: raw rows -> statistics -> kinds ---------------------------------------- */

static int kind_uses(moee_kind k, int part) { return part == 0 ? k != MOEE_KIND_RW : k != MOEE_KIND_HS; }
static const char *const part_names[2] = {"hs", "rw"};

/* What a call computes, decided once from the options and the wanted outputs, so that
 * every error about them comes before any work. */
typedef struct {
    int need_raw[2];      /* part rows (hs, rw) some kind or raw output needs */
    int need_std[2];      /* part rows some kind needs standardized */
    int need_stats[2];    /* statistics of the part: standardized, or asked for (stats_out) */
} plan;

static int make_plan(const moee_model *m, const moee_embed_options *o, const moee_output *out, int64_t n,
                     int raw_hs, int raw_rw, plan *p, char *err, size_t err_size) {
    const moee_model_info *info = moee_model_get_info(m);
    memset(p, 0, sizeof *p);
    if (o->standardize != MOEE_STANDARDIZE_AUTO && o->standardize != MOEE_STANDARDIZE_ON &&
        o->standardize != MOEE_STANDARDIZE_OFF) {
        snprintf(err, err_size, "unknown standardization mode %d", (int)o->standardize);
        return 1;
    }
    if (!(o->alpha >= 0) || !isfinite(o->alpha)) {
        snprintf(err, err_size, "alpha must be a number >= 0 (got %g)", (double)o->alpha);
        return 1;
    }
    p->need_raw[0] = raw_hs;
    p->need_raw[1] = raw_rw;
    for (int k = 0; k < MOEE_N_KINDS; k++) {
        if (!out->kinds[k]) continue;
        for (int part = 0; part < 2; part++)
            if (kind_uses((moee_kind)k, part)) {
                p->need_raw[part] = 1;
                p->need_std[part] |= moee_kind_standardized(o->standardize, (moee_kind)k);
            }
    }
    if (p->need_raw[1] && info->rw_dim == 0) {
        snprintf(err, err_size, "the model has no MoE layer, so no routing weights (rw)");
        return 1;
    }
    for (int part = 0; part < 2; part++)
        p->need_stats[part] = (p->need_std[part] && (n > 0 || o->stats)) || (out->stats_out && p->need_raw[part]);
    if (o->stats) {
        if (moee_statistics_check(o->stats, m, o, err, err_size)) return 1;
        for (int part = 0; part < 2; part++) {
            const moee_stats *s = part ? &o->stats->rw : &o->stats->hs;
            int64_t dim = part ? info->rw_dim : info->hs_dim;
            if (p->need_stats[part] && s->dim == 0) {
                snprintf(err, err_size, "the statistics hold no \"%s\" part (they were made for other kinds)",
                         part_names[part]);
                return 1;
            }
            if (p->need_stats[part] && s->dim != dim) {
                snprintf(err, err_size, "the \"%s\" statistics have %" PRId64 " dimensions, this model's %s has %" PRId64,
                         part_names[part], s->dim, part_names[part], dim);
                return 1;
            }
        }
    } else if (n < 2 && (p->need_stats[0] || p->need_stats[1])) {
        int k = 0;
        while (k < MOEE_N_KINDS && !(out->kinds[k] && moee_kind_standardized(o->standardize, (moee_kind)k))) k++;
        if (k < MOEE_N_KINDS)
            snprintf(err, err_size, "kind %s is standardized, and %" PRId64 " input%s cannot give the statistics "
                     "(a standard deviation needs at least 2): give statistics computed over a corpus, ask for "
                     "kind hs, or turn standardization off", moee_kind_name((moee_kind)k), n, n == 1 ? "" : "s");
        else
            snprintf(err, err_size, "statistics need at least 2 inputs (got %" PRId64 ")", n);
        return 1;
    }
    return 0;
}

int moee_kind_standardized(moee_standardize mode, moee_kind k) {
    return mode == MOEE_STANDARDIZE_ON || (mode == MOEE_STANDARDIZE_AUTO && k != MOEE_KIND_HS);
}

/* moee_embed_finish after make_plan. */
static int finish(const moee_model *m, const moee_embed_options *o, const plan *p, const float *raw_hs,
                  const float *raw_rw, int64_t n, moee_output *out, char *err, size_t err_size) {
    const moee_model_info *info = moee_model_get_info(m);
    const int64_t dims[2] = {info->hs_dim, info->rw_dim};
    const float *raw[2] = {raw_hs, raw_rw};
    /* A row with a NaN or an infinity is an error, not an output: only a model whose
     * weights are corrupt (or so large that the activations overflow) computes one,
     * and such a row would silently poison every similarity computed with it. */
    for (int part = 0; part < 2; part++) {
        if (!p->need_raw[part]) continue;
        if (!raw[part]) {
            snprintf(err, err_size, "the wanted kinds need the raw %s rows, and none were given", part_names[part]);
            return 1;
        }
        for (int64_t i = 0; i < n * dims[part]; i++)
            if (!isfinite(raw[part][i])) {
                snprintf(err, err_size, "%s %" PRId64 ": the model computed non-finite values (NaN or infinity): "
                         "its weights are corrupt or too large", o->token_ids ? "sequence" : "text", i / dims[part]);
                return 1;
            }
    }

    moee_statistics own = {0};
    const moee_stats *use[2] = {NULL, NULL};
    float *std_rows[2] = {NULL, NULL};
    int rc = 1;
    for (int part = 0; part < 2; part++) {
        if (!p->need_stats[part]) continue;
        if (o->stats) {
            use[part] = part ? &o->stats->rw : &o->stats->hs;
            continue;
        }
        moee_stats *s = part ? &own.rw : &own.hs;
        char msg[256];
        if (moee_stats_compute(raw[part], n, dims[part], s, msg, sizeof msg)) {
            snprintf(err, err_size, "%s: %s", part_names[part], msg);
            goto done;
        }
        use[part] = s;
    }
    for (int part = 0; part < 2; part++) {
        if (!p->need_std[part] || !use[part]) continue;   /* n == 0: nothing to standardize */
        size_t count = (size_t)(n * dims[part]);
        if (!(std_rows[part] = malloc((count ? count : 1) * sizeof(float)))) {
            snprintf(err, err_size, "out of memory (%" PRId64 " %s rows)", n, part_names[part]);
            goto done;
        }
        memcpy(std_rows[part], raw[part], count * sizeof(float));
        moee_stats_apply(use[part], std_rows[part], n);
    }
    for (int k = 0; k < MOEE_N_KINDS; k++) {
        if (!out->kinds[k]) continue;
        int z = moee_kind_standardized(o->standardize, (moee_kind)k);
        moee_kind_combine((moee_kind)k, z && std_rows[0] ? std_rows[0] : raw[0], z && std_rows[1] ? std_rows[1] : raw[1],
                          n, dims[0], dims[1], o->alpha, out->kinds[k]);
    }
    if (out->stats_out) {
        moee_statistics *so = out->stats_out;
        if (o->stats ? moee_statistics_copy(o->stats, so) : moee_statistics_provenance(&own, m, o)) {
            snprintf(err, err_size, "out of memory (statistics)");
            goto done;
        }
        if (!o->stats) {
            *so = own;
            memset(&own, 0, sizeof own);
        }
    }
    rc = 0;
done:
    moee_statistics_free(&own);
    free(std_rows[0]);
    free(std_rows[1]);
    return rc;
}

int moee_embed_finish(const moee_model *m, const moee_embed_options *o, const float *raw_hs,
                      const float *raw_rw, int64_t n, moee_output *out, char *err, size_t err_size) {
    plan p;
    if (n < 0) { snprintf(err, err_size, "negative input count %" PRId64, n); return 1; }
    if (make_plan(m, o, out, n, 0, 0, &p, err, err_size)) return 1;
    return finish(m, o, &p, raw_hs, raw_rw, n, out, err, err_size);
}

int moee_embed(const moee_model *m, const moee_embed_options *o, const moee_input *in,
               moee_output *out, char *err, size_t err_size) {
    memset(&out->counts, 0, sizeof out->counts);
    if (!in || (!in->texts == !in->ids) || in->n < 0) {
        snprintf(err, err_size, "the input needs exactly one of texts and ids, and n >= 0");
        return 1;
    }
    int64_t n = in->n;
    moee_embed_options eo = *o;
    eo.token_ids = in->ids != NULL;
    plan p;
    if (make_plan(m, &eo, out, n, out->raw_hs != NULL, out->raw_rw != NULL, &p, err, err_size)) return 1;

    const moee_model_info *info = moee_model_get_info(m);
    size_t rows = (size_t)(n > 0 ? n : 1);
    float *hs = !p.need_raw[0] ? NULL : out->raw_hs ? out->raw_hs : malloc(rows * (size_t)info->hs_dim * sizeof *hs);
    float *rw = !p.need_raw[1] ? NULL : out->raw_rw ? out->raw_rw : malloc(rows * (size_t)info->rw_dim * sizeof *rw);
    char *truncated = calloc(rows, 1);
    size_t *lens = in->texts && !in->lens ? malloc(rows * sizeof *lens) : NULL;
    int rc = 1;
    if ((p.need_raw[0] && !hs) || (p.need_raw[1] && !rw) || !truncated || (in->texts && !in->lens && !lens)) {
        snprintf(err, err_size, "out of memory (%" PRId64 " inputs)", n);
        goto done;
    }
    for (int64_t i = 0; lens && i < n; i++) lens[i] = strlen(in->texts[i]);

#ifdef _OPENMP
    /* tokenizing runs on OpenMP threads (the forward pass on the context's own team) */
    int saved_threads = omp_get_max_threads();   /* this thread's setting: other callers keep theirs */
    if (eo.threads > 0) omp_set_num_threads(eo.threads);
#endif
    rc = in->ids ? moee_embed_ids(m, &eo, in->ids, in->id_lens, n, hs, rw, &out->counts, truncated, err, err_size)
                 : moee_embed_raw(m, &eo, in->texts, lens ? lens : in->lens, n, hs, rw, &out->counts, truncated,
                                  err, err_size);
#ifdef _OPENMP
    omp_set_num_threads(saved_threads);
#endif
    if (rc == 0 && out->truncated_rows)
        for (int64_t i = 0, t = 0; i < n; i++)
            if (truncated[i]) out->truncated_rows[t++] = i;
    if (rc == 0) rc = finish(m, &eo, &p, hs, rw, n, out, err, err_size);
done:
    if (hs != out->raw_hs) free(hs);
    if (rw != out->raw_rw) free(rw);
    free(truncated);
    free(lens);
    return rc;
}
