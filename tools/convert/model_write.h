/* model_write.h: writing a model GGUF from an architecture's tensor plan, one
 * slice of rows at a time, so that memory stays small whatever the model's size.
 * Shared by `moee convert` (rows read from a Hugging Face checkpoint) and
 * `moee synth` (rows drawn from a random generator): the caller supplies the rows
 * as floats, this file converts/quantizes them to each tensor's type and streams
 * them into the GGUF writer. */
#ifndef MOEE_MODEL_WRITE_H
#define MOEE_MODEL_WRITE_H
#include <stdint.h>
#include <stdio.h>
#include "tools/convert/arch.h"
#include "tools/convert/recipe.h"
#include "tokenizer/tokenizer.h"

/* Fills n_rows rows (each t->ne[0] floats, in GGUF order) of slice `slice` of
 * tensor t (slice = expert index for stacked tensors, else 0), starting at row
 * first_row of that slice. Returns 0, or -1 with a message in err. May be called
 * from one thread only, but may itself use threads. */
typedef int (*model_row_filler)(void *user, const tensor_plan *t, int64_t slice, int64_t first_row,
                                int64_t n_rows, float *out, char *err, size_t err_size);

typedef struct {
    const recipe *recipe;               /* llama-quantize's file type: which tensor gets which type */
    int pure;                           /* every matrix in the recipe's base type (llama-quantize --pure) */
    const moee_tokenizer *tokenizer;    /* NULL: the file says tokenizer.ggml.model = "none" */
    FILE *log;                          /* notes (fallbacks) and progress; NULL = silent */
    int progress;                       /* show a live progress line on log */
    const char *log_prefix;             /* e.g. "moee convert" */
} model_write_options;

typedef struct {
    size_t n_tensors;
    size_t n_fallback;                  /* tensors whose rows do not fit the blocks of the type the
                                           recipe chose, written in llama-quantize's substitute (or f16) */
    uint64_t file_bytes;
} model_write_stats;

/* The ggml type of every tensor of plan (into types[n_plan]): the recipe's choice
 * for matrices, f32 for the rest. Fallbacks are noted on log (if not NULL) and
 * counted in *n_fallback (if not NULL). Returns 0, or -1 with one line in err. */
int model_write_tensor_types(const model_config *c, const tensor_plan *plan, size_t n_plan, const recipe *r,
                             int pure, uint32_t *types, FILE *log, const char *log_prefix, size_t *n_fallback,
                             char *err, size_t err_size);

/* Writes out_path (through out_path.tmp, renamed at the end; removed on error). */
int model_write(const char *out_path, const model_config *c, const tensor_plan *plan, size_t n_plan,
                const model_write_options *o, model_row_filler fill, void *user,
                model_write_stats *stats, char *err, size_t err_size);

#endif
