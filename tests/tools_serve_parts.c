/* tools_serve_parts.c: the pieces of `moee serve` without sockets: the HTTP parser
 * (every refusal and its status, chunked bodies, pipelining, keep-alive rules), the
 * request bodies of /v1/embeddings and /embed (every error class), base64 and the
 * float printing, and the batcher with a fake engine (jobs of several requests in
 * one call, a failing input failing only its own request, the queue limit). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "tools/serve/api.h"
#include "tools/serve/batcher.h"
#include "tools/serve/http.h"

static const http_limits lim = {.max_header_bytes = 512, .max_body_bytes = 64};

static http_result parse(const char *s, http_request *req) { return http_parse(s, strlen(s), &lim, req); }

static int status_of(const char *s) {
    http_request req;
    http_result r = parse(s, &req);
    http_request_free(&req);
    return r == HTTP_INVALID ? req.status : r == HTTP_COMPLETE ? 200 : 0;
}

static void test_http(void) {
    http_request req;
    const char *get = "GET /health?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse(get, &req) == HTTP_COMPLETE);
    CHECK(!strcmp(req.method, "GET") && !strcmp(req.path, "/health") && req.keep_alive && req.body_len == 0);
    CHECK(req.consumed == strlen(get));
    http_request_free(&req);

    /* every prefix needs more */
    const char *post = "POST /embed HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nAuthorization: Bearer k\r\n\r\nhello";
    for (size_t n = 0; n < strlen(post); n++) {
        http_result r = http_parse(post, n, &lim, &req);
        CHECKF(r == HTTP_NEED_MORE, "prefix %zu", n);
        http_request_free(&req);
    }
    CHECK(parse(post, &req) == HTTP_COMPLETE && req.body_len == 5 && !strcmp(req.body, "hello"));
    CHECK(req.has_authorization == 1 && !strcmp(req.authorization, "Bearer k"));
    http_request_free(&req);

    /* chunked, with an extension and a trailer; then a pipelined request */
    const char *chunked = "POST /embed HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\nGET /info HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse(chunked, &req) == HTTP_COMPLETE && req.body_len == 13 && !strcmp(req.body, "abc0123456789"));
    size_t used = req.consumed;
    http_request_free(&req);
    CHECK(parse(chunked + used, &req) == HTTP_COMPLETE && !strcmp(req.path, "/info"));
    http_request_free(&req);

    /* headers done but the body not: reported for 100-continue */
    CHECK(parse("POST /embed HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", &req) ==
          HTTP_NEED_MORE);
    CHECK(req.headers_done && req.expect_continue);
    http_request_free(&req);

    /* keep-alive rules */
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &req) == HTTP_COMPLETE && !req.keep_alive);
    http_request_free(&req);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) == HTTP_COMPLETE && req.keep_alive);
    http_request_free(&req);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &req) == HTTP_COMPLETE && !req.keep_alive);
    http_request_free(&req);
    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n", &req) == HTTP_COMPLETE);   /* bare LF */
    http_request_free(&req);

    /* refusals */
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);                                           /* no Host */
    CHECK(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTX/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("G\x01T / HTTP/1.1\r\n") == 400);                                            /* at once */
    CHECK(status_of("\x16\x03\x01") == 400);                                                     /* TLS */
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == 400);                    /* bare CR */
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na") == 200);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n") == 413);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n") == 413);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n") == 0);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n") == 400);
    char big[700];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    big[sizeof big - 1] = 0;
    CHECK(status_of(big) == 431);
    char longpath[HTTP_MAX_TARGET + 64];
    snprintf(longpath, sizeof longpath, "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_MAX_TARGET, 0);
    http_limits wide = {.max_header_bytes = 4096, .max_body_bytes = 64};
    CHECK(http_parse(longpath, strlen(longpath), &wide, &req) == HTTP_INVALID && req.status == 414);
    http_request_free(&req);

    char head[256];
    size_t n = http_format_head(head, sizeof head, 429, "application/json", 12, 1, "Retry-After: 1\r\n");
    CHECK(n > 0 && !strcmp(head, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 12\r\nConnection: keep-alive\r\nRetry-After: 1\r\n\r\n"));
}

static int body_status(int tei, const char *body, api_embed_request *r) {
    static const api_request_limits al = {.dim = 4, .vocab_size = 100, .max_client_batch = 3};
    char err[512] = "";
    const char *param;
    int s = api_parse_embed_request(tei, body, strlen(body), &al, r, err, sizeof err, &param);
    if (s) CHECKF(err[0] && !strchr(err, '\n'), "error line for %s", body);
    return s;
}

static void test_bodies(void) {
    api_embed_request r;
    CHECK(body_status(0, "{\"input\":\"hi\",\"model\":\"m\",\"user\":1}", &r) == 0);
    CHECK(r.n == 1 && !r.ids && r.lens[0] == 2 && !r.base64 && r.model_len == 1);
    api_embed_request_free(&r);
    CHECK(body_status(0, "{\"input\":[\"a\",\"b\\u0000c\"],\"encoding_format\":\"base64\",\"dimensions\":4}", &r) == 0);
    CHECK(r.n == 2 && r.lens[1] == 3 && r.base64);
    api_embed_request_free(&r);
    CHECK(body_status(0, "{\"input\":[1,2,3]}", &r) == 0);
    CHECK(r.n == 1 && r.ids && r.id_lens[0] == 3 && r.id_seqs[0][2] == 3);
    api_embed_request_free(&r);
    CHECK(body_status(0, "{\"input\":[[1],[2,99]]}", &r) == 0);
    CHECK(r.n == 2 && r.ids && r.id_lens[1] == 2 && r.id_seqs[1][1] == 99);
    api_embed_request_free(&r);
    CHECK(body_status(1, "{\"inputs\":[\"x\"],\"normalize\":false,\"truncate\":true}", &r) == 0);
    CHECK(r.n == 1 && !r.normalize && r.truncate == 1);
    api_embed_request_free(&r);
    CHECK(body_status(1, "{\"inputs\":\"x\"}", &r) == 0 && r.normalize == 1 && r.truncate == -1);
    api_embed_request_free(&r);

    static const char *const bad400[] = {
        "", "{", "[]", "{\"input\":\"\"}", "{}", "{\"input\":[]}", "{\"input\":[\"a\",\"\"]}", "{\"input\":[\"a\",1]}",
        "{\"input\":[1.5]}", "{\"input\":[100]}", "{\"input\":[-1]}", "{\"input\":[[]]}", "{\"input\":[[1],2]}",
        "{\"input\":{}}", "{\"input\":null}", "{\"input\":\"\\ud800\"}", "{\"input\":\"\xff\"}",
        "{\"input\":\"a\",\"encoding_format\":\"int8\"}", "{\"input\":\"a\",\"dimensions\":3}",
        "{\"input\":\"a\",\"model\":5}", "{\"input\":\"a\"} x", "{\"inputs\":\"a\"}"};
    for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++) {
        CHECKF(body_status(0, bad400[i], &r) == 400, "%s", bad400[i]);
        api_embed_request_free(&r);
    }
    CHECK(body_status(1, "{\"inputs\":\"a\",\"normalize\":1}", &r) == 400);
    api_embed_request_free(&r);
    CHECK(body_status(0, "{\"input\":[\"a\",\"b\",\"c\",\"d\"]}", &r) == 413);
    api_embed_request_free(&r);
    CHECK(body_status(0, "{\"input\":[[1],[1],[1],[1]]}", &r) == 413);
    api_embed_request_free(&r);
}

static void test_encoding(void) {
    char out[64];
    const char *vec[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
    for (int i = 0; i < 5; i++) {
        api_base64((const unsigned char *)vec[i][0], strlen(vec[i][0]), out);
        CHECKF(!strcmp(out, vec[i][1]), "base64(%s) = %s", vec[i][0], out);
    }
    /* 1.0f = 0x3f800000 -> little-endian 00 00 80 3f -> "AACAPw==" */
    float one = 1.0f, awkward[3] = {0.1f, -3.4028235e38f, 1.17549435e-38f};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    api_write_row(f, &one, 1, 1);
    fputc(' ', f);
    api_write_row(f, awkward, 3, 0);
    fclose(f);
    CHECKF(!strncmp(buf, "\"AACAPw==\" [", 12), "%s", buf);
    /* every printed float parses back to the same float32 */
    char *p = buf + 12;
    for (int i = 0; i < 3; i++) {
        float back = strtof(p, &p);
        CHECK(memcmp(&back, &awkward[i], 4) == 0);
        p++;
    }
    free(buf);
    float nan = NAN;
    f = fopen("/dev/null", "w");
    CHECK(api_write_row(f, &nan, 1, 0) == -1);
    fclose(f);
}

/* ---- the batcher with a fake engine: row i of a text = (its length, its first byte, ...) ---- */

static int calls, max_call_n;
static pthread_mutex_t calls_mu = PTHREAD_MUTEX_INITIALIZER;

static int fake_embed(void *user, const serve_inputs *in, float *out, char *err, size_t err_size) {
    pthread_mutex_lock(&calls_mu);
    calls++;
    if (in->n > max_call_n) max_call_n = (int)in->n;
    pthread_mutex_unlock(&calls_mu);
    for (int64_t i = 0; i < in->n; i++) {
        if (in->lens[i] == 3 && !memcmp(in->texts[i], "bad", 3)) {
            snprintf(err, err_size, "text %lld: bad input", (long long)i);
            return 1;
        }
        out[2 * i] = (float)in->lens[i];
        out[2 * i + 1] = (float)(unsigned char)in->texts[i][0];
    }
    return 0;
}

typedef struct { batcher *b; const char *text; float row[2]; int failed, queued; } client;

static void *client_main(void *arg) {
    client *c = arg;
    size_t len = strlen(c->text);
    batch_job j = {.in = {.texts = &c->text, .lens = &len, .n = 1, .truncate = 1}, .tokens = 1, .out = c->row};
    c->queued = batcher_submit(c->b, &j);
    if (c->queued == 0) {
        batcher_wait(c->b, &j);
        c->failed = j.failed;
    }
    return NULL;
}

static void test_batcher(void) {
    batcher b;
    char err[256];
    serve_engine e = {NULL, 2, fake_embed};
    /* a long wait so that all 8 clients land in one call */
    CHECK(batcher_start(&b, e, 1000, 300, 16, NULL, err, sizeof err) == 0);
    static const char *const texts[8] = {"a", "bb", "bad", "dddd", "e", "ff", "ggg", "hhhhhhhh"};
    client c[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        c[i] = (client){&b, texts[i], {0, 0}, 0, -1};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) {
        CHECK(c[i].queued == 0);
        if (i == 2) { CHECK(c[i].failed); continue; }
        CHECK(!c[i].failed && c[i].row[0] == (float)strlen(texts[i]) && c[i].row[1] == (float)texts[i][0]);
    }
    CHECKF(max_call_n == 8, "largest engine call %d texts", max_call_n);   /* packed, then each alone */
    batcher_stop(&b);

    /* capacity 1: while one job waits for company, the next is refused */
    CHECK(batcher_start(&b, e, 1000, 400, 1, NULL, err, sizeof err) == 0);
    client first = {&b, "x", {0, 0}, 0, -1}, second = {&b, "y", {0, 0}, 0, -1};
    pthread_t t1;
    pthread_create(&t1, NULL, client_main, &first);
    usleep(100000);
    client_main(&second);
    pthread_join(t1, NULL);
    CHECK(first.queued == 0 && !first.failed && second.queued == 1);
    batcher_stop(&b);
}

int main(void) {
    test_http();
    test_bodies();
    test_encoding();
    test_batcher();
    return test_summary("tools_serve_parts");
}
