/* embed_options.c: the options `moee embed` and `moee serve` share (see embed_options.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/embed_options.h"
#include "tools/options.h"

static int bad(const char *cmd, const char *option, const char *value, const char *expected) {
    fprintf(stderr, "moee %s: %s: '%s' %s\n", cmd, option, value, expected);
    return -1;
}

static int is(const char *o, const char *a, const char *b) { return !strcmp(o, a) || (b && !strcmp(o, b)); }

int embed_option(const char *cmd, int argc, char **argv, int *i, moee_embed_options *o, int *prompt_given) {
    const char *opt = argv[*i];
    if (is(opt, "--no-truncate", NULL)) { o->truncate = 0; return 1; }
    if (is(opt, "--replace-invalid", NULL)) { o->replace_invalid_utf8 = 1; return 1; }
    static const char *const with_value[] = {"--prompt", "--template", "--instruction", "--pool", "--rw-source",
                                             "--alpha", "--standardize", "--batch-tokens", "-t", "--threads", NULL};
    int known = 0;
    for (const char *const *w = with_value; *w && !known; w++) known = !strcmp(opt, *w);
    if (!known) return 0;
    const char *v;
    if (opt_value(cmd, argc, argv, i, &v)) return -1;
    if (is(opt, "--prompt", NULL)) {
        int found = !strcmp(v, "raw");
        for (const char *const *t = moee_template_names; *t && !found; t++) found = !strcmp(v, *t);
        if (!found)
        {
            fprintf(stderr, "moee %s: --prompt: unknown prompt '%s' (expected none, prompteol, style, sentiment, tone, "
                    "intent, complexity, subjectivity, language_style, grammar_structure or raw)\n", cmd, v);
            return -1;
        }
        o->template_name = v;
        *prompt_given = 1;
    } else if (is(opt, "--template", NULL)) {
        if (!strstr(v, "*sent 0*")) {
            fprintf(stderr, "moee %s: --template: the template must contain \"*sent 0*\"\n", cmd);
            return -1;
        }
        o->custom_template = v;
        *prompt_given = 1;
    } else if (is(opt, "--instruction", NULL)) {
        o->instruction = v;
        *prompt_given = 1;
    } else if (is(opt, "--pool", NULL)) {
        if (!strcmp(v, "last")) o->pool = MOEE_POOL_LAST;
        else if (!strcmp(v, "mean")) o->pool = MOEE_POOL_MEAN;
        else return bad(cmd, opt, v, "(expected last or mean)");
    } else if (is(opt, "--rw-source", NULL)) {
        if (!strcmp(v, "auto")) o->rw_source = MOEE_RW_AUTO;
        else if (!strcmp(v, "logits")) o->rw_source = MOEE_RW_LOGITS;
        else if (!strcmp(v, "probs")) o->rw_source = MOEE_RW_PROBS;
        else return bad(cmd, opt, v, "(expected auto, logits or probs)");
    } else if (is(opt, "--alpha", NULL)) {
        double x;
        if (opt_number(cmd, opt, v, 0, &x)) return -1;
        o->alpha = (float)x;
    } else if (is(opt, "--standardize", NULL)) {
        if (!strcmp(v, "auto")) o->standardize = MOEE_STANDARDIZE_AUTO;
        else if (!strcmp(v, "on")) o->standardize = MOEE_STANDARDIZE_ON;
        else if (!strcmp(v, "off")) o->standardize = MOEE_STANDARDIZE_OFF;
        else return bad(cmd, opt, v, "(expected auto, on or off)");
    } else if (is(opt, "--batch-tokens", NULL)) {
        int64_t n;
        if (opt_int(cmd, opt, v, 1, INT32_MAX, &n)) return -1;
        o->batch_tokens = n;
    } else {   /* -t / --threads */
        int64_t n;
        if (opt_int(cmd, "--threads", v, 1, 4096, &n)) return -1;
        o->threads = (int)n;
    }
    return 1;
}
