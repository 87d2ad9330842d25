/* pretok_deepseek.c: DeepSeek-LLM's pre-tokenizer, a Sequence applied step by step,
 * each step splitting every piece of the step before (Split "Isolated": matches
 * and the gaps between them both become pieces):
 *
 *   1. [\r\n]                 every CR and LF alone
 *   2. \s?[LETTERS]+          letter runs (a fixed list of ranges, below), one
 *                             optional leading white-space character
 *   3. \s?[PUNCT]+            [!-/:-~！-／：-～‘-‟　-。]: ASCII punctuation (the :-~
 *                             range also spans A-Z a-z), fullwidth forms, quotes,
 *                             U+3000-3002 (U+3000 is also white space)
 *   4. \s+$                   the white space at the end of a piece
 *   5. [一-龥ࠀ-一가-퟿]+        U+0800-U+9FA5 and U+AC00-U+D7FF runs
 *   6. Digits(individual)     every character of category N alone
 *
 * White space is Unicode White_Space. The scanners below implement "leftmost match,
 * then continue after it" exactly, so gaps and matches come out as the regex
 * engine produces them. */
#include <string.h>
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

typedef struct { uint32_t lo, hi; } cp_range;

/* Step 2's letter class, parsed from deepseek-tokenizer.json (87 ranges, sorted).
 * deepseek_letter_regex_ok() checks a tokenizer.json's regex against it. */
static const cp_range letter_ranges[] = {
    {0x41,0x5A},{0x61,0x7A},{0xB5,0xB5},{0xC0,0xD6},{0xD8,0xF6},{0xF8,0x1BA},
    {0x1BC,0x1BF},{0x1C4,0x293},{0x295,0x2AF},{0x370,0x373},{0x376,0x376},{0x377,0x377},
    {0x37B,0x37D},{0x37F,0x37F},{0x386,0x386},{0x388,0x38A},{0x38C,0x38C},{0x38E,0x3A1},
    {0x3A3,0x3F5},{0x3F7,0x481},{0x48A,0x52F},{0x531,0x556},{0x10A0,0x10C5},{0x13A0,0x13F5},
    {0x13F8,0x13FD},{0x1C90,0x1CBA},{0x1CBD,0x1CBF},{0x1D00,0x1D2B},{0x1D6B,0x1D77},{0x1D79,0x1D9A},
    {0x1E00,0x1F15},{0x1F18,0x1F1D},{0x1F20,0x1F45},{0x1F48,0x1F4D},{0x1F50,0x1F57},{0x1F59,0x1F59},
    {0x1F5B,0x1F5B},{0x1F5D,0x1F5D},{0x1F5F,0x1F7D},{0x1F80,0x1FB4},{0x1FB6,0x1FBC},{0x1FBE,0x1FBE},
    {0x1FC2,0x1FC4},{0x1FC6,0x1FCC},{0x1FD0,0x1FD3},{0x1FD6,0x1FDB},{0x1FE0,0x1FEC},{0x1FF2,0x1FF4},
    {0x1FF6,0x1FFC},{0x2102,0x2102},{0x2107,0x2107},{0x210A,0x2113},{0x2115,0x2115},{0x2119,0x211D},
    {0x2124,0x2124},{0x2126,0x2126},{0x2128,0x2128},{0x212A,0x212D},{0x212F,0x2134},{0x2139,0x2139},
    {0x213C,0x213F},{0x2145,0x2149},{0x214E,0x214E},{0x2183,0x2183},{0x2184,0x2184},{0x2C00,0x2C7B},
    {0x2C7E,0x2CE4},{0x2CEB,0x2CEE},{0x2CF2,0x2CF2},{0x2CF3,0x2CF3},{0xA640,0xA66D},{0xA680,0xA69B},
    {0xA722,0xA76F},{0xA771,0xA787},{0xA78B,0xA78E},{0xAB70,0xABBF},{0xFB00,0xFB06},{0xFB13,0xFB17},
    {0xFF21,0xFF3A},{0xFF41,0xFF5A},{0x10400,0x1044F},{0x104B0,0x104D3},{0x104D8,0x104FB},{0x10C80,0x10CB2},
    {0x10CC0,0x10CF2},{0x118A0,0x118DF},{0x1E900,0x1E943},
};
#define N_LETTER_RANGES (sizeof letter_ranges / sizeof letter_ranges[0])

const char *const deepseek_split_regex[5] = {
    "[\r\n]",
    NULL,   /* the letter class: checked by deepseek_letter_regex_ok */
    "\\s?[!-/:-~\xEF\xBC\x81-\xEF\xBC\x8F\xEF\xBC\x9A-\xEF\xBD\x9E\xE2\x80\x98-\xE2\x80\x9F"
    "\xE3\x80\x80-\xE3\x80\x82]+",
    "\\s+$",
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-\xED\x9F\xBF]+",
};

static int is_letter(uint32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    size_t lo = 0, hi = N_LETTER_RANGES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (letter_ranges[mid].hi < c) lo = mid + 1;
        else if (letter_ranges[mid].lo > c) hi = mid;
        else return 1;
    }
    return 0;
}

static int is_punct(uint32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}

static int is_cjk(uint32_t c) { return (c >= 0x800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF); }

int deepseek_letter_regex_ok(const char *regex, size_t len) {
    const unsigned char *s = (const unsigned char *)regex;
    if (len < 7 || memcmp(s, "\\s?[", 4) || memcmp(s + len - 2, "]+", 2)) return 0;
    size_t i = 4, end = len - 2, k = 0;
    uint32_t prev_hi = 0;
    while (i < end) {
        size_t l;
        if (!utf8_valid_length(s + i, end - i)) return 0;
        uint32_t lo = utf8_decode_valid(s + i, &l), hi = lo;
        i += l;
        if (i + 1 < end && s[i] == '-') {
            if (!utf8_valid_length(s + i + 1, end - i - 1)) return 0;
            hi = utf8_decode_valid(s + i + 1, &l);
            i += 1 + l;
        }
        /* Our table is sorted; the json lists the same ranges in the same order. */
        if (k == N_LETTER_RANGES || letter_ranges[k].lo != lo || letter_ranges[k].hi != hi) return 0;
        if (k && lo <= prev_hi) return 0;
        prev_hi = hi;
        k++;
    }
    return k == N_LETTER_RANGES;
}

/* ---- the steps ------------------------------------------------------------------ */

/* The steps run depth first: each piece a step cuts is handed at once to the next
 * step (and the last step's pieces to emit), so no list of pieces is kept. */
typedef struct { const unsigned char *s; pretok_emit emit; void *ctx; } deepseek_run;
static int run_step(const deepseek_run *r, int k, size_t start, size_t end);

/* One Split step over piece [start, end) of s: hands gaps and matches to step k+1.
 * match_at returns the end of the match starting at i, or i if none starts there. */
typedef size_t (*match_fn)(const unsigned char *s, size_t i, size_t end);

static int split_piece(const deepseek_run *r, int k, size_t start, size_t end, match_fn match_at) {
    size_t gap = start, i = start;
    int rc;
    while (i < end) {
        size_t m = match_at(r->s, i, end);
        if (m > i) {
            if (gap < i && (rc = run_step(r, k + 1, gap, i))) return rc;
            if ((rc = run_step(r, k + 1, i, m))) return rc;
            gap = i = m;
        } else {
            size_t len;
            utf8_decode_valid(r->s + i, &len);
            i += len;
        }
    }
    return gap < end ? run_step(r, k + 1, gap, end) : 0;
}

static uint32_t cp_at(const unsigned char *s, size_t i, size_t end, size_t *len) {
    if (i >= end) { *len = 0; return 0xFFFFFFFF; }
    return utf8_decode_valid(s + i, len);
}

static size_t match_newline(const unsigned char *s, size_t i, size_t end) {
    return s[i] == '\r' || s[i] == '\n' ? i + 1 : i;
}

/* \s?[CLASS]+ : an optional white-space character, then a run of the class. */
static size_t match_space_then_run(const unsigned char *s, size_t i, size_t end, int (*in_class)(uint32_t)) {
    size_t len, next_len;
    uint32_t c = cp_at(s, i, end, &len);
    size_t j;
    if (unicode_is_space(c) && in_class(cp_at(s, i + len, end, &next_len))) j = i + len;
    else if (in_class(c)) j = i;
    else return i;
    while (j < end) {
        uint32_t d = cp_at(s, j, end, &len);
        if (!in_class(d)) break;
        j += len;
    }
    return j;
}
static size_t match_letters(const unsigned char *s, size_t i, size_t end) {
    return match_space_then_run(s, i, end, is_letter);
}
static size_t match_punct(const unsigned char *s, size_t i, size_t end) {
    return match_space_then_run(s, i, end, is_punct);
}

static size_t match_cjk(const unsigned char *s, size_t i, size_t end) {
    size_t len;
    while (i < end && is_cjk(cp_at(s, i, end, &len))) i += len;
    return i;
}

static size_t match_digit(const unsigned char *s, size_t i, size_t end) {
    size_t len;
    uint32_t c = cp_at(s, i, end, &len);
    return unicode_is_number(c) ? i + len : i;
}

/* \s+$ : only the white space that reaches the end of the piece; done per piece
 * rather than per position so that a long run of spaces stays linear. */
static int split_trailing_space(const deepseek_run *r, int k, size_t start, size_t end) {
    size_t i = start, run = SIZE_MAX;      /* run: start of the current white-space run */
    while (i < end) {
        size_t len;
        uint32_t c = utf8_decode_valid(r->s + i, &len);
        if (unicode_is_space(c)) { if (run == SIZE_MAX) run = i; }
        else run = SIZE_MAX;
        i += len;
    }
    if (run == SIZE_MAX || run == start) return run_step(r, k + 1, start, end);
    int rc = run_step(r, k + 1, start, run);
    return rc ? rc : run_step(r, k + 1, run, end);
}

/* The steps in order; NULL is step 4 (split_trailing_space). */
static const match_fn steps[] = {match_newline, match_letters, match_punct, NULL, match_cjk, match_digit};
enum { N_STEPS = sizeof steps / sizeof steps[0] };

/* Piece [start, end) through steps k, k+1, ... */
static int run_step(const deepseek_run *r, int k, size_t start, size_t end) {
    if (k == N_STEPS) return r->emit(r->ctx, start, end);
    return steps[k] ? split_piece(r, k, start, end, steps[k]) : split_trailing_space(r, k, start, end);
}

int pretokenize_deepseek(const unsigned char *s, size_t n, pretok_emit emit, void *ctx) {
    deepseek_run r = {s, emit, ctx};
    return n ? run_step(&r, 0, 0, n) : 0;
}
