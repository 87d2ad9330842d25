/* tools/eval/results.h: what `moee eval` writes: one JSON file per (task, kind), and a
 * summary table like the paper's Table 4 (rows = tasks, columns = kinds, main
 * score x 100, an average row). The JSON schema is documented in tools/eval/results.c. */
#ifndef MOEE_EVAL_RESULTS_H
#define MOEE_EVAL_RESULTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tools/eval/data.h"
#include "tools/eval/tasks.h"
#include "moee.h"


typedef struct {
    const eval_dataset *dataset;
    const eval_scores *scores;
    const char *column;        /* the kind as the table shows it: "hs", "moee-sum@0.5", "embeddings" */
    const char *kind;          /* "hs", "rw", "moee", "moee-sum", or NULL (--embeddings) */
    double alpha;              /* moee-sum only, else NAN */
    const char *model;         /* model path, or NULL */
    const char *embeddings;    /* --embeddings file, or NULL */
    const char *prompt;        /* template name, or NULL */
    const char *template_text; /* custom template, or NULL */
    const char *instruction;   /* instruction used for this task, or NULL */
    int standardize;           /* 1 / 0, or -1 when not applicable (--embeddings) */
    int64_t kmeans_seed, classification_seed;
    int kmeans_restarts;
    double seconds;            /* embedding (model mode) + scoring, wall clock */
    double embed_seconds;      /* the embedding part (shared by the kinds of a task), or NAN */
} eval_result;

/* Writes r as JSON to path (via a temporary file renamed into place). */
int eval_result_write(const char *path, const eval_result *r, char *err, size_t err_size);

/* The summary table. */
typedef struct {
    int n_rows, n_cols;
    char **rows, **cols;
    double *value;             /* [row][col], NAN where missing */
    int cap_rows, cap_cols;
} eval_table;

void eval_table_set(eval_table *t, const char *row, const char *col, double main_score);
void eval_table_print(const eval_table *t, FILE *out);
void eval_table_free(eval_table *t);

#endif
