/* embed_input.h: the inputs of `moee embed`, read whole into memory:
 *
 *   text   one text per line ("\n" or "\r\n"); an empty line is an (empty) text;
 *          a last line without "\n" counts; bytes are kept as they are
 *   jsonl  one JSON object per line, the text in a string field (default "text")
 *          and optionally an id (default field "id": string, number, bool or null)
 *          carried to .jsonl output; blank lines are skipped
 *   ids    one sequence per line, token ids separated by spaces or tabs
 *
 * Every record remembers its line so errors can say "INPUT:LINE: what". */
#ifndef MOEE_EMBED_INPUT_H
#define MOEE_EMBED_INPUT_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;       /* the path, or "stdin" */
    int64_t n;              /* records */
    int64_t *line;          /* [n] 1-based input line of each record */
    /* text and jsonl */
    const char **texts;     /* [n] bytes (not NUL-terminated in text mode) */
    size_t *lens;           /* [n] */
    char **id_json;         /* [n] the id as JSON text, NULL if the record has none; NULL if no record has one */
    /* ids */
    int32_t **ids;          /* [n] */
    int64_t *id_lens;       /* [n] */
    char *data;             /* the whole input */
    int texts_owned;        /* texts[i] are malloc'ed copies (jsonl), not pointers into data */
} embed_input;

/* path NULL or "-" reads standard input. Errors: "NAME:LINE: what" or "NAME: what". */
int embed_input_read_text(embed_input *in, const char *path, char *err, size_t err_size);
int embed_input_read_jsonl(embed_input *in, const char *path, const char *text_field,
                           const char *id_field, char *err, size_t err_size);
int embed_input_read_ids(embed_input *in, const char *path, char *err, size_t err_size);
void embed_input_free(embed_input *in);

/* 32 hex digits: a digest of the records as read (texts or token ids, and ids),
 * not of the input's name or line endings: what the embeddings depend on. */
void embed_input_fingerprint(const embed_input *in, char out[33]);

#endif
