/* embed.c: texts (or token ids) in, raw HS and RW rows out, in input order.
 *
 *   1. each text -> prompt (prompt.c) -> token ids (the model's tokenizer), all
 *      texts in parallel; a text whose prompt is longer than the context is
 *      truncated (or rejected);
 *   2. sequences sorted by length, longest first, and packed greedily into forward
 *      batches of at most batch_tokens tokens (so similar lengths share a batch);
 *   3. moee_forward on each batch; its rows are copied to the rows of their texts.
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
#include "engine/embed.h"
#include "engine/model.h"
#include "tokenizer/tokenizer.h"

/* At most this many sequences per forward batch: bounds the per-batch output
 * buffers (short texts would otherwise make batch_tokens rows). */
#define MAX_BATCH_SEQS 512

void moee_embed_options_init(moee_embed_options *o) {
    memset(o, 0, sizeof *o);
    o->template_name = "none";
    o->pool = MOEE_POOL_LAST;
    o->rw_source = MOEE_RW_AUTO;
    o->batch_tokens = 8192;
    o->truncate = 1;
}

moee_rw_source moee_rw_source_resolve(const moee_model *m, moee_rw_source requested) {
    if (requested != MOEE_RW_AUTO) return requested;
    /* as the paper's code: DeepSeek's gate returns probabilities, the others logits */
    return strcmp(moee_model_get_info(m)->arch, "deepseek") == 0 ? MOEE_RW_PROBS : MOEE_RW_LOGITS;
}

static const moee_tokenizer *tokenizer_of(const moee_model *m, char *err, size_t err_size) {
    const moee_tokenizer *t = moee_model_tokenizer(m);
    if (!t) snprintf(err, err_size, "the model file carries no usable tokenizer (embed token ids instead)");
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

/* 1 if every x[0..n) is finite. */
static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Runs every job (each len >= 1 and <= context_length) and fills hs/rw rows.
 * noun ("text", "sequence") names a job's row in errors. A row with a NaN or an
 * infinity is an error, not an output: only a model whose weights are corrupt (or
 * so large that the activations overflow) computes one, and such a row would
 * silently poison every similarity computed with it. */
static int run_jobs(const moee_model *m, const moee_embed_options *o, job *jobs, int64_t n,
                    float *hs, float *rw, moee_embed_counts *counts, const char *noun,
                    char *err, size_t err_size) {
    if (n == 0 || (!hs && !rw)) return 0;
    const moee_model_info *info = moee_model_get_info(m);
    int64_t hs_dim = info->hs_dim, rw_dim = info->rw_dim;
    int probs = moee_rw_source_resolve(m, o->rw_source) == MOEE_RW_PROBS;

    qsort(jobs, (size_t)n, sizeof *jobs, longest_first);
    int64_t budget = o->batch_tokens > jobs[0].len ? o->batch_tokens : jobs[0].len;
    int64_t max_seqs = n < MAX_BATCH_SEQS ? n : MAX_BATCH_SEQS;
    if (max_seqs > budget) max_seqs = budget;

    moee_context *ctx = NULL;
    if (moee_context_create(m, budget, 0, &ctx, err, err_size)) return 1;
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
        for (int64_t s = 0; rc == 0 && s < count; s++) {
            int64_t row = jobs[done + s].row;
            if ((hs && !all_finite(batch_hs + s * hs_dim, hs_dim)) ||
                (rw && !all_finite(batch_rw + s * rw_dim, rw_dim))) {
                snprintf(err, err_size, "%s %" PRId64 ": the model computed non-finite values (NaN or "
                         "infinity): its weights are corrupt or too large", noun, row);
                rc = 1;
                break;
            }
            if (hs) memcpy(hs + row * hs_dim, batch_hs + s * hs_dim, (size_t)hs_dim * sizeof *hs);
            if (rw) memcpy(rw + row * rw_dim, batch_rw + s * rw_dim, (size_t)rw_dim * sizeof *rw);
        }
        if (rc) break;
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
                   float *hs, float *rw, moee_embed_counts *counts,
                   char *err, size_t err_size) {
    moee_embed_counts local;
    if (!counts) counts = &local;
    memset(counts, 0, sizeof *counts);
    if (check_options(o, err, err_size)) return 1;
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
        }
        jobs[i] = (job){ids[i], len, i};
    }
    counts->texts = n;
    int rc = run_jobs(m, o, jobs, n, hs, rw, counts, "sequence", err, err_size);
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

/* Start of the UTF-8 character holding byte i (at most 3 continuation bytes back). */
static size_t char_start(const char *s, size_t i) {
    for (int k = 0; k < 3 && i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80; k++) i--;
    return i;
}

/* Text i -> its ids (malloc'ed into *ids), truncated as the file comment says. */
static int prepare_text(const moee_tokenizer *tok, const moee_embed_options *o, int64_t context,
                        const char *text, size_t len, int64_t i, tokenizer_ids *v,
                        int32_t **ids, int64_t *n_ids, int *truncated, char *err, size_t err_size) {
    char msg[256];
    *truncated = 0;
    int64_t bad = o->replace_invalid_utf8 ? -1 : moee_utf8_check(text, len);
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
            size_t mid = char_start(text, lo + (hi - lo) / 2);
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
                   float *hs, float *rw, moee_embed_counts *counts,
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
        if (o->instruction && (bad = moee_utf8_check(o->instruction, strlen(o->instruction))) >= 0) {
            snprintf(err, err_size, "instruction: invalid UTF-8 at byte %" PRId64, bad);
            return 1;
        }
        if (o->custom_template && (bad = moee_utf8_check(o->custom_template, strlen(o->custom_template))) >= 0) {
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
    }

    /* 2 and 3: batches */
    if (rc == 0) {
        counts->texts = n;
        rc = run_jobs(m, o, jobs, n, hs, rw, counts, "text", err, err_size);
    }
    for (int64_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(jobs);
    free(failed);
    free(truncated);
    return rc;
}

/* ---- one call: texts -> one kind ------------------------------------------------------- */

/* Standardizes x [n][dim] in place with s, or with its own statistics when s is NULL. */
static int standardize_part(const char *part, float *x, int64_t n, int64_t dim, const moee_stats *s,
                            char *err, size_t err_size) {
    if (s) {
        if (s->dim != dim) {
            snprintf(err, err_size, "%s statistics have %" PRId64 " dimensions, the model's %s has %" PRId64,
                     part, s->dim, part, dim);
            return 1;
        }
        moee_stats_apply(s, x, n);
        return 0;
    }
    moee_stats own;
    char msg[256];
    if (moee_stats_compute(x, n, dim, &own, msg, sizeof msg)) {
        snprintf(err, err_size, "%s: %s", part, msg);
        return 1;
    }
    moee_stats_apply(&own, x, n);
    moee_stats_free(&own);
    return 0;
}

int moee_embed(const moee_model *m, const moee_embed_options *o, moee_kind kind, float alpha,
               int standardize, const moee_stats *hs_stats, const moee_stats *rw_stats,
               const char *const *texts, const size_t *lens, int64_t n, float *out,
               char *err, size_t err_size) {
    if (kind < MOEE_KIND_HS || kind > MOEE_KIND_MOEE_SUM) {
        snprintf(err, err_size, "unknown kind %d", (int)kind);
        return 1;
    }
    const moee_model_info *info = moee_model_get_info(m);
    int64_t H = info->hs_dim, R = info->rw_dim;
    int want_hs = kind != MOEE_KIND_RW, want_rw = kind != MOEE_KIND_HS;
    size_t rows = (size_t)(n > 0 ? n : 1);
    float *hs = want_hs ? malloc(rows * (size_t)H * sizeof *hs) : NULL;
    float *rw = want_rw ? malloc(rows * (size_t)R * sizeof *rw) : NULL;
    int rc = 1;
    if ((want_hs && !hs) || (want_rw && !rw)) {
        snprintf(err, err_size, "out of memory (%" PRId64 " texts)", n);
        goto done;
    }
    if (moee_embed_raw(m, o, texts, lens, n, hs, rw, NULL, err, err_size)) goto done;
    if (standardize && n > 0) {
        if (want_hs && standardize_part("hs", hs, n, H, hs_stats, err, err_size)) goto done;
        if (want_rw && standardize_part("rw", rw, n, R, rw_stats, err, err_size)) goto done;
    }
    moee_kind_combine(kind, hs, rw, n, H, R, alpha, out);
    rc = 0;
done:
    free(hs);
    free(rw);
    return rc;
}
