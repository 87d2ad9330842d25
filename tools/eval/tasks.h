/* tools/eval/tasks.h: the six task runners of `moee eval`: a loaded dataset plus one
 * embedding per text (rows of emb, in the order of d->texts) -> the task's scores,
 * as MTEB defines them, for ONE embedding per text whatever its kind (EVAL.md
 * section 3: moee-sum is evaluated through its dot product, which is the paper's
 * similarity sum; no averaging of class ids or cluster ids).
 *
 * Scores (the first is the main score):
 *   STS                cosine_spearman, cosine_pearson, euclidean_spearman, manhattan_spearman
 *   PairClassification cosine_ap, euclidean_ap, manhattan_ap, dot_ap, max_ap
 *   Reranking          map, mrr_at_10
 *   Classification     accuracy, f1_macro (means over the experiments)
 *   Clustering         v_measure (mean over the sets)
 *   Summarization      cosine_spearman (mean over texts of the Spearman correlation)
 * A score that is undefined for the data (e.g. a constant similarity) is NaN. */
#ifndef MOEE_EVAL_TASKS_H
#define MOEE_EVAL_TASKS_H
#include <stddef.h>
#include <stdint.h>
#include "tools/eval/data.h"
#include "tools/eval/kmeans.h"

#define EVAL_MAX_SCORES 8

typedef struct {
    int n;
    const char *name[EVAL_MAX_SCORES];
    double value[EVAL_MAX_SCORES];
} eval_scores;

typedef struct {
    eval_kmeans_options kmeans;   /* Clustering */
    int logreg_max_iter;          /* Classification, default 100 */
} eval_run_options;

void eval_run_options_init(eval_run_options *o);
const char *eval_main_score_name(eval_type t);

/* Returns 0, or -1 with a message in err. */
int eval_run_task(const eval_dataset *d, const double *emb, int64_t dim, const eval_run_options *o,
                  eval_scores *out, char *err, size_t err_size);

#endif
