/* unicode.c: lookups in the generated Unicode tables, and UTF-8 validation. */
#include <string.h>
#include "tokenizer/unicode.h"

/* The value of the run containing cp (runs are sorted and cover all code points). */
static uint32_t run_value(const unicode_run *runs, size_t count, uint32_t cp) {
    size_t lo = 0, hi = count;          /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (runs[mid].start <= cp) lo = mid; else hi = mid;
    }
    return runs[lo].value;
}

unsigned unicode_flags(uint32_t cp) {
    /* ASCII is most of most text: answer it without searching. */
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return UNICODE_L;
        if (cp >= 'A' && cp <= 'Z') return UNICODE_L;
        if (cp >= '0' && cp <= '9') return UNICODE_N;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return UNICODE_WS;
        return 0;
    }
    return run_value(unicode_flag_runs, unicode_flag_runs_count, cp);
}

unsigned unicode_combining_class(uint32_t cp) {
    if (cp < 0x300) return 0;
    return run_value(unicode_ccc_runs, unicode_ccc_runs_count, cp);
}

const uint32_t *unicode_decomposition(uint32_t cp, size_t *len) {
    size_t lo = 0, hi = unicode_decompositions_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_decompositions[mid].cp < cp) lo = mid + 1; else hi = mid;
    }
    if (lo == unicode_decompositions_count || unicode_decompositions[lo].cp != cp) return NULL;
    *len = unicode_decompositions[lo].len;
    return unicode_decomposition_data + unicode_decompositions[lo].offset;
}

uint32_t unicode_compose(uint32_t first, uint32_t second) {
    uint64_t key = (uint64_t)first << 32 | second;
    size_t lo = 0, hi = unicode_compositions_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k = (uint64_t)unicode_compositions[mid].first << 32 | unicode_compositions[mid].second;
        if (k < key) lo = mid + 1; else hi = mid;
    }
    if (lo == unicode_compositions_count || unicode_compositions[lo].first != first ||
        unicode_compositions[lo].second != second) return 0;
    return unicode_compositions[lo].composite;
}

uint32_t unicode_simple_fold(uint32_t cp) {
    size_t lo = 0, hi = unicode_simple_folds_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_simple_folds[mid].cp < cp) lo = mid + 1; else hi = mid;
    }
    if (lo < unicode_simple_folds_count && unicode_simple_folds[lo].cp == cp)
        return unicode_simple_folds[lo].folded;
    return cp;
}

/* ---- UTF-8 (RFC 3629, Unicode table 3-7 of well-formed byte sequences) -------- */

/* The allowed range of the second byte after a given lead byte; later
 * continuation bytes are always 0x80..0xBF. */
static int second_byte_range(unsigned lead, unsigned *lo, unsigned *hi, size_t *len) {
    *lo = 0x80; *hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) { *len = 2; return 1; }
    if (lead == 0xE0) { *len = 3; *lo = 0xA0; return 1; }
    if (lead == 0xED) { *len = 3; *hi = 0x9F; return 1; }          /* no surrogates */
    if (lead >= 0xE1 && lead <= 0xEF) { *len = 3; return 1; }
    if (lead == 0xF0) { *len = 4; *lo = 0x90; return 1; }
    if (lead == 0xF4) { *len = 4; *hi = 0x8F; return 1; }          /* <= U+10FFFF */
    if (lead >= 0xF1 && lead <= 0xF3) { *len = 4; return 1; }
    return 0;
}

/* Counts how many bytes from s form a valid prefix of a sequence; sets *full to
 * the complete sequence length (0 if the lead byte can never start one). */
static size_t valid_prefix(const unsigned char *s, size_t n, size_t *full) {
    unsigned lo, hi;
    if (s[0] < 0x80) { *full = 1; return 1; }
    if (!second_byte_range(s[0], &lo, &hi, full)) { *full = 0; return 0; }
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) {
        k++;
        while (k < *full && k < n && s[k] >= 0x80 && s[k] <= 0xBF) k++;
    }
    return k;
}

size_t utf8_valid_length(const unsigned char *s, size_t n) {
    size_t full, k = valid_prefix(s, n, &full);
    return full && k == full ? full : 0;
}

size_t utf8_invalid_length(const unsigned char *s, size_t n) {
    size_t full, k = valid_prefix(s, n, &full);
    return k ? k : 1;
}

int64_t utf8_first_invalid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t l = s[i] < 0x80 ? 1 : utf8_valid_length(s + i, n - i);
        if (!l) return (int64_t)i;
        i += l;
    }
    return -1;
}

size_t utf8_replace_invalid(const unsigned char *s, size_t n, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = s[i] < 0x80 ? 1 : utf8_valid_length(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += utf8_invalid_length(s + i, n - i);
        }
    }
    return o;
}

size_t utf8_encode(uint32_t cp, unsigned char *out) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
