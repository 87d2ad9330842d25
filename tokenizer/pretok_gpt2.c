/* pretok_gpt2.c: the GPT-2 pre-tokenizer regex (OLMoE's ByteLevel pre-tokenizer)
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * as a scanner. Every character belongs to exactly one class: letter (L), number
 * (N), white space (\s) or other; the regex's alternatives cover all of them, so
 * the pieces tile the text. The only subtle part is white space: in a run followed
 * by a non-space, `\s+(?!\S)` leaves the run's last character to the next piece
 * (where a U+0020 joins the following word, and anything else stands alone). */
#include "tokenizer/pretokenize.h"

/* Length of a contraction ('s 't 're 've 'm 'll 'd, case-sensitive) at s[i], or 0. */
static size_t contraction(const unsigned char *s, size_t n, size_t i) {
    if (s[i] != '\'' || i + 1 >= n) return 0;
    unsigned char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

int pretokenize_gpt2(const unsigned char *s, size_t n, pretok_emit emit, void *ctx) {
    size_t i = 0;
    while (i < n) {
        size_t len, next_len, end;
        uint32_t c = utf8_decode_valid(s + i, &len);
        int cls = pretok_class(c);
        int next_cls = i + len < n ? pretok_class(utf8_decode_valid(s + i + len, &next_len)) : -1;
        size_t k = contraction(s, n, i);
        if (k) {
            end = i + k;
        } else if (c == ' ' && next_cls >= 0 && next_cls != PRETOK_SPACE) {
            /* " ?X+": one space, then a run of the next character's class. */
            end = pretok_run_end(s, n, i + 1, next_cls);
        } else if (cls != PRETOK_SPACE) {
            end = pretok_run_end(s, n, i, cls);
        } else {
            /* White space run [i, j), the last character starting at `last`. */
            size_t j = i, last = i;
            while (j < n) {
                size_t l;
                if (pretok_class(utf8_decode_valid(s + j, &l)) != PRETOK_SPACE) break;
                last = j;
                j += l;
            }
            /* At the end of the text the whole run; before a non-space, all but the
             * last character (\s+(?!\S)), or the single character itself (\s+). */
            end = (j == n || last == i) ? j : last;
        }
        int rc = emit(ctx, i, end);
        if (rc) return rc;
        i = end;
    }
    return 0;
}
