/* embed_input.c: reading the three input forms of `moee embed` (see embed_input.h). */
#include "tools/embed_input.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weights/digest.h"
#include "weights/file.h"
#include "weights/json.h"

/* The whole input, NUL-terminated (the NUL not counted). */
static char *read_all(const char *path, const char **name, size_t *size, char *err, size_t err_size) {
    if (path && strcmp(path, "-") != 0) {
        *name = path;
        return moee_read_file(path, size, err, err_size);
    }
    *name = "stdin";
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    while (p) {
        if (n + 1 >= cap) {
            char *q = realloc(p, cap * 2);
            if (!q) { free(p); p = NULL; break; }
            p = q;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) break;
    }
    if (!p) { snprintf(err, err_size, "stdin: out of memory"); return NULL; }
    if (ferror(stdin)) {
        snprintf(err, err_size, "stdin: read error: %s", strerror(errno));
        free(p);
        return NULL;
    }
    p[n] = 0;
    *size = n;
    return p;
}

/* Calls back for each line of data[0..size): start, length without "\n" or "\r\n".
 * A final line without "\n" counts; nothing after a final "\n" does. */
typedef int (*line_fn)(embed_input *in, const char *s, size_t len, int64_t line, void *user,
                       char *err, size_t err_size);
static int64_t count_lines(const char *data, size_t size) {
    int64_t n = 0;
    for (size_t i = 0; i < size; i++) n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}
static int for_each_line(embed_input *in, size_t size, line_fn fn, void *user, char *err, size_t err_size) {
    const char *p = in->data, *end = in->data + size;
    int64_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t len = (size_t)(stop - p);
        if (len > 0 && p[len - 1] == '\r') len--;
        if (fn(in, p, len, ++line, user, err, err_size)) return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int alloc_records(embed_input *in, int64_t n, int with_texts, int with_ids, char *err, size_t err_size) {
    size_t m = (size_t)(n > 0 ? n : 1);
    in->line = calloc(m, sizeof *in->line);
    int ok = in->line != NULL;
    if (with_texts) {
        in->texts = calloc(m, sizeof *in->texts);
        in->lens = calloc(m, sizeof *in->lens);
        ok = ok && in->texts && in->lens;
    }
    if (with_ids) {
        in->ids = calloc(m, sizeof *in->ids);
        in->id_lens = calloc(m, sizeof *in->id_lens);
        ok = ok && in->ids && in->id_lens;
    }
    if (!ok) snprintf(err, err_size, "%s: out of memory (%" PRId64 " lines)", in->name, n);
    return ok ? 0 : -1;
}

/* ---- text -------------------------------------------------------------------------- */

static int add_text_line(embed_input *in, const char *s, size_t len, int64_t line, void *user,
                         char *err, size_t err_size) {
    in->texts[in->n] = s;
    in->lens[in->n] = len;
    in->line[in->n] = line;
    in->n++;
    return 0;
}

int embed_input_read_text(embed_input *in, const char *path, char *err, size_t err_size) {
    memset(in, 0, sizeof *in);
    size_t size;
    in->data = read_all(path, &in->name, &size, err, err_size);
    if (!in->data) return -1;
    if (alloc_records(in, count_lines(in->data, size), 1, 0, err, err_size)) return -1;
    return for_each_line(in, size, add_text_line, NULL, err, err_size);
}

/* ---- jsonl ------------------------------------------------------------------------- */

typedef struct { const char *text_field, *id_field; } jsonl_fields;

/* The id value as JSON text (malloc'ed). */
static char *id_as_json(const json_value *v) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    switch (v->kind) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_BOOL: fputs(v->u.boolean ? "true" : "false", f); break;
    case JSON_NUMBER:
        if (v->u.number == floor(v->u.number) && fabs(v->u.number) < 9007199254740992.0)
            fprintf(f, "%.0f", v->u.number);
        else
            fprintf(f, "%.17g", v->u.number);
        break;
    case JSON_STRING: json_write_string(f, v->u.string.ptr, v->u.string.len); break;
    default: break;
    }
    fclose(f);
    return out;
}

static int add_jsonl_line(embed_input *in, const char *s, size_t len, int64_t line, void *user,
                          char *err, size_t err_size) {
    const jsonl_fields *fields = user;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == len) return 0;                     /* blank line */
    char msg[256];
    json_doc *doc = json_parse(s, len, msg, sizeof msg);
    if (!doc) {
        /* each line is its own document: drop the parser's "line 1, " */
        const char *m = strncmp(msg, "line 1, ", 8) == 0 ? msg + 8 : msg;
        snprintf(err, err_size, "%s:%" PRId64 ": %s", in->name, line, m);
        return -1;
    }
    const json_value *root = json_root(doc);
    const char *text;
    size_t text_len;
    if (root->kind != JSON_OBJECT) {
        snprintf(err, err_size, "%s:%" PRId64 ": not a JSON object", in->name, line);
        json_free(doc);
        return -1;
    }
    if (!json_get_string(json_get(root, fields->text_field), &text, &text_len)) {
        snprintf(err, err_size, "%s:%" PRId64 ": no string field \"%s\"", in->name, line, fields->text_field);
        json_free(doc);
        return -1;
    }
    char *copy = malloc(text_len + 1);
    if (copy) memcpy(copy, text, text_len + 1);
    const json_value *id = fields->id_field ? json_get(root, fields->id_field) : NULL;
    char *id_text = NULL;
    if (id && (id->kind == JSON_ARRAY || id->kind == JSON_OBJECT)) {
        snprintf(err, err_size, "%s:%" PRId64 ": the id field \"%s\" must be a string, number, boolean "
                 "or null", in->name, line, fields->id_field);
        free(copy);
        json_free(doc);
        return -1;
    }
    if (id) id_text = id_as_json(id);
    json_free(doc);
    if (!copy || (id && !id_text)) {
        free(copy);
        free(id_text);
        snprintf(err, err_size, "%s:%" PRId64 ": out of memory", in->name, line);
        return -1;
    }
    in->texts[in->n] = copy;
    in->lens[in->n] = text_len;
    if (id_text) in->id_json[in->n] = id_text;
    in->line[in->n] = line;
    in->n++;
    return 0;
}

int embed_input_read_jsonl(embed_input *in, const char *path, const char *text_field,
                           const char *id_field, char *err, size_t err_size) {
    memset(in, 0, sizeof *in);
    size_t size;
    in->data = read_all(path, &in->name, &size, err, err_size);
    if (!in->data) return -1;
    if (strlen(in->data) != size) {   /* JSON never holds a raw NUL byte */
        int64_t line = 1;
        for (const char *p = in->data; *p; p++) line += *p == '\n';
        snprintf(err, err_size, "%s:%" PRId64 ": NUL byte in JSON text", in->name, line);
        return -1;
    }
    int64_t lines = count_lines(in->data, size);
    if (alloc_records(in, lines, 1, 0, err, err_size)) return -1;
    in->texts_owned = 1;
    in->id_json = calloc((size_t)(lines > 0 ? lines : 1), sizeof *in->id_json);
    if (!in->id_json) { snprintf(err, err_size, "%s: out of memory", in->name); return -1; }
    jsonl_fields fields = {text_field, id_field};
    if (for_each_line(in, size, add_jsonl_line, &fields, err, err_size)) return -1;
    int any_id = 0;
    for (int64_t i = 0; i < in->n; i++) any_id |= in->id_json[i] != NULL;
    if (!any_id) { free(in->id_json); in->id_json = NULL; }
    return 0;
}

/* ---- token ids ---------------------------------------------------------------------- */

static int add_ids_line(embed_input *in, const char *s, size_t len, int64_t line, void *user,
                        char *err, size_t err_size) {
    int64_t count = 0;
    for (size_t i = 0; i < len;) {   /* count the ids first */
        while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i < len) count++;
        while (i < len && s[i] != ' ' && s[i] != '\t') i++;
    }
    if (count == 0) {
        snprintf(err, err_size, "%s:%" PRId64 ": no token ids (an empty line)", in->name, line);
        return -1;
    }
    int32_t *ids = malloc((size_t)count * sizeof *ids);
    if (!ids) { snprintf(err, err_size, "%s:%" PRId64 ": out of memory", in->name, line); return -1; }
    int64_t k = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t') i++;
        int64_t v = 0;
        int ok = i - start <= 10;
        for (size_t j = start; ok && j < i; j++) {
            ok = s[j] >= '0' && s[j] <= '9';
            v = v * 10 + (s[j] - '0');
        }
        if (!ok || v > INT32_MAX) {
            snprintf(err, err_size, "%s:%" PRId64 ": '%.*s' is not a token id (a non-negative integer)",
                     in->name, line, (int)(i - start > 40 ? 40 : i - start), s + start);
            free(ids);
            return -1;
        }
        ids[k++] = (int32_t)v;
    }
    in->ids[in->n] = ids;
    in->id_lens[in->n] = count;
    in->line[in->n] = line;
    in->n++;
    return 0;
}

int embed_input_read_ids(embed_input *in, const char *path, char *err, size_t err_size) {
    memset(in, 0, sizeof *in);
    size_t size;
    in->data = read_all(path, &in->name, &size, err, err_size);
    if (!in->data) return -1;
    if (alloc_records(in, count_lines(in->data, size), 0, 1, err, err_size)) return -1;
    return for_each_line(in, size, add_ids_line, NULL, err, err_size);
}

void embed_input_free(embed_input *in) {
    for (int64_t i = 0; i < in->n; i++) {
        if (in->texts_owned) free((char *)in->texts[i]);
        if (in->id_json) free(in->id_json[i]);
        if (in->ids) free(in->ids[i]);
    }
    free(in->line);
    free(in->texts);
    free(in->lens);
    free(in->id_json);
    free(in->ids);
    free(in->id_lens);
    free(in->data);
    memset(in, 0, sizeof *in);
}

void embed_input_fingerprint(const embed_input *in, char out[33]) {
    digest d;
    digest_init(&d);
    digest_feed(&d, in->ids ? "ids" : "texts", in->ids ? 3 : 5);
    digest_feed_u64(&d, (uint64_t)in->n);
    for (int64_t i = 0; i < in->n; i++) {
        if (in->ids) {
            digest_feed_u64(&d, (uint64_t)in->id_lens[i]);
            for (int64_t k = 0; k < in->id_lens[i]; k++) digest_feed_u64(&d, (uint64_t)(uint32_t)in->ids[i][k]);
        } else {
            digest_feed_u64(&d, in->lens[i]);
            digest_feed(&d, in->texts[i], in->lens[i]);
        }
        const char *id = in->id_json ? in->id_json[i] : NULL;
        digest_feed_u64(&d, id ? strlen(id) + 1 : 0);
        if (id) digest_feed(&d, id, strlen(id));
    }
    digest_hex(&d, out);
}
