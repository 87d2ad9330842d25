/* http.c: the HTTP/1.1 request parser and response heads (see http.h).
 *
 * One pass over the head (request line, header lines, blank line), then the body:
 * Content-Length bytes, or chunks walked twice (once to find where the request
 * ends and how long its body is, once to copy the data), so a request is copied
 * only when it is complete. Every index stays below len; every length is checked
 * against a limit before it is added to anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "tools/serve/http.h"

#define MAX_LEADING_BLANK_LINES 8     /* RFC 9112 2.2: ignore at least one */
#define MAX_CHUNK_LINE 1024           /* chunk size + extensions */

static http_result invalid(http_request *req, int status, const char *why) {
    req->status = status;
    req->error = why;
    return HTTP_INVALID;
}

/* The index of the next LF at or after from, or -1. */
static long find_lf(const char *buf, size_t from, size_t len) {
    const char *p = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    return p ? (long)(p - buf) : -1;
}

/* [from, lf) without a final CR: the line's length. */
static size_t line_len(const char *buf, size_t from, size_t lf) {
    return lf > from && buf[lf - 1] == '\r' ? lf - 1 - from : lf - from;
}

static int is_tchar(unsigned char c) {   /* RFC 9110 token characters */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A control character no head may contain (HT is allowed in values, CR only before LF). */
static int is_bad_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static int ieq(const char *a, size_t a_len, const char *b) {
    return a_len == strlen(b) && strncasecmp(a, b, a_len) == 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

static void copy_field(char *dst, size_t size, const char *s, size_t n, int lower) {
    if (n >= size) n = size - 1;
    for (size_t i = 0; i < n; i++) dst[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
    dst[n] = 0;
}

/* "GET /path?q HTTP/1.1" */
static http_result parse_request_line(const char *s, size_t n, http_request *req) {
    const char *sp1 = memchr(s, ' ', n);
    if (!sp1) return invalid(req, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - s);
    if (mlen == 0 || mlen >= sizeof req->method) return invalid(req, 400, "malformed request method");
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)s[i])) return invalid(req, 400, "malformed request method");
    memcpy(req->method, s, mlen);
    const char *t = sp1 + 1, *end = s + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t) return invalid(req, 400, "malformed request line");
    const char *v = sp2 + 1;
    size_t vlen = (size_t)(end - v);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return invalid(req, 400, "malformed HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return invalid(req, 505, "only HTTP/1.0 and HTTP/1.1 are served");
    req->minor = v[7] - '0';

    size_t tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f) return invalid(req, 400, "malformed request target");
    /* absolute-form (http://host/path): the path is what routes */
    if (tlen > 8 && (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8))) {
        const char *a = memchr(t, ':', tlen) + 3, *slash = memchr(a, '/', (size_t)(t + tlen - a));
        if (!slash) { t = "/"; tlen = 1; }
        else { tlen -= (size_t)(slash - t); t = slash; }
    }
    const char *q = memchr(t, '?', tlen);
    if (q) tlen = (size_t)(q - t);
    if (tlen >= HTTP_MAX_TARGET) return invalid(req, 414, "request target too long");
    if (tlen == 0 || (t[0] != '/' && !(tlen == 1 && t[0] == '*'))) return invalid(req, 400, "malformed request target");
    memcpy(req->path, t, tlen);
    req->path[tlen] = 0;
    return HTTP_NEED_MORE;
}

typedef struct { int close, keep, host, te; } head_flags;

/* "Name: value" */
static http_result parse_header(const char *s, size_t n, http_request *req, head_flags *f) {
    if (s[0] == ' ' || s[0] == '\t') return invalid(req, 400, "obsolete header line folding");
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s) return invalid(req, 400, "malformed header line");
    size_t nlen = (size_t)(colon - s);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)s[i])) return invalid(req, 400, "malformed header name");
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    trim(&v, &vlen);
    if (ieq(s, nlen, "content-length")) {
        if (vlen == 0 || vlen > 18) return invalid(req, 400, "malformed Content-Length");
        int64_t x = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9') return invalid(req, 400, "malformed Content-Length");
            x = x * 10 + (v[i] - '0');
        }
        if (req->content_length >= 0 && req->content_length != x) return invalid(req, 400, "conflicting Content-Length headers");
        req->content_length = x;
    } else if (ieq(s, nlen, "transfer-encoding")) {
        if (f->te) return invalid(req, 400, "repeated Transfer-Encoding header");
        if (!ieq(v, vlen, "chunked")) return invalid(req, 501, "the only transfer coding served is chunked");
        f->te = 1;
        req->chunked = 1;
    } else if (ieq(s, nlen, "connection")) {
        while (vlen) {   /* a comma-separated list of options */
            const char *comma = memchr(v, ',', vlen);
            size_t tl = comma ? (size_t)(comma - v) : vlen;
            const char *tok = v;
            size_t tn = tl;
            trim(&tok, &tn);
            if (ieq(tok, tn, "close")) f->close = 1;
            if (ieq(tok, tn, "keep-alive")) f->keep = 1;
            v += comma ? tl + 1 : tl;
            vlen -= comma ? tl + 1 : tl;
        }
    } else if (ieq(s, nlen, "expect")) {
        if (ieq(v, vlen, "100-continue")) req->expect_continue = 1;
    } else if (ieq(s, nlen, "host")) {
        if (f->host++) return invalid(req, 400, "repeated Host header");
    } else if (ieq(s, nlen, "authorization")) {
        req->has_authorization = vlen < sizeof req->authorization ? 1 : 2;
        copy_field(req->authorization, sizeof req->authorization, v, vlen, 0);
    } else if (ieq(s, nlen, "content-type")) {
        copy_field(req->content_type, sizeof req->content_type, v, vlen, 1);
    }
    return HTTP_NEED_MORE;
}

/* Walks the chunks from pos: HTTP_COMPLETE with *end (one past the trailers) and
 * *total (data bytes), copying the data into out when out is not NULL. */
static http_result walk_chunks(const char *buf, size_t len, size_t pos, const http_limits *lim, http_request *req,
                               char *out, size_t *total, size_t *end) {
    *total = 0;
    for (;;) {
        long lf = find_lf(buf, pos, len);
        if (lf < 0) return len - pos > MAX_CHUNK_LINE ? invalid(req, 400, "chunk size line too long") : HTTP_NEED_MORE;
        size_t n = line_len(buf, pos, (size_t)lf);
        if (n > MAX_CHUNK_LINE) return invalid(req, 400, "chunk size line too long");
        const char *s = buf + pos;
        size_t size = 0, digits = 0;
        for (; digits < n; digits++) {
            char c = s[digits];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) break;
            if (digits >= 15) return invalid(req, 400, "chunk size too large");
            size = size * 16 + (size_t)d;
        }
        if (digits == 0) return invalid(req, 400, "malformed chunk size");
        size_t i = digits;
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i < n && s[i] != ';') return invalid(req, 400, "malformed chunk size");
        for (; i < n; i++)
            if (is_bad_control((unsigned char)s[i])) return invalid(req, 400, "control character in chunk extension");
        pos = (size_t)lf + 1;
        if (size == 0) break;
        if (size > lim->max_body_bytes || *total > lim->max_body_bytes - size)
            return invalid(req, 413, "request body too large");
        if (len - pos < size + 1) return HTTP_NEED_MORE;
        if (out) memcpy(out + *total, buf + pos, size);
        *total += size;
        pos += size;
        if (buf[pos] == '\n') pos += 1;
        else if (buf[pos] == '\r') {
            if (len - pos < 2) return HTTP_NEED_MORE;
            if (buf[pos + 1] != '\n') return invalid(req, 400, "chunk data not followed by CRLF");
            pos += 2;
        } else {
            return invalid(req, 400, "chunk data not followed by CRLF");
        }
    }
    /* trailer fields, skipped, then the blank line */
    size_t start = pos;
    for (;;) {
        long lf = find_lf(buf, pos, len);
        if (lf < 0) return len - start > lim->max_header_bytes ? invalid(req, 431, "trailer section too large") : HTTP_NEED_MORE;
        if ((size_t)lf + 1 - start > lim->max_header_bytes) return invalid(req, 431, "trailer section too large");
        size_t n = line_len(buf, pos, (size_t)lf);
        for (size_t i = 0; i < n; i++)
            if (is_bad_control((unsigned char)buf[pos + i])) return invalid(req, 400, "control character in trailer");
        pos = (size_t)lf + 1;
        if (n == 0) break;
    }
    *end = pos;
    return HTTP_COMPLETE;
}

http_result http_parse(const char *buf, size_t len, const http_limits *lim, http_request *req) {
    memset(req, 0, sizeof *req);
    req->content_length = -1;
    size_t pos = 0;
    for (int blank = 0; blank < MAX_LEADING_BLANK_LINES; blank++) {   /* stray CRLFs between requests */
        if (pos < len && buf[pos] == '\n') pos += 1;
        else if (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n') pos += 2;
        else break;
    }
    size_t head_start = pos;
    /* control characters are refused as soon as they arrive (binary or TLS bytes) */
    size_t scan_end = len < head_start + lim->max_header_bytes ? len : head_start + lim->max_header_bytes;
    head_flags f = {0};
    int line_no = 0;
    for (;;) {
        long lf = find_lf(buf, pos, scan_end);
        if (lf < 0) {
            for (size_t i = pos; i < scan_end; i++)
                if (is_bad_control((unsigned char)buf[i]) && !(buf[i] == '\r' && i + 1 == scan_end))
                    return invalid(req, 400, "control character in request head");
            if (len - head_start >= lim->max_header_bytes) return invalid(req, 431, "request head too large");
            return HTTP_NEED_MORE;
        }
        size_t n = line_len(buf, pos, (size_t)lf);
        for (size_t i = 0; i < n; i++)
            if (is_bad_control((unsigned char)buf[pos + i])) return invalid(req, 400, "control character in request head");
        const char *s = buf + pos;
        pos = (size_t)lf + 1;
        if (line_no++ == 0) {
            if (parse_request_line(s, n, req) == HTTP_INVALID) return HTTP_INVALID;
            continue;
        }
        if (n == 0) break;   /* the blank line: end of the head */
        if (parse_header(s, n, req, &f) == HTTP_INVALID) return HTTP_INVALID;
    }
    req->headers_done = 1;
    if (req->minor == 1 && f.host == 0) return invalid(req, 400, "HTTP/1.1 request without a Host header");
    if (req->chunked && req->content_length >= 0) return invalid(req, 400, "both Content-Length and Transfer-Encoding");
    if (req->chunked && req->minor == 0) return invalid(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
    req->keep_alive = req->minor == 1 ? !f.close : (f.keep && !f.close);

    size_t body_len = 0, end = pos;
    if (req->chunked) {
        http_result r = walk_chunks(buf, len, pos, lim, req, NULL, &body_len, &end);
        if (r != HTTP_COMPLETE) return r;
    } else if (req->content_length > 0) {
        if ((uint64_t)req->content_length > lim->max_body_bytes) return invalid(req, 413, "request body too large");
        body_len = (size_t)req->content_length;
        if (len - pos < body_len) return HTTP_NEED_MORE;
        end = pos + body_len;
    }
    if (!(req->body = malloc(body_len + 1))) return invalid(req, 500, "out of memory for the request body");
    if (req->chunked) walk_chunks(buf, len, pos, lim, req, req->body, &body_len, &end);
    else memcpy(req->body, buf + pos, body_len);
    req->body[body_len] = 0;
    req->body_len = body_len;
    req->consumed = end;
    return HTTP_COMPLETE;
}

void http_request_free(http_request *req) {
    free(req->body);
    req->body = NULL;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}

size_t http_format_head(char *out, size_t size, int status, const char *content_type, size_t content_length,
                        int keep_alive, const char *extra_headers) {
    int n = snprintf(out, size,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n%s\r\n",
                     status, http_reason(status), content_type, content_length, keep_alive ? "keep-alive" : "close",
                     extra_headers ? extra_headers : "");
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
