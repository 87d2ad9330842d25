/* cmd_tokenize.c: `moee tokenize`, text to token ids and back, one line at a time.
 *
 * Input is either plain text (one text per line; the "\n" or "\r\n" ending is not
 * part of the text) or JSONL (--jsonl: one object per line). Output mirrors it:
 * plain text gives one line of space-separated ids per text; JSONL gives the same
 * object, its members copied byte for byte in their order, with "ids" appended
 * (replacing an earlier "ids"). --decode goes the other way. Any error stops the
 * run, naming the input line; an output file (-o) is written under a temporary
 * name and renamed only when every line succeeded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/moee.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tools/cmd.h"
#include "tools/options.h"
#include "weights/file.h"
#include "weights/gguf.h"
#include "weights/json.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: moee tokenize (-m MODEL.gguf | --tokenizer tokenizer.json [--tokenizer-config FILE])\n"
        "                     [-i FILE] [-o FILE] [--jsonl] [--field NAME] [--no-special]\n"
        "                     [--replace-invalid] [--decode]\n"
        "                     [--prompt NAME | --template TEXT] [--instruction TEXT]\n"
        "\n"
        "Text to token ids (exactly as Hugging Face's tokenizer with the model's defaults,\n"
        "e.g. BOS for DeepSeek), or ids back to text with --decode.\n"
        "  -i FILE / -o FILE    input / output (default stdin / stdout)\n"
        "  --jsonl              input lines are JSON objects: the text is in field \"text\"\n"
        "                       (or --field NAME); each object is written back with \"ids\"\n"
        "                       appended. Without it: one text per line in, one line of\n"
        "                       space-separated ids out.\n"
        "  --no-special         no BOS/EOS (with --decode: leave special tokens out)\n"
        "  --replace-invalid    invalid UTF-8 becomes U+FFFD (default: an error naming the line)\n"
        "  --decode             ids to text: JSONL objects with \"ids\" get \"text\" (or --field)\n"
        "                       added; plain lines of ids become lines of text (invalid UTF-8\n"
        "                       in the decoded bytes shows as U+FFFD, as in Hugging Face)\n"
        "  --prompt NAME        build the MoEE prompt first (none, prompteol, style, sentiment,\n"
        "                       tone, intent, complexity, subjectivity, language_style,\n"
        "                       grammar_structure, raw); with --jsonl adds \"prompt\" too\n"
        "  --template TEXT      a custom template containing *sent 0*\n"
        "  --instruction TEXT   an instruction block (<|user|> ... <|embed|>)\n");
}

typedef struct {
    const char *model, *tokenizer, *tokenizer_config, *input, *output, *field;
    const char *prompt, *template_text, *instruction;
    int jsonl, no_special, replace_invalid, decode;
} options;

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 1; }
        else if (!strcmp(a, "--jsonl")) o->jsonl = 1;
        else if (!strcmp(a, "--no-special")) o->no_special = 1;
        else if (!strcmp(a, "--replace-invalid")) o->replace_invalid = 1;
        else if (!strcmp(a, "--decode")) o->decode = 1;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) value = &o->model;
        else if (!strcmp(a, "--tokenizer")) value = &o->tokenizer;
        else if (!strcmp(a, "--tokenizer-config")) value = &o->tokenizer_config;
        else if (!strcmp(a, "-i") || !strcmp(a, "--input")) value = &o->input;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) value = &o->output;
        else if (!strcmp(a, "--field")) value = &o->field;
        else if (!strcmp(a, "--prompt")) value = &o->prompt;
        else if (!strcmp(a, "--template")) value = &o->template_text;
        else if (!strcmp(a, "--instruction")) value = &o->instruction;
        else {
            opt_unknown("tokenize", a);
            return -1;
        }
        if (value && opt_value("tokenize", argc, argv, &i, value)) return -1;
    }
    if (!o->model == !o->tokenizer) {
        fprintf(stderr, "moee tokenize: give exactly one of -m MODEL.gguf and --tokenizer tokenizer.json\n");
        return -1;
    }
    if (o->tokenizer_config && !o->tokenizer) {
        fprintf(stderr, "moee tokenize: --tokenizer-config goes with --tokenizer\n");
        return -1;
    }
    if (o->decode && (o->prompt || o->template_text || o->instruction)) {
        fprintf(stderr, "moee tokenize: --prompt/--template/--instruction do not go with --decode\n");
        return -1;
    }
    if (!o->field) o->field = "text";
    return 0;
}

/* ---- raw JSON members -------------------------------------------------------------
 * To pass the other fields through untouched (numbers keep their spelling), the
 * members of a line's object are located in the raw text. The line has already
 * been parsed by json_parse, so it is known to be valid JSON and the scan below
 * can be simple; its members come in the same order as the parsed ones. */

typedef struct { size_t start, end; } span;   /* one member: "key": value */

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static size_t skip_string(const char *s, size_t i, size_t n) {   /* s[i] == '"' */
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\') i++;
    return i + 1;
}

static size_t skip_value(const char *s, size_t i, size_t n) {
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') { i = skip_string(s, i, n) - 1; if (!depth) return i + 1; }
        else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') { if (--depth == 0) return i + 1; if (depth < 0) return i; }
        else if (!depth && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) return i;
    }
    return i;
}

/* Fills members (count entries, as parsed) with the spans of each member. */
static void find_members(const char *s, size_t n, span *members, size_t count) {
    size_t i = skip_ws(s, 0, n) + 1;    /* past '{' */
    for (size_t k = 0; k < count; k++) {
        i = skip_ws(s, i, n);
        members[k].start = i;
        i = skip_string(s, i, n);
        i = skip_ws(s, i, n) + 1;       /* past ':' */
        i = skip_value(s, skip_ws(s, i, n), n);
        members[k].end = i;
        i = skip_ws(s, i, n) + 1;       /* past ',' or '}' */
    }
}

/* Writes the object with the members named drop1/drop2 left out, and no closing
 * brace (the caller appends its fields, then "}"). */
static void write_object_start(FILE *out, const char *line, size_t len, const json_value *obj,
                               const char *drop1, const char *drop2, int *wrote_any) {
    size_t count = obj->u.object.count;
    span *members = malloc((count + 1) * sizeof *members);
    *wrote_any = 0;
    fputc('{', out);
    if (!members) return;
    find_members(line, len, members, count);
    for (size_t k = 0; k < count; k++) {
        const char *key = obj->u.object.members[k].key;
        if ((drop1 && !strcmp(key, drop1)) || (drop2 && !strcmp(key, drop2))) continue;
        if (*wrote_any) fputs(", ", out);
        fwrite(line + members[k].start, 1, members[k].end - members[k].start, out);
        *wrote_any = 1;
    }
    free(members);
}

/* ---- the line loop ------------------------------------------------------------------ */

typedef struct {
    const options *o;
    const moee_tokenizer *t;
    FILE *out;
    tokenizer_ids ids;
    char *clean;            /* --replace-invalid copy of a JSONL line */
    size_t clean_cap;
    char err[512];
} run_state;

static void write_ids(FILE *out, const int32_t *ids, size_t n, const char *sep) {
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(sep, out);
        fprintf(out, "%d", (int)ids[i]);
    }
}

/* Replaces invalid UTF-8 in line by U+FFFD (for JSONL lines, which the strict JSON
 * parser would otherwise reject), with the tokenizer's rule: one U+FFFD per
 * maximal ill-formed subsequence. Returns the cleaned copy, or NULL. */
static const char *replace_invalid_utf8(run_state *st, const char *line, size_t len, size_t *out_len) {
    if (len > SIZE_MAX / 3 - 1) return NULL;
    if (st->clean_cap < 3 * len + 1) {
        char *p = realloc(st->clean, 3 * len + 1);
        if (!p) return NULL;
        st->clean = p;
        st->clean_cap = 3 * len + 1;
    }
    *out_len = utf8_replace_invalid((const unsigned char *)line, len, (unsigned char *)st->clean);
    return st->clean;
}

/* The text to tokenize: the MoEE prompt when asked for, else the text itself.
 * *prompt is malloc'ed (or NULL when no prompt is built). */
static int build_text(run_state *st, const char *text, size_t len, char **prompt, size_t *prompt_len) {
    const options *o = st->o;
    *prompt = NULL;
    if (!o->prompt && !o->template_text && !o->instruction) return 0;
    return moee_prompt_build(text, len, o->prompt ? o->prompt : "none", o->template_text, o->instruction,
                             prompt, prompt_len, st->err, sizeof st->err);
}

static int encode_text(run_state *st, const char *text, size_t len) {
    int flags = (st->o->no_special ? 0 : TOKENIZER_ADD_SPECIAL) |
                (st->o->replace_invalid ? TOKENIZER_REPLACE_INVALID : 0);
    return tokenizer_encode(st->t, text, len, flags, &st->ids, st->err, sizeof st->err);
}

static int encode_plain(run_state *st, const char *line, size_t len) {
    char *prompt;
    size_t prompt_len;
    if (build_text(st, line, len, &prompt, &prompt_len)) return -1;
    int rc = prompt ? encode_text(st, prompt, prompt_len) : encode_text(st, line, len);
    free(prompt);
    if (rc) return -1;
    write_ids(st->out, st->ids.ids, st->ids.n, " ");
    fputc('\n', st->out);
    return 0;
}

static int decode_plain(run_state *st, const char *line, size_t len) {
    st->ids.n = 0;
    const char *p = line, *end = line + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
        if (p == end) break;
        char *stop;
        errno = 0;
        long v = strtol(p, &stop, 10);
        if (stop == p || stop > end || errno || v < 0 || v > INT32_MAX) {
            snprintf(st->err, sizeof st->err, "not a list of token ids (space-separated integers)");
            return -1;
        }
        if (st->ids.n == st->ids.cap) {
            size_t cap = st->ids.cap ? 2 * st->ids.cap : 64;
            int32_t *q = realloc(st->ids.ids, cap * sizeof *q);
            if (!q) { snprintf(st->err, sizeof st->err, "out of memory"); return -1; }
            st->ids.ids = q;
            st->ids.cap = cap;
        }
        st->ids.ids[st->ids.n++] = (int32_t)v;
        p = stop;
    }
    char *text;
    size_t text_len;
    if (tokenizer_decode(st->t, st->ids.ids, st->ids.n, st->o->no_special, &text, &text_len,
                         st->err, sizeof st->err)) return -1;
    fwrite(text, 1, text_len, st->out);
    fputc('\n', st->out);
    free(text);
    return 0;
}

static int process_jsonl(run_state *st, const char *line, size_t len) {
    const options *o = st->o;
    if (o->replace_invalid) {
        line = replace_invalid_utf8(st, line, len, &len);
        if (!line) { snprintf(st->err, sizeof st->err, "out of memory"); return -1; }
    }
    json_doc *doc = json_parse(line, len, st->err, sizeof st->err);
    if (!doc) {
        /* The parser counts lines within this one line: drop its "line 1, ". */
        if (!strncmp(st->err, "line 1, ", 8)) memmove(st->err, st->err + 8, strlen(st->err + 8) + 1);
        return -1;
    }
    const json_value *obj = json_root(doc);
    int rc = -1, wrote_any;
    char *prompt = NULL, *text = NULL;
    size_t prompt_len = 0, text_len = 0;
    if (obj->kind != JSON_OBJECT) {
        snprintf(st->err, sizeof st->err, "not a JSON object");
        goto done;
    }
    if (o->decode) {
        const json_value *ids = json_get(obj, "ids");
        if (!ids || ids->kind != JSON_ARRAY) {
            snprintf(st->err, sizeof st->err, "no \"ids\" array");
            goto done;
        }
        size_t n = ids->u.array.count;
        int32_t *v = malloc((n + 1) * sizeof *v);
        if (!v) { snprintf(st->err, sizeof st->err, "out of memory"); goto done; }
        for (size_t i = 0; i < n; i++) {
            long long x;
            if (!json_get_int(json_at(ids, i), &x) || x < 0 || x > INT32_MAX) {
                snprintf(st->err, sizeof st->err, "\"ids\"[%zu] is not a token id", i);
                free(v);
                goto done;
            }
            v[i] = (int32_t)x;
        }
        int bad = tokenizer_decode(st->t, v, n, o->no_special, &text, &text_len, st->err, sizeof st->err);
        free(v);
        if (bad) goto done;
        write_object_start(st->out, line, len, obj, o->field, NULL, &wrote_any);
        fprintf(st->out, "%s\"%s\": ", wrote_any ? ", " : "", o->field);
        json_write_string(st->out, text, text_len);
        fputs("}\n", st->out);
        rc = 0;
        goto done;
    }
    const char *s;
    size_t n;
    if (!json_get_string(json_get(obj, o->field), &s, &n)) {
        snprintf(st->err, sizeof st->err, "no string field \"%s\"", o->field);
        goto done;
    }
    if (build_text(st, s, n, &prompt, &prompt_len)) goto done;
    if (prompt ? encode_text(st, prompt, prompt_len) : encode_text(st, s, n)) goto done;
    write_object_start(st->out, line, len, obj, "ids", prompt ? "prompt" : NULL, &wrote_any);
    if (prompt) {
        fprintf(st->out, "%s\"prompt\": ", wrote_any ? ", " : "");
        json_write_string(st->out, prompt, prompt_len);
        wrote_any = 1;
    }
    fprintf(st->out, "%s\"ids\": [", wrote_any ? ", " : "");
    write_ids(st->out, st->ids.ids, st->ids.n, ", ");
    fputs("]}\n", st->out);
    rc = 0;
done:
    free(prompt);
    free(text);
    json_free(doc);
    return rc;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Runs every line of in; returns 0, or 1 after printing the error. */
static int run_lines(run_state *st, FILE *in) {
    char *line = NULL;
    size_t cap = 0, line_no = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;
        line_no++;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        int bad;
        if (st->o->jsonl) bad = is_blank(line, len) ? 0 : process_jsonl(st, line, len);
        else bad = st->o->decode ? decode_plain(st, line, len) : encode_plain(st, line, len);
        if (bad) {
            fprintf(stderr, "moee tokenize: %s:%zu: %s\n", st->o->input && strcmp(st->o->input, "-") ? st->o->input : "stdin",
                    line_no, st->err);
            rc = 1;
            break;
        }
    }
    if (!rc && ferror(in)) {
        fprintf(stderr, "moee tokenize: %s: read failed: %s\n", st->o->input ? st->o->input : "stdin", strerror(errno));
        rc = 1;
    }
    free(line);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    options o;
    int a = parse_args(argc, argv, &o);
    if (a) return a > 0 ? 0 : 1;

    char err[1024];
    gguf_file *g = NULL;
    moee_tokenizer *t;
    if (o.model) {
        g = gguf_open(o.model, err, sizeof err);
        t = g ? tokenizer_load_gguf(g, err, sizeof err) : NULL;
    } else {
        t = tokenizer_load_json(o.tokenizer, o.tokenizer_config, err, sizeof err);
    }
    if (!t) {
        fprintf(stderr, "moee tokenize: %s\n", err);
        if (g) gguf_close(g);
        return 1;
    }

    int rc = 1;
    FILE *in = stdin;
    moee_out out;   /* weights/file.h: "-" is stdout; a file goes through a temporary */
    int out_open = 0;
    if (o.input && strcmp(o.input, "-") && !(in = fopen(o.input, "rb"))) {
        fprintf(stderr, "moee tokenize: %s: cannot open: %s\n", o.input, strerror(errno));
        goto done;
    }
    if (moee_out_open(&out, o.output ? o.output : "-", err, sizeof err)) {
        fprintf(stderr, "moee tokenize: %s\n", err);
        goto done;
    }
    out_open = 1;
    run_state st = {.o = &o, .t = t, .out = out.f};
    rc = run_lines(&st, in);
    tokenizer_ids_free(&st.ids);
    free(st.clean);
done:
    if (in && in != stdin) fclose(in);
    if (out_open && rc) moee_out_abort(&out);
    else if (out_open && moee_out_commit(&out, err, sizeof err)) {
        fprintf(stderr, "moee tokenize: %s\n", err);
        rc = 1;
    }
    tokenizer_free(t);
    if (g) gguf_close(g);
    return rc;
}
