/* main.c: the `moee` command. One file per subcommand (tools/cmd_*.c). */
#include <stdio.h>
#include <string.h>
#include "moee.h"
#include "tools/cmd.h"

static const struct { const char *name; int (*run)(int argc, char **argv); const char *what; } commands[] = {
    {"embed",    cmd_embed,    "text (or token ids) in, HS / RW / MoEE embeddings out"},
    {"eval",     cmd_eval,     "MTEB-style evaluation of embeddings"},
    {"tokenize", cmd_tokenize, "text to token ids and back"},
    {"convert",  cmd_convert,  "Hugging Face checkpoint to GGUF"},
    {"synth",    cmd_synth,    "a random-weight model of a real architecture and shape"},
    {"info",     cmd_info,     "what a GGUF file holds"},
    {"serve",    cmd_serve,    "an HTTP embedding server (OpenAI and TEI APIs)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: moee COMMAND [options]   (moee COMMAND --help for its options; moee --version)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].what);
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 1; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) { printf("moee %s\n", MOEE_VERSION); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "moee: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
