/* options.c: see options.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/options.h"

int opt_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "moee %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int opt_value(const char *cmd, int argc, char **argv, int *i, const char **value) {
    if (*i + 1 >= argc) return opt_fail(cmd, "%s needs a value (see moee %s --help)", argv[*i], cmd);
    *value = argv[++*i];
    return 0;
}

int opt_int(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return opt_fail(cmd, "%s: '%s' is not an integer from %" PRId64 " to %" PRId64, opt, v, lo, hi);
    *out = x;
    return 0;
}

int opt_number(const char *cmd, const char *opt, const char *v, double lo, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || !(x >= lo))
        return opt_fail(cmd, "%s: '%s' is not a number >= %g", opt, v, lo);
    *out = x;
    return 0;
}

int opt_unknown(const char *cmd, const char *arg) {
    if (arg[0] == '-' && arg[1])
        return opt_fail(cmd, "unknown option '%s' (see moee %s --help)", arg, cmd);
    return opt_fail(cmd, "unexpected argument '%s': options come with their names (see moee %s --help)", arg, cmd);
}

const char *opt_plural(int64_t n) { return n == 1 ? "" : "s"; }
