/* api.h: the routes of `moee serve`, from a parsed HTTP request to a response.
 *
 *   POST /v1/embeddings   OpenAI: {"input": str | [str] | [id] | [[id]], "model", "encoding_format":
 *                         "float" | "base64", "dimensions", "user"}
 *   POST /embed           Hugging Face TEI: {"inputs": str | [str], "normalize": true, "truncate"}
 *   GET  /health /info /v1/models /metrics
 *
 * Errors: OpenAI's {"error": {"message", "type", "param", "code"}} shape, TEI's
 * {"error", "error_type"} on /embed. Request bodies are parsed by pure functions
 * (api_parse_embed_request), which the fuzz target and the unit tests call directly. */
#ifndef MOEE_SERVE_API_H
#define MOEE_SERVE_API_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tools/serve/batcher.h"
#include "tools/serve/http.h"
#include "tools/serve/metrics.h"
#include "weights/json.h"

/* ---- request bodies ------------------------------------------------------------ */

typedef struct {
    int64_t dim;                  /* of the served kind: OpenAI's "dimensions" must equal it */
    int32_t vocab_size;           /* token ids must be below it */
    int64_t max_client_batch;     /* more inputs is 413 */
} api_request_limits;

typedef struct {
    int64_t n;                    /* inputs, >= 1 */
    int ids;                      /* token-id sequences instead of texts */
    const char **texts;           /* [n], into the parsed document */
    size_t *lens;
    int32_t **id_seqs;            /* [n], into id_store */
    int64_t *id_lens;
    int32_t *id_store;
    int base64;                   /* OpenAI encoding_format "base64" */
    int normalize;                /* TEI normalize (default 1) */
    int truncate;                 /* TEI truncate: 0 or 1, -1 when not given */
    const char *model;            /* OpenAI "model" as sent, or NULL */
    size_t model_len;
    json_doc *doc;
} api_embed_request;

/* Parses the body of POST /v1/embeddings (tei 0) or POST /embed (tei 1).
 * Returns 0, or the HTTP status (400 or 413) after writing one line into err and the
 * offending field's name into *param (or NULL). */
int api_parse_embed_request(int tei, const char *body, size_t len, const api_request_limits *lim,
                            api_embed_request *r, char *err, size_t err_size, const char **param);
void api_embed_request_free(api_embed_request *r);

/* ---- response bodies ----------------------------------------------------------- */

/* Base64 (RFC 4648, padded) of n bytes into out (4 * ceil(n / 3) + 1 bytes, NUL-terminated). */
size_t api_base64(const unsigned char *data, size_t n, char *out);
/* One row as a JSON array of %.9g numbers (each parses back to the same float32);
 * base64: the row's little-endian float32 bytes as a base64 string. -1 on a non-finite value. */
int api_write_row(FILE *out, const float *row, int64_t dim, int base64);

/* ---- routes --------------------------------------------------------------------- */

typedef struct {
    const char *model_id;         /* listed by /v1/models; echoed when a request names none */
    api_request_limits limits;
    int context_length;
    int default_truncate;         /* the server's --no-truncate, as 0 */
    const char *api_key;          /* NULL: none needed */
    const char *ids_refusal;      /* why token-id input is refused (400), or NULL */
    const char *info_json;        /* the /info body */
    /* tokens the model will run for one text, prompt included, after truncation (or
     * an error when truncate is 0 and it does not fit) */
    int (*count_tokens)(void *user, const char *text, size_t len, int truncate, int64_t *tokens,
                        char *err, size_t err_size);
    void *count_user;
    batcher *batcher;
    serve_metrics *metrics;
} api_context;

typedef struct {
    int status;
    const char *content_type;
    char *body;                   /* malloc'ed */
    size_t body_len;
    char extra_headers[128];      /* header lines, each ending in "\r\n" */
} api_response;

void api_handle(const api_context *c, const http_request *req, api_response *res);
/* A response for a request the parser refused (or a timeout): OpenAI's error shape. */
void api_error_response(api_response *res, int status, const char *message);
void api_response_free(api_response *res);
#endif
