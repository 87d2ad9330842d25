/* unicode.h: the Unicode properties the tokenizer needs, looked up in tables
 * generated from the Unicode Character Database by tools/gen_unicode.c
 * (tokenizer/unicode_tables.c), plus UTF-8 decoding and encoding. */
#ifndef MOEE_TOKENIZER_UNICODE_H
#define MOEE_TOKENIZER_UNICODE_H
#include <stddef.h>
#include <stdint.h>

/* ---- generated tables (tokenizer/unicode_tables.c) ---------------------------- */

/* A run of code points [start, next run's start) sharing one value. */
typedef struct { uint32_t start; uint32_t value; } unicode_run;
/* Full canonical decomposition of cp: unicode_decomposition_data[offset .. offset+len). */
typedef struct { uint32_t cp; uint16_t offset; uint16_t len; } unicode_decomposition_entry;
typedef struct { uint32_t first, second, composite; } unicode_composition;
typedef struct { uint32_t cp, folded; } unicode_fold;

enum {
    UNICODE_L = 1,     /* general category L* (letters) */
    UNICODE_N = 2,     /* general category N* (Nd, Nl, No) */
    UNICODE_WS = 4,    /* White_Space */
    UNICODE_NFC = 8,   /* NFC_Quick_Check No/Maybe, or canonical combining class != 0 */
};

extern const unicode_run unicode_flag_runs[];
extern const size_t unicode_flag_runs_count;
extern const unicode_run unicode_ccc_runs[];
extern const size_t unicode_ccc_runs_count;
extern const unicode_decomposition_entry unicode_decompositions[];
extern const size_t unicode_decompositions_count;
extern const uint32_t unicode_decomposition_data[];
extern const unicode_composition unicode_compositions[];
extern const size_t unicode_compositions_count;
extern const unicode_fold unicode_simple_folds[];
extern const size_t unicode_simple_folds_count;

/* ---- lookups (tokenizer/unicode.c) -------------------------------------------- */

/* UNICODE_* flags of a code point (0 for unassigned ones). */
unsigned unicode_flags(uint32_t cp);
static inline int unicode_is_letter(uint32_t cp) { return (unicode_flags(cp) & UNICODE_L) != 0; }
static inline int unicode_is_number(uint32_t cp) { return (unicode_flags(cp) & UNICODE_N) != 0; }
static inline int unicode_is_space(uint32_t cp) { return (unicode_flags(cp) & UNICODE_WS) != 0; }
unsigned unicode_combining_class(uint32_t cp);
/* Full canonical decomposition (not Hangul): *len code points, or NULL if none. */
const uint32_t *unicode_decomposition(uint32_t cp, size_t *len);
/* The primary composite of (first, second), or 0 if there is none (not Hangul). */
uint32_t unicode_compose(uint32_t first, uint32_t second);
/* Simple case folding (C + S statuses): cp itself when it has none. */
uint32_t unicode_simple_fold(uint32_t cp);

/* ---- UTF-8 --------------------------------------------------------------------- */

/* Decodes the code point at s[0..n) (n >= 1) that is known to be valid UTF-8;
 * *len gets its byte length. */
static inline uint32_t utf8_decode_valid(const unsigned char *s, size_t *len) {
    unsigned c = s[0];
    if (c < 0x80) { *len = 1; return c; }
    if (c < 0xE0) { *len = 2; return ((c & 0x1F) << 6) | (s[1] & 0x3F); }
    if (c < 0xF0) { *len = 3; return ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F); }
    *len = 4;
    return ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not valid there
 * (overlong forms, surrogates, code points above U+10FFFF, truncation). */
size_t utf8_valid_length(const unsigned char *s, size_t n);
/* Length of the "maximal subpart" of an ill-formed sequence at s (>= 1): the bytes
 * that one U+FFFD replaces, as Unicode recommends and Rust's from_utf8_lossy does. */
size_t utf8_invalid_length(const unsigned char *s, size_t n);
/* Writes cp (<= U+10FFFF) as UTF-8 into out (room for 4); returns the length. */
size_t utf8_encode(uint32_t cp, unsigned char *out);

/* The one checked decoder: the code point at s[0..n) into *cp and its length, or 0
 * when the bytes there are not valid UTF-8 (then *cp is untouched). */
static inline size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    size_t len = n == 0 ? 0 : s[0] < 0x80 ? 1 : utf8_valid_length(s, n);
    if (len) *cp = utf8_decode_valid(s, &len);
    return len;
}

/* The one validator: the offset of the first byte of s[0..n) that is not valid
 * UTF-8, or -1 when all of it is. */
int64_t utf8_first_invalid(const unsigned char *s, size_t n);

/* The one U+FFFD replacement: s[0..n) with each maximal ill-formed subsequence
 * (utf8_invalid_length) replaced by U+FFFD, into out (room for 3 * n bytes);
 * returns the length written. */
size_t utf8_replace_invalid(const unsigned char *s, size_t n, unsigned char *out);

/* The start of the character holding byte i (at most 3 continuation bytes back). */
static inline size_t utf8_char_start(const unsigned char *s, size_t i) {
    for (int k = 0; k < 3 && i > 0 && (s[i] & 0xC0) == 0x80; k++) i--;
    return i;
}

#endif
