/* cmd_serve.c: `moee serve`, an embedding server that OpenAI and TEI clients use as they are.
 *
 *   options (those of `moee embed` keep their names and meanings) -> the model ->
 *   the kind served and its statistics (--stats-in; without it hs, unstandardized)
 *   -> the engine seam (texts or token ids -> rows of that kind, exactly as `moee
 *   embed` computes them) -> the batcher thread -> the HTTP server (tools/serve/).
 *
 * A served vector must equal what `moee embed` writes for the same text and
 * options, bit for bit, whichever requests share its engine call: so the server
 * standardizes only with fixed statistics (--stats-in), never with statistics over
 * a batch, and refuses to start when the kind needs statistics it was not given. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moee.h"
#include "tools/cmd.h"
#include "tools/embed_options.h"
#include "tools/options.h"
#include "tools/serve/api.h"
#include "tools/serve/batcher.h"
#include "tools/serve/server.h"
#include "weights/json.h"

static void usage(FILE *out) {
    fprintf(out,
"usage: moee serve -m MODEL.gguf [options]\n"
"\n"
"Serves embeddings over HTTP: POST /v1/embeddings (OpenAI), POST /embed (Hugging Face\n"
"TEI), GET /health, /info, /v1/models, /metrics (Prometheus). Every vector equals what\n"
"`moee embed` writes for the same text and options, bit for bit.\n"
"\n"
"model and what to compute (as moee embed):\n"
"  -m, --model FILE        the model (GGUF); required\n"
"      --kind K            one of hs, rw, moee, moee-sum (default: moee-sum with --stats-in,\n"
"                          else hs: the others are standardized and need --stats-in)\n"
"      --stats-in FILE     standardization statistics made by `moee embed --stats-out`\n"
"      --standardize M     auto (on for rw, moee, moee-sum; off for hs), on, or off\n"
"                          (default: auto)\n"
"      --alpha A           weight of RW in moee-sum, >= 0 (default: 1.0)\n"
"      --pool P            last or mean (default: last)\n"
"      --rw-source S       auto, logits or probs (default: auto)\n"
"      --prompt NAME       none, prompteol, style, ..., or raw (default: none)\n"
"      --template TEXT     your own template; \"*sent 0*\" marks where the text goes\n"
"      --instruction TEXT  task instruction (default: none)\n"
"      --no-truncate       a text longer than the model's context is an error (400)\n"
"                          (default: truncated as moee embed does; TEI's \"truncate\" overrides)\n"
"      --replace-invalid   accepted for symmetry with moee embed (JSON text is valid UTF-8)\n"
"  -t, --threads N         threads of the engine (default: all cores)\n"
"      --batch-tokens N    token budget of one forward batch, and of the texts packed from\n"
"                          several requests into one engine call (default: 3072)\n"
"\n"
"server:\n"
"      --host ADDR         address to listen on (default: 127.0.0.1)\n"
"      --port N            port; 0 picks a free one (default: 8080)\n"
"      --model-name NAME   the model id /v1/models lists (default: the file name)\n"
"      --api-key KEY       clients must send 'Authorization: Bearer KEY' (not /health)\n"
"                          (default: none; also read from MOEE_API_KEY)\n"
"      --max-wait-ms N     how long a queued request waits for others to fill an engine\n"
"                          call, when fewer wait than the last call had (a lone client\n"
"                          never waits) (default: 50)\n"
"      --max-concurrent-requests N\n"
"                          embedding requests queued or running; more get 429 with\n"
"                          Retry-After (default: 64)\n"
"      --max-client-batch N  inputs per request; more get 413 (default: 512)\n"
"      --payload-limit BYTES request body limit; more gets 413 (default: 8388608)\n"
"      --timeout-ms N      a request must arrive within N ms of its first byte; idle\n"
"                          keep-alive connections close after N ms (default: 30000)\n"
"      --max-connections N open connections; more get 503 (default: 256)\n"
"  -h, --help              this help\n"
"\n"
"SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit 0.\n");
}

#define fail(...) opt_fail("serve", __VA_ARGS__)

typedef struct {
    const char *model, *stats_in, *host, *model_name, *api_key;
    int kind, port, max_wait_ms, max_concurrent, timeout_ms, max_connections;
    int64_t max_client_batch, payload_limit;
    moee_embed_options opt;       /* the options shared with moee embed (embed_options.c) */
    char prompt_flags[1024];      /* the prompt options as given, for the --stats-out hint */
} serve_args;

/* The options that shape what the statistics must have been made with, as given. */
static void add_flag(serve_args *a, const char *o, const char *v) {
    static const char *const shaping[] = {"--prompt", "--template", "--instruction", "--pool", "--rw-source", NULL};
    int keep = 0;
    for (const char *const *f = shaping; *f && !keep; f++) keep = !strcmp(o, *f);
    if (!keep) return;
    size_t n = strlen(a->prompt_flags);
    int quote = strpbrk(v, " \t\"'$\\") != NULL;
    snprintf(a->prompt_flags + n, sizeof a->prompt_flags - n, quote ? " %s '%s'" : " %s %s", o, v);
}

/* Returns 0 to go on, 1 on error, 2 after --help. */
static int parse_args(int argc, char **argv, serve_args *a) {
    memset(a, 0, sizeof *a);
    moee_embed_options_init(&a->opt);
    a->kind = -1;
    a->host = "127.0.0.1";
    a->port = 8080;
    a->max_wait_ms = 50;
    a->max_concurrent = 64;
    a->max_client_batch = 512;
    a->payload_limit = 8388608;
    a->timeout_ms = 30000;
    a->max_connections = 256;
    a->api_key = getenv("MOEE_API_KEY");
    int prompt_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) { usage(stdout); return 2; }
        int shared = embed_option("serve", argc, argv, &i, &a->opt, &prompt_given);
        if (shared < 0) return 1;
        if (shared) {
            if (argv[i] != o) add_flag(a, o, argv[i]);
            continue;
        }
        static const char *const with_value[] = {"-m", "--model", "--kind", "--stats-in", "--host", "--port",
            "--model-name", "--api-key", "--max-wait-ms", "--max-concurrent-requests", "--max-client-batch",
            "--payload-limit", "--timeout-ms", "--max-connections", NULL};
        int known = 0;
        for (const char *const *w = with_value; *w && !known; w++) known = !strcmp(o, *w);
        const char *v;
        if (!known) return opt_unknown("serve", o);
        if (opt_value("serve", argc, argv, &i, &v)) return 1;
        int64_t n;
        if (!strcmp(o, "-m") || !strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--stats-in")) a->stats_in = v;
        else if (!strcmp(o, "--host")) a->host = v;
        else if (!strcmp(o, "--model-name")) a->model_name = v;
        else if (!strcmp(o, "--api-key")) a->api_key = v;
        else if (!strcmp(o, "--kind")) {
            if ((a->kind = moee_kind_from_name(v)) < 0)
                return fail("--kind: unknown kind '%s' (expected one of hs, rw, moee, moee-sum)", v);
        } else if (!strcmp(o, "--port")) {
            if (opt_int("serve", o, v, 0, 65535, &n)) return 1;
            a->port = (int)n;
        } else if (!strcmp(o, "--max-wait-ms")) {
            if (opt_int("serve", o, v, 0, 60000, &n)) return 1;
            a->max_wait_ms = (int)n;
        } else if (!strcmp(o, "--max-concurrent-requests")) {
            if (opt_int("serve", o, v, 1, 1000000, &n)) return 1;
            a->max_concurrent = (int)n;
        } else if (!strcmp(o, "--max-client-batch")) {
            if (opt_int("serve", o, v, 1, 1000000, &n)) return 1;
            a->max_client_batch = n;
        } else if (!strcmp(o, "--payload-limit")) {
            if (opt_int("serve", o, v, 1, (int64_t)1 << 40, &n)) return 1;
            a->payload_limit = n;
        } else if (!strcmp(o, "--timeout-ms")) {
            if (opt_int("serve", o, v, 1, 3600000, &n)) return 1;
            a->timeout_ms = (int)n;
        } else if (!strcmp(o, "--max-connections")) {
            if (opt_int("serve", o, v, 1, 100000, &n)) return 1;
            a->max_connections = (int)n;
        }
    }
    if (!a->model) return fail("no model: give -m MODEL.gguf (see moee serve --help)");
    if (a->opt.template_name && !strcmp(a->opt.template_name, "raw") && a->opt.instruction && !a->opt.custom_template)
        return fail("--instruction cannot be used with --prompt raw");
    if (a->api_key && !*a->api_key) return fail("--api-key: the key is empty");
    if (a->kind < 0) a->kind = a->stats_in ? MOEE_KIND_MOEE_SUM : MOEE_KIND_HS;
    return 0;
}

/* ---- the engine seam: inputs -> rows of the served kind ------------------------------- */

typedef struct {
    moee_model *m;
    moee_embed_options opt;       /* with .stats when the kind is standardized */
    moee_kind kind;
    int standardized;             /* the kind is z-scored with the statistics of --stats-in */
    moee_statistics stats;
    char ids_refusal[1200];       /* why token-id input cannot use the statistics, or "" */
    int64_t dim;
    int context;
} served_model;

/* moee_embed for one kind: what `moee embed --kind K` computes, row for row. */
static int engine_embed(void *user, const serve_inputs *in, float *out, char *err, size_t err_size) {
    served_model *s = user;
    moee_embed_options o = s->opt;
    o.truncate = in->truncate;
    moee_input input = {.n = in->n};
    if (in->ids) { input.ids = in->id_seqs; input.id_lens = in->id_lens; }
    else { input.texts = in->texts; input.lens = in->lens; }
    moee_output output = {0};
    output.kinds[s->kind] = out;
    return moee_embed(s->m, &o, &input, &output, err, err_size);
}

/* Tokens the model runs for one text: its prompt's ids, at most the context. */
static int count_tokens(void *user, const char *text, size_t len, int truncate, int64_t *tokens, char *err,
                        size_t err_size) {
    served_model *s = user;
    char *prompt = NULL;
    size_t plen;
    int32_t *ids = NULL;
    int64_t n = 0;
    if (moee_prompt_build(text, len, s->opt.template_name, s->opt.custom_template, s->opt.instruction, &prompt, &plen,
                          err, err_size) ||
        moee_tokenize(s->m, prompt, plen, s->opt.replace_invalid_utf8, &ids, &n, err, err_size)) {
        free(prompt);
        free(ids);
        return 1;
    }
    free(prompt);
    free(ids);
    if (n > s->context && !truncate) {
        snprintf(err, err_size, "%" PRId64 " tokens with its prompt, longer than the model's context (%d tokens)", n,
                 s->context);
        return 1;
    }
    *tokens = n < s->context ? n : s->context;
    return 0;
}

/* ---- /info ------------------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s) {
    if (s) json_write_string(f, s, strlen(s));
    else fputs("null", f);
}

static char *info_json(const serve_args *a, const served_model *s, const char *model_id) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const moee_model_info *info = moee_model_get_info(s->m);
    static const char *const pools[] = {"last", "mean", "none"};
    fputs("{\"model_id\":", f);
    json_str(f, model_id);
    fputs(",\"model_path\":", f);
    json_str(f, a->model);
    fputs(",\"model_name\":", f);
    json_str(f, info->name);
    fputs(",\"arch\":", f);
    json_str(f, info->arch);
    fprintf(f, ",\"fingerprint\":\"%s\"", info->fingerprint);
    fprintf(f, ",\"version\":\"%s\",\"kind\":\"%s\",\"dimensions\":%" PRId64 ",\"hs_dim\":%d,\"rw_dim\":%d",
            MOEE_VERSION, moee_kind_name(s->kind), s->dim, info->hs_dim, info->rw_dim);
    fputs(",\"prompt\":", f);
    json_str(f, a->opt.custom_template ? "custom" : a->opt.template_name);
    fputs(",\"template\":", f);
    json_str(f, a->opt.custom_template);
    fputs(",\"instruction\":", f);
    json_str(f, a->opt.instruction);
    fprintf(f, ",\"pool\":\"%s\",\"rw_source\":\"%s\",\"alpha\":%.9g,\"standardized\":%s", pools[a->opt.pool],
            moee_rw_source_resolve(s->m, a->opt.rw_source) == MOEE_RW_PROBS ? "probs" : "logits", (double)a->opt.alpha,
            s->standardized ? "true" : "false");
    if (s->standardized) {
        fputs(",\"statistics\":{\"source\":", f);
        json_str(f, a->stats_in);
        fprintf(f, ",\"hs_count\":%" PRId64 ",\"rw_count\":%" PRId64 ",\"model_fingerprint\":\"%s\",\"prompt\":",
                s->stats.hs.count, s->stats.rw.count, s->stats.model_fingerprint);
        json_str(f, s->stats.prompt);
        fputs(",\"token_ids\":", f);
        json_str(f, s->ids_refusal[0] ? s->ids_refusal : "accepted");
        fputc('}', f);
    } else {
        fputs(",\"statistics\":null", f);
    }
    if (!a->stats_in)
        fputs(",\"note\":\"no --stats-in: serving unstandardized vectors (rw, moee and moee-sum need statistics "
              "made by moee embed --stats-out)\"", f);
    fprintf(f, ",\"truncate\":%s,\"max_input_length\":%d,\"max_client_batch_size\":%" PRId64
            ",\"limits\":{\"batch_tokens\":%" PRId64 ",\"max_wait_ms\":%d,\"max_concurrent_requests\":%d,"
            "\"max_client_batch\":%" PRId64 ",\"payload_limit\":%" PRId64 ",\"timeout_ms\":%d,\"max_connections\":%d},"
            "\"auth\":%s}",
            a->opt.truncate ? "true" : "false", info->context_length, a->max_client_batch, a->opt.batch_tokens,
            a->max_wait_ms, a->max_concurrent, a->max_client_batch, a->payload_limit, a->timeout_ms,
            a->max_connections, a->api_key ? "true" : "false");
    if (fclose(f)) { free(buf); return NULL; }
    return buf;
}

/* ---- statistics ------------------------------------------------------------------------ */

/* The statistics of --stats-in, when the kind is standardized: loaded and checked
 * against this model and these options; a refusal names the command that makes them. */
static int load_statistics(const serve_args *a, served_model *s) {
    s->standardized = moee_kind_standardized(a->opt.standardize, s->kind);
    if (!s->standardized) return 0;
    if (!a->stats_in)
        return fail("--kind %s is standardized and needs statistics of a corpus; make them once with "
                    "`moee embed -m %s -i corpus.txt --kind %s%s --stats-out stats.json -o corpus.npy`, then start "
                    "with --stats-in stats.json (or serve --kind hs, or give --standardize off for raw vectors)",
                    moee_kind_name(s->kind), a->model, moee_kind_name(s->kind), a->prompt_flags);
    char err[1024];
    if (moee_statistics_load(a->stats_in, &s->stats, err, sizeof err)) return fail("%s", err);
    if (moee_statistics_check(&s->stats, s->m, &s->opt, err, sizeof err)) return fail("%s: %s", a->stats_in, err);
    const char *parts[2] = {"hs", "rw"};
    const moee_stats *st[2] = {&s->stats.hs, &s->stats.rw};
    int want[2] = {s->kind != MOEE_KIND_RW, s->kind != MOEE_KIND_HS};
    for (int p = 0; p < 2; p++)
        if (want[p] && st[p]->dim == 0) return fail("%s: holds no \"%s\" statistics", a->stats_in, parts[p]);
    s->opt.stats = &s->stats;
    /* token ids run without a prompt: statistics made from texts do not fit them */
    moee_embed_options ids = s->opt;
    ids.token_ids = 1;
    if (moee_statistics_check(&s->stats, s->m, &ids, err, sizeof err))
        snprintf(s->ids_refusal, sizeof s->ids_refusal, "token-id input cannot be standardized with this server's "
                 "statistics: %s", err);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 2 ? 0 : 1;
    char err[1024];
    served_model s = {0};
    if (moee_model_load(a.model, &s.m, err, sizeof err)) return fail("%s", err);
    const moee_model_info *info = moee_model_get_info(s.m);
    s.opt = a.opt;
    s.kind = (moee_kind)a.kind;
    s.dim = moee_kind_dim(s.kind, info->hs_dim, info->rw_dim);
    s.context = info->context_length;
    const char *model_id = a.model_name;
    if (!model_id) {
        const char *slash = strrchr(a.model, '/');
        model_id = slash ? slash + 1 : a.model;
    }
    char *info_text = NULL;
    serve_metrics metrics;
    metrics_init(&metrics);
    batcher b;
    int batcher_on = 0;
    if (s.kind != MOEE_KIND_HS && info->rw_dim == 0) rc = fail("%s: the model has no MoE layer, so no routing weights", a.model);
    else if (load_statistics(&a, &s)) rc = 1;
    else if (!(info_text = info_json(&a, &s, model_id))) rc = fail("out of memory");
    else {
        serve_engine engine = {&s, s.dim, engine_embed};
        if (batcher_start(&b, engine, a.opt.batch_tokens, a.max_wait_ms, a.max_concurrent, &metrics, err, sizeof err))
            rc = fail("%s", err);
        else batcher_on = 1;
    }
    if (rc == 0) {
        fprintf(stderr, "moee serve: %s (%s), kind %s (%" PRId64 " dimensions), %s\n", a.model, info->arch,
                moee_kind_name(s.kind), s.dim,
                s.standardized ? "standardized with the statistics of --stats-in"
                : a.stats_in ? "not standardized"
                : "not standardized: no --stats-in, so serving hs (rw, moee and moee-sum need statistics)");
        api_context api = {
            .model_id = model_id,
            .limits = {.dim = s.dim, .vocab_size = info->vocab_size, .max_client_batch = a.max_client_batch},
            .context_length = s.context,
            .default_truncate = a.opt.truncate,
            .api_key = a.api_key,
            .ids_refusal = s.ids_refusal[0] ? s.ids_refusal : NULL,
            .info_json = info_text,
            .count_tokens = count_tokens,
            .count_user = &s,
            .batcher = &b,
            .metrics = &metrics,
        };
        server_config cfg = {
            .host = a.host, .port = a.port, .timeout_ms = a.timeout_ms, .max_connections = a.max_connections,
            .limits = {.max_header_bytes = 16384, .max_body_bytes = (size_t)a.payload_limit}, .api = &api};
        if (server_run(&cfg, err, sizeof err)) rc = fail("%s", err);
    }
    if (batcher_on) batcher_stop(&b);
    if (rc == 0) fprintf(stderr, "moee serve: stopped\n");
    metrics_destroy(&metrics);
    free(info_text);
    moee_statistics_free(&s.stats);
    moee_model_free(s.m);
    return rc;
}
