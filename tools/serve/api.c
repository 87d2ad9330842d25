/* api.c: the routes of `moee serve` (see api.h).
 *
 * An embedding request goes: body -> api_parse_embed_request (every check that
 * needs only the bytes) -> token counts (the model's tokenizer: usage, packing, and
 * --no-truncate refusals before the queue) -> a batch_job on the batcher's queue ->
 * rows -> the response body, written through a memory stream. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "moee.h"
#include "tools/serve/api.h"

/* ---- request bodies ------------------------------------------------------------------ */

static int bad(char *err, size_t err_size, const char **param, const char *field, int status, const char *msg) {
    snprintf(err, err_size, "%s", msg);
    *param = field;
    return status;
}

/* One token-id sequence: a non-empty array of integers in [0, vocab). */
static int parse_ids(const json_value *v, const api_request_limits *lim, int32_t *dst, char *err, size_t err_size) {
    for (size_t i = 0; i < v->u.array.count; i++) {
        long long id;
        if (!json_get_int(&v->u.array.items[i], &id)) {
            snprintf(err, err_size, "'input' token ids must be integers (item %zu is not)", i);
            return -1;
        }
        if (id < 0 || id >= lim->vocab_size) {
            snprintf(err, err_size, "'input' token id %lld is outside the vocabulary (%" PRId32 " ids)", id,
                     lim->vocab_size);
            return -1;
        }
        dst[i] = (int32_t)id;
    }
    return 0;
}

static int parse_input(const json_value *v, const char *field, const api_request_limits *lim, api_embed_request *r,
                       char *err, size_t err_size, const char **param) {
    char msg[256];
    if (!v) {
        snprintf(msg, sizeof msg, "'%s' is required", field);
        return bad(err, err_size, param, field, 400, msg);
    }
    const json_value *items = v;
    size_t count = 1;
    json_kind kind = v->kind;           /* of the inputs: string, number (one id list), array (id lists) */
    if (v->kind == JSON_ARRAY) {
        count = v->u.array.count;
        if (count == 0) {
            snprintf(msg, sizeof msg, "'%s' is an empty array", field);
            return bad(err, err_size, param, field, 400, msg);
        }
        kind = v->u.array.items[0].kind;
        items = v->u.array.items;
        for (size_t i = 1; i < count; i++)
            if (items[i].kind != kind) {
                snprintf(msg, sizeof msg, "'%s' mixes types: give strings, or token ids, or arrays of token ids", field);
                return bad(err, err_size, param, field, 400, msg);
            }
        if (kind == JSON_NUMBER) { count = 1; items = v; }   /* one sequence of token ids */
    }
    if (kind != JSON_STRING && kind != JSON_NUMBER && kind != JSON_ARRAY) {
        snprintf(msg, sizeof msg, "'%s' must be a string, an array of strings, or token ids", field);
        return bad(err, err_size, param, field, 400, msg);
    }
    if ((int64_t)count > lim->max_client_batch) {
        snprintf(msg, sizeof msg, "'%s' has %zu inputs, more than this server's limit of %" PRId64
                 " per request (--max-client-batch)", field, count, lim->max_client_batch);
        return bad(err, err_size, param, field, 413, msg);
    }
    r->n = (int64_t)count;
    if (kind == JSON_STRING) {
        r->texts = calloc(count, sizeof *r->texts);
        r->lens = calloc(count, sizeof *r->lens);
        if (!r->texts || !r->lens) return bad(err, err_size, param, NULL, 400, "out of memory");
        for (size_t i = 0; i < count; i++) {
            json_get_string(&items[i], &r->texts[i], &r->lens[i]);
            if (r->lens[i] == 0) {
                snprintf(msg, sizeof msg, count == 1 ? "'%s' is an empty string" : "'%s' item %zu is an empty string",
                         field, i);
                return bad(err, err_size, param, field, 400, msg);
            }
        }
        return 0;
    }
    /* token ids: [id, ...] (one sequence) or [[id, ...], ...] */
    r->ids = 1;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        const json_value *seq = &items[i];
        if (seq->kind != JSON_ARRAY || seq->u.array.count == 0) {
            snprintf(msg, sizeof msg, "'%s' item %zu must be a non-empty array of token ids", field, i);
            return bad(err, err_size, param, field, 400, msg);
        }
        total += seq->u.array.count;
    }
    r->id_seqs = calloc(count, sizeof *r->id_seqs);
    r->id_lens = calloc(count, sizeof *r->id_lens);
    r->id_store = malloc(total * sizeof *r->id_store);
    if (!r->id_seqs || !r->id_lens || !r->id_store) return bad(err, err_size, param, NULL, 400, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        const json_value *seq = &items[i];
        r->id_seqs[i] = r->id_store + at;
        r->id_lens[i] = (int64_t)seq->u.array.count;
        if (parse_ids(seq, lim, r->id_store + at, msg, sizeof msg)) return bad(err, err_size, param, field, 400, msg);
        at += seq->u.array.count;
    }
    return 0;
}

int api_parse_embed_request(int tei, const char *body, size_t len, const api_request_limits *lim,
                            api_embed_request *r, char *err, size_t err_size, const char **param) {
    memset(r, 0, sizeof *r);
    r->normalize = 1;
    r->truncate = -1;
    *param = NULL;
    char msg[300];
    if (!(r->doc = json_parse(body, len, msg, sizeof msg))) {
        char line[400];
        snprintf(line, sizeof line, "the body is not valid JSON: %s", msg);
        return bad(err, err_size, param, NULL, 400, line);
    }
    const json_value *root = json_root(r->doc);
    if (root->kind != JSON_OBJECT) return bad(err, err_size, param, NULL, 400, "the body must be a JSON object");
    int rc = parse_input(json_get(root, tei ? "inputs" : "input"), tei ? "inputs" : "input", lim, r, err, err_size,
                         param);
    if (rc) return rc;
    const json_value *v;
    if (tei) {
        if ((v = json_get(root, "normalize")) && v->kind != JSON_NULL && !json_get_bool(v, &r->normalize))
            return bad(err, err_size, param, "normalize", 400, "'normalize' must be true or false");
        if ((v = json_get(root, "truncate")) && v->kind != JSON_NULL && !json_get_bool(v, &r->truncate))
            return bad(err, err_size, param, "truncate", 400, "'truncate' must be true or false");
        return 0;
    }
    if ((v = json_get(root, "model")) && v->kind != JSON_NULL && !json_get_string(v, &r->model, &r->model_len))
        return bad(err, err_size, param, "model", 400, "'model' must be a string");
    if ((v = json_get(root, "encoding_format")) && v->kind != JSON_NULL) {
        const char *s;
        size_t n;
        if (!json_get_string(v, &s, &n) || (strcmp(s, "float") && strcmp(s, "base64")))
            return bad(err, err_size, param, "encoding_format", 400, "'encoding_format' must be \"float\" or \"base64\"");
        r->base64 = !strcmp(s, "base64");
    }
    if ((v = json_get(root, "dimensions")) && v->kind != JSON_NULL) {
        long long d;
        if (!json_get_int(v, &d) || d != lim->dim) {
            snprintf(msg, sizeof msg, "'dimensions' must be this model's dimension, %" PRId64
                     " (moee does not shorten embeddings)", lim->dim);
            return bad(err, err_size, param, "dimensions", 400, msg);
        }
    }
    return 0;
}

void api_embed_request_free(api_embed_request *r) {
    free(r->texts);
    free(r->lens);
    free(r->id_seqs);
    free(r->id_lens);
    free(r->id_store);
    json_free(r->doc);
    memset(r, 0, sizeof *r);
}

/* ---- response bodies ------------------------------------------------------------------ */

size_t api_base64(const unsigned char *d, size_t n, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)d[i] << 16;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

int api_write_row(FILE *f, const float *row, int64_t dim, int base64) {
    for (int64_t j = 0; j < dim; j++)
        if (!isfinite(row[j])) return -1;
    if (!base64) {
        fputc('[', f);
        for (int64_t j = 0; j < dim; j++) fprintf(f, j ? ",%.9g" : "%.9g", (double)row[j]);
        fputc(']', f);
        return 0;
    }
    /* little-endian float32 bytes, whatever this machine's byte order */
    unsigned char *bytes = malloc((size_t)dim * 4 + 1);
    char *text = malloc(((size_t)dim * 4 + 2) / 3 * 4 + 1);
    if (!bytes || !text) { free(bytes); free(text); return -1; }
    for (int64_t j = 0; j < dim; j++) {
        uint32_t u;
        memcpy(&u, &row[j], 4);
        for (int b = 0; b < 4; b++) bytes[4 * j + b] = (unsigned char)(u >> (8 * b));
    }
    size_t n = api_base64(bytes, (size_t)dim * 4, text);
    fputc('"', f);
    fwrite(text, 1, n, f);
    fputc('"', f);
    free(bytes);
    free(text);
    return 0;
}

/* ---- responses ------------------------------------------------------------------------- */

typedef struct { FILE *f; char *buf; size_t len; } body_stream;

static int body_open(body_stream *s) {
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    return s->f ? 0 : -1;
}

/* Closes the stream into res (or a 500 when it failed). */
static void body_close(body_stream *s, api_response *res, int status, const char *content_type) {
    int failed = ferror(s->f);
    fclose(s->f);
    if (failed || !s->buf) {
        free(s->buf);
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                                  "\"code\":null}}";
        res->status = 500;
        res->content_type = "application/json";
        res->body = strdup(oom);
        res->body_len = res->body ? sizeof oom - 1 : 0;
        return;
    }
    res->status = status;
    res->content_type = content_type;
    res->body = s->buf;
    res->body_len = s->len;
}

static void json_text(FILE *f, const char *s) {
    if (s) json_write_string(f, s, strlen(s));
    else fputs("null", f);
}

static const char *openai_type(int status) {
    return status == 401 ? "authentication_error" : status == 429 ? "rate_limit_error"
         : status >= 500 ? "server_error" : "invalid_request_error";
}

static void error_response(api_response *res, int tei, int status, const char *message, const char *param) {
    body_stream s;
    if (body_open(&s)) { res->status = 500; return; }
    if (tei) {
        const char *type = status == 429 || status == 503 ? "Overloaded" : status == 413 ? "Validation"
                         : status >= 500 ? "Backend" : status == 401 ? "Unauthorized" : "Validation";
        fputs("{\"error\":", s.f);
        json_text(s.f, message);
        fprintf(s.f, ",\"error_type\":\"%s\"}", type);
    } else {
        const char *code = status == 401 ? "invalid_api_key" : status == 404 ? "unknown_url"
                         : status == 429 ? "rate_limit_exceeded" : NULL;
        fputs("{\"error\":{\"message\":", s.f);
        json_text(s.f, message);
        fprintf(s.f, ",\"type\":\"%s\",\"param\":", openai_type(status));
        json_text(s.f, param);
        fputs(",\"code\":", s.f);
        json_text(s.f, code);
        fputs("}}", s.f);
    }
    body_close(&s, res, status, "application/json");
}

void api_error_response(api_response *res, int status, const char *message) {
    memset(res, 0, sizeof *res);
    error_response(res, 0, status, message, NULL);
}

void api_response_free(api_response *res) {
    free(res->body);
    res->body = NULL;
}

static void openai_body(const api_context *c, const api_embed_request *r, const float *rows, int64_t tokens,
                        api_response *res) {
    body_stream s;
    if (body_open(&s)) { error_response(res, 0, 500, "out of memory", NULL); return; }
    int64_t dim = c->limits.dim;
    fputs("{\"object\":\"list\",\"data\":[", s.f);
    for (int64_t i = 0; i < r->n; i++) {
        fprintf(s.f, "%s{\"object\":\"embedding\",\"index\":%" PRId64 ",\"embedding\":", i ? "," : "", i);
        if (api_write_row(s.f, rows + i * dim, dim, r->base64)) {
            fclose(s.f);
            free(s.buf);
            error_response(res, 0, 500, "the engine produced a non-finite value", NULL);
            return;
        }
        fputc('}', s.f);
    }
    fputs("],\"model\":", s.f);
    if (r->model) json_write_string(s.f, r->model, r->model_len);
    else json_text(s.f, c->model_id);
    fprintf(s.f, ",\"usage\":{\"prompt_tokens\":%" PRId64 ",\"total_tokens\":%" PRId64 "}}", tokens, tokens);
    body_close(&s, res, 200, "application/json");
}

/* TEI: [[...], ...]; normalize divides each row by its L2 norm. */
static void tei_body(const api_context *c, const api_embed_request *r, float *rows, api_response *res) {
    body_stream s;
    if (body_open(&s)) { error_response(res, 1, 500, "out of memory", NULL); return; }
    int64_t dim = c->limits.dim;
    fputc('[', s.f);
    for (int64_t i = 0; i < r->n; i++) {
        float *row = rows + i * dim;
        if (r->normalize) {
            double ss = 0;
            for (int64_t j = 0; j < dim; j++) ss += (double)row[j] * row[j];
            double norm = sqrt(ss);
            if (norm > 0)
                for (int64_t j = 0; j < dim; j++) row[j] = (float)(row[j] / norm);
        }
        if (i) fputc(',', s.f);
        if (api_write_row(s.f, row, dim, 0)) {
            fclose(s.f);
            free(s.buf);
            error_response(res, 1, 500, "the engine produced a non-finite value", NULL);
            return;
        }
    }
    fputc(']', s.f);
    body_close(&s, res, 200, "application/json");
}

static void embed_route(const api_context *c, const http_request *req, int tei, api_response *res) {
    api_embed_request r;
    char err[512];
    const char *param;
    int status = api_parse_embed_request(tei, req->body, req->body_len, &c->limits, &r, err, sizeof err, &param);
    if (status) {
        error_response(res, tei, status, err, param);
        api_embed_request_free(&r);
        return;
    }
    if (r.ids && c->ids_refusal) {
        error_response(res, tei, 400, c->ids_refusal, tei ? "inputs" : "input");
        api_embed_request_free(&r);
        return;
    }
    int truncate = r.truncate >= 0 ? r.truncate : c->default_truncate;
    int64_t tokens = 0;
    for (int64_t i = 0; i < r.n && !status; i++) {
        int64_t t;
        char msg[400];
        if (r.ids) {
            t = r.id_lens[i];
            if (t > c->context_length && !truncate) {
                snprintf(msg, sizeof msg, "%" PRId64 " tokens, longer than the model's context (%d tokens)", t,
                         c->context_length);
                status = 400;
            }
            if (t > c->context_length) t = c->context_length;
        } else if (c->count_tokens(c->count_user, r.texts[i], r.lens[i], truncate, &t, msg, sizeof msg)) {
            status = 400;
        }
        if (status) {
            snprintf(err, sizeof err, "input %" PRId64 ": %s", i, msg);
            error_response(res, tei, 400, err, tei ? "inputs" : "input");
        }
        tokens += t;
    }
    float *rows = status ? NULL : malloc((size_t)(r.n * c->limits.dim) * sizeof *rows);
    if (!status && !rows) { status = 500; error_response(res, tei, 500, "out of memory", NULL); }
    if (!status) {
        batch_job job = {.in = {.ids = r.ids, .truncate = truncate, .texts = r.texts, .lens = r.lens,
                                .id_seqs = (const int32_t *const *)r.id_seqs, .id_lens = r.id_lens, .n = r.n},
                         .tokens = tokens, .out = rows};
        int q = batcher_submit(c->batcher, &job);
        if (q == 1) {
            error_response(res, tei, 429, "the server is busy: too many requests queued; retry after a second", NULL);
            snprintf(res->extra_headers, sizeof res->extra_headers, "Retry-After: 1\r\n");
        } else if (q == 2) {
            error_response(res, tei, 503, "the server is shutting down", NULL);
        } else {
            batcher_wait(c->batcher, &job);
            if (job.failed) {
                int input_error = !strncmp(job.err, "text ", 5) || !strncmp(job.err, "sequence ", 9);
                error_response(res, tei, input_error ? 400 : 500, job.err, input_error ? (tei ? "inputs" : "input") : NULL);
            } else if (tei) {
                tei_body(c, &r, rows, res);
            } else {
                openai_body(c, &r, rows, tokens, res);
            }
        }
    }
    free(rows);
    api_embed_request_free(&r);
}

/* ---- routing ---------------------------------------------------------------------------- */

static serve_route route_of(const char *path) {
    for (int r = 0; r < ROUTE_OTHER; r++)
        if (!strcmp(path, serve_route_names[r])) return (serve_route)r;
    return ROUTE_OTHER;
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static int authorized(const api_context *c, const http_request *req) {
    if (!c->api_key) return 1;
    if (req->has_authorization != 1 || strncmp(req->authorization, "Bearer ", 7)) return 0;
    const char *given = req->authorization + 7, *key = c->api_key;
    size_t gl = strlen(given), kl = strlen(key);
    unsigned diff = gl != kl;
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < gl ? given[i] : 0);
    return diff == 0;
}

static void text_response(api_response *res, int status, const char *content_type, const char *text) {
    res->status = status;
    res->content_type = content_type;
    res->body = strdup(text);
    res->body_len = res->body ? strlen(text) : 0;
    if (!res->body) error_response(res, 0, 500, "out of memory", NULL);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

void api_handle(const api_context *c, const http_request *req, api_response *res) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    memset(res, 0, sizeof *res);
    serve_route route = route_of(req->path);
    int post = route == ROUTE_EMBEDDINGS || route == ROUTE_EMBED;
    int tei = route == ROUTE_EMBED;
    if (route == ROUTE_OTHER) {
        char msg[HTTP_MAX_TARGET + 64];
        snprintf(msg, sizeof msg, "no route %s (see GET /info)", req->path);
        error_response(res, 0, 404, msg, NULL);
    } else if (route != ROUTE_HEALTH && !authorized(c, req)) {
        error_response(res, tei, 401, req->has_authorization ? "wrong API key" :
                       "an API key is needed: send the header 'Authorization: Bearer KEY'", NULL);
    } else if (strcmp(req->method, post ? "POST" : "GET")) {
        char msg[HTTP_MAX_TARGET + 64];
        snprintf(msg, sizeof msg, "%s takes %s requests only", req->path, post ? "POST" : "GET");
        error_response(res, tei, 405, msg, NULL);
        snprintf(res->extra_headers, sizeof res->extra_headers, "Allow: %s\r\n", post ? "POST" : "GET");
    } else if (post) {
        embed_route(c, req, tei, res);
    } else if (route == ROUTE_HEALTH) {
        text_response(res, 200, "application/json", "{\"status\":\"ok\"}");
    } else if (route == ROUTE_INFO) {
        text_response(res, 200, "application/json", c->info_json);
    } else if (route == ROUTE_MODELS) {
        body_stream s;
        if (body_open(&s)) error_response(res, 0, 500, "out of memory", NULL);
        else {
            fputs("{\"object\":\"list\",\"data\":[{\"id\":", s.f);
            json_text(s.f, c->model_id);
            fputs(",\"object\":\"model\",\"created\":0,\"owned_by\":\"moee\"}]}", s.f);
            body_close(&s, res, 200, "application/json");
        }
    } else {   /* ROUTE_METRICS */
        body_stream s;
        if (body_open(&s)) error_response(res, 0, 500, "out of memory", NULL);
        else {
            int queued, running;
            batcher_depth(c->batcher, &queued, &running);
            metrics_write(s.f, c->metrics, queued, running);
            body_close(&s, res, 200, "text/plain; version=0.0.4");
        }
    }
    metrics_request(c->metrics, route, res->status, seconds_since(&start));
}
