/* embed.h: the layers under moee_embed (internal to engine/ and its tests; the public
 * pipeline is moee_embed / moee_embed_finish in moee.h). */
#ifndef MOEE_ENGINE_EMBED_H
#define MOEE_ENGINE_EMBED_H
#include "moee.h"

/* Raw (unstandardized) rows of n texts: hs [n][hs_dim], rw [n][rw_dim] (either may be
 * NULL), row i belonging to texts[i] whatever order they ran in. truncated (may be NULL)
 * [n] gets 1 for each truncated text. Errors name the text by its 0-based index. Rows
 * are not checked for NaN or infinity here (moee_embed_finish does). */
int moee_embed_raw(const moee_model *m, const moee_embed_options *o,
                   const char *const *texts, const size_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts, char *truncated,
                   char *err, size_t err_size);

/* The same for pre-tokenized sequences ids[i][0..lens[i]), run as they are; a truncated
 * sequence keeps its first context_length ids. template_name, custom_template,
 * instruction and replace_invalid_utf8 of o are ignored. */
int moee_embed_ids(const moee_model *m, const moee_embed_options *o,
                   const int32_t *const *ids, const int64_t *lens, int64_t n,
                   float *hs, float *rw, moee_embed_counts *counts, char *truncated,
                   char *err, size_t err_size);

/* stats.c: mean and unbiased (n-1) standard deviation over n vectors (n >= 2), in
 * double precision and input order; applied as z = (x - mean) / (std + 1e-8). */
int moee_stats_compute(const float *x, int64_t n, int64_t dim, moee_stats *out,
                       char *err, size_t err_size);
void moee_stats_apply(const moee_stats *s, float *x, int64_t n);
void moee_stats_free(moee_stats *s);
/* s's provenance from the model and options (s's statistics untouched); 1 if out of memory. */
int moee_statistics_provenance(moee_statistics *s, const moee_model *m, const moee_embed_options *o);
/* A deep copy; 1 if out of memory. */
int moee_statistics_copy(const moee_statistics *src, moee_statistics *dst);

/* kinds.c: rows of kind k from (standardized or raw) hs and rw rows, into out [n][dim]. */
void moee_kind_combine(moee_kind k, const float *hs, const float *rw, int64_t n,
                       int64_t hs_dim, int64_t rw_dim, float alpha, float *out);

#endif
