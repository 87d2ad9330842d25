/* options.h: the command-line helpers every subcommand shares, so that every
 * command reads values and words mistakes the same way. Each prints one line,
 * "moee CMD: ...", on stderr and returns 1 on error, 0 on success. */
#ifndef MOEE_TOOLS_OPTIONS_H
#define MOEE_TOOLS_OPTIONS_H
#include <stdint.h>

/* "moee CMD: " + the formatted message + newline; returns 1. */
int opt_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value after option argv[*i] into *value (and *i past it), or "OPT needs a value". */
int opt_value(const char *cmd, int argc, char **argv, int *i, const char **value);

/* A whole decimal integer in [lo, hi]: "--batch-tokens: '99999999999' is not an
 * integer from 1 to 2147483647". */
int opt_int(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out);

/* A finite number >= lo. */
int opt_number(const char *cmd, const char *opt, const char *v, double lo, double *out);

/* An argument the command does not take: "unknown option '--bogus'" for something
 * that looks like an option, "unexpected argument 'x'" for a stray positional one. */
int opt_unknown(const char *cmd, const char *arg);

/* "1 text", "2 texts": the noun in the singular or with an s. */
const char *opt_plural(int64_t n);

#endif
