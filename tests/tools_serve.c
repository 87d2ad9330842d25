/* tools_serve.c: `moee serve` over real HTTP on a loopback port, against `moee embed`.
 *
 * The server and `moee embed` each run in a forked child (cmd_serve / cmd_embed, the
 * same code as the binary; the parent never runs the engine, so forking stays
 * safe), the server on a port the kernel picks (--port 0; the child's stderr says
 * which). A small client of our own speaks HTTP/1.1 to it.
 *
 * Checked: float and base64 vectors bit-identical to `moee embed`'s .npy (texts,
 * token ids, TEI normalize:false, a standardized moee-sum with --stats-in and a
 * prompt; token ids refused with text statistics, statistics of another prompt refused at
 * start), usage tokens equal to embed's count, concurrent clients, keep-alive and
 * pipelining, chunked bodies, 100-continue, every error class (400, 401, 404, 405,
 * 413, 429 with Retry-After), a slow client timing out while others are served, a
 * dropped connection, the refusal to start without statistics, and SIGTERM finishing
 * the request in flight and exiting 0. Timeouts keep every wait bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "tools/cmd.h"

#define MODEL "tests/fuzz/corpus/model/olmoe-micro-tokenizer.q4_0.gguf"
#define KEY "sesame"
#define WAIT_MS 20000        /* the longest any read waits */

static char dir[64];

/* ---- children -------------------------------------------------------------------------- */

typedef struct { pid_t pid; int err_fd; int port; } child;

static int argc_of(char **argv) { int n = 0; while (argv[n]) n++; return n; }

/* Runs cmd(argv) in a child whose stderr goes to a pipe. */
static child spawn(int (*cmd)(int, char **), char **argv) {
    int p[2];
    child c = {-1, -1, 0};
    if (pipe(p)) return c;
    fflush(NULL);
    c.pid = fork();
    if (c.pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        exit(cmd(argc_of(argv), argv));
    }
    close(p[1]);
    c.err_fd = p[0];
    return c;
}

/* Reads the child's stderr until it ends (or until a line contains want, when given). */
static int read_stderr(child *c, char *buf, size_t size, const char *want) {
    size_t n = 0;
    buf[0] = 0;
    for (;;) {
        struct pollfd p = {.fd = c->err_fd, .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0) return -1;
        ssize_t got = read(c->err_fd, buf + n, size - 1 - n);
        if (got <= 0) return want ? -1 : 0;
        n += (size_t)got;
        buf[n] = 0;
        if (want && strstr(buf, want) && strchr(strstr(buf, want), '\n')) return 0;
        if (n + 1 >= size) n = 0;   /* keep reading; only the tail matters */
    }
}

static int finish(child *c, char *log, size_t size) {
    read_stderr(c, log, size, NULL);
    close(c->err_fd);
    int status;
    waitpid(c->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static child start_server(char **argv) {
    child c = spawn(cmd_serve, argv);
    char log[4096];
    if (c.pid > 0 && read_stderr(&c, log, sizeof log, "listening on http://127.0.0.1:") == 0)
        c.port = atoi(strstr(log, "127.0.0.1:") + 10);
    if (!c.port) fprintf(stderr, "server did not start: %s\n", log);
    return c;
}

static int stop_server(child *c) {
    char log[8192];
    kill(c->pid, SIGTERM);
    int rc = finish(c, log, sizeof log);
    if (rc) fprintf(stderr, "server log: %s\n", log);
    return rc;
}

/* ---- `moee embed` as the reference ------------------------------------------------------- */

typedef struct { float *rows; int64_t n, dim; long long tokens; } reference;

static reference embed_reference(const char *name, char **extra) {
    reference r = {0};
    char in[128], out[128];
    snprintf(in, sizeof in, "%s/%s.txt", dir, name);
    snprintf(out, sizeof out, "%s/%s.npy", dir, name);
    char *argv[32] = {"embed", "-m", MODEL, "-o", out, "-q"};
    int argc = 6;
    argv[argc++] = strstr(name, "ids") ? "--ids" : "-i";
    argv[argc++] = in;
    for (int i = 0; extra[i]; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    child c = spawn(cmd_embed, argv);
    char log[4096];
    if (finish(&c, log, sizeof log)) { fprintf(stderr, "moee embed failed: %s\n", log); return r; }
    FILE *f = fopen(out, "rb");
    unsigned char head[10];
    if (!f || fread(head, 1, 10, f) != 10) { if (f) fclose(f); return r; }
    size_t hlen = head[8] | head[9] << 8;
    char *dict = calloc(1, hlen + 1);
    if (fread(dict, 1, hlen, f) != hlen) hlen = 0;
    long long n = 0, d = 0;
    char *shape = strstr(dict, "'shape': (");
    if (shape) sscanf(shape, "'shape': (%lld, %lld)", &n, &d);
    free(dict);
    r.rows = malloc((size_t)(n * d) * sizeof(float) + 1);
    if (fread(r.rows, sizeof(float), (size_t)(n * d), f) == (size_t)(n * d)) { r.n = n; r.dim = d; }
    fclose(f);
    char side[160], buf[4096] = "";
    snprintf(side, sizeof side, "%s.json", out);
    f = fopen(side, "r");
    if (f) {
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        fclose(f);
        char *t = strstr(buf, "\"tokens\": ");
        if (t) r.tokens = atoll(t + 10);
    }
    return r;
}

static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* ---- the client ------------------------------------------------------------------------ */

typedef struct { int status; char head[2048]; char *body; size_t body_len; } response;

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); return -1; }
    struct timeval tv = {WAIT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_str(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One response (head and Content-Length body) from fd; status 0 if the connection ended first. */
static response read_response(int fd) {
    response r = {0};
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    char *end = NULL;
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + n, 1, 0);   /* byte by byte up to the head's end: nothing of the next is eaten */
        if (got <= 0) { free(buf); return r; }
        n += (size_t)got;
        if (n >= 4 && !memcmp(buf + n - 4, "\r\n\r\n", 4)) { end = buf + n; break; }
    }
    size_t hlen = (size_t)(end - buf);
    memcpy(r.head, buf, hlen < sizeof r.head - 1 ? hlen : sizeof r.head - 1);
    r.status = atoi(buf + 9);
    char *cl = strcasestr(r.head, "Content-Length: ");
    size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    free(buf);
    r.body = malloc(blen + 1);
    size_t got_total = 0;
    while (got_total < blen) {
        ssize_t got = recv(fd, r.body + got_total, blen - got_total, 0);
        if (got <= 0) break;
        got_total += (size_t)got;
    }
    r.body[got_total] = 0;
    r.body_len = got_total;
    return r;
}

static char *request_text(const char *method, const char *path, const char *body, const char *extra) {
    size_t n = strlen(body) + 512 + strlen(extra);
    char *s = malloc(n);
    snprintf(s, n, "%s %s HTTP/1.1\r\nHost: test\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, extra, strlen(body), body);
    return s;
}

/* One request on a fresh connection. extra: header lines (default: the API key). */
static response call(int port, const char *method, const char *path, const char *body, const char *extra) {
    int fd = connect_to(port);
    response r = {0};
    if (fd < 0) return r;
    char *req = request_text(method, path, body, extra ? extra : "Authorization: Bearer " KEY "\r\n");
    if (send_str(fd, req, strlen(req)) == 0) r = read_response(fd);
    free(req);
    close(fd);
    return r;
}

/* ---- reading vectors back ---------------------------------------------------------------- */

static int b64_value(char c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The i-th "embedding" of an OpenAI response (or the i-th row of a TEI array) into
 * out[dim]; returns the number of values read. */
static int64_t row_of(const char *body, int tei, int64_t i, float *out, int64_t dim) {
    const char *p = body;
    if (tei) {
        p = strchr(p, '[');
        for (int64_t k = 0; p && k <= i; k++) p = strchr(p + 1, '[');
    } else {
        for (int64_t k = 0; p && k <= i; k++) {
            p = strstr(p, "\"embedding\":");
            if (p && k < i) p++;
        }
        if (p) p += 12;
    }
    if (!p) return 0;
    if (*p == '"') {   /* base64 little-endian float32 */
        int64_t got = 0;
        uint32_t acc = 0;
        int bits = 0, nbytes = 0;
        unsigned char bytes[4];
        for (p++; *p && *p != '"' && got < dim; p++) {
            int v = b64_value(*p);
            if (v < 0) continue;
            acc = acc << 6 | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                bytes[nbytes++] = (unsigned char)(acc >> bits);
                if (nbytes == 4) {
                    uint32_t u = bytes[0] | bytes[1] << 8 | bytes[2] << 16 | (uint32_t)bytes[3] << 24;
                    memcpy(&out[got++], &u, 4);
                    nbytes = 0;
                }
            }
        }
        return got;
    }
    int64_t got = 0;
    p++;
    while (got < dim) {
        char *e;
        float v = strtof(p, &e);
        if (e == p) break;
        out[got++] = v;
        p = e;
        if (*p != ',') break;
        p++;
    }
    return got;
}

/* Every row of the response equals the reference rows first..first+n, bit for bit. */
static int same_rows(const response *r, int tei, const reference *ref, int64_t first, int64_t n) {
    if (r->status != 200 || !ref->rows) return 0;
    float *row = malloc((size_t)ref->dim * sizeof *row);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++)
        ok = row_of(r->body, tei, i, row, ref->dim) == ref->dim &&
             memcmp(row, ref->rows + (first + i) * ref->dim, (size_t)ref->dim * sizeof *row) == 0;
    free(row);
    return ok;
}

static void free_response(response *r) { free(r->body); r->body = NULL; }

/* ---- the tests ------------------------------------------------------------------------- */

static const char *texts[] = {"The cat sat on the mat.", "Embeddings from routers", "héllo wörld ✓",
                              "a", "Bonjour, le monde", "x y z"};
#define N_TEXTS 6

/* texts[first..first+n) as a JSON array, in buf[1024] (one per thread) */
static char *texts_json(char *buf, int first, int n) {
    size_t o = 0, size = 1024;
    o += (size_t)snprintf(buf + o, size - o, "[");
    for (int i = 0; i < n; i++) o += (size_t)snprintf(buf + o, size - o, "%s\"%s\"", i ? "," : "", texts[first + i]);
    snprintf(buf + o, size - o, "]");
    return buf;
}

typedef struct { int port; const reference *ref; int seed, ok; } worker;

static void *concurrent_client(void *arg) {
    worker *w = arg;
    unsigned s = (unsigned)w->seed;
    w->ok = 1;
    for (int k = 0; k < 6; k++) {
        s = s * 1103515245u + 12345u;
        int first = (int)(s >> 16) % N_TEXTS, n = 1 + (int)(s >> 8) % (N_TEXTS - first);
        char body[1200], list[1024];
        int b64 = k & 1;
        snprintf(body, sizeof body, "{\"input\":%s%s}", texts_json(list, first, n), b64 ? ",\"encoding_format\":\"base64\"" : "");
        response r = call(w->port, "POST", "/v1/embeddings", body, NULL);
        if (!same_rows(&r, 0, w->ref, first, n)) {
            fprintf(stderr, "client %d request %d (texts %d..%d, %s): status %d %.200s\n", w->seed, k, first,
                    first + n - 1, b64 ? "base64" : "float", r.status, r.body ? r.body : "");
            w->ok = 0;
        }
        free_response(&r);
    }
    return NULL;
}

static int has(const response *r, const char *s) { return r->body && strstr(r->body, s) != NULL; }

static void test_main_server(void) {
    char texts_file[1024] = "", ids[] = "1 2 3\n40 41 42 43 44\n";
    for (int i = 0; i < N_TEXTS; i++) { strcat(texts_file, texts[i]); strcat(texts_file, "\n"); }
    write_file("t.txt", texts_file);
    write_file("ids.txt", ids);
    char *hs_opts[] = {"--kind", "hs", NULL};
    reference ref = embed_reference("t", hs_opts);
    reference ref_ids = embed_reference("ids", hs_opts);
    CHECK(ref.n == N_TEXTS && ref.dim == 32 && ref_ids.n == 2);

    char *argv[] = {"serve", "-m", MODEL, "--port", "0", "--api-key", KEY, "--max-client-batch", "8",
                    "--payload-limit", "4096", "--timeout-ms", "1500", "--max-wait-ms", "20", NULL};
    child srv = start_server(argv);
    CHECK(srv.port > 0);
    if (!srv.port) return;
    int port = srv.port;

    /* floats and base64 equal moee embed; usage counts its tokens */
    char body[2048], list[1024];
    snprintf(body, sizeof body, "{\"input\":%s,\"model\":\"my-model\"}", texts_json(list, 0, N_TEXTS));
    response r = call(port, "POST", "/v1/embeddings", body, NULL);
    CHECKF(same_rows(&r, 0, &ref, 0, N_TEXTS), "float rows: %d %.300s", r.status, r.body);
    char usage[96];
    snprintf(usage, sizeof usage, "\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}", ref.tokens, ref.tokens);
    CHECKF(has(&r, usage) && has(&r, "\"model\":\"my-model\""), "%s not in %.200s", usage, r.body);
    CHECK(has(&r, "\"object\":\"list\"") && has(&r, "\"index\":5"));
    free_response(&r);
    snprintf(body, sizeof body, "{\"input\":%s,\"encoding_format\":\"base64\",\"dimensions\":32}", texts_json(list, 1, 3));
    r = call(port, "POST", "/v1/embeddings", body, NULL);
    CHECKF(same_rows(&r, 0, &ref, 1, 3), "base64 rows: %d %.300s", r.status, r.body);
    free_response(&r);
    r = call(port, "POST", "/v1/embeddings", "{\"input\":\"a\"}", NULL);
    CHECK(same_rows(&r, 0, &ref, 3, 1));
    free_response(&r);
    r = call(port, "POST", "/v1/embeddings", "{\"input\":[[1,2,3],[40,41,42,43,44]]}", NULL);
    CHECK(same_rows(&r, 0, &ref_ids, 0, 2) && has(&r, "\"prompt_tokens\":8"));
    free_response(&r);
    r = call(port, "POST", "/v1/embeddings", "{\"input\":[1,2,3]}", NULL);
    CHECK(same_rows(&r, 0, &ref_ids, 0, 1));
    free_response(&r);

    /* TEI: normalize false is the exact vector; default normalizes */
    snprintf(body, sizeof body, "{\"inputs\":%s,\"normalize\":false}", texts_json(list, 0, 2));
    r = call(port, "POST", "/embed", body, NULL);
    CHECKF(same_rows(&r, 1, &ref, 0, 2), "tei rows: %d %.200s", r.status, r.body);
    free_response(&r);
    r = call(port, "POST", "/embed", "{\"inputs\":\"a\"}", NULL);
    float row[32];
    double ss = 0;
    CHECK(r.status == 200 && row_of(r.body, 1, 0, row, 32) == 32);
    for (int j = 0; j < 32; j++) ss += (double)row[j] * row[j];
    CHECK_NEAR(ss, 1.0, 1e-5);
    free_response(&r);

    /* GET routes; /health needs no key */
    r = call(port, "GET", "/health", "", "");
    CHECK(r.status == 200);
    free_response(&r);
    r = call(port, "GET", "/info", "", NULL);
    CHECK(r.status == 200 && has(&r, "\"kind\":\"hs\"") && has(&r, "\"dimensions\":32") && has(&r, "no --stats-in"));
    free_response(&r);
    r = call(port, "GET", "/v1/models", "", NULL);
    CHECK(r.status == 200 && has(&r, "\"id\":\"olmoe-micro-tokenizer.q4_0.gguf\""));
    free_response(&r);

    /* every error class */
    static const struct { const char *method, *path, *body, *extra; int status; const char *says; } errors[] = {
        {"POST", "/v1/embeddings", "{\"input\":", NULL, 400, "not valid JSON"},
        {"POST", "/v1/embeddings", "{\"input\":\"\"}", NULL, 400, "empty string"},
        {"POST", "/v1/embeddings", "{\"input\":5}", NULL, 400, "must be"},
        {"POST", "/v1/embeddings", "{\"input\":\"\\udc00x\"}", NULL, 400, "not valid JSON"},
        {"POST", "/v1/embeddings", "{\"input\":[\"a\",[1]]}", NULL, 400, "mixes types"},
        {"POST", "/v1/embeddings", "{\"input\":[[1,99999]]}", NULL, 400, "outside the vocabulary"},
        {"POST", "/v1/embeddings", "{\"input\":\"a\",\"dimensions\":7}", NULL, 400, "dimensions"},
        {"POST", "/v1/embeddings", "{\"input\":\"a\",\"encoding_format\":\"hex\"}", NULL, 400, "encoding_format"},
        {"POST", "/embed", "{\"inputs\":[\"a\",\"\"]}", NULL, 400, "\"error_type\":\"Validation\""},
        {"POST", "/v1/embeddings", "{\"input\":\"a\"}", "", 401, "invalid_api_key"},
        {"POST", "/v1/embeddings", "{\"input\":\"a\"}", "Authorization: Bearer nope\r\n", 401, "wrong API key"},
        {"GET", "/metrics", "", "Authorization: Basic x\r\n", 401, "API key"},
        {"GET", "/nowhere", "", NULL, 404, "unknown_url"},
        {"GET", "/v1/embeddings", "", NULL, 405, "POST"},
        {"POST", "/v1/embeddings", "{\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}", NULL, 413,
         "max-client-batch"},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        r = call(port, errors[i].method, errors[i].path, errors[i].body, errors[i].extra);
        CHECKF(r.status == errors[i].status && has(&r, errors[i].says), "%s %s: %d %s", errors[i].method,
               errors[i].body, r.status, r.body);
        free_response(&r);
    }
    char *huge = malloc(5000);
    memset(huge, ' ', 4999);
    huge[4999] = 0;
    memcpy(huge, "{\"input\":\"a\"}", 13);
    r = call(port, "POST", "/v1/embeddings", huge, NULL);
    CHECKF(r.status == 413, "payload limit: %d", r.status);
    free_response(&r);
    free(huge);

    /* keep-alive: three requests on one connection, two of them pipelined in one write */
    int fd = connect_to(port);
    char *one = request_text("POST", "/v1/embeddings", "{\"input\":\"a\"}", "Authorization: Bearer " KEY "\r\n");
    char *two = request_text("GET", "/health", "", "");
    char both[2048];
    snprintf(both, sizeof both, "%s%s", one, two);
    send_str(fd, one, strlen(one));
    r = read_response(fd);
    CHECK(same_rows(&r, 0, &ref, 3, 1) && strstr(r.head, "Connection: keep-alive"));
    free_response(&r);
    send_str(fd, both, strlen(both));
    r = read_response(fd);
    CHECK(same_rows(&r, 0, &ref, 3, 1));
    free_response(&r);
    r = read_response(fd);
    CHECK(r.status == 200 && has(&r, "ok"));
    free_response(&r);
    close(fd);
    free(one);
    free(two);

    /* chunked body, and Expect: 100-continue */
    fd = connect_to(port);
    const char *chunked = "POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " KEY "\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n6\r\n{\"inpu\r\n7;x=1\r\nt\":\"a\"}\r\n0\r\n\r\n";
    send_str(fd, chunked, strlen(chunked));
    r = read_response(fd);
    CHECKF(same_rows(&r, 0, &ref, 3, 1), "chunked: %d %s", r.status, r.body);
    free_response(&r);
    const char *expect = "POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " KEY "\r\n"
                         "Expect: 100-continue\r\nContent-Length: 13\r\n\r\n";
    send_str(fd, expect, strlen(expect));
    r = read_response(fd);
    CHECK(r.status == 100);
    free_response(&r);
    send_str(fd, "{\"input\":\"a\"}", 13);
    r = read_response(fd);
    CHECK(same_rows(&r, 0, &ref, 3, 1));
    free_response(&r);
    close(fd);

    /* a slow client times out (408) while another is served; a dropped connection harms nothing */
    int slow = connect_to(port);
    send_str(slow, "POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nContent-Le", 48);
    int dropped = connect_to(port);
    char *req = request_text("POST", "/v1/embeddings", "{\"input\":[\"a\",\"x y z\"]}", "Authorization: Bearer " KEY "\r\n");
    send_str(dropped, req, strlen(req));
    close(dropped);
    free(req);
    r = call(port, "POST", "/v1/embeddings", "{\"input\":\"a\"}", NULL);
    CHECK(same_rows(&r, 0, &ref, 3, 1));
    free_response(&r);
    r = read_response(slow);   /* the server answers 408 after --timeout-ms and closes */
    CHECKF(r.status == 408, "slow client: %d", r.status);
    free_response(&r);
    close(slow);

    /* concurrent clients, each checking its rows */
    worker w[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){port, &ref, i + 1, 0};
        pthread_create(&t[i], NULL, concurrent_client, &w[i]);
    }
    int all = 1;
    for (int i = 0; i < 8; i++) { pthread_join(t[i], NULL); all &= w[i].ok; }
    CHECK(all);

    r = call(port, "GET", "/metrics", "", NULL);
    CHECK(r.status == 200 && has(&r, "moee_requests_total{route=\"/v1/embeddings\",status=\"200\"}") &&
          has(&r, "moee_requests_total{route=\"/v1/embeddings\",status=\"401\"}") && has(&r, "moee_batch_texts_bucket") &&
          has(&r, "moee_request_duration_seconds_count") && has(&r, "moee_queue_depth 0"));
    free_response(&r);

    CHECK(stop_server(&srv) == 0);
    CHECK(connect_to(port) < 0);   /* no longer listening */
    free(ref.rows);
    free(ref_ids.rows);
}

/* 429 while the queue is full, then SIGTERM with a request in flight. */
static void test_limits_and_drain(void) {
    char *argv[] = {"serve", "-m", MODEL, "--port", "0", "--max-concurrent-requests", "1", "--max-wait-ms", "1500", NULL};
    child srv = start_server(argv);
    CHECK(srv.port > 0);
    if (!srv.port) return;
    char *req = request_text("POST", "/v1/embeddings", "{\"input\":\"a\"}", "");
    int first = connect_to(srv.port);
    send_str(first, req, strlen(req));
    usleep(200000);   /* the first now waits in the queue for company (up to 1500 ms) */
    response r = call(srv.port, "POST", "/v1/embeddings", "{\"input\":\"b\"}", "");
    CHECKF(r.status == 429 && strstr(r.head, "Retry-After: 1") && has(&r, "rate_limit_exceeded"), "429: %d %s",
           r.status, r.head);
    free_response(&r);
    r = read_response(first);
    CHECK(r.status == 200);
    free_response(&r);
    close(first);

    /* the drain: a request in the queue when SIGTERM comes is answered, then exit 0 */
    int inflight = connect_to(srv.port);
    send_str(inflight, req, strlen(req));
    usleep(200000);
    kill(srv.pid, SIGTERM);
    r = read_response(inflight);
    CHECKF(r.status == 200 && strstr(r.head, "Connection: close"), "drained: %d", r.status);
    free_response(&r);
    close(inflight);
    char log[8192];
    CHECK(finish(&srv, log, sizeof log) == 0);
    CHECKF(strstr(log, "stopping") && strstr(log, "stopped"), "%s", log);
    free(req);
}

/* A standardized kind with --stats-in and a prompt, against moee embed with the same. */
static void test_standardized(void) {
    write_file("corpus.txt", "one\ntwo words\nthree little words\nfour of them now\nand five\n");
    char stats[128];
    snprintf(stats, sizeof stats, "%s/stats.json", dir);
    char *make_stats[] = {"--kind", "hs,rw", "--prompt", "prompteol", "--stats-out", stats, NULL};
    write_file("corpus2.txt", "one\ntwo words\nthree little words\nfour of them now\nand five\n");
    char out[128];
    snprintf(out, sizeof out, "%s/c.npz", dir);
    {   /* the statistics file, as the refusal message tells */
        char in[128];
        snprintf(in, sizeof in, "%s/corpus.txt", dir);
        char *argv[] = {"embed", "-m", MODEL, "-i", in, "-o", out, "-q", make_stats[0], make_stats[1], make_stats[2],
                        make_stats[3], make_stats[4], make_stats[5], NULL};
        child c = spawn(cmd_embed, argv);
        char log[2048];
        CHECK(finish(&c, log, sizeof log) == 0);
    }
    char *opts[] = {"--kind", "moee-sum", "--prompt", "prompteol", "--stats-in", stats, NULL};
    write_file("q.txt", "The cat sat on the mat.\nhéllo wörld ✓\n");
    reference ref = embed_reference("q", opts);
    CHECK(ref.n == 2 && ref.dim == 40);

    char *argv[] = {"serve", "-m", MODEL, "--port", "0", "--kind", "moee-sum", "--prompt", "prompteol", "--stats-in",
                    stats, NULL};
    child srv = start_server(argv);
    CHECK(srv.port > 0);
    if (!srv.port) return;
    response r = call(srv.port, "POST", "/v1/embeddings", "{\"input\":[\"The cat sat on the mat.\",\"héllo wörld ✓\"]}", "");
    CHECKF(same_rows(&r, 0, &ref, 0, 2), "moee-sum: %d %.200s", r.status, r.body);
    free_response(&r);
    r = call(srv.port, "POST", "/v1/embeddings", "{\"input\":[[1,2,3]]}", "");
    CHECKF(r.status == 400 && has(&r, "token-id input cannot be standardized"), "ids: %d %s", r.status, r.body);
    free_response(&r);
    r = call(srv.port, "GET", "/info", "", "");
    CHECK(has(&r, "\"kind\":\"moee-sum\"") && has(&r, "\"standardized\":true") && has(&r, "stats.json") &&
          has(&r, "\"prompt\":\"prompteol\""));
    free_response(&r);
    CHECK(stop_server(&srv) == 0);
    free(ref.rows);

    /* statistics made with another prompt are refused at start */
    char *other[] = {"serve", "-m", MODEL, "--port", "0", "--kind", "moee-sum", "--stats-in", stats, NULL};
    child o = spawn(cmd_serve, other);
    char olog[2048];
    CHECK(finish(&o, olog, sizeof olog) == 1);
    CHECKF(strstr(olog, "prompt 'prompteol', this run uses 'none'"), "%s", olog);

    /* without statistics a standardized kind refuses to start, naming the command that makes them */
    char *refuse[] = {"serve", "-m", MODEL, "--port", "0", "--kind", "rw", NULL};
    child c = spawn(cmd_serve, refuse);
    char log[2048];
    CHECK(finish(&c, log, sizeof log) == 1);
    CHECKF(strstr(log, "moee embed -m") && strstr(log, "--stats-out stats.json"), "%s", log);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/moee-serve-test-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_main_server();
    test_limits_and_drain();
    test_standardized();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary("tools_serve");
}
