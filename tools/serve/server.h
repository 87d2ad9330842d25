/* server.h: the listening socket and the connections of `moee serve`.
 *
 * One thread per connection (at most max_connections; more are answered 503 and
 * closed), each reading requests with poll() so that it can enforce timeouts: a
 * request must arrive completely within timeout_ms of its first byte (slow clients,
 * "slowloris", get 408 and are closed), an idle keep-alive connection is closed
 * after timeout_ms, and a client that does not read its response is dropped after
 * timeout_ms. SIGTERM or SIGINT: stop accepting, let every connection finish the
 * request it is receiving or running, close idle ones, and return 0. */
#ifndef MOEE_SERVE_SERVER_H
#define MOEE_SERVE_SERVER_H
#include <stddef.h>
#include "tools/serve/api.h"

typedef struct {
    const char *host;           /* numeric IPv4 or IPv6 address, or a name getaddrinfo resolves */
    int port;                   /* 0: any free port */
    int timeout_ms;
    int max_connections;
    http_limits limits;
    const api_context *api;
} server_config;

/* Binds, prints "moee serve: listening on http://HOST:PORT" on stderr (the port
 * actually bound), serves until SIGTERM/SIGINT, drains, and returns 0; -1 with one
 * line in err if the socket cannot be set up. */
int server_run(const server_config *cfg, char *err, size_t err_size);
#endif
