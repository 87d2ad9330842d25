/* pretokenize.h: the three families' pre-tokenizers, each a hand-written scanner
 * that splits a segment of text (valid UTF-8, no added tokens inside) exactly as
 * Hugging Face's regex-based pre-tokenizer does. Each hands the pieces, in order,
 * as byte ranges [start, end) of s, to emit(ctx, start, end) as it finds them (no
 * list of pieces is kept: memory stays constant whatever the text); it returns 0,
 * or the first non-zero value emit returned. Linear in n. */
#ifndef MOEE_TOKENIZER_PRETOKENIZE_H
#define MOEE_TOKENIZER_PRETOKENIZE_H
#include <stddef.h>
#include "tokenizer/unicode.h"

typedef int (*pretok_emit)(void *ctx, size_t start, size_t end);

/* The character classes of the GPT-2 and Qwen2 regexes: \p{L}, \p{N}, \s, other.
 * Every character is in exactly one. */
enum { PRETOK_L, PRETOK_N, PRETOK_SPACE, PRETOK_OTHER };

static inline int pretok_class(uint32_t c) {
    unsigned f = unicode_flags(c);
    if (f & UNICODE_L) return PRETOK_L;
    if (f & UNICODE_N) return PRETOK_N;
    if (f & UNICODE_WS) return PRETOK_SPACE;
    return PRETOK_OTHER;
}

/* End of the run of characters of class cls that starts at s[i]. */
static inline size_t pretok_run_end(const unsigned char *s, size_t n, size_t i, int cls) {
    while (i < n) {
        size_t len;
        if (pretok_class(utf8_decode_valid(s + i, &len)) != cls) break;
        i += len;
    }
    return i;
}

/* olmo: HF ByteLevel(use_regex=true), the GPT-2 regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
int pretokenize_gpt2(const unsigned char *s, size_t n, pretok_emit emit, void *ctx);

/* qwen2: Split(Isolated) with
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+ */
int pretokenize_qwen2(const unsigned char *s, size_t n, pretok_emit emit, void *ctx);

/* deepseek-llm: a Sequence of five Split(Isolated) regexes and Digits(individual),
 * each applied to every piece of the one before (pretok_deepseek.c). */
int pretokenize_deepseek(const unsigned char *s, size_t n, pretok_emit emit, void *ctx);

/* The regexes of DeepSeek's Split steps, as tokenizer.json holds them (UTF-8). The
 * letter class (step 2) is checked by parsing it (deepseek_letter_regex_ok). */
extern const char *const deepseek_split_regex[5];
int deepseek_letter_regex_ok(const char *regex, size_t len);

#endif
