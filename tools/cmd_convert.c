/* cmd_convert.c: `moee convert`, a Hugging Face checkpoint (or just its
 * tokenizer) to GGUF. The work is in tools/convert/convert.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kernels/types.h"
#include "tools/cmd.h"
#include "tools/options.h"
#include "tools/convert/convert.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: moee convert HF_DIR OUT.gguf [--type f32|f16|bf16|q8_0|q4_0]\n"
        "       moee convert --vocab-only SRC OUT.gguf [--arch olmoe|qwen2moe|deepseek]\n"
        "\n"
        "HF_DIR holds config.json and model.safetensors (or model.safetensors.index.json\n"
        "and its shards), and optionally tokenizer.json (+ tokenizer_config.json), which\n"
        "is embedded. Names and conventions are llama.cpp's, so llama.cpp can load the\n"
        "result. --type sets the matrices' type (default f16); norms, biases and routers\n"
        "stay f32; a matrix whose rows do not fit whole q8_0/q4_0 blocks is written f16.\n"
        "\n"
        "--vocab-only: SRC is a tokenizer.json or a directory holding it (and optionally\n"
        "tokenizer_config.json and config.json); writes a GGUF with only the tokenizer.\n");
}

int cmd_convert(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL}, *type_name = "f16", *arch = NULL;
    int n_pos = 0, vocab_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--vocab-only")) vocab_only = 1;
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
    const moee_type_traits *tt = moee_type_by_name(type_name);
    if (!tt) {
        fprintf(stderr, "moee convert: unknown --type %s (f32, f16, bf16, q8_0, q4_0)\n", type_name);
        return 1;
    }
    model_write_stats stats;
    convert_options o = {tt->id, stderr, isatty(fileno(stderr)), &stats};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (convert_hf(pos[0], pos[1], &o, err, sizeof err)) {
        fprintf(stderr, "moee convert: %s\n", err);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("wrote %s: %s, %zu tensors, %.1f MB in %.1f s\n", pos[1], tt->name, stats.n_tensors,
           (double)stats.file_bytes / 1e6, seconds);
    return 0;
}
