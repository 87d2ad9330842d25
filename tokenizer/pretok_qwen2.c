/* pretok_qwen2.c: Qwen2's Split regex as a scanner:
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)      contractions, with Unicode case folding ('ſ = 's)
 *   |[^\r\n\p{L}\p{N}]?\p{L}+         letters, with one optional leading non-letter
 *   |\p{N}                            each numeric character alone
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*        punctuation/symbols, swallowing following newlines
 *   |\s*[\r\n]+                       white space up to the last newline of its run
 *   |\s+(?!\S)|\s+                    other white space (as in GPT-2)
 *
 * The alternatives are tried in this order at each position; together they match
 * every character, so the pieces tile the text. */
#include "tokenizer/pretokenize.h"

/* The code point at s[i] case-folded (simple folding), and its length; 0 past the end. */
static uint32_t folded_at(const unsigned char *s, size_t n, size_t i, size_t *len) {
    if (i >= n) { *len = 0; return 0; }
    return unicode_simple_fold(utf8_decode_valid(s + i, len));
}

/* Length of a case-insensitive contraction at s[i], or 0. */
static size_t contraction(const unsigned char *s, size_t n, size_t i) {
    if (s[i] != '\'') return 0;
    size_t la, lb;
    uint32_t a = folded_at(s, n, i + 1, &la);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 1 + la;
    if (a == 'r' || a == 'v' || a == 'l') {
        uint32_t b = folded_at(s, n, i + 1 + la, &lb);
        if ((a == 'l' && b == 'l') || (a != 'l' && b == 'e')) return 1 + la + lb;
    }
    return 0;
}

static int is_newline(uint32_t c) { return c == '\r' || c == '\n'; }

int pretokenize_qwen2(const unsigned char *s, size_t n, pretok_emit emit, void *ctx) {
    size_t i = 0;
    while (i < n) {
        size_t len, next_len = 0, end;
        uint32_t c = utf8_decode_valid(s + i, &len);
        int cls = pretok_class(c);
        int next_cls = -1;
        if (i + len < n) next_cls = pretok_class(utf8_decode_valid(s + i + len, &next_len));
        size_t k = contraction(s, n, i);
        if (k) {
            end = i + k;
        } else if (cls == PRETOK_L) {
            end = pretok_run_end(s, n, i, PRETOK_L);
        } else if (cls != PRETOK_N && !is_newline(c) && next_cls == PRETOK_L) {
            end = pretok_run_end(s, n, i + len, PRETOK_L);
        } else if (cls == PRETOK_N) {
            end = i + len;
        } else if (cls == PRETOK_OTHER || (c == ' ' && next_cls == PRETOK_OTHER)) {
            end = pretok_run_end(s, n, c == ' ' ? i + 1 : i, PRETOK_OTHER);
            while (end < n && (s[end] == '\r' || s[end] == '\n')) end++;
        } else {
            /* White space run [i, j); last = its last character, last_newline = its
             * last CR/LF (or SIZE_MAX). */
            size_t j = i, last = i, last_newline = SIZE_MAX;
            while (j < n) {
                size_t l;
                uint32_t d = utf8_decode_valid(s + j, &l);
                if (pretok_class(d) != PRETOK_SPACE) break;
                if (is_newline(d)) last_newline = j;
                last = j;
                j += l;
            }
            if (last_newline != SIZE_MAX) end = last_newline + 1;     /* \s*[\r\n]+ */
            else end = (j == n || last == i) ? j : last;             /* \s+(?!\S) | \s+ */
        }
        int rc = emit(ctx, i, end);
        if (rc) return rc;
        i = end;
    }
    return 0;
}
