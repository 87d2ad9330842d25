/* bench_serve.c: load and latency of a running `moee serve` (driven by bench_serve.sh).
 *
 *   bench_serve load PORT TEXTS.txt CLIENTS MIN MAX [PROBES]
 *       CLIENTS threads send the texts of TEXTS.txt (one per line) to /v1/embeddings
 *       in requests of MIN..MAX texts (a fixed pseudo-random split), each over its own
 *       keep-alive connection; prints texts, tokens (from usage) and the wall time.
 *       With PROBES > 0, one more client meanwhile sends single short texts one after
 *       another and prints their p50 and p99 latency (under load).
 *   bench_serve idle PORT N
 *       N single short texts one after another: p50 and p99 latency on an idle server.
 *
 * A plain HTTP/1.1 client over POSIX sockets; 127.0.0.1 only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* POSTs body to /v1/embeddings on fd; returns the status and the usage's prompt_tokens. */
static int post(int fd, const char *body, size_t body_len, long *tokens, char **buf, size_t *cap) {
    char head[256];
    int hn = snprintf(head, sizeof head, "POST /v1/embeddings HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", body_len);
    if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn) return -1;
    for (size_t done = 0; done < body_len;) {
        ssize_t w = send(fd, body + done, body_len - done, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    size_t n = 0, need = 0, head_len = 0;
    for (;;) {
        if (n + 65536 > *cap) *buf = realloc(*buf, *cap = 2 * (n + 65536));
        ssize_t got = recv(fd, *buf + n, *cap - n - 1, 0);
        if (got <= 0) return -1;
        n += (size_t)got;
        (*buf)[n] = 0;
        if (!head_len) {
            char *e = strstr(*buf, "\r\n\r\n");
            if (!e) continue;
            head_len = (size_t)(e + 4 - *buf);
            char *cl = strcasestr(*buf, "Content-Length: ");
            need = head_len + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (n >= need) break;
    }
    char *t = strstr(*buf + head_len, "\"prompt_tokens\":");
    *tokens = t ? atol(t + 16) : 0;
    return atoi(*buf + 9);
}

static void append_json_string(char **s, size_t *len, size_t *cap, const char *text) {
    size_t need = *len + 2 * strlen(text) + 8;
    if (need > *cap) *s = realloc(*s, *cap = 2 * need);
    char *o = *s + *len;
    *o++ = '"';
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') *o++ = '\\';
        if ((unsigned char)*p < 0x20) continue;
        *o++ = *p;
    }
    *o++ = '"';
    *len = (size_t)(o - *s);
}

/* ---- latency probes ------------------------------------------------------------------ */

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static atomic_int load_running;

typedef struct { int port, n; double *lat; int done, until_load_ends; } probe;

static void *probe_main(void *arg) {
    probe *p = arg;
    static const char body[] = "{\"input\":\"A man is playing a guitar.\"}";
    char *buf = NULL;
    size_t cap = 0;
    int fd = connect_to(p->port);
    for (p->done = 0; fd >= 0 && p->done < p->n; p->done++) {
        if (p->until_load_ends && !atomic_load(&load_running)) break;
        long tokens;
        double t0 = now();
        if (post(fd, body, sizeof body - 1, &tokens, &buf, &cap) != 200) { fprintf(stderr, "probe failed\n"); break; }
        p->lat[p->done] = now() - t0;
    }
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

static void report_latency(const char *what, double *lat, int n) {
    if (n == 0) { printf("%s: no probe finished\n", what); return; }
    qsort(lat, (size_t)n, sizeof *lat, by_double);
    int i99 = (int)(0.99 * (n - 1) + 0.5);
    printf("%s: %d requests of one short text: p50 %.3f s, p99 %.3f s\n", what, n, lat[(n - 1) / 2], lat[i99]);
}

/* ---- load ------------------------------------------------------------------------------ */

typedef struct { int port; char **bodies; int *counts; int n_requests; long tokens; int texts, failed; } client;

static void *client_main(void *arg) {
    client *c = arg;
    char *buf = NULL;
    size_t cap = 0;
    int fd = connect_to(c->port);
    for (int i = 0; i < c->n_requests; i++) {
        long tokens = 0;
        int status = fd >= 0 ? post(fd, c->bodies[i], strlen(c->bodies[i]), &tokens, &buf, &cap) : -1;
        if (status != 200) { c->failed++; if (status < 0) { close(fd); fd = connect_to(c->port); } continue; }
        c->tokens += tokens;
        c->texts += c->counts[i];
    }
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "idle")) {
        probe p = {atoi(argv[2]), atoi(argv[3]), NULL, 0, 0};
        p.lat = malloc((size_t)(p.n > 0 ? p.n : 1) * sizeof *p.lat);
        probe_main(&p);
        report_latency("idle", p.lat, p.done);
        free(p.lat);
        return 0;
    }
    if (argc < 7 || strcmp(argv[1], "load")) {
        fprintf(stderr, "usage: bench_serve load PORT TEXTS CLIENTS MIN MAX [PROBES] | bench_serve idle PORT N\n");
        return 1;
    }
    int port = atoi(argv[2]), clients = atoi(argv[4]), lo = atoi(argv[5]), hi = atoi(argv[6]);
    int probes = argc > 7 ? atoi(argv[7]) : 0;
    FILE *f = fopen(argv[3], "r");
    if (!f) { perror(argv[3]); return 1; }
    char **texts = NULL, line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        texts = realloc(texts, (size_t)(n + 1) * sizeof *texts);
        texts[n++] = strdup(line);
    }
    fclose(f);

    /* the split: requests of lo..hi texts, dealt round-robin to the clients */
    client *c = calloc((size_t)clients, sizeof *c);
    unsigned seed = 42;
    int k = 0, r = 0;
    while (k < n) {
        seed = seed * 1103515245u + 12345u;
        int m = lo + (int)((seed >> 16) % (unsigned)(hi - lo + 1));
        if (m > n - k) m = n - k;
        size_t len = 10, cap = 4096;
        char *body = malloc(cap);
        memcpy(body, "{\"input\":[", 10);
        for (int i = 0; i < m; i++) {
            if (i) body[len++] = ',';
            append_json_string(&body, &len, &cap, texts[k + i]);
        }
        if (len + 3 > cap) body = realloc(body, cap = len + 3);
        memcpy(body + len, "]}", 3);
        client *cl = &c[r++ % clients];
        cl->port = port;
        cl->bodies = realloc(cl->bodies, (size_t)(cl->n_requests + 1) * sizeof *cl->bodies);
        cl->counts = realloc(cl->counts, (size_t)(cl->n_requests + 1) * sizeof *cl->counts);
        cl->bodies[cl->n_requests] = body;
        cl->counts[cl->n_requests++] = m;
        k += m;
    }

    pthread_t *t = malloc((size_t)clients * sizeof *t), pt;
    probe p = {port, probes, NULL, 0, 1};
    p.lat = malloc((size_t)(probes > 0 ? probes : 1) * sizeof *p.lat);
    atomic_store(&load_running, 1);
    double t0 = now();
    for (int i = 0; i < clients; i++) pthread_create(&t[i], NULL, client_main, &c[i]);
    if (probes > 0) pthread_create(&pt, NULL, probe_main, &p);
    long tokens = 0;
    int done = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        tokens += c[i].tokens;
        done += c[i].texts;
        failed += c[i].failed;
    }
    double wall = now() - t0;
    atomic_store(&load_running, 0);
    if (probes > 0) pthread_join(pt, NULL);
    printf("load: %d clients, %d requests of %d-%d texts: %d texts, %ld tokens in %.2f s = %.1f texts/s, %.1f tokens/s"
           "%s\n", clients, r, lo, hi, done, tokens, wall, done / wall, tokens / wall, failed ? " (SOME FAILED)" : "");
    if (probes > 0) report_latency("under load", p.lat, p.done);
    for (int i = 0; i < clients; i++) {
        for (int j = 0; j < c[i].n_requests; j++) free(c[i].bodies[j]);
        free(c[i].bodies);
        free(c[i].counts);
    }
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(c);
    free(t);
    free(p.lat);
    return failed ? 1 : 0;
}
