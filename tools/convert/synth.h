/* synth.h: random-weight models of the real architectures and shapes (the engine
 * of `moee synth`), for demos, benchmarks and tests.
 *
 * The tensor list and metadata are exactly those `moee convert` writes for the
 * same architecture (both come from tools/convert/arch.c). Weights come from a fixed-seed
 * generator, row by row, so the file is the same for the same options whatever
 * the thread count, and memory stays small even for the full shapes. */
#ifndef MOEE_SYNTH_H
#define MOEE_SYNTH_H
#include <stdint.h>
#include <stdio.h>
#include "tools/convert/model_write.h"

typedef struct {
    const char *arch;               /* olmoe, qwen2moe, deepseek */
    const char *shape;              /* tiny, full */
    const char *config;             /* a Hugging Face config.json instead of arch + shape (NULL: none) */
    const recipe *recipe;           /* llama-quantize's file type: which tensor gets which type */
    int pure;                       /* every matrix in the recipe's base type */
    const char *tokenizer_file;     /* tokenizer.json or a GGUF carrying a tokenizer; NULL: none */
    const char *tokenizer_config;   /* NULL: the family's defaults */
    uint64_t seed;
    FILE *log;                      /* notes and progress; NULL = silent */
    int progress;
} synth_options;

int synth_model(const char *out_path, const synth_options *o, model_write_stats *stats,
                char *err, size_t err_size);

#endif
