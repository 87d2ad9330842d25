/* cmd_embed.c: `moee embed`, texts (or token ids) in, HS / RW / MoEE embeddings out.
 *
 *   read the input (embed_input.c) -> load the model -> raw HS and RW rows in input
 *   order (moee_embed_raw / moee_embed_ids) -> standardization statistics (over the
 *   input, or from --stats-in) -> each kind (moee_kind_combine) -> .npy / .npz /
 *   .jsonl (output.c) -> the sidecar OUTPUT.json.
 *
 * Everything is written at the end through temporary files, so a failed or
 * interrupted run leaves no output that looks complete. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "engine/embed.h"
#include "moee.h"
#include "tools/cmd.h"
#include "tools/cmd_embed.h"
#include "tools/embed_input.h"
#include "tools/embed_job.h"
#include "tools/output.h"
#include "tools/shard.h"
#include "weights/digest.h"
#include "weights/file.h"
#include "weights/json.h"
#include <sys/stat.h>


static void usage(FILE *out) {
    fprintf(out,
"usage: moee embed -m MODEL.gguf [-i INPUT] [-o OUTPUT] [options]\n"
"\n"
"Embeds texts (one per line) with an MoE model as the MoEE paper does: HS (last hidden\n"
"state), RW (routing weights of every MoE layer), or both.\n"
"\n"
"input and output:\n"
"  -m, --model FILE        the model (GGUF); required\n"
"  -i, --input FILE        UTF-8 text, one text per line; an empty line is an empty text\n"
"                          (default: standard input)\n"
"      --jsonl             the input is JSON Lines: one object per line\n"
"      --field NAME        JSONL field holding the text (default: text)\n"
"      --id-field NAME     JSONL field copied to .jsonl output as \"id\" (default: id)\n"
"      --ids FILE          pre-tokenized input instead of -i: one sequence per line, token\n"
"                          ids separated by spaces, run exactly as given (no prompt)\n"
"  -o, --output FILE       .npy (float32 [texts, dim], one kind), .npz (one array per kind,\n"
"                          e.g. hs.npy, moee-sum.npy) or .jsonl ({\"id\", \"embedding\"} per\n"
"                          line; with several kinds one key per kind instead of \"embedding\");\n"
"                          a sidecar OUTPUT.json (e.g. emb.npy.json) describes the run\n"
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
"                          (default: 8192)\n"
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

enum { STD_AUTO = -1, STD_OFF = 0, STD_ON = 1 };
enum { FMT_NONE = 0, FMT_NPY, FMT_NPZ, FMT_JSONL };

typedef struct {
    const char *model, *input, *output, *ids_path, *stats_in, *stats_out;
    int jsonl, format, standardize, threads, quiet;
    const char *field, *id_field;
    int kinds[4], n_kinds;
    float alpha;
    moee_embed_options opt;
    int resume, is_shard;          /* --resume, --shard */
    shard_spec shard;
    int argc;                      /* the arguments, for a shard's header (merge replays them) */
    char **argv;
} embed_args;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("moee embed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

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
    a->standardize = STD_AUTO;
    a->alpha = 1.0f;
    a->kinds[0] = MOEE_KIND_MOEE_SUM;
    a->n_kinds = 1;
    int prompt_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) { usage(stdout); return 2; }
        if (!strcmp(o, "--jsonl")) { a->jsonl = 1; continue; }
        if (!strcmp(o, "--no-truncate")) { a->opt.truncate = 0; continue; }
        if (!strcmp(o, "--replace-invalid")) { a->opt.replace_invalid_utf8 = 1; continue; }
        if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) { a->quiet = 1; continue; }
        if (!strcmp(o, "--resume")) { a->resume = 1; continue; }
        static const char *const with_value[] = {"-m", "--model", "-i", "--input", "-o", "--output", "--ids",
            "--field", "--id-field", "--stats-in", "--stats-out", "--kind", "--format", "--alpha", "--pool",
            "--rw-source", "--prompt", "--template", "--instruction", "--standardize", "--batch-tokens", "-t",
            "--threads", "--shard", NULL};
        int known = 0;
        for (const char *const *w = with_value; *w && !known; w++) known = !strcmp(o, *w);
        if (!known) return fail("unknown option '%s' (see moee embed --help)", o);
        if (i + 1 >= argc) return fail("%s needs a value (see moee embed --help)", o);
        const char *v = argv[++i];
        int64_t n;
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
        } else if (!strcmp(o, "--alpha")) {
            char *end;
            double x = strtod(v, &end);
            if (end == v || *end || !(x >= 0) || !isfinite(x)) return fail("--alpha: '%s' is not a number >= 0", v);
            a->alpha = (float)x;
        } else if (!strcmp(o, "--pool")) {
            if (!strcmp(v, "last")) a->opt.pool = MOEE_POOL_LAST;
            else if (!strcmp(v, "mean")) a->opt.pool = MOEE_POOL_MEAN;
            else return fail("--pool: '%s' (expected last or mean)", v);
        } else if (!strcmp(o, "--rw-source")) {
            if (!strcmp(v, "auto")) a->opt.rw_source = MOEE_RW_AUTO;
            else if (!strcmp(v, "logits")) a->opt.rw_source = MOEE_RW_LOGITS;
            else if (!strcmp(v, "probs")) a->opt.rw_source = MOEE_RW_PROBS;
            else return fail("--rw-source: '%s' (expected auto, logits or probs)", v);
        } else if (!strcmp(o, "--prompt")) {
            int found = !strcmp(v, "raw");
            for (const char *const *t = moee_template_names; *t && !found; t++) found = !strcmp(v, *t);
            if (!found)
                return fail("--prompt: unknown prompt '%s' (expected none, prompteol, style, sentiment, tone, "
                            "intent, complexity, subjectivity, language_style, grammar_structure or raw)", v);
            a->opt.template_name = v;
            prompt_given = 1;
        } else if (!strcmp(o, "--template")) {
            if (!strstr(v, "*sent 0*")) return fail("--template: the template must contain \"*sent 0*\"");
            a->opt.custom_template = v;
            prompt_given = 1;
        } else if (!strcmp(o, "--instruction")) {
            a->opt.instruction = v;
            prompt_given = 1;
        } else if (!strcmp(o, "--standardize")) {
            if (!strcmp(v, "auto")) a->standardize = STD_AUTO;
            else if (!strcmp(v, "on")) a->standardize = STD_ON;
            else if (!strcmp(v, "off")) a->standardize = STD_OFF;
            else return fail("--standardize: '%s' (expected auto, on or off)", v);
        } else if (!strcmp(o, "--batch-tokens")) {
            if (parse_int(v, 1, INT32_MAX, &n)) return fail("--batch-tokens: '%s' is not an integer >= 1", v);
            a->opt.batch_tokens = n;
        } else if (!strcmp(o, "--shard")) {
            char msg[512];
            if (shard_parse(v, &a->shard, msg, sizeof msg)) return fail("%s", msg);
            a->is_shard = 1;
        } else if (!strcmp(o, "-t") || !strcmp(o, "--threads")) {
            if (parse_int(v, 1, 4096, &n)) return fail("--threads: '%s' is not an integer >= 1", v);
            a->threads = (int)n;
        } else {
            return fail("unknown option '%s' (see moee embed --help)", o);
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
        skip > 0 && index >= 0 && index < in->n)
        return fail("%s:%" PRId64 ": %s", in->name, in->line[index], err + skip);
    return fail("%s", err);
}

/* ---- the sidecar ----------------------------------------------------------------------------- */

typedef struct {
    const embed_args *a;
    const moee_model_info *info;
    const moee_embed_counts *counts;
    moee_rw_source rw_source;
    const int *standardized;       /* per kind: its parts were standardized */
    const char *stats_source;      /* "input", the --stats-in path, or NULL when nothing was */
    int64_t hs_count, rw_count;    /* vectors behind the statistics */
} sidecar_info;

static void json_str_or_null(FILE *f, const char *s) {
    if (s) json_write_string(f, s, strlen(s));
    else fputs("null", f);
}

static int write_sidecar(const char *path, const sidecar_info *s, char *err, size_t err_size) {
    output_file o;
    if (output_open(&o, path, err, err_size)) return -1;
    FILE *f = o.f;
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
                s->standardized[k] ? "true" : "false");
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
    fprintf(f, ",\n  \"alpha\": %.9g", (double)a->alpha);
    fprintf(f, ",\n  \"standardize\": {\"mode\": \"%s\", \"statistics\": ",
            a->standardize == STD_ON ? "on" : a->standardize == STD_OFF ? "off" : "auto");
    json_str_or_null(f, s->stats_source);
    fprintf(f, ", \"hs_count\": %" PRId64 ", \"rw_count\": %" PRId64 ", \"epsilon\": 1e-08}", s->hs_count,
            s->rw_count);
    fprintf(f, ",\n  \"counts\": {\"texts\": %" PRId64 ", \"tokens\": %" PRId64 ", \"truncated\": %" PRId64 "}\n}\n",
            s->counts->texts, s->counts->tokens, s->counts->truncated);
    return output_commit(&o, err, err_size);
}

/* ---- the command ----------------------------------------------------------------------------- */

/* Everything one run computes, freed by run_free. */
typedef struct {
    const embed_args *a;
    const embed_input *in;
    moee_model *m;
    const moee_model_info *info;
    int64_t n, H, R;
    int want_hs, want_rw;          /* raw parts the kinds need */
    int std_hs, std_rw;            /* standardized parts the kinds need */
    int stats_hs, stats_rw;        /* parts whose statistics are needed (kinds or --stats-out) */
    int standardized[4];           /* per kind */
    float *hs, *rw;                /* raw rows [n][H], [n][R] */
    float *hs_std, *rw_std;        /* standardized rows (== hs / rw when the raw ones are not needed) */
    float *outs[4];                /* combined kinds (moee, moee-sum) */
    output_array arrays[4];        /* what gets written, one per kind */
    moee_stats hs_stats, rw_stats;
    const char *stats_source;      /* "input", the --stats-in path, or NULL */
    moee_embed_counts counts;
    double seconds;
    embed_job job;                 /* the journal (a regular output file), or job.j.fd < 0 */
    int64_t first, end;            /* the records this run computes (a shard's range, or all) */
} embed_run;

static int uses_hs(int k) { return k == MOEE_KIND_HS || k == MOEE_KIND_MOEE || k == MOEE_KIND_MOEE_SUM; }
static int uses_rw(int k) { return k == MOEE_KIND_RW || k == MOEE_KIND_MOEE || k == MOEE_KIND_MOEE_SUM; }

static float *alloc_rows(int64_t n, int64_t dim) {
    return malloc((size_t)((n > 0 ? n : 1) * dim) * sizeof(float));
}

/* Which parts the kinds need, raw and standardized. */
static void plan_parts(embed_run *r) {
    const embed_args *a = r->a;
    for (int k = 0; k < a->n_kinds; k++) {
        int kind = a->kinds[k];
        r->standardized[k] = a->standardize == STD_ON || (a->standardize == STD_AUTO && kind != MOEE_KIND_HS);
        r->want_hs |= uses_hs(kind);
        r->want_rw |= uses_rw(kind);
        r->std_hs |= r->standardized[k] && uses_hs(kind);
        r->std_rw |= r->standardized[k] && uses_rw(kind);
    }
    r->stats_hs = r->std_hs || (a->stats_out && r->want_hs);
    r->stats_rw = r->std_rw || (a->stats_out && r->want_rw);
    if (r->n == 0 && !a->stats_in && !a->stats_out)   /* no vector to standardize */
        r->stats_hs = r->stats_rw = r->std_hs = r->std_rw = 0;
}

static int embed_journaled(embed_run *r);

/* Raw HS and RW rows of every input record, in input order. */
static int embed_inputs(embed_run *r) {
    if (r->job.j.fd >= 0) return embed_journaled(r);
    embed_args opts = *r->a;
    char err[1024];
    progress_state progress = {0};
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    if (!opts.quiet && isatty(2)) {
        opts.opt.progress = show_progress;
        opts.opt.progress_user = &progress;
    }
    r->hs = r->want_hs ? alloc_rows(r->n, r->H) : NULL;
    r->rw = r->want_rw ? alloc_rows(r->n, r->R) : NULL;
    if ((r->want_hs && !r->hs) || (r->want_rw && !r->rw)) return fail("out of memory for %" PRId64 " texts", r->n);
    int rc = opts.ids_path
        ? moee_embed_ids(r->m, &opts.opt, (const int32_t *const *)r->in->ids, r->in->id_lens, r->n, r->hs, r->rw,
                         &r->counts, err, sizeof err)
        : moee_embed_raw(r->m, &opts.opt, r->in->texts, r->in->lens, r->n, r->hs, r->rw, &r->counts, err, sizeof err);
    if (progress.shown) fputc('\n', stderr);
    r->seconds = seconds_since(&progress.start);
    return rc ? fail_record(r->in, err) : 0;
}

/* ---- journals and shards ---------------------------------------------------------------------

 * A run to a regular file computes its records in chunks through a journal beside the
 * output (embed_job.h): --resume takes the chunks an interrupted run left, and a shard
 * is the finished journal of its range. What a journal is checked against on --resume
 * and by merge: the model's and the input's fingerprints and every option that changes
 * the output (not -t, --batch-tokens or -q). */

/* A stand-in model fingerprint: a digest of the file's size and first megabyte. */
static int model_fingerprint(const char *path, char out[33], char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, err_size, "%s: %s", path, strerror(errno)); return -1; }
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    digest d;
    digest_init(&d);
    digest_feed_u64(&d, (uint64_t)size);
    digest_feed(&d, buf, n);
    digest_hex(&d, out);
    return 0;
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
    char fp[33], stats_fp[33] = "", kinds[64] = "", alpha[32];
    if (model_fingerprint(a->model, fp, err, err_size)) return -1;
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
    for (int k = 0; k < a->n_kinds; k++)
        snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", k ? "," : "",
                 moee_kind_name((moee_kind)a->kinds[k]));
    snprintf(alpha, sizeof alpha, "%.9g", (double)a->alpha);
    const char *check[][2] = {
        {"model (fingerprint)", fp},
        {"input (content fingerprint)", input_fp},
        {"--kind", kinds},
        {"--alpha", alpha},
        {"--pool", a->opt.pool == MOEE_POOL_MEAN ? "mean" : "last"},
        {"--rw-source", a->opt.rw_source == MOEE_RW_LOGITS ? "logits" : a->opt.rw_source == MOEE_RW_PROBS ? "probs" : "auto"},
        {"--prompt", a->opt.template_name ? a->opt.template_name : "none"},
        {"--template", a->opt.custom_template ? a->opt.custom_template : ""},
        {"--instruction", a->opt.instruction ? a->opt.instruction : ""},
        {"--standardize", a->standardize == STD_ON ? "on" : a->standardize == STD_OFF ? "off" : "auto"},
        {"--stats-in (content fingerprint)", stats_fp},
        {"--no-truncate", a->opt.truncate ? "no" : "yes"},
        {"--replace-invalid", a->opt.replace_invalid_utf8 ? "yes" : "no"},
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
    d->total = r->n;
    d->hs_dim = r->want_hs ? r->H : 0;
    d->rw_dim = r->want_rw ? r->R : 0;
    if (rc) { job_desc_free(d); snprintf(err, err_size, "out of memory"); return -1; }
    return 0;
}

static char *journal_path_of(const char *output) {
    char *p = malloc(strlen(output) + 9);
    if (p) sprintf(p, "%s.journal", output);
    return p;
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
    char *path = journal_path_of(a->output);
    if (!path) { job_desc_free(&d); return fail("out of memory"); }
    int rc = embed_job_open(&r->job, path, &d, a->resume, r->in->id_json ? (const char *const *)r->in->id_json + r->first
                                                                          : NULL, err, sizeof err);
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

typedef struct { embed_run *r; progress_state *progress; int64_t done, total, tokens; } chunk_progress;

static void show_chunk_progress(void *user, int64_t done, int64_t total, int64_t tokens) {
    chunk_progress *c = user;
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

/* One chunk of records through the engine (job_compute_fn). */
static int compute_chunk(void *user, int64_t first, int64_t count, float *hs, float *rw, int64_t *tokens,
                         int64_t *truncated, char *err, size_t err_size) {
    chunk_progress *c = user;
    embed_run *r = c->r;
    moee_embed_options opt = r->a->opt;
    if (c->progress) {
        opt.progress = show_chunk_progress;
        opt.progress_user = c;
    }
    moee_embed_counts counts = {0};
    int rc = r->a->ids_path
        ? moee_embed_ids(r->m, &opt, (const int32_t *const *)r->in->ids + first, r->in->id_lens + first, count, hs, rw,
                         &counts, err, err_size)
        : moee_embed_raw(r->m, &opt, r->in->texts + first, r->in->lens + first, count, hs, rw, &counts, err, err_size);
    if (rc) { renumber_error(err, err_size, first); return -1; }
    c->done += count;
    c->tokens += counts.tokens;
    *tokens += counts.tokens;
    *truncated += counts.truncated;
    return 0;
}

/* embed_inputs through the journal: the records not recovered, chunk by chunk. */
static int embed_journaled(embed_run *r) {
    char err[1024];
    progress_state progress = {0};
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    chunk_progress c = {r, !r->a->quiet && isatty(2) ? &progress : NULL, 0, r->end - r->first - r->job.recovered, 0};
    /* a few forward batches per chunk: a chunk's last batch is seldom full, and a crash
     * loses at most one chunk; the first guess is 4 bytes (or 1 id) per token */
    int64_t chunk_tokens = 4 * r->a->opt.batch_tokens;
    double guess = 1;
    if (r->end > r->first) {
        double sum = 0;
        for (int64_t i = r->first; i < r->end; i++) sum += r->in->ids ? (double)r->in->id_lens[i] : (double)r->in->lens[i] / 4;
        guess = sum / (double)(r->end - r->first) + (r->in->ids ? 0 : 8);   /* + about a prompt's template */
    }
    int rc = embed_job_run(&r->job, compute_chunk, &c, chunk_tokens, guess, err, sizeof err);
    if (progress.shown) fputc('\n', stderr);
    r->seconds = seconds_since(&progress.start);
    if (rc) return fail_record(r->in, err);
    r->hs = r->job.rows.hs;   /* the rows move to the run */
    r->rw = r->job.rows.rw;
    r->job.rows.hs = r->job.rows.rw = NULL;
    r->counts = (moee_embed_counts){r->end - r->first, r->job.rows.tokens, r->job.rows.truncated};
    return 0;
}

/* The statistics of one part: from --stats-in (moved out of *loaded), or over the input. */
static int part_stats(embed_run *r, const char *part, const float *x, int64_t dim, moee_stats *loaded,
                      moee_stats *out) {
    const char *stats_in = r->a->stats_in;
    if (stats_in) {
        if (loaded->dim == 0) return fail("%s: holds no \"%s\" statistics", stats_in, part);
        if (loaded->dim != dim)
            return fail("%s: \"%s\" statistics have %" PRId64 " dimensions, this model's %s has %" PRId64,
                        stats_in, part, loaded->dim, part, dim);
        *out = *loaded;
        memset(loaded, 0, sizeof *loaded);
        return 0;
    }
    char msg[256];
    if (moee_stats_compute(x, r->n, dim, out, msg, sizeof msg))
        return fail("%s over the input: %s (use --stats-in FILE or --standardize off)", part, msg);
    return 0;
}

/* Standardized copies (or the raw rows themselves, standardized in place, when no
 * kind wants them raw: that saves a copy of the largest arrays). */
static int standardize(embed_run *r) {
    const embed_args *a = r->a;
    char err[1024];
    moee_stats loaded_hs = {0}, loaded_rw = {0};
    if (a->stats_in && (r->stats_hs || r->stats_rw) &&
        moee_stats_load(a->stats_in, &loaded_hs, &loaded_rw, err, sizeof err))
        return fail("%s", err);
    int rc = (r->stats_hs && part_stats(r, "hs", r->hs, r->H, &loaded_hs, &r->hs_stats)) ||
             (r->stats_rw && part_stats(r, "rw", r->rw, r->R, &loaded_rw, &r->rw_stats));
    moee_stats_free(&loaded_hs);
    moee_stats_free(&loaded_rw);
    if (rc) return 1;
    if (r->std_hs || r->std_rw) r->stats_source = a->stats_in ? a->stats_in : "input";

    int raw_hs = 0, raw_rw = 0;
    for (int k = 0; k < a->n_kinds; k++) {
        raw_hs |= !r->standardized[k] && uses_hs(a->kinds[k]);
        raw_rw |= !r->standardized[k] && uses_rw(a->kinds[k]);
    }
    if (r->std_hs) {
        r->hs_std = raw_hs ? alloc_rows(r->n, r->H) : r->hs;
        if (!r->hs_std) return fail("out of memory");
        if (raw_hs) memcpy(r->hs_std, r->hs, (size_t)(r->n * r->H) * sizeof(float));
        moee_stats_apply(&r->hs_stats, r->hs_std, r->n);
    }
    if (r->std_rw) {
        r->rw_std = raw_rw ? alloc_rows(r->n, r->R) : r->rw;
        if (!r->rw_std) return fail("out of memory");
        if (raw_rw) memcpy(r->rw_std, r->rw, (size_t)(r->n * r->R) * sizeof(float));
        moee_stats_apply(&r->rw_stats, r->rw_std, r->n);
    }
    return 0;
}

/* One output array per kind. */
static int build_kinds(embed_run *r) {
    const embed_args *a = r->a;
    for (int k = 0; k < a->n_kinds; k++) {
        moee_kind kind = (moee_kind)a->kinds[k];
        const float *h = r->standardized[k] ? r->hs_std : r->hs, *w = r->standardized[k] ? r->rw_std : r->rw;
        int64_t dim = moee_kind_dim(kind, r->H, r->R);
        if (kind == MOEE_KIND_HS || kind == MOEE_KIND_RW) {
            r->arrays[k] = (output_array){moee_kind_name(kind), kind == MOEE_KIND_HS ? h : w, r->n, dim};
            continue;
        }
        if (!(r->outs[k] = alloc_rows(r->n, dim))) return fail("out of memory");
        moee_kind_combine(kind, h, w, r->n, r->H, r->R, a->alpha, r->outs[k]);
        r->arrays[k] = (output_array){moee_kind_name(kind), r->outs[k], r->n, dim};
    }
    return 0;
}

/* The .jsonl ids: the input's, and the record index where a record has none. */
static const char **jsonl_ids(const embed_run *r, char **numbers) {
    const char **ids = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof *ids);
    *numbers = malloc((size_t)(r->n > 0 ? r->n : 1) * 24);
    if (!ids || !*numbers) { free(ids); free(*numbers); *numbers = NULL; return NULL; }
    for (int64_t i = 0; i < r->n; i++) {
        if (r->in->id_json[i]) { ids[i] = r->in->id_json[i]; continue; }
        snprintf(*numbers + 24 * i, 24, "%" PRId64, i);
        ids[i] = *numbers + 24 * i;
    }
    return ids;
}

/* --stats-out, the output, then its sidecar; on any failure none of them is left. */
static int write_outputs(embed_run *r) {
    const embed_args *a = r->a;
    const char *out = a->output ? a->output : "-";
    struct stat st;   /* stdout, a device or a FIFO: no sidecar beside it, never removed */
    int to_stdout = !strcmp(out, "-") || (stat(out, &st) == 0 && !S_ISREG(st.st_mode));
    char err[1024];
    if (a->stats_out && moee_stats_save(a->stats_out, r->stats_hs ? &r->hs_stats : NULL,
                                        r->stats_rw ? &r->rw_stats : NULL, err, sizeof err))
        return fail("%s", err);
    int rc;
    if (a->format == FMT_NPY) {
        rc = npy_write(out, &r->arrays[0], err, sizeof err);
    } else if (a->format == FMT_NPZ) {
        rc = npz_write(out, r->arrays, a->n_kinds, 0, err, sizeof err);
    } else {
        char *numbers = NULL;
        const char **ids = r->in->id_json ? jsonl_ids(r, &numbers) : NULL;
        if (r->in->id_json && !ids) snprintf(err, sizeof err, "out of memory");
        rc = r->in->id_json && !ids ? -1 : jsonl_write(out, r->arrays, a->n_kinds, ids, err, sizeof err);
        free(ids);
        free(numbers);
    }
    if (rc == 0 && !to_stdout) {
        char *sidecar = malloc(strlen(out) + 6);
        if (sidecar) {
            sprintf(sidecar, "%s.json", out);
            sidecar_info s = {a, r->info, &r->counts, moee_rw_source_resolve(r->m, a->opt.rw_source),
                              r->standardized, r->stats_source, r->stats_hs ? r->hs_stats.count : 0,
                              r->stats_rw ? r->rw_stats.count : 0};
            rc = write_sidecar(sidecar, &s, err, sizeof err);
            free(sidecar);
        } else {
            rc = -1;
            snprintf(err, sizeof err, "out of memory");
        }
        if (rc) unlink(out);   /* no output without its description */
    }
    if (rc) {
        if (a->stats_out && stat(a->stats_out, &st) == 0 && S_ISREG(st.st_mode)) unlink(a->stats_out);
        return fail("%s", err);
    }
    return 0;
}

static void run_free(embed_run *r) {
    for (int k = 0; k < 4; k++) free(r->outs[k]);
    if (r->hs_std != r->hs) free(r->hs_std);
    if (r->rw_std != r->rw) free(r->rw_std);
    free(r->hs);
    free(r->rw);
    moee_stats_free(&r->hs_stats);
    moee_stats_free(&r->rw_stats);
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

static int embed_command(int argc, char **argv, embed_given_rows *given) {
    embed_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 2 ? 0 : 1;

    char err[1024];
    embed_input in;
    memset(&in, 0, sizeof in);
    if (given) {   /* the rows of moee merge: no input to read */
        in.name = a.ids_path ? a.ids_path : a.input ? a.input : "stdin";
        in.n = given->n;
        in.id_json = given->ids;
        given->ids = NULL;
        rc = 0;
    } else {
        rc = a.ids_path ? embed_input_read_ids(&in, a.ids_path, err, sizeof err)
           : a.jsonl ? embed_input_read_jsonl(&in, a.input, a.field, a.id_field, err, sizeof err)
           : embed_input_read_text(&in, a.input, err, sizeof err);
    }
    if (rc) {
        embed_input_free(&in);
        return fail("%s", err);
    }
    embed_run r = {0};
    r.a = &a;
    r.in = &in;
    r.job.j.fd = -1;
    if (moee_model_load(a.model, &r.m, err, sizeof err)) {
        embed_input_free(&in);
        return fail("%s", err);
    }
    moee_set_threads(a.threads);
    r.info = moee_model_get_info(r.m);
    r.n = in.n;
    r.H = r.info->hs_dim;
    r.R = r.info->rw_dim;
    r.first = 0;
    r.end = r.n;
    if (a.is_shard) shard_range(a.shard, r.n, &r.first, &r.end);
    plan_parts(&r);

    int writing_failed = 0;
    if (r.want_rw && r.R == 0) {
        rc = fail("%s: the model has no MoE layer, so no routing weights", a.model);
    } else if (given) {
        job_desc mine;
        char diff[768];
        a.is_shard = 1;   /* described as the shards were */
        a.shard = (shard_spec){given->desc->shard_k, given->desc->shard_n};
        rc = describe_job(&r, job_desc_get(given->desc, "input (content fingerprint)"), &mine, err, sizeof err) ? fail("%s", err) : 0;
        a.is_shard = 0;
        if (rc == 0 && job_desc_differ(given->desc, &mine, "the shards have", "this merge has", diff, sizeof diff))
            rc = fail("the shards do not match this merge: %s", diff);
        if (rc == 0) job_desc_free(&mine);
        r.hs = given->hs;
        r.rw = given->rw;
        given->hs = given->rw = NULL;
        r.counts = (moee_embed_counts){given->n, given->tokens, given->truncated};
        r.seconds = given->seconds;
        rc = rc || standardize(&r) || build_kinds(&r) || write_outputs(&r);
    } else {
        rc = open_job(&r) || embed_inputs(&r) || (!a.is_shard && (standardize(&r) || build_kinds(&r)));
        if (rc == 0 && !a.is_shard) {
            rc = write_outputs(&r);
            writing_failed = rc != 0;
        }
        rc = settle_job(&r, rc, writing_failed);
    }

    if (rc == 0 && !a.quiet) {
        int64_t texts = r.end - r.first;
        if (r.counts.truncated)
            fprintf(stderr, "moee embed: %" PRId64 " of %" PRId64 " texts were longer than the model's context "
                    "(%d tokens) and were truncated\n", r.counts.truncated, texts, r.info->context_length);
        fprintf(stderr, "moee embed: %" PRId64 " texts, %" PRId64 " tokens in %.1f s (%.0f tokens/s) -> %s\n", texts,
                r.counts.tokens, r.seconds, r.seconds > 0 ? (double)r.counts.tokens / r.seconds : 0.0,
                a.output && strcmp(a.output, "-") ? a.output : "stdout");
    }
    run_free(&r);
    embed_input_free(&in);
    return rc ? 1 : 0;
}

int cmd_embed(int argc, char **argv) { return embed_command(argc, argv, NULL); }

int embed_with_rows(int argc, char **argv, embed_given_rows *given) { return embed_command(argc, argv, given); }
