/* convert.h: Hugging Face checkpoint -> GGUF with llama.cpp's conventions
 * (the engine of `moee convert`, callable from tests).
 *
 * A checkpoint directory holds config.json, model.safetensors or
 * model.safetensors.index.json with its shards, and optionally tokenizer.json
 * (+ tokenizer_config.json), which is then embedded. The GGUF has llama.cpp's
 * architecture, tensor and key names (tools/convert/arch.h); matrices get the types
 * llama-quantize's recipe gives them (tools/convert/recipe.h), norms, biases and
 * routers stay F32. One HF tensor (one expert) is converted at a time. */
#ifndef MOEE_CONVERT_H
#define MOEE_CONVERT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tools/convert/model_write.h"

typedef struct {
    const recipe *recipe;   /* llama-quantize's file type: Q4_K_M, Q8_0, F16, ... */
    int pure;               /* every matrix in the recipe's base type (llama-quantize --pure) */
    FILE *log;              /* notes and progress (NULL = silent) */
    int progress;           /* a live progress line on log */
    model_write_stats *stats;   /* filled in on success (NULL: not wanted) */
} convert_options;

/* Errors (one line in err, no output file left): missing config.json, unknown
 * architecture, unsupported configuration, a missing or mis-shaped tensor (named,
 * with its shard), an unsupported dtype, an unreadable checkpoint. */
int convert_hf(const char *hf_dir, const char *out_path, const convert_options *o,
               char *err, size_t err_size);

/* A GGUF model -> the same model in another file type: what llama-quantize writes
 * for the same input and type, byte for byte (tensors of a type that changes go
 * through floats, so any type moee reads can be re-quantized; llama-quantize needs
 * --allow-requantize for that). One chunk of rows in memory at a time. Errors: an
 * unreadable or malformed GGUF, an architecture other than moee's three, a tensor
 * whose rows fit neither the chosen type nor a fallback. */
int convert_gguf(const char *in_path, const char *out_path, const convert_options *o,
                 char *err, size_t err_size);

/* A GGUF holding only general.architecture, general.name and the tokenizer keys
 * (like llama.cpp's ggml-vocab-*.gguf). src is a tokenizer.json, or a directory
 * holding tokenizer.json (and optionally tokenizer_config.json and config.json).
 * arch (NULL = from the directory's config.json) is olmoe, qwen2moe or deepseek. */
int convert_vocab_only(const char *src, const char *out_path, const char *arch,
                       char *err, size_t err_size);

#endif
