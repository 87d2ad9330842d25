/* cmd_eval.c: `moee eval`, MTEB-style evaluation of embeddings on the six task
 * types (STS, PairClassification, Reranking, Classification, Clustering,
 * Summarization) over datasets in the JSONL layout of shared/datasets.
 *
 * Two sources of embeddings:
 *   -m MODEL.gguf      every text a task needs is embedded once (deduplicated) with
 *                      moee_embed -> raw HS and RW; each requested kind (hs, rw,
 *                      moee, moee-sum at one or several alphas) is built from those
 *                      same vectors by moee_embed_finish, standardized over the
 *                      task's texts as `moee embed` does (on for rw / moee /
 *                      moee-sum, off for hs);
 *   --embeddings FILE  vectors computed elsewhere: JSONL {"text", "embedding"} (what
 *                      `moee embed -o X.jsonl` writes for one kind; other keys such
 *                      as its "id" are ignored), which must cover every text the task uses.
 * Each (task, kind) gives one JSON result file (schema in tools/eval/results.c) and a
 * cell of the summary table printed at the end.
 *
 * Seeds (results are identical across runs and thread counts): classification
 * undersampling uses one permutation seeded --seed (default 42) and reshuffled per
 * experiment; k-means restarts draw from one stream seeded --seed.
 *
 * Deliberate differences from MTEB (and from the paper's code, shared/spec/EVAL.md):
 *   - one embedding per text whatever the kind; moee-sum is scored through its own
 *     vector (its dot product is the paper's similarity sum): no averaging of class
 *     ids or cluster ids, no dot product taken from another kind;
 *   - PairClassification: main score cosine_ap (MTEB's original), max_ap beside it;
 *     no best-threshold accuracy / F1;
 *   - Summarization: mean of the per-text Spearman correlations (not mixed with
 *     p-values, MTEB issue 1156); relevance not divided by 5 (no effect on ranks);
 *   - Clustering: full k-means (greedy k-means++, 10 restarts, best inertia, fixed
 *     seed) instead of one MiniBatchKMeans run on a global RNG;
 *   - Classification: MTEB's undersampling with our seeded generator (so other
 *     samples than numpy's); the test split only (MTEB also scores Emotion's
 *     validation split); with --samples-per-label all, one experiment;
 *   - Reranking: MRR@10 from the same embedding as MAP; ties keep input order;
 *   - standardization statistics: all of the task's texts (not each encode batch). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/moee.h"
#include "tools/cmd.h"
#include "tools/options.h"
#include "tools/eval/data.h"
#include "tools/eval/jsonl.h"
#include "tools/eval/results.h"
#include "tools/eval/tasks.h"
#include "tools/eval/util.h"

#define MAX_KINDS 4
#define MAX_ALPHAS 16

typedef struct {
    const char *data, *task, *model, *embeddings, *output, *output_dir;
    int type;                               /* -1 = from the folder name */
    eval_load_options load;
    eval_run_options run;
    /* embedding options (model mode) */
    int kinds[MAX_KINDS], n_kinds;
    float alphas[MAX_ALPHAS];
    int n_alphas;
    const char *prompt, *template_text, *instruction;
    int task_instruction;                   /* --task-instruction: each dataset's e5 instruction */
    moee_standardize standardize;
    moee_rw_source rw_source;
    moee_pool pool;
    int64_t batch_tokens;
    int threads, quiet;
} options;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *out) {
    fprintf(out,
        "usage: moee eval --data DIR [--task NAME[,NAME..]] [--type TYPE]\n"
        "                 (-m MODEL.gguf [embedding options] | --embeddings FILE.jsonl)\n"
        "                 [--output RESULT.json | --output-dir DIR] [options]\n"
        "\n"
        "  --data DIR            one dataset folder (test.jsonl ...), or a folder of dataset\n"
        "                        folders: all of them are run (the full suite)\n"
        "  --task NAMES          in a folder of datasets: only these (comma-separated); for one\n"
        "                        dataset folder: the MTEB name to use for it\n"
        "  --type TYPE           STS | PairClassification | Reranking | Classification |\n"
        "                        Clustering | Summarization: the type of the dataset folder, or,\n"
        "                        for a folder of datasets, only datasets of that type\n"
        "                        (default: known from the dataset's MTEB name)\n"
        "  --embeddings FILE     JSONL of {\"text\": ..., \"embedding\": [...]} covering every text\n"
        "                        (what moee embed -o FILE.jsonl writes for one kind)\n"
        "  --output FILE         the result file (one task and one kind only)\n"
        "  --output-dir DIR      one result file per task and kind, TASK.KIND.json\n"
        "                        (default: eval-results)\n"
        "  --n-experiments N     Classification experiments (default 10)\n"
        "  --samples-per-label N|all  Classification training samples per label (default:\n"
        "                        MTEB's per dataset: Emotion 16, TweetSentiment 32, others 8)\n"
        "  --seed N              seed of the undersampling and of k-means (default 42)\n"
        "  --kmeans-restarts N   k-means++ restarts, best inertia kept (default 10)\n"
        "  -q, --quiet           no progress on stderr\n"
        "\n"
        "embedding options (with -m, as in moee embed):\n"
        "  --kind LIST           hs,rw,moee,moee-sum (default: all four)\n"
        "  --alpha LIST          moee-sum weights, comma-separated (default 1)\n"
        "  --prompt NAME         none|prompteol|style|sentiment|tone|intent|complexity|\n"
        "                        subjectivity|language_style|grammar_structure|raw (default none)\n"
        "  --template TEXT       a custom template containing *sent 0*\n"
        "  --instruction TEXT    one instruction for every task, <|user|>\\n..\\n<|embed|>\\n format\n"
        "  --task-instruction    each dataset's e5 instruction (the paper's; reranking\n"
        "                        candidates get an empty one, as GritLM's corpus format)\n"
        "  --standardize M       auto, on or off: z-score HS and RW over the task's texts\n"
        "                        (default: auto = on for rw, moee, moee-sum; off for hs)\n"
        "  --rw-source auto|logits|probs   (default auto: as the paper's code per architecture)\n"
        "  --pool last|mean      (default last)\n"
        "  --batch-tokens N      tokens per forward batch (default 3072)\n"
        "  -t N                  threads (default: all cores); results do not depend on it\n");
}

/* ---- option parsing ------------------------------------------------------------- */

static int parse_options(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->type = -1;
    eval_load_options_init(&o->load);
    eval_run_options_init(&o->run);
    o->prompt = "none";
    o->standardize = MOEE_STANDARDIZE_AUTO;
    o->rw_source = MOEE_RW_AUTO;
    o->pool = MOEE_POOL_LAST;
    o->batch_tokens = MOEE_DEFAULT_BATCH_TOKENS;
    const char *kinds = "hs,rw,moee,moee-sum", *alphas = "1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int64_t n;
#define NEED_VALUE() do { if (opt_value("eval", argc, argv, &i, &v)) return -1; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o->quiet = 1;
        else if (!strcmp(a, "--task-instruction")) o->task_instruction = 1;
        else if (!strcmp(a, "--data")) { NEED_VALUE(); o->data = v; }
        else if (!strcmp(a, "--task")) { NEED_VALUE(); o->task = v; }
        else if (!strcmp(a, "--type")) {
            NEED_VALUE();
            if ((o->type = eval_type_from_name(v)) < 0) {
                fprintf(stderr, "moee eval: unknown --type '%s' (STS, PairClassification, Reranking, Classification, Clustering, Summarization)\n", v);
                return -1;
            }
        }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED_VALUE(); o->model = v; }
        else if (!strcmp(a, "--embeddings")) { NEED_VALUE(); o->embeddings = v; }
        else if (!strcmp(a, "--output") || !strcmp(a, "-o")) { NEED_VALUE(); o->output = v; }
        else if (!strcmp(a, "--output-dir")) { NEED_VALUE(); o->output_dir = v; }
        else if (!strcmp(a, "--n-experiments")) {
            NEED_VALUE();
            if (opt_int("eval", a, v, 1, 1000, &n)) return -1;
            o->load.n_experiments = (int)n;
        }
        else if (!strcmp(a, "--samples-per-label")) {
            NEED_VALUE();
            if (!strcmp(v, "all")) o->load.samples_per_label = 0;
            else if (opt_int("eval", a, v, 1, 1000000, &n)) return -1;
            else o->load.samples_per_label = (int)n;
        }
        else if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            if (opt_int("eval", a, v, 0, INT64_MAX, &n)) return -1;
            o->load.seed = o->run.kmeans.seed = (uint64_t)n;
        }
        else if (!strcmp(a, "--kmeans-restarts")) {
            NEED_VALUE();
            if (opt_int("eval", a, v, 1, 1000, &n)) return -1;
            o->run.kmeans.n_init = (int)n;
        }
        else if (!strcmp(a, "--kind")) { NEED_VALUE(); kinds = v; }
        else if (!strcmp(a, "--alpha")) { NEED_VALUE(); alphas = v; }
        else if (!strcmp(a, "--prompt")) { NEED_VALUE(); o->prompt = v; }
        else if (!strcmp(a, "--template")) { NEED_VALUE(); o->template_text = v; }
        else if (!strcmp(a, "--instruction")) { NEED_VALUE(); o->instruction = v; }
        else if (!strcmp(a, "--standardize")) {
            NEED_VALUE();
            if (!strcmp(v, "auto")) o->standardize = MOEE_STANDARDIZE_AUTO;
            else if (!strcmp(v, "on")) o->standardize = MOEE_STANDARDIZE_ON;
            else if (!strcmp(v, "off")) o->standardize = MOEE_STANDARDIZE_OFF;
            else { fprintf(stderr, "moee eval: --standardize must be auto, on or off\n"); return -1; }
        }
        else if (!strcmp(a, "--rw-source")) {
            NEED_VALUE();
            if (!strcmp(v, "auto")) o->rw_source = MOEE_RW_AUTO;
            else if (!strcmp(v, "logits")) o->rw_source = MOEE_RW_LOGITS;
            else if (!strcmp(v, "probs")) o->rw_source = MOEE_RW_PROBS;
            else { fprintf(stderr, "moee eval: --rw-source must be auto, logits or probs\n"); return -1; }
        }
        else if (!strcmp(a, "--pool")) {
            NEED_VALUE();
            if (!strcmp(v, "last")) o->pool = MOEE_POOL_LAST;
            else if (!strcmp(v, "mean")) o->pool = MOEE_POOL_MEAN;
            else { fprintf(stderr, "moee eval: --pool must be last or mean\n"); return -1; }
        }
        else if (!strcmp(a, "--batch-tokens")) {
            NEED_VALUE();
            if (opt_int("eval", a, v, 1, INT32_MAX, &n)) return -1;
            o->batch_tokens = n;
        }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            NEED_VALUE();
            if (opt_int("eval", a, v, 1, 4096, &n)) return -1;
            o->threads = (int)n;
        }
        else { opt_unknown("eval", a); return -1; }
#undef NEED_VALUE
    }
    if (!o->data) { fprintf(stderr, "moee eval: --data DIR is required (moee eval --help)\n"); return -1; }
    if (!o->model == !o->embeddings) { fprintf(stderr, "moee eval: give either -m MODEL.gguf or --embeddings FILE.jsonl\n"); return -1; }
    if (o->output && o->output_dir) { fprintf(stderr, "moee eval: give --output or --output-dir, not both\n"); return -1; }
    if (o->instruction && o->task_instruction) { fprintf(stderr, "moee eval: give --instruction or --task-instruction, not both\n"); return -1; }
    if (o->embeddings) return 0;
    /* kinds and alphas */
    char *list = eval_strdup(kinds), *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        int kind = moee_kind_from_name(k);
        if (kind < 0) { fprintf(stderr, "moee eval: unknown kind '%s' (hs, rw, moee, moee-sum)\n", k); free(list); return -1; }
        int seen = 0;
        for (int j = 0; j < o->n_kinds; j++) seen |= o->kinds[j] == kind;
        if (!seen && o->n_kinds < MAX_KINDS) o->kinds[o->n_kinds++] = kind;
    }
    free(list);
    if (!o->n_kinds) { fprintf(stderr, "moee eval: --kind is empty\n"); return -1; }
    list = eval_strdup(alphas);
    for (char *x = strtok_r(list, ",", &save); x; x = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        double alpha = strtod(x, &end);
        if (errno || end == x || *end || !(alpha >= 0) || !isfinite(alpha) || o->n_alphas == MAX_ALPHAS) {
            fprintf(stderr, "moee eval: --alpha takes up to %d non-negative numbers, got '%s'\n", MAX_ALPHAS, x);
            free(list);
            return -1;
        }
        o->alphas[o->n_alphas++] = (float)alpha;
    }
    free(list);
    if (!o->n_alphas) { fprintf(stderr, "moee eval: --alpha is empty\n"); return -1; }
    return 0;
}

/* ---- which datasets ------------------------------------------------------------------ */

static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len + (comma != NULL);
    }
    return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The dataset folders to run (paths, malloc'ed), sorted by name. */
static int list_datasets(const options *o, char ***out, int *count) {
    *out = NULL;
    *count = 0;
    if (eval_is_dataset_dir(o->data)) {
        *out = eval_calloc(1, sizeof **out);
        (*out)[0] = eval_strdup(o->data);
        *count = 1;
        return 0;
    }
    DIR *dir = opendir(o->data);
    if (!dir) { fprintf(stderr, "moee eval: %s: %s\n", o->data, strerror(errno)); return -1; }
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(o->data) + strlen(e->d_name) + 2;
        char *path = eval_calloc(n, 1);
        snprintf(path, n, "%s/%s", o->data, e->d_name);
        int want = eval_is_dataset_dir(path) && (!o->task || in_list(o->task, e->d_name));
        /* --type keeps the datasets of that type, and types the ones moee does not know */
        int known = eval_known_type(e->d_name);
        if (want && o->type >= 0 && known >= 0) want = known == o->type;
        if (!want) { free(path); continue; }
        if (*count == cap) { cap = cap ? 2 * cap : 32; *out = eval_realloc(*out, (size_t)cap, sizeof **out); }
        (*out)[(*count)++] = path;
    }
    closedir(dir);
    if (*count > 1) qsort(*out, (size_t)*count, sizeof **out, compare_names);   /* (*out is NULL when empty) */
    if (!*count) {
        fprintf(stderr, "moee eval: %s: no dataset folders%s (a dataset folder holds test.jsonl)\n", o->data,
                o->task || o->type >= 0 ? " matching --task/--type" : "");
        return -1;
    }
    return 0;
}

/* ---- embeddings from a JSONL file ---------------------------------------------------- */

/* Fills emb [texts][dim] (allocated here) from the lines of path whose text the
 * task uses. Every used text must be covered. */
static int embeddings_from_file(const char *path, const eval_dataset *d, double **emb_out, int64_t *dim_out,
                                char *err, size_t err_size) {
    eval_jsonl r;
    if (eval_jsonl_open(&r, path, err, err_size)) return -1;
    int64_t dim = -1;
    double *emb = NULL;
    unsigned char *have = eval_calloc((size_t)d->texts.count, 1);
    const json_value *v;
    int rc;
    while ((rc = eval_jsonl_next(&r, &v, err, err_size)) == 1) {
        const char *s;
        size_t len;
        const json_value *e = json_get(v, "embedding");
        if (!json_get_string(json_get(v, "text"), &s, &len)) { eval_jsonl_error(&r, err, err_size, "missing \"text\" (a string)"); rc = -1; break; }
        if (!e || e->kind != JSON_ARRAY || e->u.array.count == 0) { eval_jsonl_error(&r, err, err_size, "missing \"embedding\" (an array of numbers)"); rc = -1; break; }
        if (dim < 0) { dim = (int64_t)e->u.array.count; emb = eval_calloc((size_t)(d->texts.count * dim), sizeof *emb); }
        if ((int64_t)e->u.array.count != dim) {
            eval_jsonl_error(&r, err, err_size, "embedding has %zu numbers, earlier lines %lld", e->u.array.count, (long long)dim);
            rc = -1;
            break;
        }
        /* the same text may be used as a query and as a document */
        for (int document = 0; document < 2 && rc > 0; document++) {
            int64_t t = eval_texts_find(&d->texts, s, len, document);
            if (t < 0 || have[t]) continue;   /* unused, or already given: the first line wins */
            for (int64_t j = 0; j < dim; j++)
                if (!json_get_number(&e->u.array.items[j], &emb[t * dim + j]) || !isfinite(emb[t * dim + j])) {
                    eval_jsonl_error(&r, err, err_size, "embedding[%lld] is not a finite number", (long long)j);
                    rc = -1;
                    break;
                }
            have[t] = 1;
        }
        if (rc < 0) break;
    }
    eval_jsonl_close(&r);
    if (rc == 0) {
        for (int64_t t = 0; t < d->texts.count; t++)
            if (!have[t]) {
                snprintf(err, err_size, "%s does not cover every text of %s: no embedding for \"%.60s%s\"", path, d->name,
                         d->texts.text[t], d->texts.len[t] > 60 ? "..." : "");
                rc = -1;
                break;
            }
    }
    free(have);
    if (rc < 0) { free(emb); return -1; }
    *emb_out = emb;
    *dim_out = dim;
    return 0;
}

/* ---- one dataset ----------------------------------------------------------------------- */

typedef struct {
    const options *o;
    moee_model *model;
    eval_table table;
    int n_results;
} run_state;

static int make_dir(const char *path) {
    if (mkdir(path, 0777) && errno != EEXIST) { fprintf(stderr, "moee eval: %s: %s\n", path, strerror(errno)); return -1; }
    return 0;
}

/* Writes the result file of one (task, column) and adds the table cell. */
static int report(run_state *st, eval_result *r, const char *column) {
    const options *o = st->o;
    char err[1024];
    eval_table_set(&st->table, r->dataset->name, column, r->scores->n ? r->scores->value[0] : NAN);
    char *path;
    if (o->output) path = eval_strdup(o->output);
    else {
        const char *dir = o->output_dir ? o->output_dir : "eval-results";
        if (make_dir(dir)) return -1;
        size_t n = strlen(dir) + strlen(r->dataset->name) + strlen(column) + 16;
        path = eval_calloc(n, 1);
        if (r->kind) snprintf(path, n, "%s/%s.%s.json", dir, r->dataset->name, column);
        else snprintf(path, n, "%s/%s.json", dir, r->dataset->name);
    }
    int rc = eval_result_write(path, r, err, sizeof err);
    if (rc) fprintf(stderr, "moee eval: %s\n", err);
    free(path);
    st->n_results++;
    return rc;
}

static void fill_common(eval_result *r, const options *o, const eval_dataset *d, const eval_scores *s) {
    memset(r, 0, sizeof *r);
    r->dataset = d;
    r->scores = s;
    r->alpha = NAN;
    r->embed_seconds = NAN;
    r->standardize = -1;
    r->kmeans_seed = (int64_t)o->run.kmeans.seed;
    r->kmeans_restarts = o->run.kmeans.n_init;
    r->classification_seed = (int64_t)o->load.seed;
}

static int run_with_file(run_state *st, const eval_dataset *d) {
    const options *o = st->o;
    char err[1024];
    double t0 = now(), *emb = NULL;
    int64_t dim = 0;
    if (embeddings_from_file(o->embeddings, d, &emb, &dim, err, sizeof err)) { fprintf(stderr, "moee eval: %s\n", err); return -1; }
    eval_scores scores;
    if (eval_run_task(d, emb, dim, &o->run, &scores, err, sizeof err)) { fprintf(stderr, "moee eval: %s\n", err); free(emb); return -1; }
    free(emb);
    eval_result r;
    fill_common(&r, o, d, &scores);
    r.embeddings = o->embeddings;
    r.seconds = now() - t0;
    return report(st, &r, "embeddings");
}

/* The embedding options of a task (instruction: the queries'). */
static moee_embed_options embed_options(const options *o, const char *instruction) {
    moee_embed_options eo;
    moee_embed_options_init(&eo);
    eo.template_name = o->prompt;
    eo.custom_template = o->template_text;
    eo.instruction = instruction;
    eo.pool = o->pool;
    eo.rw_source = o->rw_source;
    eo.batch_tokens = o->batch_tokens;
    eo.threads = o->threads;
    eo.standardize = o->standardize;
    return eo;
}

/* Raw HS and RW of every text of d. Reranking candidates ("documents") get an empty
 * instruction when an instruction is in use. */
static int embed_texts(run_state *st, const eval_dataset *d, const char *instruction, float *hs, float *rw,
                       int64_t hs_dim, int64_t rw_dim, char *err, size_t err_size) {
    const options *o = st->o;
    const eval_texts *t = &d->texts;
    const char **texts = eval_calloc((size_t)t->count, sizeof *texts);
    size_t *lens = eval_calloc((size_t)t->count, sizeof *lens);
    int64_t *rows = eval_calloc((size_t)t->count, sizeof *rows);
    float *part_hs = eval_calloc((size_t)(t->count * hs_dim), sizeof *part_hs);
    float *part_rw = eval_calloc((size_t)(t->count * rw_dim), sizeof *part_rw);
    int rc = 0;
    for (int document = 0; document < 2 && !rc; document++) {
        int64_t n = 0;
        for (int64_t i = 0; i < t->count; i++)
            if (t->document[i] == document) { texts[n] = t->text[i]; lens[n] = t->len[i]; rows[n] = i; n++; }
        if (!n) continue;
        moee_embed_options eo = embed_options(o, instruction ? (document ? "" : instruction) : NULL);
        moee_input in = {.texts = texts, .lens = lens, .n = n};
        moee_output out = {.raw_hs = part_hs, .raw_rw = part_rw};
        char msg[768];
        if (moee_embed(st->model, &eo, &in, &out, msg, sizeof msg)) {
            snprintf(err, err_size, "%s: %s", d->name, msg);
            rc = -1;
            break;
        }
        for (int64_t k = 0; k < n; k++) {
            memcpy(hs + rows[k] * hs_dim, part_hs + k * hs_dim, (size_t)hs_dim * sizeof *hs);
            memcpy(rw + rows[k] * rw_dim, part_rw + k * rw_dim, (size_t)rw_dim * sizeof *rw);
        }
        if (out.counts.truncated && !o->quiet)
            fprintf(stderr, "moee eval: %s: %lld texts truncated to the model's context\n", d->name, (long long)out.counts.truncated);
    }
    free(texts); free(lens); free(rows); free(part_hs); free(part_rw);
    return rc;
}

static int run_with_model(run_state *st, const eval_dataset *d) {
    const options *o = st->o;
    const moee_model_info *info = moee_model_get_info(st->model);
    int64_t n = d->texts.count, hs_dim = info->hs_dim, rw_dim = info->rw_dim;
    char err[1024];
    const char *instruction = o->instruction ? o->instruction : o->task_instruction ? eval_task_instruction(d->name) : NULL;
    double t0 = now();
    float *hs = eval_calloc((size_t)(n * hs_dim), sizeof *hs), *rw = eval_calloc((size_t)(n * rw_dim), sizeof *rw);
    if (embed_texts(st, d, instruction, hs, rw, hs_dim, rw_dim, err, sizeof err)) {
        fprintf(stderr, "moee eval: %s\n", err);
        free(hs); free(rw);
        return -1;
    }
    double embed_seconds = now() - t0;
    if (!o->quiet) fprintf(stderr, "moee eval: %s: %lld texts embedded in %.1f s\n", d->name, (long long)n, embed_seconds);
    float *combined = eval_calloc((size_t)(n * (hs_dim + rw_dim)), sizeof *combined);
    double *emb = eval_calloc((size_t)(n * (hs_dim + rw_dim)), sizeof *emb);
    int rc = 0;
    for (int ki = 0; ki < o->n_kinds && !rc; ki++) {
        moee_kind kind = (moee_kind)o->kinds[ki];
        int n_alphas = kind == MOEE_KIND_MOEE_SUM ? o->n_alphas : 1;
        for (int ai = 0; ai < n_alphas && !rc; ai++) {
            double t1 = now();
            /* the kinds of the task's texts: statistics over all of them, queries and documents */
            moee_embed_options eo = embed_options(o, instruction);
            eo.alpha = kind == MOEE_KIND_MOEE_SUM ? o->alphas[ai] : 1.0f;
            moee_output out = {0};
            out.kinds[kind] = combined;
            if (moee_embed_finish(st->model, &eo, hs, rw, n, &out, err, sizeof err)) {
                fprintf(stderr, "moee eval: %s: %s\n", d->name, err);
                rc = -1;
                break;
            }
            int64_t dim = moee_kind_dim(kind, hs_dim, rw_dim);
            for (int64_t i = 0; i < n * dim; i++) emb[i] = combined[i];
            eval_scores scores;
            if (eval_run_task(d, emb, dim, &o->run, &scores, err, sizeof err)) { fprintf(stderr, "moee eval: %s\n", err); rc = -1; break; }
            char column[64];
            if (kind == MOEE_KIND_MOEE_SUM) snprintf(column, sizeof column, "%s@%g", moee_kind_name(kind), (double)eo.alpha);
            else snprintf(column, sizeof column, "%s", moee_kind_name(kind));
            eval_result r;
            fill_common(&r, o, d, &scores);
            r.kind = moee_kind_name(kind);
            r.alpha = kind == MOEE_KIND_MOEE_SUM ? (double)eo.alpha : NAN;
            r.model = o->model;
            r.prompt = o->template_text ? NULL : o->prompt;
            r.template_text = o->template_text;
            r.instruction = instruction;
            r.standardize = moee_kind_standardized(o->standardize, kind);
            r.embed_seconds = embed_seconds;
            r.seconds = embed_seconds + (now() - t1);
            rc = report(st, &r, column);
        }
    }
    free(hs); free(rw); free(combined); free(emb);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o)) return 1;
    char **paths;
    int n_paths;
    if (list_datasets(&o, &paths, &n_paths)) return 1;
    int one_dataset = eval_is_dataset_dir(o.data);
    int n_columns = o.embeddings ? 1 : 0;
    for (int k = 0; k < o.n_kinds; k++) n_columns += o.kinds[k] == MOEE_KIND_MOEE_SUM ? o.n_alphas : 1;
    int rc = 0;
    if (o.output && (n_paths != 1 || n_columns != 1)) {
        fprintf(stderr, "moee eval: --output takes one task and one kind; use --output-dir for %d task%s x %d kind%s\n", n_paths,
                opt_plural(n_paths), n_columns, opt_plural(n_columns));
        rc = 1;
    }
    run_state st = {&o, NULL, {0}, 0};
    if (!rc && o.threads) {
        moee_set_threads(o.threads);
#ifdef _OPENMP
        omp_set_num_threads(o.threads);
#endif
    }
    char err[1024];
    if (!rc && o.model && moee_model_load(o.model, &st.model, err, sizeof err)) {
        fprintf(stderr, "moee eval: %s\n", err);
        rc = 1;
    }
    double t_start = now();
    for (int i = 0; i < n_paths && !rc; i++) {
        eval_dataset d;
        /* --task names a single dataset folder; in a suite it selects folders */
        const char *base = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        int type = one_dataset || eval_known_type(base) < 0 ? o.type : -1;
        eval_load_options load = o.load;
        if (one_dataset) load.name = o.task;
        if (eval_dataset_load(&d, paths[i], type, &load, err, sizeof err)) {
            fprintf(stderr, "moee eval: %s\n", err);
            eval_dataset_free(&d);
            rc = 1;
            break;
        }
        if (!o.quiet) fprintf(stderr, "moee eval: %s (%s): %lld items, %lld texts\n", d.name, eval_type_name(d.type),
                              (long long)d.n_items, (long long)d.texts.count);
        rc = (o.embeddings ? run_with_file(&st, &d) : run_with_model(&st, &d)) ? 1 : 0;
        eval_dataset_free(&d);
    }
    if (!rc) {
        eval_table_print(&st.table, stdout);
        if (!o.quiet) fprintf(stderr, "moee eval: %d results in %.1f s\n", st.n_results, now() - t_start);
    }
    eval_table_free(&st.table);
    if (st.model) moee_model_free(st.model);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    return rc;
}
