/* cmd_synth.c: `moee synth`, a random-weight model of a real architecture and
 * shape. The work is in tools/convert/synth.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tools/cmd.h"
#include "tools/convert/recipe.h"
#include "tools/options.h"
#include "tools/convert/synth.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: moee synth --arch olmoe|qwen2moe|deepseek [--shape tiny|full] [--type TYPE]\n"
        "       moee synth --config config.json [--type TYPE] ...\n"
        "                  -o OUT.gguf [--tokenizer FILE [--tokenizer-config FILE]]\n"
        "                  [--seed N] [--pure]\n"
        "\n"
        "Writes a model with random weights (fixed seed, default 1) and exactly the\n"
        "tensors and metadata `moee convert` writes for that architecture.\n"
        "  --shape tiny   the golden test models' dimensions (hidden 64, 4 layers, 8 experts)\n"
        "  --shape full   the real model's: OLMoE-1B-7B, Qwen1.5-MoE-A2.7B, deepseek-moe-16b\n"
        "  --config       any dimensions: those of a Hugging Face config.json (instead of\n"
        "                 --arch and --shape)\n"
        "  --type         a llama-quantize file type and its recipe, as `moee convert`\n"
        "                 (default F16): %s\n"
        "  --pure         every matrix in that one type\n"
        "  --tokenizer    embed this tokenizer: a tokenizer.json, or a GGUF that has one\n"
        "                 (the vocabulary grows to its size if needed)\n", recipe_names());
}

int cmd_synth(int argc, char **argv) {
    synth_options o = {0};
    const char *out = NULL, *type_name = "F16";
    o.shape = "tiny";
    o.seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--pure")) { o.pure = 1; continue; }
        const char **slot = !strcmp(a, "--arch") ? &o.arch : !strcmp(a, "--shape") ? &o.shape
                          : !strcmp(a, "--type") ? &type_name : (!strcmp(a, "-o") || !strcmp(a, "--output")) ? &out
                          : !strcmp(a, "--tokenizer") ? &o.tokenizer_file : !strcmp(a, "--config") ? &o.config
                          : !strcmp(a, "--tokenizer-config") ? &o.tokenizer_config : NULL;
        if (!slot && strcmp(a, "--seed")) return opt_unknown("synth", a);
        const char *v;
        if (opt_value("synth", argc, argv, &i, &v)) return 1;
        if (slot) { *slot = v; continue; }
        int64_t seed;
        if (opt_int("synth", a, v, 0, INT64_MAX, &seed)) return 1;
        o.seed = (uint64_t)seed;
    }
    if ((!o.arch == !o.config) || !out) { usage(stderr); return 1; }
    if (!(o.recipe = recipe_by_name(type_name))) {
        fprintf(stderr, "moee synth: unknown --type %s (%s)\n", type_name, recipe_names());
        return 1;
    }
    o.log = stderr;
    o.progress = isatty(fileno(stderr));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[1024];
    model_write_stats stats;
    if (synth_model(out, &o, &stats, err, sizeof err)) {
        fprintf(stderr, "moee synth: %s\n", err);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!o.tokenizer_file)
        fprintf(stderr, "moee synth: warning: no --tokenizer: the model will only embed token ids (moee embed --ids)\n");
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("wrote %s: %s %s %s, %zu tensors, %.1f MB in %.1f s\n", out, o.config ? o.config : o.arch,
           o.config ? "config" : o.shape, o.recipe->name,
           stats.n_tensors, (double)stats.file_bytes / 1e6, seconds);
    return 0;
}
