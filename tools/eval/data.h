/* tools/eval/data.h: the evaluation datasets of `moee eval`, loaded from the JSONL layout
 * of shared/datasets (one folder per dataset, named after the MTEB task):
 *
 *   STS                 test.jsonl  {"sentence1", "sentence2", "score"}
 *   PairClassification  test.jsonl  {"sentence1", "sentence2", "label": 0|1}
 *   Reranking           test.jsonl  {"query", "positive": [..], "negative": [..]}
 *   Classification      train.jsonl + test.jsonl  {"text", "label": int >= 0}
 *   Clustering          test.jsonl  one set per line {"sentences": [..], "labels": [..]}
 *   Summarization       test.jsonl  {"human_summaries": [..], "machine_summaries": [..],
 *                                     "relevance": [one number per machine summary]}
 *
 * Loading collects every text the task needs exactly once (eval_texts), so that
 * it is embedded once; the items refer to texts by index. Classification draws
 * its training samples (undersampling, below) at load time, so only the training
 * texts some experiment uses are embedded. */
#ifndef MOEE_EVAL_DATA_H
#define MOEE_EVAL_DATA_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    EVAL_STS, EVAL_PAIR_CLASSIFICATION, EVAL_RERANKING, EVAL_CLASSIFICATION,
    EVAL_CLUSTERING, EVAL_SUMMARIZATION, EVAL_TYPE_COUNT
} eval_type;

const char *eval_type_name(eval_type t);     /* "STS", "PairClassification", ... */
int eval_type_from_name(const char *name);   /* case-insensitive; -1 if unknown */

/* What moee knows about a dataset by its MTEB name: its type (-1 if unknown: the
 * name's suffix Classification/Clustering/Reranking/Summarization is tried next),
 * the e5 instruction the paper's code uses for it (NULL if none), and MTEB's
 * samples_per_label for classification (8, MTEB's default, if not listed). */
int eval_known_type(const char *task_name);
const char *eval_task_instruction(const char *task_name);
int eval_samples_per_label(const char *task_name);

/* Every text once. A text used as a reranking candidate is a "document": with a
 * task instruction it is embedded with an empty instruction (the paper's GritLM
 * format for corpora), so it is kept apart from the same text used as a query. */
typedef struct {
    int64_t count;
    char **text;             /* NUL-terminated copies (may contain NUL: use len) */
    size_t *len;
    unsigned char *document;
    int64_t capacity;
    int64_t *slot;           /* open-addressing hash table of indices, -1 = empty */
    int64_t n_slots;
} eval_texts;

int64_t eval_texts_add(eval_texts *t, const char *s, size_t len, int document);
int64_t eval_texts_find(const eval_texts *t, const char *s, size_t len, int document);  /* -1 if absent */
void eval_texts_free(eval_texts *t);

/* Index ranges: item i owns entries [start[i], start[i+1]) of the arrays it names.
 * Every int64_t entry of a text array is an index into texts. */
typedef struct {
    char *name;              /* the dataset's name (its folder's base name) */
    char *path;              /* the folder */
    eval_type type;
    eval_texts texts;
    int64_t n_items;         /* pairs, queries, test texts, sets or summarized texts */

    /* STS and PairClassification: pair i = texts a[i], b[i] with gold[i] / label[i] */
    int64_t *a, *b;
    double *gold;
    int *label;

    /* Reranking: query[i]; candidates cand[start[i]..start[i+1]), relevant or not */
    int64_t *query, *start, *cand;
    int *relevant;

    /* Classification: test text test_text[i] with test_label[i]; experiment e
     * trains on train_text/train_label[exp_start[e]..exp_start[e+1]) */
    int64_t *test_text;
    int *test_label;
    int n_experiments;
    int samples_per_label;   /* 0 = all */
    int64_t *exp_start, *train_text;
    int *train_label;
    int64_t n_train_rows;    /* rows of train.jsonl */

    /* Clustering: set i = members[start[i]..start[i+1]) with cluster_label[] */
    int64_t *members, *cluster_label;

    /* Summarization: text i has human summaries human[hstart[i]..hstart[i+1]) and
     * machine summaries machine[mstart[i]..mstart[i+1]) with relevance[] */
    int64_t *hstart, *human, *mstart, *machine;
    double *relevance;
} eval_dataset;

typedef struct {
    int n_experiments;       /* Classification: default 10 */
    int samples_per_label;   /* -1 = the dataset's default, 0 = all */
    uint64_t seed;           /* undersampling seed, default 42 */
    const char *name;        /* the dataset's MTEB name; NULL = the folder's name */
} eval_load_options;

void eval_load_options_init(eval_load_options *o);

/* Loads the dataset in folder dir as type (or, if type < 0, the type known from
 * the folder's name). Returns 0, or -1 with "FILE:LINE: what" in err. */
int eval_dataset_load(eval_dataset *d, const char *dir, int type, const eval_load_options *o,
                      char *err, size_t err_size);
void eval_dataset_free(eval_dataset *d);

/* Is dir itself a dataset folder (has test.jsonl)? */
int eval_is_dataset_dir(const char *dir);

#endif
