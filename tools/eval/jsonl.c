/* tools/eval/jsonl.c: see tools/eval/jsonl.h. */
#include "tools/eval/jsonl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int eval_jsonl_open(eval_jsonl *r, const char *path, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->file = fopen(path, "rb");
    if (!r->file) { snprintf(err, err_size, "%s: %s", path, strerror(errno)); return -1; }
    return 0;
}

int eval_jsonl_next(eval_jsonl *r, const json_value **root, char *err, size_t err_size) {
    json_free(r->doc);
    r->doc = NULL;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->file);
        if (n < 0) {
            if (ferror(r->file)) { snprintf(err, err_size, "%s: read error: %s", r->path, strerror(errno)); return -1; }
            return 0;
        }
        r->line_no++;
        size_t len = (size_t)n;
        while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) len--;
        size_t blank = 0;
        while (blank < len && (r->line[blank] == ' ' || r->line[blank] == '\t')) blank++;
        if (blank == len) continue;   /* blank lines (e.g. a final newline) carry nothing */
        char msg[400];
        r->doc = json_parse(r->line, len, msg, sizeof msg);
        if (!r->doc) {
            /* the parser counts lines within this one line: "line 1, column 7" -> "column 7" */
            const char *what = strncmp(msg, "line 1, ", 8) ? msg : msg + 8;
            snprintf(err, err_size, "%s:%lld: %s", r->path, (long long)r->line_no, what);
            return -1;
        }
        *root = json_root(r->doc);
        return 1;
    }
}

void eval_jsonl_close(eval_jsonl *r) {
    json_free(r->doc);
    free(r->line);
    if (r->file) fclose(r->file);
    memset(r, 0, sizeof *r);
}

void eval_jsonl_error(const eval_jsonl *r, char *err, size_t err_size, const char *fmt, ...) {
    int k = snprintf(err, err_size, "%s:%lld: ", r->path, (long long)r->line_no);
    if (k < 0 || (size_t)k >= err_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, err_size - (size_t)k, fmt, ap);
    va_end(ap);
}
