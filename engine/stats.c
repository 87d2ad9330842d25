/* stats.c: per-dimension standardization (MOEE.md section 3).
 *
 * The paper z-scores each encode batch, so a vector depends on its neighbours.
 * moee computes the statistics once, over the whole input (or loads statistics
 * saved from an earlier corpus) and applies the paper's formula to every vector:
 *
 *   z = (x - mean) / (std + 1e-8),  std the unbiased (n - 1) standard deviation,
 *
 * in double precision, summing rows in input order (so the result never depends
 * on threads or batching). HS and RW get separate statistics.
 *
 * The statistics file is JSON, numbers printed with %.17g so doubles round-trip,
 * and records what produced the statistics (provenance), so that moee_embed can
 * refuse them for vectors of another model, prompt, pooling or RW source:
 *
 *   {"format": "moee-stats", "version": 2,
 *    "model_fingerprint": "9f0c...", "arch": "olmoe", "hs_dim": 2048, "rw_dim": 1024,
 *    "prompt": "prompteol", "template": null, "instruction": null,
 *    "pool": "last", "rw_source": "logits",
 *    "hs": {"dim": 2048, "count": 1000, "mean": [...], "std": [...]},
 *    "rw": {"dim": 1024, "count": 1000, "mean": [...], "std": [...]}}
 *
 * A part that was not computed (dim 0) is left out of the file. Version 1 files
 * (no provenance) are refused with the command that remakes them. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/embed.h"
#include "weights/file.h"
#include "weights/json.h"

#define STATS_EPS 1e-8

int moee_stats_compute(const float *x, int64_t n, int64_t dim, moee_stats *out,
                       char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    if (n < 2) {
        snprintf(err, err_size, "standardization needs at least 2 vectors to estimate a standard "
                 "deviation (got %" PRId64 ")", n);
        return 1;
    }
    if (dim <= 0) { snprintf(err, err_size, "standardization: dimension %" PRId64, dim); return 1; }
    double *mean = calloc((size_t)dim, sizeof *mean);
    double *var = calloc((size_t)dim, sizeof *var);
    if (!mean || !var) {
        free(mean); free(var);
        snprintf(err, err_size, "standardization: out of memory (%" PRId64 " dimensions)", dim);
        return 1;
    }
    /* two passes (mean, then squared deviations): exact enough in double and simple */
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * dim;
        for (int64_t d = 0; d < dim; d++) mean[d] += row[d];
    }
    for (int64_t d = 0; d < dim; d++) mean[d] /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * dim;
        for (int64_t d = 0; d < dim; d++) {
            double dev = row[d] - mean[d];
            var[d] += dev * dev;
        }
    }
    for (int64_t d = 0; d < dim; d++) {
        var[d] = sqrt(var[d] / (double)(n - 1));
        if (!isfinite(mean[d]) || !isfinite(var[d])) {
            snprintf(err, err_size, "standardization: dimension %" PRId64 " is not finite "
                     "(mean %g, std %g): the input vectors hold NaN or infinity", d, mean[d], var[d]);
            free(mean); free(var);
            return 1;
        }
    }
    out->dim = dim;
    out->count = n;
    out->mean = mean;
    out->std = var;
    return 0;
}

void moee_stats_apply(const moee_stats *s, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * s->dim;
        for (int64_t d = 0; d < s->dim; d++)
            row[d] = (float)((row[d] - s->mean[d]) / (s->std[d] + STATS_EPS));
    }
}

void moee_stats_free(moee_stats *s) {
    if (!s) return;
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

/* ---- provenance ------------------------------------------------------------------ */

static const char *pool_name(moee_pool p) { return p == MOEE_POOL_MEAN ? "mean" : "last"; }
static const char *rw_name(moee_rw_source r) { return r == MOEE_RW_PROBS ? "probs" : "logits"; }

void moee_statistics_free(moee_statistics *s) {
    if (!s) return;
    moee_stats_free(&s->hs);
    moee_stats_free(&s->rw);
    free(s->prompt);
    free(s->template_text);
    free(s->instruction);
    memset(s, 0, sizeof *s);
}

/* The prompt provenance of these options: "ids", "custom" or the template name. */
static const char *prompt_of(const moee_embed_options *o) {
    if (o->token_ids) return "ids";
    if (o->custom_template) return "custom";
    return o->template_name ? o->template_name : "none";
}

static int dup_or_null(const char *src, char **dst) {
    *dst = NULL;
    return src && !(*dst = strdup(src));
}

int moee_statistics_provenance(moee_statistics *s, const moee_model *m, const moee_embed_options *o) {
    const moee_model_info *info = moee_model_get_info(m);
    memcpy(s->model_fingerprint, info->fingerprint, sizeof s->model_fingerprint);
    memcpy(s->arch, info->arch, sizeof s->arch);
    s->hs_dim = info->hs_dim;
    s->rw_dim = info->rw_dim;
    s->pool = o->pool;
    s->rw_source = moee_rw_source_resolve(m, o->rw_source);
    free(s->prompt);
    free(s->template_text);
    free(s->instruction);
    int bad = dup_or_null(prompt_of(o), &s->prompt);
    bad |= dup_or_null(o->token_ids ? NULL : o->custom_template, &s->template_text);
    bad |= dup_or_null(o->token_ids ? NULL : o->instruction, &s->instruction);
    return bad;
}

static int copy_part(const moee_stats *src, moee_stats *dst) {
    memset(dst, 0, sizeof *dst);
    if (src->dim <= 0) return 0;
    dst->mean = malloc((size_t)src->dim * sizeof *dst->mean);
    dst->std = malloc((size_t)src->dim * sizeof *dst->std);
    if (!dst->mean || !dst->std) { moee_stats_free(dst); return 1; }
    memcpy(dst->mean, src->mean, (size_t)src->dim * sizeof *dst->mean);
    memcpy(dst->std, src->std, (size_t)src->dim * sizeof *dst->std);
    dst->dim = src->dim;
    dst->count = src->count;
    return 0;
}

int moee_statistics_copy(const moee_statistics *src, moee_statistics *dst) {
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->hs = dst->rw = (moee_stats){0};
    dst->prompt = dst->template_text = dst->instruction = NULL;
    if (copy_part(&src->hs, &dst->hs) || copy_part(&src->rw, &dst->rw) ||
        dup_or_null(src->prompt, &dst->prompt) || dup_or_null(src->template_text, &dst->template_text) ||
        dup_or_null(src->instruction, &dst->instruction)) {
        moee_statistics_free(dst);
        return 1;
    }
    return 0;
}

/* 1, with "the statistics were made with WHAT 'A', this run uses 'B'" in err, if
 * made and now differ (NULL is "none"). */
static int differs(char *err, size_t err_size, const char *what, const char *made, const char *now) {
    if ((!made && !now) || (made && now && !strcmp(made, now))) return 0;
    snprintf(err, err_size, "the statistics were made with %s %s%s%s, this run uses %s%s%s", what,
             made ? "'" : "", made ? made : "none", made ? "'" : "", now ? "'" : "", now ? now : "none", now ? "'" : "");
    return 1;
}

int moee_statistics_check(const moee_statistics *s, const moee_model *m, const moee_embed_options *o,
                          char *err, size_t err_size) {
    const moee_model_info *info = moee_model_get_info(m);
    const char *why = "the statistics were made";
    if (strcmp(s->arch, info->arch) != 0) {
        snprintf(err, err_size, "%s with a %s model, this model is %s", why, s->arch, info->arch);
        return 1;
    }
    if (s->hs_dim != info->hs_dim || s->rw_dim != info->rw_dim) {
        snprintf(err, err_size, "%s with a model of hs_dim %" PRId64 " and rw_dim %" PRId64 ", this model has "
                 "%d and %d", why, s->hs_dim, s->rw_dim, info->hs_dim, info->rw_dim);
        return 1;
    }
    if (strcmp(s->model_fingerprint, info->fingerprint) != 0) {
        snprintf(err, err_size, "%s with another model file (fingerprint %s, this model's is %s)", why,
                 s->model_fingerprint, info->fingerprint);
        return 1;
    }
    moee_rw_source rw = moee_rw_source_resolve(m, o->rw_source);
    return differs(err, err_size, "prompt", s->prompt, prompt_of(o)) ||
           differs(err, err_size, "template", s->template_text, o->token_ids ? NULL : o->custom_template) ||
           differs(err, err_size, "instruction", s->instruction, o->token_ids ? NULL : o->instruction) ||
           differs(err, err_size, "pooling", pool_name(s->pool), pool_name(o->pool)) ||
           differs(err, err_size, "rw-source", rw_name(s->rw_source), rw_name(rw));
}

/* ---- the statistics file ------------------------------------------------------- */

static void write_part(FILE *f, const char *name, const moee_stats *s) {
    fprintf(f, ",\n \"%s\": {\"dim\": %" PRId64 ", \"count\": %" PRId64 ",\n  \"mean\": [",
            name, s->dim, s->count);
    for (int64_t d = 0; d < s->dim; d++) fprintf(f, d ? ", %.17g" : "%.17g", s->mean[d]);
    fprintf(f, "],\n  \"std\": [");
    for (int64_t d = 0; d < s->dim; d++) fprintf(f, d ? ", %.17g" : "%.17g", s->std[d]);
    fprintf(f, "]}");
}

static void write_key_string(FILE *f, const char *key, const char *value) {
    fprintf(f, ", \"%s\": ", key);
    if (value) json_write_string(f, value, strlen(value));
    else fputs("null", f);
}

int moee_statistics_save(const char *path, const moee_statistics *s, char *err, size_t err_size) {
    moee_out o;   /* a temporary renamed into place: a reader never sees half a file */
    if (moee_out_open(&o, path, err, err_size)) return 1;
    FILE *f = o.f;
    fprintf(f, "{\"format\": \"moee-stats\", \"version\": 2");
    write_key_string(f, "model_fingerprint", s->model_fingerprint);
    write_key_string(f, "arch", s->arch);
    fprintf(f, ", \"hs_dim\": %" PRId64 ", \"rw_dim\": %" PRId64 ",\n", s->hs_dim, s->rw_dim);
    fprintf(f, " \"prompt\": ");
    json_write_string(f, s->prompt ? s->prompt : "none", strlen(s->prompt ? s->prompt : "none"));
    write_key_string(f, "template", s->template_text);
    write_key_string(f, "instruction", s->instruction);
    fprintf(f, ", \"pool\": \"%s\", \"rw_source\": \"%s\"", pool_name(s->pool), rw_name(s->rw_source));
    if (s->hs.dim > 0) write_part(f, "hs", &s->hs);
    if (s->rw.dim > 0) write_part(f, "rw", &s->rw);
    fprintf(f, "}\n");
    if (ferror(f)) o.failed = EIO;
    return moee_out_commit(&o, err, err_size) ? 1 : 0;
}

/* Reads one part ("hs" or "rw"); absent gives dim 0. */
static int load_part(const char *path, const json_value *root, const char *name, moee_stats *s,
                     char *err, size_t err_size) {
    memset(s, 0, sizeof *s);
    const json_value *part = json_get(root, name);
    if (!part) return 0;
    long long dim, count;
    const json_value *mean = json_get(part, "mean"), *std = json_get(part, "std");
    if (!json_get_int(json_get(part, "dim"), &dim) || dim <= 0 || dim > (1LL << 30) ||
        !json_get_int(json_get(part, "count"), &count) || count < 2 ||
        !mean || mean->kind != JSON_ARRAY || mean->u.array.count != (size_t)dim ||
        !std || std->kind != JSON_ARRAY || std->u.array.count != (size_t)dim) {
        snprintf(err, err_size, "%s: \"%s\" needs dim > 0, count >= 2, and mean and std arrays "
                 "of dim numbers", path, name);
        return 1;
    }
    s->dim = dim;
    s->count = count;
    s->mean = malloc((size_t)dim * sizeof *s->mean);
    s->std = malloc((size_t)dim * sizeof *s->std);
    if (!s->mean || !s->std) {
        moee_stats_free(s);
        snprintf(err, err_size, "%s: out of memory", path);
        return 1;
    }
    for (long long d = 0; d < dim; d++) {
        if (!json_get_number(json_at(mean, (size_t)d), &s->mean[d]) ||
            !json_get_number(json_at(std, (size_t)d), &s->std[d]) ||
            !isfinite(s->mean[d]) || !isfinite(s->std[d]) || s->std[d] < 0) {
            snprintf(err, err_size, "%s: \"%s\" dimension %lld: mean and std must be numbers, "
                     "std >= 0", path, name, d);
            moee_stats_free(s);
            return 1;
        }
    }
    return 0;
}

/* A string field (or null when nullable) into a malloc'ed copy; 1 if missing or wrong. */
static int load_string(const json_value *root, const char *key, int nullable, size_t max, char **out) {
    *out = NULL;
    const json_value *v = json_get(root, key);
    if (!v) return 1;
    if (v->kind == JSON_NULL) return !nullable;
    const char *p;
    size_t len;
    if (!json_get_string(v, &p, &len) || len > max || memchr(p, 0, len)) return 1;
    *out = strndup(p, len);
    return *out == NULL;
}

int moee_statistics_load(const char *path, moee_statistics *s, char *err, size_t err_size) {
    memset(s, 0, sizeof *s);
    json_doc *doc = json_parse_file(path, err, err_size);
    if (!doc) return 1;
    const json_value *root = json_root(doc);
    const char *format;
    size_t format_len;
    long long version, hs_dim, rw_dim;
    int rc = 1;
    char *fp = NULL, *arch = NULL, *pool = NULL, *rw = NULL;
    if (!json_get_string(json_get(root, "format"), &format, &format_len) ||
        strcmp(format, "moee-stats") != 0 || !json_get_int(json_get(root, "version"), &version)) {
        snprintf(err, err_size, "%s: not a moee statistics file (no \"format\": \"moee-stats\")", path);
        goto done;
    }
    if (version == 1) {
        snprintf(err, err_size, "%s: statistics file version 1 does not record the model and options that made "
                 "it; make it again with this moee (moee embed ... --stats-out %s)", path, path);
        goto done;
    }
    if (version != 2) {
        snprintf(err, err_size, "%s: statistics file version %lld (this moee reads version 2)", path, version);
        goto done;
    }
    if (load_string(root, "model_fingerprint", 0, 32, &fp) || load_string(root, "arch", 0, 15, &arch) ||
        !json_get_int(json_get(root, "hs_dim"), &hs_dim) || hs_dim < 0 || hs_dim > (1LL << 30) ||
        !json_get_int(json_get(root, "rw_dim"), &rw_dim) || rw_dim < 0 || rw_dim > (1LL << 30) ||
        load_string(root, "prompt", 0, 64, &s->prompt) ||
        load_string(root, "template", 1, 1 << 20, &s->template_text) ||
        load_string(root, "instruction", 1, 1 << 20, &s->instruction) ||
        load_string(root, "pool", 0, 8, &pool) || load_string(root, "rw_source", 0, 8, &rw) ||
        (strcmp(pool, "last") && strcmp(pool, "mean")) || (strcmp(rw, "logits") && strcmp(rw, "probs"))) {
        snprintf(err, err_size, "%s: the provenance needs model_fingerprint, arch, hs_dim, rw_dim, prompt, "
                 "template, instruction, pool (last|mean) and rw_source (logits|probs)", path);
        goto done;
    }
    memcpy(s->model_fingerprint, fp, strlen(fp) + 1);
    memcpy(s->arch, arch, strlen(arch) + 1);
    s->hs_dim = hs_dim;
    s->rw_dim = rw_dim;
    s->pool = !strcmp(pool, "mean") ? MOEE_POOL_MEAN : MOEE_POOL_LAST;
    s->rw_source = !strcmp(rw, "probs") ? MOEE_RW_PROBS : MOEE_RW_LOGITS;
    if (load_part(path, root, "hs", &s->hs, err, err_size) || load_part(path, root, "rw", &s->rw, err, err_size))
        goto done;
    if (s->hs.dim == 0 && s->rw.dim == 0) {
        snprintf(err, err_size, "%s: the statistics file holds neither \"hs\" nor \"rw\"", path);
        goto done;
    }
    if ((s->hs.dim && s->hs.dim != hs_dim) || (s->rw.dim && s->rw.dim != rw_dim)) {
        snprintf(err, err_size, "%s: the statistics' dimensions differ from hs_dim / rw_dim", path);
        goto done;
    }
    rc = 0;
done:
    if (rc) moee_statistics_free(s);
    free(fp); free(arch); free(pool); free(rw);
    json_free(doc);
    return rc;
}
