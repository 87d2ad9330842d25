/* cmd_merge.c: `moee merge -o OUT PART...`, the shards of one `moee embed --shard K/N`
 * job into the output the single run would have written, byte for byte.
 *
 *   read every part (embed_job.c: checksummed, finished) -> check they belong together
 *   (same model, input, options and N, every K exactly once) -> their raw rows in
 *   input order -> the `moee embed` pipeline itself, replaying the options the shards
 *   recorded (cmd_embed.h): statistics over the whole input, kinds, output, sidecar. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/cmd.h"
#include "tools/cmd_embed.h"
#include "tools/embed_job.h"
#include "tools/shard.h"

static void usage(FILE *out) {
    fprintf(out,
"usage: moee merge -o OUTPUT [options] PART...\n"
"\n"
"Joins the shards written by `moee embed --shard K/N -o PART` (K = 0..N-1, in any\n"
"order) into OUTPUT, exactly the file (and sidecar OUTPUT.json) that one `moee embed`\n"
"over the whole input would have written: standardization statistics are computed over\n"
"all shards. The options of the shards' run (kinds, prompt, ...) are used as they were.\n"
"\n"
"  -o, --output FILE       .npy, .npz or .jsonl (required)\n"
"      --format F          npy, npz or jsonl (default: from OUTPUT's extension)\n"
"      --stats-out FILE    save the statistics of the whole input (JSON)\n"
"  -m, --model FILE        the model, when it is not where the shards' run found it\n"
"                          (its fingerprint must match) (default: the shards' path)\n"
"  -t, --threads N         threads (default: all cores)\n"
"  -q, --quiet             no summary on stderr\n"
"  -h, --help              this help\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("moee merge: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

typedef struct {
    const char *output, *format, *stats_out, *model, *threads;
    int quiet;
    const char **parts;
    int n_parts;
} merge_args;

/* 0 to go on, 1 on error, 2 after --help. */
static int parse_args(int argc, char **argv, merge_args *a) {
    memset(a, 0, sizeof *a);
    a->parts = calloc((size_t)argc, sizeof *a->parts);
    if (!a->parts) return fail("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) { usage(stdout); return 2; }
        if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) { a->quiet = 1; continue; }
        const char **slot = !strcmp(o, "-o") || !strcmp(o, "--output") ? &a->output
                          : !strcmp(o, "--format") ? &a->format
                          : !strcmp(o, "--stats-out") ? &a->stats_out
                          : !strcmp(o, "-m") || !strcmp(o, "--model") ? &a->model
                          : !strcmp(o, "-t") || !strcmp(o, "--threads") ? &a->threads : NULL;
        if (slot) {
            if (i + 1 >= argc) return fail("%s needs a value (see moee merge --help)", o);
            *slot = argv[++i];
            continue;
        }
        if (o[0] == '-' && o[1]) return fail("unknown option '%s' (see moee merge --help)", o);
        a->parts[a->n_parts++] = o;
    }
    if (!a->output) return fail("no output: give -o OUTPUT (see moee merge --help)");
    if (a->n_parts == 0) return fail("no parts: give the shard files (see moee merge --help)");
    return 0;
}

/* All parts' rows, in input order. */
typedef struct {
    int64_t n;
    float *hs, *rw;
    char **ids;
    int64_t tokens, truncated;
    int64_t (*truncated_at)[2];    /* [truncated] record index, input line */
} merged_rows;

static int by_index(const void *x, const void *y) {
    int64_t a = ((const int64_t *)x)[0], b = ((const int64_t *)y)[0];
    return (a > b) - (a < b);
}

/* Reads every part into one set of rows in input order, checking that they are the N
 * shards of one job. desc0 receives the first part's description. */
static int gather(const merge_args *a, job_desc *desc0, merged_rows *g) {
    char err[1024];
    int64_t *owner = NULL;   /* [N]: which part holds shard K, -1 none */
    int rc = 0;
    for (int p = 0; p < a->n_parts && rc == 0; p++) {
        job_desc d;
        job_rows rows;
        if (job_read_shard(a->parts[p], &d, &rows, err, sizeof err)) { rc = fail("%s", err); break; }
        char diff[768];
        int64_t first, end;
        shard_range((shard_spec){d.shard_k, d.shard_n}, d.total, &first, &end);
        if (p == 0) {
            *desc0 = d;
            owner = malloc((size_t)d.shard_n * sizeof *owner);
            size_t n = (size_t)(d.total > 0 ? d.total : 1);
            g->n = d.total;
            g->hs = d.hs_dim ? malloc(n * (size_t)d.hs_dim * sizeof(float)) : NULL;
            g->rw = d.rw_dim ? malloc(n * (size_t)d.rw_dim * sizeof(float)) : NULL;
            if (!owner || (d.hs_dim && !g->hs) || (d.rw_dim && !g->rw))
                rc = fail("out of memory for %" PRId64 " rows", d.total);
            for (int64_t k = 0; owner && k < d.shard_n; k++) owner[k] = -1;
        } else if (job_desc_differ(desc0, &d, a->parts[0], a->parts[p], diff, sizeof diff)) {
            rc = fail("%s does not belong with %s: %s", a->parts[p], a->parts[0], diff);
        }
        if (rc == 0 && (d.first != first || d.end != end))
            rc = fail("%s: shard %" PRId64 " of %" PRId64 " holds records %" PRId64 "..%" PRId64 ", not %" PRId64
                      "..%" PRId64, a->parts[p], d.shard_k, d.shard_n, d.first, d.end, first, end);
        if (rc == 0 && owner[d.shard_k] >= 0)
            rc = fail("%s and %s are both shard %" PRId64 " of %" PRId64, a->parts[owner[d.shard_k]], a->parts[p],
                      d.shard_k, d.shard_n);
        int64_t n = d.end - d.first;
        if (rc == 0) {
            owner[d.shard_k] = p;
            if (n && d.hs_dim) memcpy(g->hs + d.first * d.hs_dim, rows.hs, (size_t)(n * d.hs_dim) * sizeof(float));
            if (n && d.rw_dim) memcpy(g->rw + d.first * d.rw_dim, rows.rw, (size_t)(n * d.rw_dim) * sizeof(float));
            if (rows.ids && !g->ids && !(g->ids = calloc((size_t)(g->n > 0 ? g->n : 1), sizeof *g->ids)))
                rc = fail("out of memory");
            for (int64_t i = 0; rc == 0 && rows.ids && i < n; i++) {
                g->ids[d.first + i] = rows.ids[i];
                rows.ids[i] = NULL;
            }
            g->tokens += rows.tokens;
            int64_t (*at)[2] = realloc(g->truncated_at, (size_t)(g->truncated + rows.truncated + 1) * sizeof *at);
            if (!at) rc = fail("out of memory");
            else g->truncated_at = at;
            for (int64_t t = 0; rc == 0 && t < rows.truncated; t++) {
                g->truncated_at[g->truncated][0] = rows.truncated_rows[t];
                g->truncated_at[g->truncated++][1] = rows.truncated_lines[t];
            }
        }
        job_rows_free(&rows, n);
        if (p > 0) job_desc_free(&d);
    }
    for (int64_t k = 0; rc == 0 && k < desc0->shard_n; k++)
        if (owner[k] < 0) {
            int64_t missing = 0;
            for (int64_t q = k; q < desc0->shard_n; q++) missing += owner[q] < 0;
            rc = fail("shard %" PRId64 " of %" PRId64 " is missing (%" PRId64 " missing in all; shards are numbered "
                      "0..%" PRId64 ")", k, desc0->shard_n, missing, desc0->shard_n - 1);
        }
    free(owner);
    if (rc == 0 && g->truncated) qsort(g->truncated_at, (size_t)g->truncated, sizeof *g->truncated_at, by_index);
    return rc;
}

int cmd_merge(int argc, char **argv) {
    merge_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) { free(a.parts); return rc == 2 ? 0 : 1; }
    job_desc desc = {0};
    merged_rows g = {0};
    rc = gather(&a, &desc, &g);
    int64_t *truncated_rows = rc == 0 ? malloc((size_t)(g.truncated + 1) * 2 * sizeof(int64_t)) : NULL;
    if (rc == 0 && !truncated_rows) rc = fail("out of memory");
    for (int64_t t = 0; rc == 0 && t < g.truncated; t++) {
        truncated_rows[t] = g.truncated_at[t][0];
        truncated_rows[g.truncated + t] = g.truncated_at[t][1];
    }
    if (rc == 0) {
        /* `moee embed` with the shards' options; later options win, so -o and -m are appended */
        const char **args = calloc((size_t)desc.n_args + 16, sizeof *args);
        int n = 0;
        if (!args) rc = fail("out of memory");
        else {
            args[n++] = "embed";
            for (int i = 0; i < desc.n_args; i++) args[n++] = desc.args[i];
            args[n++] = "-o";
            args[n++] = a.output;
            if (a.format) { args[n++] = "--format"; args[n++] = a.format; }
            if (a.stats_out) { args[n++] = "--stats-out"; args[n++] = a.stats_out; }
            if (a.model) { args[n++] = "-m"; args[n++] = a.model; }
            if (a.threads) { args[n++] = "-t"; args[n++] = a.threads; }
            if (a.quiet) args[n++] = "-q";
            embed_given_rows given = {&desc, g.n, g.hs, g.rw, g.ids, g.tokens, g.truncated, truncated_rows,
                                      truncated_rows + g.truncated, 0};
            rc = embed_with_rows(n, (char **)args, &given);
            free(args);
        }
    }
    if (g.ids)
        for (int64_t i = 0; i < g.n; i++) free(g.ids[i]);
    free(g.ids);
    free(g.truncated_at);
    free(truncated_rows);
    free(g.hs);
    free(g.rw);
    job_desc_free(&desc);
    free(a.parts);
    return rc ? 1 : 0;
}
