/* embed_options.h: the options `moee embed` and `moee serve` share, parsed in one place
 * so that they keep the same names, values, defaults and errors:
 *
 *   --prompt --template --instruction --pool --rw-source --alpha --standardize
 *   --batch-tokens -t/--threads --no-truncate --replace-invalid
 *
 * (their help texts stay with each command, which words them for its own use). */
#ifndef MOEE_EMBED_OPTIONS_H
#define MOEE_EMBED_OPTIONS_H
#include "moee.h"

/* If argv[*i] is one of the shared options, applies it to o (its value is argv[*i + 1],
 * and *i moves past it) and returns 1; sets *prompt_given for the prompt options.
 * Returns 0 when argv[*i] is not one of them, and -1 after printing "moee CMD: ..."
 * when its value is missing or wrong. */
int embed_option(const char *cmd, int argc, char **argv, int *i, moee_embed_options *o, int *prompt_given);

#endif
