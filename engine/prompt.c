/* prompt.c: the prompt the model sees for one text, built exactly as the MoEE
 * paper's code builds it (shared/spec MOEE.md section 2), so that published
 * settings are reproduced token for token:
 *
 *   t = instruction_block + text
 *   if t is non-empty and its last character is not one of . ? ! " '  ->  t += "."
 *   every " in t becomes '
 *   prompt = template with every "*sent 0*" replaced by t
 *   every _ in the whole prompt becomes a space
 *   prompt = prompt.strip()          (Python's notion of white space, on code points)
 *
 * The "raw" template skips all of it: the prompt is the text, byte for byte.
 * Texts are bytes with a length (they may hold NUL or even invalid UTF-8: the
 * tokenizer, not this file, decides what to do with invalid UTF-8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/embed.h"
#include "tokenizer/unicode.h"

/* The paper's templates (its --embed_method values), in the paper's order. */
static const struct { const char *name, *text; } templates[] = {
    {"none",       "\"*sent 0*\""},
    {"prompteol",  "This sentence : \"*sent 0*\" means in one word:\""},
    {"style",      "In one word, describe the style of the following sentence - \"*sent 0*\" :\""},
    {"sentiment",  "In one word, describe the sentiment of the following sentence (positive, neutral, or negative) - \"*sent 0*\" :"},
    {"tone",       "In one word, describe the tone of the following sentence - \"*sent 0*\" (e.g., formal, informal, humorous, serious):"},
    {"intent",     "In one word, describe the intent behind the following sentence (e.g., request, suggestion, command) - \"*sent 0*\" :"},
    {"complexity", "In one word, rate the complexity of the following sentence (simple, moderate, complex) - \"*sent 0*\" :"},
    {"subjectivity", "In one word, describe whether the following sentence is subjective or objective - \"*sent 0*\" :"},
    {"language_style", "In one word, describe the language style of the following sentence (e.g., academic, conversational, literary) - \"*sent 0*\" :"},
    {"grammar_structure", "In one word, describe the grammatical structure of the following sentence (simple, compound, complex) - \"*sent 0*\" :"},
};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

const char *const moee_template_names[] = {
    "none", "prompteol", "style", "sentiment", "tone", "intent", "complexity",
    "subjectivity", "language_style", "grammar_structure", NULL,
};

static const char SENT[] = "*sent 0*";
#define SENT_LEN (sizeof SENT - 1)

/* ---- a growing byte buffer (only this file needs one) ----------------------- */
typedef struct { char *p; size_t n, cap; int failed; } buf;

static void buf_add(buf *b, const char *s, size_t len) {
    if (b->failed) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->failed = 1; return; }
        b->p = p; b->cap = cap;
    }
    if (len) memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

/* ---- Python's str.strip() on UTF-8 ------------------------------------------ */

/* Python's str.isspace(): general category Zs, or bidirectional class WS, B or S. */
static int is_python_space(unsigned cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Length of the white space at the start of s[0..n). */
static size_t leading_space(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0 || !is_python_space(cp)) break;
        i += len;
    }
    return i;
}

/* Length of the white space at the end of s[0..n). */
static size_t trailing_space(const char *s, size_t n) {
    size_t end = n;
    while (end > 0) {
        /* the last code point starts at most 3 continuation bytes back */
        size_t start = utf8_char_start((const unsigned char *)s, end - 1);
        uint32_t cp = 0;
        size_t len = utf8_decode((const unsigned char *)s + start, end - start, &cp);
        if (len != end - start || !is_python_space(cp)) break;
        end = start;
    }
    return n - end;
}

/* ---- the prompt ---------------------------------------------------------------- */

static const char *find_template(const char *name) {
    for (size_t i = 0; i < N_TEMPLATES; i++)
        if (!strcmp(templates[i].name, name)) return templates[i].text;
    return NULL;
}

int moee_prompt_build(const char *text, size_t len, const char *template_name,
                      const char *custom_template, const char *instruction,
                      char **out, size_t *out_len, char *err, size_t err_size) {
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!text && len) { snprintf(err, err_size, "prompt: NULL text"); return 1; }
    if (!template_name) template_name = "none";
    buf b = {0};

    /* raw: the text exactly as given */
    if (!custom_template && !strcmp(template_name, "raw")) {
        if (instruction) {
            snprintf(err, err_size, "prompt: an instruction cannot be used with the raw prompt");
            return 1;
        }
        buf_add(&b, "", 0);
        buf_add(&b, text, len);
        goto done;
    }

    const char *tmpl = custom_template ? custom_template : find_template(template_name);
    if (!tmpl) {
        snprintf(err, err_size, "prompt: unknown template '%s' (expected none, prompteol, style, "
                 "sentiment, tone, intent, complexity, subjectivity, language_style, "
                 "grammar_structure or raw)", template_name);
        return 1;
    }
    if (!strstr(tmpl, SENT)) {
        snprintf(err, err_size, "prompt: the template does not contain \"*sent 0*\"");
        return 1;
    }

    /* t = instruction block + text, then the paper's full stop and quote rules */
    buf t = {0};
    buf_add(&t, "", 0);
    if (instruction) {
        if (instruction[0]) {
            buf_add(&t, "<|user|>\n", 9);
            buf_add(&t, instruction, strlen(instruction));
            buf_add(&t, "\n", 1);
        }
        buf_add(&t, "<|embed|>\n", 10);
    }
    buf_add(&t, text, len);
    if (!t.failed && t.n > 0 && !strchr(".?!\"'", t.p[t.n - 1]))
        buf_add(&t, ".", 1);
    if (!t.failed)
        for (size_t i = 0; i < t.n; i++)
            if (t.p[i] == '"') t.p[i] = '\'';

    /* substitute into the template (every occurrence, left to right, as str.replace) */
    buf_add(&b, "", 0);
    for (const char *p = tmpl; *p;) {
        const char *hit = strstr(p, SENT);
        if (!hit) { buf_add(&b, p, strlen(p)); break; }
        buf_add(&b, p, (size_t)(hit - p));
        if (!t.failed) buf_add(&b, t.p, t.n);
        p = hit + SENT_LEN;
    }
    int t_failed = t.failed;
    free(t.p);
    if (t_failed) b.failed = 1;

    if (!b.failed) {
        for (size_t i = 0; i < b.n; i++)
            if (b.p[i] == '_') b.p[i] = ' ';
        size_t lead = leading_space(b.p, b.n);
        size_t trail = lead < b.n ? trailing_space(b.p + lead, b.n - lead) : 0;
        memmove(b.p, b.p + lead, b.n - lead - trail);
        b.n -= lead + trail;
        b.p[b.n] = 0;
    }

done:
    if (b.failed) {
        free(b.p);
        snprintf(err, err_size, "prompt: out of memory (text of %zu bytes)", len);
        return 1;
    }
    *out = b.p;
    if (out_len) *out_len = b.n;
    return 0;
}
