/* cmd_embed.c: `moee embed`, texts (or token ids) in, HS / RW / MoEE embeddings out.
 *
 *   read the input (embed_input.c) -> load the model (and --stats-in) -> moee_embed,
 *   the one pipeline (engine/embed.c): every requested kind, in input order -> .npy /
 *   .npz / .jsonl (output.c) -> the sidecar OUTPUT.json.
 *
 * Everything is written at the end through temporary files, so a failed or
 * interrupted run leaves no output that looks complete. A run to a regular file
 * computes its raw rows in chunks through a journal (embed_job.h), so that --resume
 * continues it after a crash and --shard K/N computes one range of the input for
 * `moee merge`, which enters this same pipeline with the shards' rows (cmd_embed.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "moee.h"
#include <sys/stat.h>
#include "tools/cmd.h"
#include "tools/cmd_embed.h"
#include "tools/embed_options.h"
#include "tools/embed_input.h"
#include "tools/options.h"
#include "tools/embed_job.h"
#include "tools/output.h"
#include "tools/shard.h"
#include "weights/digest.h"
#include "weights/file.h"
#include "weights/json.h"


static void usage(FILE *out) {
    fprintf(out,
"usage: moee embed -m MODEL.gguf [-i INPUT] [-o OUTPUT] [options]\n"
"\n"
"Embeds texts (one per line) with an MoE model as the MoEE paper does: HS (last hidden\n"
"state), RW (routing weights of every MoE layer), or both.\n"
"\n"
"input and output:\n"
"  -m, --model FILE        the model (GGUF); required\n"
"  -i, --input FILE        UTF-8 text, one text per line; an empty line is an empty text;\n"
"                          any readable file: - is standard input, pipes and FIFOs work\n"
"                          (default: standard input)\n"
"      --jsonl             the input is JSON Lines: one object per line\n"
"      --field NAME        JSONL field holding the text (default: text)\n"
"      --id-field NAME     JSONL field copied to .jsonl output as \"id\" (default: id)\n"
"      --ids FILE          pre-tokenized input instead of -i: one sequence per line, token\n"
"                          ids separated by spaces, run exactly as given (no prompt)\n"
"  -o, --output FILE       .npy (float32 [texts, dim], one kind), .npz (one array per kind,\n"
"                          e.g. hs.npy, moee-sum.npy) or .jsonl ({\"id\", \"text\", \"embedding\"}\n"
"                          per line, what moee eval --embeddings reads; with several kinds\n"
"                          one key per kind instead of \"embedding\"); a sidecar OUTPUT.json\n"
"                          (e.g. emb.npy.json) describes the run. A symlink is written\n"
"                          through; a device or FIFO is written straight, without sidecar\n"
"                          (default: standard output as .jsonl, without a sidecar)\n"
"      --format F          npy, npz or jsonl (default: from OUTPUT's extension)\n"
"\n"
"what to compute:\n"
"      --kind LIST         comma-separated: hs, rw, moee ([hs, rw]), moee-sum ([hs/|hs|,\n"
"                          sqrt(alpha) rw/|rw|]: its dot product is cos(hs) + alpha cos(rw))\n"
"                          (default: moee-sum)\n"
"      --alpha A           weight of RW in moee-sum, >= 0 (default: 1.0)\n"
"      --pool P            last (the last token, as the paper) or mean (default: last)\n"
"      --rw-source S       auto, logits or probs; auto = as the paper's code: router logits\n"
"                          for olmoe and qwen2moe, softmax probabilities for deepseek\n"
"                          (default: auto)\n"
"\n"
"prompt (built exactly as the paper's code builds it; not with --ids):\n"
"      --prompt NAME       none, prompteol, style, sentiment, tone, intent, complexity,\n"
"                          subjectivity, language_style, grammar_structure, or raw (the text\n"
"                          exactly as given) (default: none)\n"
"      --template TEXT     your own template; \"*sent 0*\" marks where the text goes\n"
"      --instruction TEXT  task instruction, as \"<|user|>\\nTEXT\\n<|embed|>\\n\" before the text\n"
"                          (default: none)\n"
"\n"
"standardization (z = (x - mean) / (std + 1e-8) per dimension, HS and RW apart):\n"
"      --standardize M     auto (on for rw, moee, moee-sum; off for hs), on, or off\n"
"                          (default: auto)\n"
"      --stats-in FILE     use statistics saved earlier instead of the input's own\n"
"      --stats-out FILE    save the statistics of this input (JSON)\n"
"\n"
"running:\n"
"      --batch-tokens N    token budget of one forward batch; a longer text runs alone\n"
"                          (default: 3072)\n"
"  -t, --threads N         threads (default: all cores); results never depend on it\n"
"      --no-truncate       a text longer than the model's context is an error\n"
"                          (default: keep the longest start of the text whose prompt fits,\n"
"                          and report how many texts were cut)\n"
"      --replace-invalid   invalid UTF-8 becomes U+FFFD (default: an error naming the line)\n"
"  -q, --quiet             no progress or summary on stderr\n"
"\n"
"long jobs (a journal OUTPUT.journal beside the output keeps finished texts; it is\n"
"removed when the run succeeds):\n"
"      --resume            continue an interrupted run of the same command: the model, the\n"
"                          input's content and every option but -t, --batch-tokens and -q\n"
"                          must be the same (default: start anew; an old journal is an error)\n"
"      --shard K/N         embed only the K-th (0-based) of N contiguous ranges of the input\n"
"                          into OUTPUT, a shard of raw vectors for moee merge; resumable\n"
"                          with --resume. --shard auto takes K and N from a Slurm job array\n"
"                          (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) (default: the whole input)\n"
"  -h, --help              this help\n");
}

/* ---- options ---------------------------------------------------------------------------- */

enum { FMT_NONE = 0, FMT_NPY, FMT_NPZ, FMT_JSONL };

typedef struct {
    const char *model, *input, *output, *ids_path, *stats_in, *stats_out;
    int jsonl, format, quiet;
    const char *field, *id_field;
    int kinds[4], n_kinds;
    moee_embed_options opt;       /* alpha, standardize and threads included */
    int resume, is_shard;          /* --resume, --shard */
    shard_spec shard;
    int argc;                      /* the arguments, for a shard's header (merge replays them) */
    char **argv;
} embed_args;

#define fail(...) opt_fail("embed", __VA_ARGS__)

static int parse_kinds(const char *list, embed_args *a) {
    a->n_kinds = 0;
    char buf[128];
    if (strlen(list) >= sizeof buf) return fail("--kind: list too long: %s", list);
    strcpy(buf, list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = moee_kind_from_name(tok);
        if (k < 0) return fail("--kind: unknown kind '%s' (expected hs, rw, moee or moee-sum)", tok);
        for (int i = 0; i < a->n_kinds; i++)
            if (a->kinds[i] == k) return fail("--kind: '%s' given twice", tok);
        a->kinds[a->n_kinds++] = k;
    }
    if (a->n_kinds == 0) return fail("--kind: no kind given");
    return 0;
}

static int format_of(const char *path) {
    size_t n = strlen(path);
    if (n >= 4 && !strcmp(path + n - 4, ".npy")) return FMT_NPY;
    if (n >= 4 && !strcmp(path + n - 4, ".npz")) return FMT_NPZ;
    if (n >= 6 && !strcmp(path + n - 6, ".jsonl")) return FMT_JSONL;
    return FMT_NONE;
}

/* Returns 0 to go on, 1 on error, 2 after --help. */
static int parse_args(int argc, char **argv, embed_args *a) {
    memset(a, 0, sizeof *a);
    moee_embed_options_init(&a->opt);
    a->field = "text";
    a->id_field = "id";
    a->kinds[0] = MOEE_KIND_MOEE_SUM;
    a->n_kinds = 1;
    int prompt_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) { usage(stdout); return 2; }
        if (!strcmp(o, "--jsonl")) { a->jsonl = 1; continue; }
        int shared = embed_option("embed", argc, argv, &i, &a->opt, &prompt_given);
        if (shared < 0) return 1;
        if (shared) continue;
        if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) { a->quiet = 1; continue; }
        if (!strcmp(o, "--resume")) { a->resume = 1; continue; }
        static const char *const with_value[] = {"-m", "--model", "-i", "--input", "-o", "--output", "--ids",
            "--field", "--id-field", "--stats-in", "--stats-out", "--kind", "--format", "--shard", NULL};
        int known = 0;
        for (const char *const *w = with_value; *w && !known; w++) known = !strcmp(o, *w);
        const char *v;
        if (!known) return opt_unknown("embed", o);
        if (opt_value("embed", argc, argv, &i, &v)) return 1;
        if (!strcmp(o, "-m") || !strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "-i") || !strcmp(o, "--input")) a->input = v;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) a->output = v;
        else if (!strcmp(o, "--ids")) a->ids_path = v;
        else if (!strcmp(o, "--field")) a->field = v;
        else if (!strcmp(o, "--id-field")) a->id_field = v;
        else if (!strcmp(o, "--stats-in")) a->stats_in = v;
        else if (!strcmp(o, "--stats-out")) a->stats_out = v;
        else if (!strcmp(o, "--kind")) { if (parse_kinds(v, a)) return 1; }
        else if (!strcmp(o, "--format")) {
            a->format = !strcmp(v, "npy") ? FMT_NPY : !strcmp(v, "npz") ? FMT_NPZ : !strcmp(v, "jsonl") ? FMT_JSONL : FMT_NONE;
            if (!a->format) return fail("--format: '%s' (expected npy, npz or jsonl)", v);
        } else if (!strcmp(o, "--shard")) {
            char msg[512];
            if (shard_parse(v, &a->shard, msg, sizeof msg)) return fail("%s", msg);
            a->is_shard = 1;
        } else {
            return opt_unknown("embed", o);
        }
    }
    if (!a->model) return fail("no model: give -m MODEL.gguf (see moee embed --help)");
    if (a->ids_path && a->input) return fail("give either -i INPUT or --ids FILE, not both");
    if (a->ids_path && a->jsonl) return fail("--jsonl and --ids cannot be combined");
    if (a->ids_path && prompt_given)
        return fail("--prompt, --template and --instruction do not apply to --ids (token ids run as given)");
    if (a->opt.template_name && !strcmp(a->opt.template_name, "raw") && a->opt.instruction && !a->opt.custom_template)
        return fail("--instruction cannot be used with --prompt raw");
    a->argc = argc;
    a->argv = argv;
    if (a->resume || a->is_shard) {
        struct stat st;
        if (!a->output || !strcmp(a->output, "-"))
            return fail("%s needs -o FILE: its journal is kept beside the output", a->is_shard ? "--shard" : "--resume");
        if (stat(a->output, &st) == 0 && !S_ISREG(st.st_mode))
            return fail("%s: not a regular file (a device, FIFO or directory): %s needs one", a->output,
                        a->is_shard ? "--shard" : "--resume");
    }
    if (a->is_shard) {   /* a shard holds raw vectors: the format and statistics come at the merge */
        if (a->stats_out) return fail("--stats-out with --shard: give it to moee merge, which sees the whole input");
        return 0;
    }
    if (!a->format) {
        if (!a->output || !strcmp(a->output, "-")) a->format = FMT_JSONL;
        else if (!(a->format = format_of(a->output)))
            return fail("%s: cannot tell the format from the name: end it in .npy, .npz or .jsonl, "
                        "or give --format", a->output);
    }
    if (a->format == FMT_NPY && a->n_kinds > 1)
        return fail(".npy holds one array: for several kinds write .npz or .jsonl");
    return 0;
}

/* ---- progress -------------------------------------------------------------------------- */

typedef struct { struct timespec start; int shown; } progress_state;

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void show_progress(void *user, int64_t done, int64_t total, int64_t tokens) {
    progress_state *p = user;
    double s = seconds_since(&p->start);
    double eta = done > 0 ? s * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "\rmoee embed: %" PRId64 "/%" PRId64 " texts, %.0f tokens/s, ETA %d:%02d:%02d   ",
            done, total, s > 0 ? (double)tokens / s : 0.0, (int)(eta / 3600), (int)fmod(eta / 60, 60),
            (int)fmod(eta, 60));
    p->shown = 1;
}

/* ---- errors from the library, named by input line ------------------------------------------ */

/* "text 17: msg" / "sequence 17: msg" -> "INPUT:LINE: msg". */
static int fail_record(const embed_input *in, const char *err) {
    long long index;
    int skip = 0;
    if ((sscanf(err, "text %lld: %n", &index, &skip) == 1 || sscanf(err, "sequence %lld: %n", &index, &skip) == 1) &&
        skip > 0 && index >= 0 && index < in->n && in->line)
        return fail("%s:%" PRId64 ": %s", in->name, in->line[index], err + skip);
    return fail("%s", err);
}

/* ---- the sidecar ----------------------------------------------------------------------------- */

typedef struct {
    const embed_args *a;
    const moee_model_info *info;
    const moee_embed_counts *counts;
    moee_rw_source rw_source;
    const char *stats_source;      /* "input", the --stats-in path, or NULL when nothing was */
    int64_t hs_count, rw_count;    /* vectors behind the statistics */
} sidecar_info;

static void json_str_or_null(FILE *f, const char *s) {
    if (s) json_write_string(f, s, strlen(s));
    else fputs("null", f);
}

static void write_sidecar(moee_out *o, const sidecar_info *s) {
    FILE *f = o->f;
    const embed_args *a = s->a;
    fprintf(f, "{\n  \"moee_version\": \"%s\",\n  \"model\": ", MOEE_VERSION);
    json_str_or_null(f, a->model);
    fprintf(f, ",\n  \"arch\": ");
    json_str_or_null(f, s->info->arch);
    fprintf(f, ",\n  \"model_name\": ");
    json_str_or_null(f, s->info->name);
    fprintf(f, ",\n  \"input\": ");
    json_str_or_null(f, a->ids_path ? a->ids_path : a->input ? a->input : "stdin");
    fprintf(f, ",\n  \"input_format\": \"%s\",\n  \"output_format\": \"%s\"",
            a->ids_path ? "ids" : a->jsonl ? "jsonl" : "text",
            a->format == FMT_NPY ? "npy" : a->format == FMT_NPZ ? "npz" : "jsonl");
    fprintf(f, ",\n  \"kinds\": [");
    for (int k = 0; k < a->n_kinds; k++)
        fprintf(f, "%s{\"name\": \"%s\", \"dim\": %" PRId64 ", \"standardized\": %s}", k ? ", " : "",
                moee_kind_name((moee_kind)a->kinds[k]),
                moee_kind_dim((moee_kind)a->kinds[k], s->info->hs_dim, s->info->rw_dim),
                moee_kind_standardized(a->opt.standardize, (moee_kind)a->kinds[k]) ? "true" : "false");
    fprintf(f, "],\n  \"hs_dim\": %d,\n  \"rw_dim\": %d,\n  \"rw_layers\": %d,\n  \"rw_experts\": %d",
            s->info->hs_dim, s->info->rw_dim, s->info->n_moe_layers, s->info->n_experts);
    fprintf(f, ",\n  \"rw_source\": \"%s\",\n  \"pool\": \"%s\"",
            s->rw_source == MOEE_RW_PROBS ? "probs" : "logits", a->opt.pool == MOEE_POOL_MEAN ? "mean" : "last");
    fprintf(f, ",\n  \"prompt\": ");
    json_str_or_null(f, a->ids_path ? NULL : a->opt.custom_template ? "custom" : a->opt.template_name);
    fprintf(f, ",\n  \"template\": ");
    json_str_or_null(f, a->opt.custom_template);
    fprintf(f, ",\n  \"instruction\": ");
    json_str_or_null(f, a->opt.instruction);
    fprintf(f, ",\n  \"alpha\": %.9g", (double)a->opt.alpha);
    fprintf(f, ",\n  \"standardize\": {\"mode\": \"%s\", \"statistics\": ",
            a->opt.standardize == MOEE_STANDARDIZE_ON ? "on" : a->opt.standardize == MOEE_STANDARDIZE_OFF ? "off" : "auto");
    json_str_or_null(f, s->stats_source);
    fprintf(f, ", \"hs_count\": %" PRId64 ", \"rw_count\": %" PRId64 ", \"epsilon\": 1e-08}", s->hs_count,
            s->rw_count);
    fprintf(f, ",\n  \"counts\": {\"texts\": %" PRId64 ", \"tokens\": %" PRId64 ", \"truncated\": %" PRId64 "}\n}\n",
            s->counts->texts, s->counts->tokens, s->counts->truncated);
}

/* ---- the command ----------------------------------------------------------------------------- */

/* Everything one run computes, freed by run_free. */
typedef struct {
    const embed_args *a;
    const embed_input *in;
    moee_model *m;
    const moee_model_info *info;
    moee_statistics stats_in;      /* --stats-in, loaded */
    moee_statistics stats;         /* the statistics used (sidecar, --stats-out) */
    moee_output out;
    output_array arrays[4];        /* what gets written, one per kind */
    int standardizes;              /* some kind is standardized */
    double seconds;
    embed_job job;                 /* the journal (a regular output file), or job.j.fd < 0 */
    int64_t first, end;            /* the records this run computes (a shard's range, or all) */
    const embed_given_rows *given; /* moee merge's rows, or NULL */
} embed_run;

/* One text, or none, cannot give statistics: say what works instead. */
static int check_enough_texts(const embed_run *r) {
    const embed_args *a = r->a;
    if (r->in->n >= 2 || a->stats_in || (!r->standardizes && !a->stats_out)) return 0;
    if (!r->standardizes)
        return fail("--stats-out needs at least 2 texts (got %" PRId64 ") to estimate a standard deviation", r->in->n);
    const char *input = a->ids_path ? "--ids corpus.txt" : "-i corpus.txt";
    return fail("%" PRId64 " text%s cannot be standardized (a standard deviation needs at least 2 texts): use "
                "--kind hs (not standardized), or make statistics from a corpus once with 'moee embed -m %s %s "
                "-o corpus.npy --stats-out stats.json' (with this command's prompt and pooling options) and add "
                "'--stats-in stats.json' here, or --standardize off", r->in->n, r->in->n == 1 ? "" : "s",
                a->model, input);
}

/* The texts (or sequences) cut to the model's context, on stderr: count and lines. */
static void report_truncated(const embed_run *r) {
    int64_t t = r->out.counts.truncated;
    if (!t || r->a->quiet) return;
    const char *what = r->a->ids_path ? "sequences" : "texts";
    fprintf(stderr, "moee embed: %" PRId64 " of %" PRId64 " %s were longer than the model's context (%d tokens) "
            "and were truncated: %s line%s", t, r->in->n, what, r->info->context_length, r->in->name, t > 1 ? "s" : "");
    for (int64_t i = 0; i < t && i < 10; i++)
        fprintf(stderr, "%s%" PRId64, i ? ", " : " ", r->in->line[r->out.truncated_rows[i]]);
    fprintf(stderr, "%s\n", t > 10 ? ", ..." : "");
}

/* ---- journals and shards ---------------------------------------------------------------------
 *
 * A run to a regular file computes its records in chunks through a journal beside the
 * output (embed_job.h): --resume takes the chunks an interrupted run left, and a shard
 * is the finished journal of its range. What a journal is checked against on --resume
 * and by merge: the model's and the input's fingerprints and every option that changes
 * the output (not -t, --batch-tokens or -q). */

static int uses_part(int kind, int part) {   /* part 0 = hs, 1 = rw */
    return kind == MOEE_KIND_MOEE || kind == MOEE_KIND_MOEE_SUM || kind == (part ? MOEE_KIND_RW : MOEE_KIND_HS);
}

/* The options that replay the run in moee merge: all but -o, --shard, --resume, -q,
 * -t and --batch-tokens (which merge gives, or which do not matter). */
static int add_replay_args(const embed_args *a, job_desc *d) {
    for (int i = 1; i < a->argc; i++) {
        const char *o = a->argv[i];
        int skip_value = !strcmp(o, "-o") || !strcmp(o, "--output") || !strcmp(o, "--shard") || !strcmp(o, "-t") ||
                         !strcmp(o, "--threads") || !strcmp(o, "--batch-tokens");
        if (skip_value) { i++; continue; }
        if (!strcmp(o, "--resume") || !strcmp(o, "-q") || !strcmp(o, "--quiet")) continue;
        if (job_desc_add_arg(d, o)) return -1;
    }
    return 0;
}

/* What this run is, for its journal's header. input_fp: the input's fingerprint. */
static int describe_job(const embed_run *r, const char *input_fp, job_desc *d, char *err, size_t err_size) {
    const embed_args *a = r->a;
    memset(d, 0, sizeof *d);
    char stats_fp[33] = "", kinds[64] = "", alpha[32];
    if (a->stats_in) {
        size_t size;
        char *bytes = moee_read_file(a->stats_in, &size, err, err_size);
        if (!bytes) return -1;
        digest dg;
        digest_init(&dg);
        digest_feed(&dg, bytes, size);
        digest_hex(&dg, stats_fp);
        free(bytes);
    }
    int want[2] = {0, 0};
    for (int k = 0; k < a->n_kinds; k++) {
        snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", k ? "," : "",
                 moee_kind_name((moee_kind)a->kinds[k]));
        for (int part = 0; part < 2; part++) want[part] |= uses_part(a->kinds[k], part);
    }
    snprintf(alpha, sizeof alpha, "%.9g", (double)a->opt.alpha);
    const moee_embed_options *o = &a->opt;
    const char *check[][2] = {
        {"model (fingerprint)", r->info->fingerprint},
        {"input (content fingerprint)", input_fp},
        {"--kind", kinds},
        {"--alpha", alpha},
        {"--pool", o->pool == MOEE_POOL_MEAN ? "mean" : "last"},
        {"--rw-source", o->rw_source == MOEE_RW_LOGITS ? "logits" : o->rw_source == MOEE_RW_PROBS ? "probs" : "auto"},
        {"--prompt", o->template_name ? o->template_name : "none"},
        {"--template", o->custom_template ? o->custom_template : ""},
        {"--instruction", o->instruction ? o->instruction : ""},
        {"--standardize", o->standardize == MOEE_STANDARDIZE_ON ? "on" : o->standardize == MOEE_STANDARDIZE_OFF ? "off" : "auto"},
        {"--stats-in (content fingerprint)", stats_fp},
        {"--no-truncate", o->truncate ? "no" : "yes"},
        {"--replace-invalid", o->replace_invalid_utf8 ? "yes" : "no"},
        {"--format", a->is_shard ? "" : a->format == FMT_NPY ? "npy" : a->format == FMT_NPZ ? "npz" : "jsonl"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof check / sizeof *check; i++) rc |= job_desc_add(d, 1, check[i][0], check[i][1]);
    if (a->is_shard) rc |= add_replay_args(a, d);
    d->is_shard = a->is_shard;
    d->shard_k = a->shard.k;
    d->shard_n = a->shard.n;
    d->first = r->first;
    d->end = r->end;
    d->total = r->in->n;
    d->hs_dim = want[0] ? r->info->hs_dim : 0;
    d->rw_dim = want[1] ? r->info->rw_dim : 0;
    if (rc) { job_desc_free(d); snprintf(err, err_size, "out of memory"); return -1; }
    return 0;
}

/* Opens the journal of a run to a regular file (none for stdout, a device or a FIFO). */
static int open_job(embed_run *r) {
    const embed_args *a = r->a;
    struct stat st;
    r->job.j.fd = -1;
    if (!a->output || !strcmp(a->output, "-") || (stat(a->output, &st) == 0 && !S_ISREG(st.st_mode))) return 0;
    char err[1024], input_fp[33];
    embed_input_fingerprint(r->in, input_fp);
    job_desc d;
    if (describe_job(r, input_fp, &d, err, sizeof err)) return fail("%s", err);
    char *path = malloc(strlen(a->output) + 9);
    if (!path) { job_desc_free(&d); return fail("out of memory"); }
    sprintf(path, "%s.journal", a->output);
    int rc = embed_job_open(&r->job, path, &d, a->resume,
                            r->in->id_json ? (const char *const *)r->in->id_json + r->first : NULL,
                            r->in->line + r->first, err, sizeof err);
    free(path);
    job_desc_free(&d);
    if (rc) return fail("%s", err);
    if (!a->quiet && a->resume) {
        if (r->job.damage[0]) fprintf(stderr, "moee embed: %s: recomputing from there\n", r->job.damage);
        fprintf(stderr, "moee embed: resuming: %" PRId64 " of %" PRId64 " texts recovered from %s\n", r->job.recovered,
                r->end - r->first, r->job.j.path);
    }
    return 0;
}

typedef struct {
    embed_run *r;
    const moee_embed_options *opt;
    progress_state *progress;      /* NULL: no progress shown */
    int64_t done, total, tokens;   /* this run's, for the progress line */
} chunk_state;

static void show_chunk_progress(void *user, int64_t done, int64_t total, int64_t tokens) {
    chunk_state *c = user;
    show_progress(c->progress, c->done + done, c->total, c->tokens + tokens);
}

/* "text 3: msg" of a chunk starting at record first -> "text first+3: msg". */
static void renumber_error(char *err, size_t err_size, int64_t first) {
    long long index;
    int skip = 0;
    const char *what = strncmp(err, "text ", 5) == 0 ? "text" : "sequence";
    if ((sscanf(err, "text %lld: %n", &index, &skip) == 1 || sscanf(err, "sequence %lld: %n", &index, &skip) == 1) &&
        skip > 0) {
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", err + skip);
        snprintf(err, err_size, "%s %lld: %s", what, index + (long long)first, rest);
    }
}

/* One chunk of records through the engine, raw rows only (job_compute_fn). */
static int compute_chunk(void *user, int64_t first, int64_t count, float *hs, float *rw, int64_t *tokens,
                         int64_t *truncated_rows, int64_t *truncated, char *err, size_t err_size) {
    chunk_state *c = user;
    const embed_input *in = c->r->in;
    moee_embed_options opt = *c->opt;
    opt.stats = NULL;   /* statistics come at the end, over every row */
    if (c->progress) {
        opt.progress = show_chunk_progress;
        opt.progress_user = c;
    }
    moee_output out = {0};
    out.raw_hs = hs;
    out.raw_rw = rw;
    out.truncated_rows = truncated_rows;
    moee_input input = in->ids ? (moee_input){.ids = (const int32_t *const *)in->ids + first, .id_lens = in->id_lens + first, .n = count}
                               : (moee_input){.texts = in->texts + first, .lens = in->lens + first, .n = count};
    if (moee_embed(c->r->m, &opt, &input, &out, err, err_size)) {
        renumber_error(err, err_size, first);
        return -1;
    }
    for (int64_t t = 0; t < out.counts.truncated; t++) truncated_rows[t] += first;
    c->done += count;
    c->tokens += out.counts.tokens;
    *tokens = out.counts.tokens;
    *truncated = out.counts.truncated;
    return 0;
}

/* The records not recovered from the journal, chunk by chunk. */
static int embed_journaled(embed_run *r, const moee_embed_options *opt) {
    char err[1024];
    progress_state progress = {0};
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    chunk_state c = {r, opt, !r->a->quiet && isatty(2) ? &progress : NULL, 0, r->end - r->first - r->job.recovered, 0};
    /* a few forward batches per chunk: a chunk's last batch is seldom full, and a crash
     * loses at most one chunk; the first guess is 4 bytes (or 1 id) per token */
    int64_t chunk_tokens = 4 * opt->batch_tokens;
    double guess = 1;
    if (r->end > r->first) {
        double sum = 0;
        for (int64_t i = r->first; i < r->end; i++) sum += r->in->ids ? (double)r->in->id_lens[i] : (double)r->in->lens[i] / 4;
        guess = sum / (double)(r->end - r->first) + (r->in->ids ? 0 : 8);   /* + about a prompt's template */
    }
    int rc = embed_job_run(&r->job, compute_chunk, &c, chunk_tokens, guess, err, sizeof err);
    if (progress.shown) fputc('\n', stderr);
    r->seconds = seconds_since(&progress.start);
    r->out.counts = (moee_embed_counts){r->end - r->first, r->job.rows.tokens, r->job.rows.truncated};
    return rc ? fail_record(r->in, err) : 0;
}

/* Statistics and kinds over raw rows of every record (moee_embed_finish), with the counts
 * and truncated records they came with. */
static int finish_rows(embed_run *r, const moee_embed_options *opt, const float *hs, const float *rw, int64_t tokens,
                       int64_t truncated, const int64_t *truncated_rows) {
    char err[1024];
    if (moee_embed_finish(r->m, opt, hs, rw, r->in->n, &r->out, err, sizeof err)) {
        if (r->a->stats_in && !strncmp(err, "the statistics", 14)) return fail("%s: %s", r->a->stats_in, err);
        return fail_record(r->in, err);
    }
    r->out.counts = (moee_embed_counts){r->in->n, tokens, truncated};
    if (truncated) memcpy(r->out.truncated_rows, truncated_rows, (size_t)truncated * sizeof *truncated_rows);
    return 0;
}

/* Every kind, through the one pipeline. */
static int embed_all(embed_run *r) {
    const embed_args *a = r->a;
    int64_t n = r->in->n;
    moee_embed_options opt = a->opt;
    opt.token_ids = a->ids_path != NULL;
    char err[1024];
    if (a->stats_in) {
        if (moee_statistics_load(a->stats_in, &r->stats_in, err, sizeof err)) return fail("%s", err);
        if (moee_statistics_check(&r->stats_in, r->m, &opt, err, sizeof err)) return fail("%s: %s", a->stats_in, err);
        opt.stats = &r->stats_in;
    }
    if (a->is_shard) return embed_journaled(r, &opt);   /* raw rows only: the rest is merge's */
    for (int k = 0; k < a->n_kinds; k++) {
        moee_kind kind = (moee_kind)a->kinds[k];
        int64_t dim = moee_kind_dim(kind, r->info->hs_dim, r->info->rw_dim);
        if (!(r->out.kinds[kind] = malloc((size_t)((n > 0 ? n : 1) * dim) * sizeof(float))))
            return fail("out of memory for %" PRId64 " texts", n);
        r->arrays[k] = (output_array){moee_kind_name(kind), r->out.kinds[kind], n, dim};
    }
    if (a->stats_out || (r->standardizes && (n > 0 || a->stats_in))) r->out.stats_out = &r->stats;
    if (!(r->out.truncated_rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->out.truncated_rows)))
        return fail("out of memory for %" PRId64 " texts", n);
    if (r->given)
        return finish_rows(r, &opt, r->given->hs, r->given->rw, r->given->tokens, r->given->truncated,
                           r->given->truncated_rows);
    if (r->job.j.fd >= 0)
        return embed_journaled(r, &opt) || finish_rows(r, &opt, r->job.rows.hs, r->job.rows.rw, r->job.rows.tokens,
                                                       r->job.rows.truncated, r->job.rows.truncated_rows);

    progress_state progress = {0};
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    if (!a->quiet && isatty(2)) {
        opt.progress = show_progress;
        opt.progress_user = &progress;
    }
    moee_input input = a->ids_path ? (moee_input){.ids = (const int32_t *const *)r->in->ids, .id_lens = r->in->id_lens, .n = n}
                                   : (moee_input){.texts = r->in->texts, .lens = r->in->lens, .n = n};
    int rc = moee_embed(r->m, &opt, &input, &r->out, err, sizeof err);
    if (progress.shown) fputc('\n', stderr);
    r->seconds = seconds_since(&progress.start);
    if (rc && a->stats_in && !strncmp(err, "the statistics", 14)) return fail("%s: %s", a->stats_in, err);
    if (rc && strstr(err, "no usable tokenizer")) return fail("%s: %s: embed token ids instead (--ids FILE)", a->model, err);
    return rc ? fail_record(r->in, err) : 0;
}

/* The .jsonl ids: the input's, and the record index where a record has none. */
static const char **jsonl_ids(const embed_run *r, char **numbers) {
    int64_t n = r->in->n;
    const char **ids = calloc((size_t)(n > 0 ? n : 1), sizeof *ids);
    *numbers = malloc((size_t)(n > 0 ? n : 1) * 24);
    if (!ids || !*numbers) { free(ids); free(*numbers); *numbers = NULL; return NULL; }
    for (int64_t i = 0; i < n; i++) {
        if (r->in->id_json[i]) { ids[i] = r->in->id_json[i]; continue; }
        snprintf(*numbers + 24 * i, 24, "%" PRId64, i);
        ids[i] = *numbers + 24 * i;
    }
    return ids;
}

/* --stats-out, then the output and its sidecar, committed together (two runs writing
 * the same -o never leave one's data beside the other's sidecar); on any failure none
 * of them is left. A device, FIFO or standard output gets no sidecar. */
static int write_outputs(embed_run *r) {
    const embed_args *a = r->a;
    struct stat st;   /* --stats-out: removed on failure only when it is a regular file */
    char err[1024];
    if (a->stats_out && moee_statistics_save(a->stats_out, &r->stats, err, sizeof err))
        return fail("%s", err);
    moee_out data, sidecar;
    int rc = moee_out_open(&data, a->output ? a->output : "-", err, sizeof err);
    if (rc == 0) {
        if (a->format == FMT_NPY) {
            rc = npy_put(&data, &r->arrays[0], err, sizeof err);
        } else if (a->format == FMT_NPZ) {
            rc = npz_put(&data, r->arrays, a->n_kinds, 0, err, sizeof err);
        } else {
            char *numbers = NULL;
            const char **ids = r->in->id_json ? jsonl_ids(r, &numbers) : NULL;
            if (r->in->id_json && !ids) snprintf(err, sizeof err, "out of memory");
            rc = r->in->id_json && !ids ? -1 : jsonl_put(&data, r->arrays, a->n_kinds, ids, r->in->texts,
                                                         r->in->lens, err, sizeof err);
            free(ids);
            free(numbers);
        }
        if (rc) moee_out_abort(&data);
    }
    if (rc == 0 && !moee_out_is_file(&data)) {
        rc = moee_out_commit(&data, err, sizeof err);
    } else if (rc == 0) {
        char *path = malloc(strlen(data.target) + 6);
        if (path) sprintf(path, "%s.json", data.target);
        rc = path ? moee_out_open(&sidecar, path, err, sizeof err) : -1;
        if (!path) snprintf(err, sizeof err, "out of memory");
        free(path);
        if (rc) {
            moee_out_abort(&data);
        } else {
            int standardized = r->standardizes && r->out.stats_out;
            sidecar_info s = {a, r->info, &r->out.counts, moee_rw_source_resolve(r->m, a->opt.rw_source),
                              standardized ? (a->stats_in ? a->stats_in : "input") : NULL,
                              r->stats.hs.count, r->stats.rw.count};
            write_sidecar(&sidecar, &s);
            moee_out *both[2] = {&data, &sidecar};
            rc = moee_out_commit_all(both, 2, err, sizeof err);
        }
    }
    if (rc) {
        if (a->stats_out && stat(a->stats_out, &st) == 0 && S_ISREG(st.st_mode)) unlink(a->stats_out);
        return fail("%s", err);
    }
    return 0;
}

static void run_free(embed_run *r) {
    for (int k = 0; k < 4; k++) free(r->out.kinds[k]);
    free(r->out.truncated_rows);
    moee_statistics_free(&r->stats);
    moee_statistics_free(&r->stats_in);
    moee_model_free(r->m);
}

/* The journal after the run: removed once the output is written, a shard renamed
 * into place. A failed run removes it too (its error would come back on resume), but
 * for a failure to write the output (a full disk), where it keeps the work. */
static int settle_job(embed_run *r, int rc, int writing_failed) {
    if (r->job.j.fd < 0) return rc;
    char err[1024];
    if (rc == 0 && r->a->is_shard) {
        if (embed_job_finish_shard(&r->job, r->a->output, err, sizeof err)) return fail("%s", err);
        return 0;
    }
    if (rc == 0 || !writing_failed) {
        if (embed_job_remove(&r->job, err, sizeof err) && rc == 0) return fail("%s", err);
        return rc;
    }
    fprintf(stderr, "moee embed: the computed rows stay in %s: run again with --resume\n", r->job.j.path);
    embed_job_close(&r->job);
    return rc;
}

static int embed_command(int argc, char **argv, const embed_given_rows *given) {
    embed_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 2 ? 0 : 1;

    char err[1024];
    embed_input in, texts;   /* texts: a merge's input, read for the texts of .jsonl only */
    memset(&in, 0, sizeof in);
    memset(&texts, 0, sizeof texts);
    if (given) {   /* the rows of moee merge: no input to read; lines only where merge reports them */
        in.name = a.ids_path ? a.ids_path : a.input ? a.input : "stdin";
        in.n = given->n;
        in.id_json = given->ids;
        in.line = calloc((size_t)(given->n > 0 ? given->n : 1), sizeof *in.line);
        if (!in.line) return fail("out of memory");
        for (int64_t t = 0; t < given->truncated; t++) in.line[given->truncated_rows[t]] = given->truncated_lines[t];
        /* .jsonl carries each text (so moee eval --embeddings reads it): those come from the input itself,
         * which must then be readable here and be the shards' input */
        if (a.format == FMT_JSONL && !a.ids_path) {
            rc = a.jsonl ? embed_input_read_jsonl(&texts, a.input, a.field, a.id_field, err, sizeof err)
                         : embed_input_read_text(&texts, a.input, err, sizeof err);
            char fp[33];
            if (rc == 0) embed_input_fingerprint(&texts, fp);
            if (rc == 0 && (texts.n != given->n || strcmp(fp, job_desc_get(given->desc, "input (content fingerprint)"))))
                rc = snprintf(err, sizeof err, "%s: not the input the shards were made from", in.name) > 0;
            if (rc) {
                free(in.line);
                embed_input_free(&texts);
                return fail("%s (a .jsonl merge writes every text, so it reads the input)", err);
            }
            in.texts = texts.texts;
            in.lens = texts.lens;
        }
    } else {
        rc = a.ids_path ? embed_input_read_ids(&in, a.ids_path, err, sizeof err)
           : a.jsonl ? embed_input_read_jsonl(&in, a.input, a.field, a.id_field, err, sizeof err)
           : embed_input_read_text(&in, a.input, err, sizeof err);
        if (rc) {
            embed_input_free(&in);
            return fail("%s", err);
        }
    }
    embed_run r = {0};
    r.a = &a;
    r.in = &in;
    r.given = given;
    r.job.j.fd = -1;
    r.end = in.n;
    if (a.is_shard) shard_range(a.shard, in.n, &r.first, &r.end);
    for (int k = 0; k < a.n_kinds; k++) r.standardizes |= moee_kind_standardized(a.opt.standardize, (moee_kind)a.kinds[k]);
    if (check_enough_texts(&r)) rc = 1;
    else if (moee_model_load(a.model, &r.m, err, sizeof err)) rc = fail("%s", err);
    if (rc) {
        if (given) { in.id_json = NULL; free(in.line); in.line = NULL; in.texts = NULL; in.lens = NULL; }
        embed_input_free(&in);
        embed_input_free(&texts);
        return 1;
    }
    r.info = moee_model_get_info(r.m);

    if (given) {   /* the shards must be this run: same model (fingerprint), options and input */
        job_desc mine;
        char diff[768];
        a.is_shard = 1;   /* described as the shards were */
        a.shard = (shard_spec){given->desc->shard_k, given->desc->shard_n};
        rc = describe_job(&r, job_desc_get(given->desc, "input (content fingerprint)"), &mine, err, sizeof err)
           ? fail("%s", err) : 0;
        a.is_shard = 0;
        if (rc == 0 && job_desc_differ(given->desc, &mine, "the shards have", "this merge has", diff, sizeof diff))
            rc = fail("the shards do not match this merge: %s", diff);
        if (rc == 0) job_desc_free(&mine);
        r.seconds = given->seconds;
        rc = rc || embed_all(&r) || write_outputs(&r);
    } else {
        int writing_failed = 0;
        rc = open_job(&r) || embed_all(&r);
        if (rc == 0 && !a.is_shard) {
            rc = write_outputs(&r);
            writing_failed = rc != 0;
        }
        rc = settle_job(&r, rc, writing_failed);
    }
    if (rc == 0 && !a.is_shard) report_truncated(&r);
    if (rc == 0 && !a.quiet) {
        if (a.is_shard && r.out.counts.truncated)
            fprintf(stderr, "moee embed: %" PRId64 " texts were longer than the model's context and were truncated\n",
                    r.out.counts.truncated);
        fprintf(stderr, "moee embed: %" PRId64 " text%s, %" PRId64 " tokens in %.1f s (%.0f tokens/s) -> %s\n",
                r.end - r.first, opt_plural(r.end - r.first), r.out.counts.tokens, r.seconds,
                r.seconds > 0 ? (double)r.out.counts.tokens / r.seconds : 0.0,
                a.output && strcmp(a.output, "-") ? a.output : "stdout");
    }
    run_free(&r);
    if (given) { in.id_json = NULL; free(in.line); in.line = NULL; in.texts = NULL; in.lens = NULL; }   /* merge's */
    embed_input_free(&in);
    embed_input_free(&texts);
    return rc ? 1 : 0;
}

int cmd_embed(int argc, char **argv) { return embed_command(argc, argv, NULL); }

int embed_with_rows(int argc, char **argv, const embed_given_rows *given) { return embed_command(argc, argv, given); }
