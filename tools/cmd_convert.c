/* cmd_convert.c: `moee convert`, a Hugging Face checkpoint (or just its
 * tokenizer) to GGUF, or a GGUF to another file type. The work is in
 * tools/convert/convert.c and tools/convert/requantize.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tools/cmd.h"
#include "tools/options.h"
#include "tools/convert/convert.h"
#include "tools/convert/recipe.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: moee convert HF_DIR|IN.gguf OUT.gguf [--type T] [--pure]\n"
        "       moee convert --vocab-only SRC OUT.gguf [--arch olmoe|qwen2moe|deepseek]\n"
        "\n"
        "HF_DIR holds config.json and model.safetensors (or model.safetensors.index.json\n"
        "and its shards), and optionally tokenizer.json (+ tokenizer_config.json), which\n"
        "is embedded. Names and conventions are llama.cpp's, so llama.cpp can load the\n"
        "result. IN.gguf: a GGUF model re-quantized as llama-quantize does it.\n"
        "\n"
        "--type T   a llama-quantize file type (default F16; any case):\n"
        "           %s\n"
        "           Each applies llama-quantize's recipe (Feb 2025): which tensor gets\n"
        "           which type by name, layer and shape, with its fallbacks for rows that\n"
        "           are not whole blocks; norms, biases and routers stay f32.\n"
        "--pure     every matrix in T's one type (f16 where rows are not whole blocks)\n"
        "\n"
        "--vocab-only: SRC is a tokenizer.json or a directory holding it (and optionally\n"
        "tokenizer_config.json and config.json); writes a GGUF with only the tokenizer.\n",
        recipe_names());
}

/* A GGUF input: named *.gguf (so that a missing one is reported as such) or
 * starting with the GGUF magic. Anything else is taken for a checkpoint directory. */
static int is_gguf(const char *path) {
    size_t len = strlen(path);
    if (len >= 5 && !strcmp(path + len - 5, ".gguf")) return 1;
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    return got == 4 && !memcmp(magic, "GGUF", 4);
}

int cmd_convert(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL}, *type_name = "F16", *arch = NULL;
    int n_pos = 0, vocab_only = 0, pure = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--vocab-only")) vocab_only = 1;
        else if (!strcmp(a, "--pure")) pure = 1;
        else if (!strcmp(a, "--type") || !strcmp(a, "--arch")) {
            if (opt_value("convert", argc, argv, &i, !strcmp(a, "--type") ? &type_name : &arch)) return 1;
        } else if ((a[0] == '-' && a[1]) || n_pos == 2) {
            return opt_unknown("convert", a);
        } else pos[n_pos++] = a;
    }
    if (n_pos != 2) { usage(stderr); return 1; }

    char err[1024];
    if (vocab_only) {
        if (convert_vocab_only(pos[0], pos[1], arch, err, sizeof err)) {
            fprintf(stderr, "moee convert: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (arch) { fprintf(stderr, "moee convert: --arch only goes with --vocab-only\n"); return 1; }
    const recipe *r = recipe_by_name(type_name);
    if (!r) {
        fprintf(stderr, "moee convert: unknown --type %s (%s)\n", type_name, recipe_names());
        return 1;
    }
    model_write_stats stats;
    convert_options o = {r, pure, stderr, isatty(fileno(stderr)), &stats};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int failed = is_gguf(pos[0]) ? convert_gguf(pos[0], pos[1], &o, err, sizeof err)
                                 : convert_hf(pos[0], pos[1], &o, err, sizeof err);
    if (failed) {
        fprintf(stderr, "moee convert: %s\n", err);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("wrote %s: %s%s, %zu tensors, %.1f MB in %.1f s\n", pos[1], r->name, pure ? " (pure)" : "",
           stats.n_tensors, (double)stats.file_bytes / 1e6, seconds);
    return 0;
}
