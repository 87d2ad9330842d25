/* fuzz_http.c: arbitrary bytes through http_parse (tools/serve/http.c) as a
 * connection's input: every request it finds (pipelined ones too), then the body
 * of each through api_parse_embed_request as /v1/embeddings and as /embed.
 *
 * Invariants beyond "no crash": a complete request used at most the bytes given,
 * its body is within the limit and NUL-terminated, and every shorter prefix of it
 * needs more bytes (a parser that answers before the request ends would split a
 * connection's stream wrongly); a refused request has a known status and a one-line
 * reason; a refused body has status 400 or 413 and a one-line error. */
#define FUZZ_NAME "http"
#include "fuzz.h"
#include "tools/serve/api.h"
#include "tools/serve/http.h"

static void check_body(const http_request *req) {
    static const api_request_limits lim = {.dim = 8, .vocab_size = 300, .max_client_batch = 16};
    for (int tei = 0; tei < 2; tei++) {
        api_embed_request r;
        char err[512];
        const char *param;
        err[0] = 0;
        int status = api_parse_embed_request(tei, req->body, req->body_len, &lim, &r, err, sizeof err, &param);
        if (status) {
            if (status != 400 && status != 413) abort();
            fuzz_check_err(err, sizeof err, "api_parse_embed_request");
        } else {
            if (r.n < 1 || r.n > lim.max_client_batch) abort();
            for (int64_t i = 0; i < r.n; i++) {
                if (r.ids) {
                    if (r.id_lens[i] < 1) abort();
                    for (int64_t k = 0; k < r.id_lens[i]; k++)
                        if (r.id_seqs[i][k] < 0 || r.id_seqs[i][k] >= lim.vocab_size) abort();
                } else if (r.lens[i] == 0) {
                    abort();
                }
            }
        }
        api_embed_request_free(&r);
    }
}

static void run(const char *buf, size_t len, const http_limits *lim) {
    for (int k = 0; k < 64 && len > 0; k++) {   /* pipelined requests */
        http_request req;
        http_result r = http_parse(buf, len, lim, &req);
        if (r == HTTP_NEED_MORE) { http_request_free(&req); return; }
        if (r == HTTP_INVALID) {
            static const int ok[] = {400, 413, 414, 431, 500, 501, 505};
            int known = 0;
            for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) known |= req.status == ok[i];
            if (!known || !req.error || !req.error[0] || strchr(req.error, '\n')) abort();
            http_request_free(&req);
            return;
        }
        if (req.consumed == 0 || req.consumed > len || req.body_len > lim->max_body_bytes ||
            req.body[req.body_len] != 0 || req.path[0] == 0)
            abort();
        for (int p = 1; p <= 8; p++) {   /* prefixes of the request need more bytes */
            size_t cut = req.consumed * (size_t)p / 9;
            http_request pre;
            if (cut < req.consumed && http_parse(buf, cut, lim, &pre) != HTTP_NEED_MORE) abort();
            http_request_free(&pre);
        }
        check_body(&req);
        buf += req.consumed;
        len -= req.consumed;
        http_request_free(&req);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const http_limits small = {.max_header_bytes = 256, .max_body_bytes = 64};
    static const http_limits large = {.max_header_bytes = 16384, .max_body_bytes = 1 << 20};
    run((const char *)data, size, &large);
    run((const char *)data, size, &small);
    return 0;
}
