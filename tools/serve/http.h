/* http.h: HTTP/1.1 requests in, response heads out, as pure functions over bytes.
 *
 * http_parse looks at the bytes a connection has received so far and says whether
 * they start with a complete request (and how many bytes it used: the rest is the
 * next, pipelined, request), need more bytes, or can never become a valid request
 * (with the status to answer). It keeps no state between calls, so the server
 * simply calls it again after every read; the limits keep that cheap.
 *
 * What it accepts (RFC 9112, as a server must, minus what an embedding API never
 * needs): HTTP/1.0 and HTTP/1.1; bodies by Content-Length or chunked
 * Transfer-Encoding (extensions and trailers skipped); keep-alive as each version
 * defines it; "Expect: 100-continue" reported so the server can answer it. Lines
 * end in CRLF or a bare LF. What it refuses: a request line or header section over
 * max_header_bytes (431), a body over max_body_bytes (413), both Content-Length and
 * Transfer-Encoding or two different Content-Lengths (400: the request smuggling
 * cases), a transfer coding other than chunked (501), another HTTP version (505),
 * control characters, obsolete line folding and malformed chunk sizes (400). */
#ifndef MOEE_HTTP_H
#define MOEE_HTTP_H
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_TARGET 1024      /* longest request path kept; longer is 414 */

typedef struct {
    size_t max_header_bytes;      /* request line + headers + blank line (and trailers) */
    size_t max_body_bytes;        /* decoded body */
} http_limits;

typedef enum {
    HTTP_NEED_MORE = 0,   /* no complete request yet (headers_done says whether its head is in) */
    HTTP_COMPLETE = 1,    /* a request of req->consumed bytes; req->body holds its body */
    HTTP_INVALID = 2,     /* never valid: answer req->status with req->error, then close */
} http_result;

typedef struct {
    char method[16];                  /* as sent, e.g. "POST" */
    char path[HTTP_MAX_TARGET];       /* the target without its query, e.g. "/v1/embeddings" */
    int minor;                        /* HTTP/1.minor: 0 or 1 */
    int keep_alive;                   /* the connection may serve another request after this one */
    int expect_continue;              /* "Expect: 100-continue" */
    int headers_done;                 /* the head is complete (even when the body is not) */
    int has_authorization;
    char authorization[512];          /* the Authorization value (has_authorization = 2 if it was longer) */
    char content_type[128];           /* lowercased, parameters kept */
    int chunked;
    int64_t content_length;           /* -1 when none was given */
    char *body;                       /* HTTP_COMPLETE: malloc'ed, NUL-terminated, body_len bytes; else NULL */
    size_t body_len;
    size_t consumed;                  /* HTTP_COMPLETE: bytes of the input this request used */
    int status;                       /* HTTP_INVALID: 400, 413, 414, 431, 501 or 505 */
    const char *error;                /* HTTP_INVALID: a static one-line reason */
} http_request;

/* Parses the request at the start of buf[0..len). Always fills *req (free its body
 * with http_request_free); on HTTP_COMPLETE with a body that cannot be allocated it
 * returns HTTP_INVALID with status 500. */
http_result http_parse(const char *buf, size_t len, const http_limits *lim, http_request *req);
void http_request_free(http_request *req);

/* The standard reason phrase of a status ("OK", "Not Found", ...). */
const char *http_reason(int status);

/* A response head: status line, Content-Type, Content-Length, Connection (keep-alive
 * or close), any extra header lines (each ending in "\r\n", may be NULL), the blank
 * line. Returns its length, or 0 if it does not fit in size. */
size_t http_format_head(char *out, size_t size, int status, const char *content_type, size_t content_length,
                        int keep_alive, const char *extra_headers);

#endif
