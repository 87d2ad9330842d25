/* tools/eval/results.c: see tools/eval/results.h.
 *
 * Result file schema (one JSON object per task and kind):
 *   {
 *     "task": "STS12",                       dataset name (its folder's name)
 *     "type": "STS",                         STS | PairClassification | Reranking |
 *                                            Classification | Clustering | Summarization
 *     "main_score_name": "cosine_spearman",
 *     "main_score": 0.4641,                  = scores[main_score_name]; null if undefined
 *     "scores": {"cosine_spearman": ..., "cosine_pearson": ..., ...},   see tools/eval/tasks.h
 *     "kind": "moee-sum" | "hs" | "rw" | "moee" | null (--embeddings),
 *     "alpha": 1.0 | null,                   moee-sum only
 *     "model": "path.gguf" | null,  "embeddings": "file.jsonl" | null,
 *     "prompt": "none" | ... | null,  "template": "..." | null,  "instruction": "..." | null,
 *     "standardize": true | false | null,
 *     "dataset": {"path": "...", "n_items": 3108, "n_texts": 5231},
 *     "classification": {"n_experiments": 10, "samples_per_label": 16 (0 = all),
 *                        "n_train_rows": 16000, "seed": 42},        Classification only
 *     "clustering": {"kmeans_restarts": 10, "seed": 42},             Clustering only
 *     "seconds": 12.5,  "embed_seconds": 11.9 | null,
 *     "moee_version": "0.1.0"
 *   }
 * Numbers are written with 17 significant digits (they round-trip). */
#include "weights/file.h"
#include "tools/eval/results.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/eval/util.h"
#include "weights/json.h"

static void write_number(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.17g", x);
    else fputs("null", f);
}

static void write_string_or_null(FILE *f, const char *s) {
    if (s) json_write_string(f, s, strlen(s));
    else fputs("null", f);
}

int eval_result_write(const char *path, const eval_result *r, char *err, size_t err_size) {
    moee_out o;   /* weights/file.h: a temporary renamed into place, or a device written straight */
    if (moee_out_open(&o, path, err, err_size)) return -1;
    FILE *f = o.f;
    const eval_dataset *d = r->dataset;
    const eval_scores *s = r->scores;
    fputs("{\"task\": ", f); write_string_or_null(f, d->name);
    fputs(", \"type\": ", f); write_string_or_null(f, eval_type_name(d->type));
    fputs(", \"main_score_name\": ", f); write_string_or_null(f, eval_main_score_name(d->type));
    fputs(", \"main_score\": ", f); write_number(f, s->n ? s->value[0] : NAN);
    fputs(", \"scores\": {", f);
    for (int i = 0; i < s->n; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", s->name[i]);
        write_number(f, s->value[i]);
    }
    fputs("}, \"kind\": ", f); write_string_or_null(f, r->kind);
    fputs(", \"alpha\": ", f); write_number(f, r->alpha);
    fputs(", \"model\": ", f); write_string_or_null(f, r->model);
    fputs(", \"embeddings\": ", f); write_string_or_null(f, r->embeddings);
    fputs(", \"prompt\": ", f); write_string_or_null(f, r->prompt);
    fputs(", \"template\": ", f); write_string_or_null(f, r->template_text);
    fputs(", \"instruction\": ", f); write_string_or_null(f, r->instruction);
    fprintf(f, ", \"standardize\": %s", r->standardize < 0 ? "null" : r->standardize ? "true" : "false");
    fputs(", \"dataset\": {\"path\": ", f); write_string_or_null(f, d->path);
    fprintf(f, ", \"n_items\": %lld, \"n_texts\": %lld}", (long long)d->n_items, (long long)d->texts.count);
    if (d->type == EVAL_CLASSIFICATION)
        fprintf(f, ", \"classification\": {\"n_experiments\": %d, \"samples_per_label\": %d, \"n_train_rows\": %lld, \"seed\": %lld}",
                d->n_experiments, d->samples_per_label, (long long)d->n_train_rows, (long long)r->classification_seed);
    if (d->type == EVAL_CLUSTERING)
        fprintf(f, ", \"clustering\": {\"kmeans_restarts\": %d, \"seed\": %lld}", r->kmeans_restarts, (long long)r->kmeans_seed);
    fputs(", \"seconds\": ", f); write_number(f, r->seconds);
    fputs(", \"embed_seconds\": ", f); write_number(f, r->embed_seconds);
    fputs(", \"moee_version\": \"" MOEE_VERSION "\"}\n", f);
    if (ferror(f)) o.failed = EIO;
    return moee_out_commit(&o, err, err_size);
}

/* ---- summary table -------------------------------------------------------------- */

static int find_or_add(char ***names, int *count, int *cap, const char *name) {
    for (int i = 0; i < *count; i++) if (!strcmp((*names)[i], name)) return i;
    if (*count == *cap) { *cap = *cap ? 2 * *cap : 16; *names = eval_realloc(*names, (size_t)*cap, sizeof **names); }
    (*names)[*count] = eval_strdup(name);
    return (*count)++;
}

void eval_table_set(eval_table *t, const char *row, const char *col, double main_score) {
    int old_rows = t->n_rows, old_cols = t->n_cols;
    int r = find_or_add(&t->rows, &t->n_rows, &t->cap_rows, row);
    int c = find_or_add(&t->cols, &t->n_cols, &t->cap_cols, col);
    if (t->n_rows != old_rows || t->n_cols != old_cols) {   /* grow the value grid, keeping values */
        double *v = eval_calloc((size_t)(t->n_rows * t->n_cols), sizeof *v);
        for (int i = 0; i < t->n_rows; i++)
            for (int j = 0; j < t->n_cols; j++)
                v[i * t->n_cols + j] = i < old_rows && j < old_cols ? t->value[i * old_cols + j] : NAN;
        free(t->value);
        t->value = v;
    }
    t->value[r * t->n_cols + c] = main_score;
}

void eval_table_print(const eval_table *t, FILE *out) {
    int width = 7;
    for (int i = 0; i < t->n_rows; i++) if ((int)strlen(t->rows[i]) > width) width = (int)strlen(t->rows[i]);
    fprintf(out, "%-*s", width, "task");
    for (int j = 0; j < t->n_cols; j++) fprintf(out, "  %12s", t->cols[j]);
    fputc('\n', out);
    for (int i = 0; i < t->n_rows; i++) {
        fprintf(out, "%-*s", width, t->rows[i]);
        for (int j = 0; j < t->n_cols; j++) {
            double v = t->value[i * t->n_cols + j];
            if (isfinite(v)) fprintf(out, "  %12.2f", 100 * v);
            else fprintf(out, "  %12s", "-");
        }
        fputc('\n', out);
    }
    if (t->n_rows > 1) {   /* the average over the tasks that have a score in that column */
        fprintf(out, "%-*s", width, "average");
        for (int j = 0; j < t->n_cols; j++) {
            double sum = 0;
            int count = 0;
            for (int i = 0; i < t->n_rows; i++) {
                double v = t->value[i * t->n_cols + j];
                if (isfinite(v)) { sum += v; count++; }
            }
            if (count) fprintf(out, "  %12.2f", 100 * sum / count);
            else fprintf(out, "  %12s", "-");
        }
        fputc('\n', out);
    }
}

void eval_table_free(eval_table *t) {
    for (int i = 0; i < t->n_rows; i++) free(t->rows[i]);
    for (int j = 0; j < t->n_cols; j++) free(t->cols[j]);
    free(t->rows); free(t->cols); free(t->value);
    memset(t, 0, sizeof *t);
}
