/* tokenizer.c: the encoding pipeline, decoding, and the small accessors.
 *
 * encode, in Hugging Face's order:
 *   1. check the input is UTF-8 (or replace what is not with U+FFFD);
 *   2. cut out the added tokens that are matched in raw text (HF normalized=false);
 *   3. for every remaining segment: NFC (olmo, qwen2), then cut out the added
 *      tokens matched in normalized text, then pre-tokenize each sub-segment with
 *      the family's scanner and BPE each piece;
 *   4. BOS/EOS when asked for and the model adds them.
 * Everything an encode call writes is in its own encode_scratch, so calls may run
 * concurrently on one tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/nfc.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

typedef struct {
    byte_buffer clean;        /* the input with invalid UTF-8 replaced (if asked) */
    byte_buffer normalized;   /* NFC of the current segment */
    cp_buffer cps;            /* NFC working memory */
    added_scan raw_scan, normalized_scan;
    bpe_scratch bpe;
} encode_scratch;

static void encode_scratch_free(encode_scratch *s) {
    free(s->clean.p);
    free(s->normalized.p);
    free(s->cps.p);
    added_scan_free(&s->raw_scan);
    added_scan_free(&s->normalized_scan);
    bpe_scratch_free(&s->bpe);
}

/* Pre-tokenizes s[0..n) and appends the BPE ids of every piece, each piece as the
 * pre-tokenizer finds it. */
typedef struct {
    const moee_tokenizer *t;
    const unsigned char *s;
    encode_scratch *sc;
    tokenizer_ids *out;
} piece_sink;

static int encode_piece(void *ctx, size_t start, size_t end) {
    piece_sink *p = ctx;
    return bpe_encode_piece(&p->t->merges, p->t->byte_ids, p->s + start, end - start, &p->sc->bpe, p->out);
}

static int encode_pretokenized(const moee_tokenizer *t, const unsigned char *s, size_t n,
                               encode_scratch *sc, tokenizer_ids *out) {
    piece_sink sink = {t, s, sc, out};
    return t->family == FAMILY_OLMO ? pretokenize_gpt2(s, n, encode_piece, &sink)
         : t->family == FAMILY_QWEN2 ? pretokenize_qwen2(s, n, encode_piece, &sink)
         : pretokenize_deepseek(s, n, encode_piece, &sink);
}

/* One segment of raw text between added tokens: normalize, then split on the
 * added tokens that are matched after normalization. */
static int encode_segment(const moee_tokenizer *t, const unsigned char *s, size_t n,
                          encode_scratch *sc, tokenizer_ids *out) {
    if (n == 0) return 0;
    if (t->nfc && nfc_may_change(s, n)) {
        if (nfc_normalize(s, n, &sc->normalized, &sc->cps)) return -1;
        s = sc->normalized.p;
        n = sc->normalized.len;
        /* NFC's working memory (up to 8 code points per byte of a long run of
         * combining marks) is not kept while BPE runs on the result. */
        if (sc->cps.cap > (1 << 20)) {
            free(sc->cps.p);
            sc->cps = (cp_buffer){0};
        }
    }
    size_t from = 0, start, end;
    int32_t id;
    int found;
    added_scan_begin(&sc->normalized_scan, &t->normalized_added, s, n);
    while ((found = added_scan_next(&sc->normalized_scan, &start, &end, &id)) > 0) {
        if (start > from && encode_pretokenized(t, s + from, start - from, sc, out)) return -1;
        if (tokenizer_ids_push(out, id)) return -1;
        from = end;
    }
    if (found < 0) return -1;
    if (from < n && encode_pretokenized(t, s + from, n - from, sc, out)) return -1;
    return 0;
}

/* Checks text is UTF-8. Returns 0 if it is; otherwise, with replace, writes the
 * cleaned text into clean and returns 1; without, returns -1 and the offset of the
 * first bad byte in *bad (or -2 when out of memory). */
static int check_utf8(const unsigned char *s, size_t n, int replace, byte_buffer *clean, size_t *bad) {
    int64_t first = utf8_first_invalid(s, n);
    if (first < 0) return 0;
    if (!replace) { *bad = (size_t)first; return -1; }
    if (n > SIZE_MAX / 3 || scratch_reserve((void **)&clean->p, &clean->cap, 3 * n + 1, 1)) return -2;
    clean->len = utf8_replace_invalid(s, n, (unsigned char *)clean->p);
    return 1;
}

int tokenizer_encode(const moee_tokenizer *t, const char *text, size_t len, int flags,
                     tokenizer_ids *out, char *err, size_t err_size) {
    encode_scratch sc = {0};
    const unsigned char *s = (const unsigned char *)text;
    size_t bad = 0;
    out->n = 0;
    int rc = check_utf8(s, len, flags & TOKENIZER_REPLACE_INVALID, &sc.clean, &bad);
    if (rc == -1) {
        snprintf(err, err_size, "invalid UTF-8 at byte %zu", bad);
        return -1;
    }
    if (rc == -2) goto oom;
    if (rc == 1) { s = sc.clean.p; len = sc.clean.len; }

    int special = (flags & TOKENIZER_ADD_SPECIAL) != 0;
    if (special && t->add_bos && t->bos >= 0 && tokenizer_ids_push(out, t->bos)) goto oom;
    size_t from = 0, start, end;
    int32_t id;
    int found;
    added_scan_begin(&sc.raw_scan, &t->raw_added, s, len);
    while ((found = added_scan_next(&sc.raw_scan, &start, &end, &id)) > 0) {
        if (encode_segment(t, s + from, start - from, &sc, out)) goto oom;
        if (tokenizer_ids_push(out, id)) goto oom;
        from = end;
    }
    if (found < 0) goto oom;
    if (encode_segment(t, s + from, len - from, &sc, out)) goto oom;
    if (special && t->add_eos && t->eos >= 0 && tokenizer_ids_push(out, t->eos)) goto oom;
    encode_scratch_free(&sc);
    return 0;
oom:
    encode_scratch_free(&sc);
    snprintf(err, err_size, "out of memory while tokenizing %zu bytes", len);
    return -1;
}

void tokenizer_ids_free(tokenizer_ids *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

int tokenizer_decode(const moee_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                     char **text, size_t *len, char *err, size_t err_size) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_tokens) {
            snprintf(err, err_size, "token id %ld out of range (vocabulary of %ld tokens)",
                     (long)ids[i], (long)t->n_tokens);
            return -1;
        }
        total += t->decoded_off[ids[i] + 1] - t->decoded_off[ids[i]];
    }
    unsigned char *bytes = malloc(total + 1);
    /* Lossy UTF-8: each bad byte may grow into a 3-byte U+FFFD. */
    unsigned char *result = total < SIZE_MAX / 4 ? malloc(3 * total + 1) : NULL;
    if (!bytes || !result) {
        free(bytes);
        free(result);
        snprintf(err, err_size, "out of memory while decoding %zu ids", n);
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (skip_special && t->type[id] == TOKEN_CONTROL) continue;
        size_t l = t->decoded_off[id + 1] - t->decoded_off[id];
        memcpy(bytes + at, t->decoded + t->decoded_off[id], l);
        at += l;
    }
    size_t r = utf8_replace_invalid(bytes, at, result);
    result[r] = 0;
    free(bytes);
    *text = (char *)result;
    *len = r;
    return 0;
}

void tokenizer_free(moee_tokenizer *t) {
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->decoded);
    free(t->decoded_off);
    free(t->type);
    bpe_merges_free(&t->merges);
    free(t->merge_pairs);
    added_matcher_free(&t->raw_added);
    added_matcher_free(&t->normalized_added);
    free(t);
}

int tokenizer_vocab_size(const moee_tokenizer *t) { return (int)t->n_tokens; }
int tokenizer_bos_id(const moee_tokenizer *t) { return t->bos; }
int tokenizer_eos_id(const moee_tokenizer *t) { return t->eos; }

static const char *const family_names[] = {"olmo", "qwen2", "deepseek-llm"};

const char *tokenizer_pre_name(const moee_tokenizer *t) { return family_names[t->family]; }

int tokenizer_family_from_name(const char *name, size_t len) {
    for (int i = 0; i < 3; i++)
        if (strlen(family_names[i]) == len && !memcmp(family_names[i], name, len)) return i;
    return -1;
}
