/* tokenizer_build.c: turns the token list and merges a loader collected into a
 * ready tokenizer: copies the strings, derives the decoded bytes of every token,
 * the byte -> id table, the merge table and the added-token matchers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/byte_level.h"
#include "tokenizer/scratch.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

/* ---- a string -> id table of the normal tokens, used while building --------- */

typedef struct { int32_t *slots; size_t mask; const moee_tokenizer *t; } vocab_index;

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;             /* FNV-1a */
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}

static int token_equals(const moee_tokenizer *t, int32_t id, const char *s, size_t len) {
    size_t tl = t->text_off[id + 1] - t->text_off[id];
    return tl == len && !memcmp(t->text + t->text_off[id], s, len);
}

static int vocab_index_build(vocab_index *v, const moee_tokenizer *t) {
    size_t size = 16;
    while (size < 2 * (size_t)t->n_tokens + 1) size *= 2;
    v->slots = malloc(size * sizeof *v->slots);
    if (!v->slots) return -1;
    memset(v->slots, 0xFF, size * sizeof *v->slots);   /* -1: empty */
    v->mask = size - 1;
    v->t = t;
    for (int32_t id = 0; id < t->n_tokens; id++) {
        if (t->type[id] != TOKEN_NORMAL) continue;
        const char *s = t->text + t->text_off[id];
        size_t len = t->text_off[id + 1] - t->text_off[id];
        size_t i = hash_bytes(s, len) & v->mask;
        while (v->slots[i] >= 0 && !token_equals(t, v->slots[i], s, len)) i = (i + 1) & v->mask;
        if (v->slots[i] < 0) v->slots[i] = id;   /* a duplicate keeps the first id */
    }
    return 0;
}

static int32_t vocab_index_find(const vocab_index *v, const char *s, size_t len) {
    size_t i = hash_bytes(s, len) & v->mask;
    while (v->slots[i] >= 0) {
        if (token_equals(v->t, v->slots[i], s, len)) return v->slots[i];
        i = (i + 1) & v->mask;
    }
    return -1;
}

/* ---- building ------------------------------------------------------------------- */

/* HF's ByteLevel decoder, per token: if every character is in the byte-level
 * alphabet, the bytes they stand for; otherwise the token's own UTF-8 bytes. */
static size_t decode_token(const char *s, size_t len, unsigned char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_valid_length(u + i, len - i);
        int b = l ? byte_level_byte(utf8_decode_valid(u + i, &l)) : -1;
        if (b < 0) { memcpy(out, s, len); return len; }
        out[n++] = (unsigned char)b;
        i += l;
    }
    return n;
}

int32_t tokenizer_find_token(const moee_tokenizer *t, const char *s, size_t len) {
    for (int pass = 0; pass < 2; pass++)
        for (int32_t id = 0; id < t->n_tokens; id++) {
            int normal = t->type[id] == TOKEN_NORMAL;
            if (normal == (pass == 0) && t->type[id] != TOKEN_UNUSED && token_equals(t, id, s, len))
                return id;
        }
    return -1;
}

moee_tokenizer *tokenizer_build(tokenizer_family family, const token_entry *tokens, int32_t n,
                                const merge_entry *merges, int32_t n_merges,
                                const char *source, char *err, size_t err_size) {
    moee_tokenizer *t = calloc(1, sizeof *t);
    vocab_index index = {0};
    char *joined = NULL;
    if (!t) goto oom;
    t->family = family;
    t->nfc = family != FAMILY_DEEPSEEK;
    t->n_tokens = n;
    t->bos = t->eos = t->pad = -1;

    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += tokens[i].len;
    if (total >= UINT32_MAX) {
        snprintf(err, err_size, "%s: token strings too large", source);
        goto fail;
    }
    t->text = malloc(total + 1);
    t->text_off = malloc(((size_t)n + 1) * sizeof *t->text_off);
    t->decoded = malloc(total + 1);
    t->decoded_off = malloc(((size_t)n + 1) * sizeof *t->decoded_off);
    t->type = malloc((size_t)n + 1);
    if (!t->text || !t->text_off || !t->decoded || !t->decoded_off || !t->type) goto oom;
    size_t at = 0, dat = 0;
    for (int32_t i = 0; i < n; i++) {
        t->text_off[i] = (uint32_t)at;
        t->decoded_off[i] = (uint32_t)dat;
        t->type[i] = (uint8_t)tokens[i].type;
        if (tokens[i].len) memcpy(t->text + at, tokens[i].text, tokens[i].len);
        if (tokens[i].type != TOKEN_UNUSED)
            dat += decode_token(tokens[i].text, tokens[i].len, t->decoded + dat);
        at += tokens[i].len;
    }
    t->text_off[n] = (uint32_t)at;
    /* Added tokens are matched in the text: they must be whole characters, or one
     * could cut the text inside a character. */
    for (int32_t i = 0; i < n; i++) {
        if (tokens[i].type != TOKEN_CONTROL && tokens[i].type != TOKEN_USER_DEFINED) continue;
        const unsigned char *u = (const unsigned char *)tokens[i].text;
        for (size_t k = 0, l; k < tokens[i].len; k += l) {
            if (!(l = utf8_valid_length(u + k, tokens[i].len - k))) {
                snprintf(err, err_size, "%s: added token %ld is not valid UTF-8", source, (long)i);
                goto fail;
            }
        }
    }
    t->decoded_off[n] = (uint32_t)dat;

    if (vocab_index_build(&index, t)) goto oom;
    for (unsigned b = 0; b < 256; b++) {
        unsigned char ch[4];
        size_t l = utf8_encode(byte_level_char(b), ch);
        t->byte_ids[b] = vocab_index_find(&index, (const char *)ch, l);
    }

    /* Merges: each pair of tokens and the token their concatenation is. */
    if (bpe_merges_init(&t->merges, (size_t)n_merges)) goto oom;
    t->merge_pairs = malloc(2 * ((size_t)n_merges + 1) * sizeof *t->merge_pairs);
    size_t joined_cap = 0;
    if (!t->merge_pairs) goto oom;
    for (int32_t r = 0; r < n_merges; r++) {
        const merge_entry *m = &merges[r];
        int32_t left = vocab_index_find(&index, m->left, m->left_len);
        int32_t right = vocab_index_find(&index, m->right, m->right_len);
        size_t jl = m->left_len + m->right_len;
        if (scratch_reserve((void **)&joined, &joined_cap, jl + 1, 1)) goto oom;
        memcpy(joined, m->left, m->left_len);
        memcpy(joined + m->left_len, m->right, m->right_len);
        int32_t merged = vocab_index_find(&index, joined, jl);
        if (left < 0 || right < 0 || merged < 0) {
            snprintf(err, err_size, "%s: merge %d ('%.*s %.*s') names a token not in the vocabulary",
                     source, (int)r, (int)(m->left_len > 40 ? 40 : m->left_len), m->left,
                     (int)(m->right_len > 40 ? 40 : m->right_len), m->right);
            goto fail;
        }
        bpe_merges_add(&t->merges, left, right, r, merged);
        t->merge_pairs[2 * r] = left;
        t->merge_pairs[2 * r + 1] = right;
    }
    t->n_merges = n_merges;

    for (int32_t i = 0; i < n; i++) {
        if (tokens[i].type != TOKEN_CONTROL && tokens[i].type != TOKEN_USER_DEFINED) continue;
        if (!tokens[i].len) continue;    /* an empty string never matches */
        added_matcher *m = tokens[i].normalized ? &t->normalized_added : &t->raw_added;
        if (added_matcher_add(m, tokens[i].text, tokens[i].len, i)) goto oom;
    }
    if (added_matcher_finish(&t->raw_added) || added_matcher_finish(&t->normalized_added)) goto oom;
    free(index.slots);
    free(joined);
    return t;

oom:
    snprintf(err, err_size, "%s: out of memory", source);
fail:
    free(index.slots);
    free(joined);
    tokenizer_free(t);
    return NULL;
}
