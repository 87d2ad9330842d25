/* tools/eval/jsonl.h: reading a JSONL file one parsed line at a time (one json_parse
 * per line, so memory stays at one line), with errors that name file and line. */
#ifndef MOEE_EVAL_JSONL_H
#define MOEE_EVAL_JSONL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "weights/json.h"

typedef struct {
    FILE *file;
    const char *path;
    int64_t line_no;      /* 1-based number of the line last returned */
    char *line;           /* getline buffer */
    size_t line_cap;
    json_doc *doc;        /* the current line's document (freed by the next call) */
} eval_jsonl;

int eval_jsonl_open(eval_jsonl *r, const char *path, char *err, size_t err_size);
/* Returns 1 and sets *root to the next non-blank line's value, 0 at the end of the
 * file, -1 on error ("PATH:LINE: message" in err). *root stays valid until the
 * next call or eval_jsonl_close. */
int eval_jsonl_next(eval_jsonl *r, const json_value **root, char *err, size_t err_size);
void eval_jsonl_close(eval_jsonl *r);

/* "PATH:LINE: " + message, for errors a caller finds in the current line's value. */
void eval_jsonl_error(const eval_jsonl *r, char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
