/* server.c: accept loop, connection threads, timeouts and the graceful stop (see server.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "tools/serve/server.h"

#define POLL_TICK_MS 100          /* how often a waiting connection looks at the stop flag */
#define READ_CHUNK 65536

/* The signal handler's only channel to the accept loop (a self-pipe). */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
    (void)sig;
    int saved = errno;
    if (stop_pipe[1] >= 0) {
        ssize_t w = write(stop_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

typedef struct {
    const server_config *cfg;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t idle;           /* signalled when the last connection ends */
    int connections;
} server;

typedef struct { server *s; int fd; } connection;

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sends every byte of the iovecs; -1 when the client is gone or stopped reading. */
static int send_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return 0;
}

static int send_response(int fd, const api_response *res, int keep_alive) {
    char head[512];
    size_t n = http_format_head(head, sizeof head, res->status, res->content_type ? res->content_type : "application/json",
                                res->body_len, keep_alive, res->extra_headers);
    struct iovec iov[2] = {{head, n}, {res->body, res->body_len}};
    return send_all(fd, iov, res->body_len ? 2 : 1);
}

static void send_error(int fd, int status, const char *message) {
    api_response res;
    api_error_response(&res, status, message);
    send_response(fd, &res, 0);
    api_response_free(&res);
}

/* One connection: requests in, responses out, until close, error, timeout or stop. */
static void serve_connection(server *s, int fd) {
    const server_config *cfg = s->cfg;
    /* room for the largest request: head, body, chunk framing */
    size_t max_buf = cfg->limits.max_header_bytes * 2 + cfg->limits.max_body_bytes + cfg->limits.max_body_bytes / 4 +
                     READ_CHUNK;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    long long since = now_ms();     /* when the connection went idle, or the request began */
    int continued = 0;              /* "100 Continue" sent for the current request */
    while (buf) {
        http_request req;
        http_result r = http_parse(buf, len, &cfg->limits, &req);
        if (r == HTTP_COMPLETE) {
            api_response res;
            api_handle(cfg->api, &req, &res);
            int keep = req.keep_alive && !atomic_load(&s->stopping);
            int sent = send_response(fd, &res, keep);
            api_response_free(&res);
            memmove(buf, buf + req.consumed, len - req.consumed);
            len -= req.consumed;
            http_request_free(&req);
            if (sent || !keep) break;
            since = now_ms();
            continued = 0;
            continue;
        }
        if (r == HTTP_INVALID) {
            send_error(fd, req.status, req.error);
            http_request_free(&req);
            break;
        }
        if (len == 0 && atomic_load(&s->stopping)) break;
        if (req.headers_done && req.expect_continue && !continued) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            struct iovec iov = {(void *)cont, sizeof cont - 1};
            if (send_all(fd, &iov, 1)) break;
            continued = 1;
        }
        if (len == cap) {
            if (cap >= max_buf) { send_error(fd, 413, "request too large"); break; }
            size_t grown = cap * 2 < max_buf ? cap * 2 : max_buf;
            char *b = realloc(buf, grown);
            if (!b) { send_error(fd, 500, "out of memory"); break; }
            buf = b;
            cap = grown;
        }
        /* wait for bytes, at most until the deadline */
        long long left = since + cfg->timeout_ms - now_ms();
        if (left <= 0) {
            if (len > 0) send_error(fd, 408, "the request did not arrive in time");
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, left < POLL_TICK_MS ? (int)left : POLL_TICK_MS);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        size_t want = cap - len < READ_CHUNK ? cap - len : READ_CHUNK;
        ssize_t got = recv(fd, buf + len, want, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;    /* closed by the client, or an error: nothing else is affected */
        if (len == 0) since = now_ms();
        len += (size_t)got;
    }
    free(buf);
}

static void *connection_main(void *arg) {
    connection *c = arg;
    server *s = c->s;
    serve_connection(s, c->fd);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&s->mu);
    if (--s->connections == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int listen_on(const server_config *cfg, int *port_out, char *err, size_t err_size) {
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc) {
        snprintf(err, err_size, "--host %s: %s", cfg->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) { saved = errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, err_size, "cannot listen on %s port %d: %s", cfg->host, cfg->port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port_out = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}

int server_run(const server_config *cfg, char *err, size_t err_size) {
    int port;
    int lfd = listen_on(cfg, &port, err, err_size);
    if (lfd < 0) return -1;
    if (pipe(stop_pipe)) {
        snprintf(err, err_size, "cannot create a pipe: %s", strerror(errno));
        close(lfd);
        return -1;
    }
    struct sigaction sa = {.sa_handler = on_stop_signal}, old_term, old_int, ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGPIPE, &ign, &old_pipe);

    server s = {.cfg = cfg};
    atomic_init(&s.stopping, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.idle, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

    fprintf(stderr, "moee serve: listening on http://%s%s%s:%d\n", strchr(cfg->host, ':') ? "[" : "", cfg->host,
            strchr(cfg->host, ':') ? "]" : "", port);
    fflush(stderr);
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(10000);   /* out of descriptors: let some close */
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct timeval tv = {cfg->timeout_ms / 1000, (cfg->timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        pthread_mutex_lock(&s.mu);
        int full = s.connections >= cfg->max_connections;
        if (!full) s.connections++;
        pthread_mutex_unlock(&s.mu);
        connection *c = full ? NULL : malloc(sizeof *c);
        pthread_t t;
        if (c) {
            c->s = &s;
            c->fd = fd;
            if (pthread_create(&t, &attr, connection_main, c) == 0) continue;
            free(c);
        }
        if (!full) {
            pthread_mutex_lock(&s.mu);
            s.connections--;
            pthread_mutex_unlock(&s.mu);
        }
        send_error(fd, 503, "too many connections");
        close(fd);
    }
    /* the stop: no new connections; the open ones finish what they are receiving or running */
    atomic_store(&s.stopping, 1);
    close(lfd);
    fprintf(stderr, "moee serve: stopping: finishing the requests in flight\n");
    pthread_mutex_lock(&s.mu);
    while (s.connections > 0) pthread_cond_wait(&s.idle, &s.mu);
    pthread_mutex_unlock(&s.mu);

    pthread_attr_destroy(&attr);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.idle);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    stop_pipe[0] = stop_pipe[1] = -1;
    return 0;
}
