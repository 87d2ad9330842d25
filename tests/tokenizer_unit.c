/* tokenizer_unit: the pieces and the edges of the tokenizer: Unicode tables, NFC,
 * invalid UTF-8 (error and replacement), NUL, decoding (round trip of every
 * vector, U+FFFD for bytes that are not UTF-8, skip_special), a 1 MB word and
 * 1 MB of spaces, the GGUF writer (round trip, padding), hostile metadata, and
 * concurrent encoding on one tokenizer. */
#include <stdint.h>
#include <unistd.h>
#include "test.h"
#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer_data.h"

static test_vocab olmoe, qwen2, deepseek;

/* ---- Unicode tables --------------------------------------------------------------- */

static void test_unicode(void) {
    static const uint32_t spaces[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000,
                                      0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    static const uint32_t not_spaces[] = {0x1C, 0x1F, 0xFEFF, 0x200B, 0x180E, 0x2060, 0x00, 'a'};
    for (size_t i = 0; i < sizeof spaces / sizeof *spaces; i++) CHECKF(unicode_is_space(spaces[i]), "U+%04X", spaces[i]);
    for (size_t i = 0; i < sizeof not_spaces / sizeof *not_spaces; i++)
        CHECKF(!unicode_is_space(not_spaces[i]), "U+%04X", not_spaces[i]);
    /* N includes No and Nl: ½ ² ① Ⅻ; fullwidth digits are Nd. */
    static const uint32_t numbers[] = {'0', '9', 0xBD, 0xB2, 0x2460, 0x216B, 0xFF10, 0x0660};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) CHECKF(unicode_is_number(numbers[i]), "U+%04X", numbers[i]);
    static const uint32_t letters[] = {'a', 'Z', 0xE9, 0x17F, 0x4E16, 0xAC00, 0x10400, 0x2F9F4};
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++) CHECKF(unicode_is_letter(letters[i]), "U+%04X", letters[i]);
    CHECK(!unicode_is_letter(0x1FAE0) && !unicode_is_number(0x1FAE0));   /* 🫠 is So */
    CHECK(!unicode_is_letter(0x0378));                                    /* unassigned */
    CHECK(unicode_simple_fold(0x17F) == 's');
    CHECK(unicode_simple_fold('S') == 's');
    CHECK(unicode_simple_fold('s') == 's');
    CHECK(unicode_combining_class(0x301) == 230);
    CHECK(unicode_combining_class(0x323) == 220);
    CHECK(unicode_combining_class('a') == 0);
}

/* ---- NFC ---------------------------------------------------------------------------- */

static int nfc_is(const char *in, size_t n, const char *want, size_t want_len) {
    byte_buffer out = {0};
    cp_buffer cps = {0};
    int ok = nfc_normalize((const unsigned char *)in, n, &out, &cps) == 0 && out.len == want_len &&
             !memcmp(out.p, want, want_len);
    free(out.p);
    free(cps.p);
    return ok;
}
#define NFC_IS(in, want) nfc_is(in, sizeof in - 1, want, sizeof want - 1)

/* The one validator, decoder and U+FFFD replacement (unicode.h) that the engine,
 * the tokenizer and moee tokenize share. */
static void test_utf8_one_place(void) {
    static const unsigned char good[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    CHECK(utf8_first_invalid(good, sizeof good - 1) == -1);
    static const unsigned char bad[] = "ab\xC3(\xE2\x82\xED\xA0\x80\xF4\x90\x80\x80z\xC0\xAF";
    CHECK(utf8_first_invalid(bad, sizeof bad - 1) == 2);
    unsigned char out[3 * sizeof bad];
    size_t n = utf8_replace_invalid(bad, sizeof bad - 1, out);
    /* maximal subparts: C3 | E2 82 | ED | A0 | 80 | F4 | 90 | 80 | 80 | C0 | AF */
    static const char want[] = "ab\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                               "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD";
    CHECKF(n == sizeof want - 1 && !memcmp(out, want, n), "replaced into %zu bytes", n);
    uint32_t cp = 0;
    CHECK(utf8_decode(good + 1, 2, &cp) == 2 && cp == 0xE9);
    CHECK(utf8_decode(good + 3, 3, &cp) == 3 && cp == 0x20AC);
    CHECK(utf8_decode(good + 3, 2, &cp) == 0);          /* truncated */
    CHECK(utf8_decode(bad + 6, 3, &cp) == 0);           /* a surrogate */
    CHECK(utf8_char_start(good, 5) == 3 && utf8_char_start(good, 9) == 6 && utf8_char_start(good, 0) == 0);
}

static void test_nfc(void) {
    CHECK(NFC_IS("e\xCC\x81", "\xC3\xA9"));                       /* e + U+0301 -> é */
    CHECK(NFC_IS("\xE2\x84\xAB", "\xC3\x85"));                    /* U+212B -> U+00C5 */
    CHECK(NFC_IS("\xE2\x84\xA6", "\xCE\xA9"));                    /* U+2126 -> U+03A9 */
    CHECK(NFC_IS("\xE2\x84\xAA", "K"));                           /* U+212A -> K */
    CHECK(NFC_IS("\xE1\x84\x80\xE1\x85\xA1", "\xEA\xB0\x80"));    /* Hangul L+V -> U+AC00 */
    CHECK(NFC_IS("\xEA\xB0\x80\xE1\x86\xA8", "\xEA\xB0\x81"));    /* LV+T -> U+AC01 */
    CHECK(NFC_IS("a\xCC\x82\xCC\xA3", "\xE1\xBA\xAD"));           /* reordered, then ậ */
    CHECK(NFC_IS("\xE0\xA5\x98", "\xE0\xA4\x95\xE0\xA4\xBC"));    /* U+0958 excluded */
    CHECK(NFC_IS("abc", "abc"));
    CHECK(!nfc_may_change((const unsigned char *)"plain ascii", 11));
    CHECK(nfc_may_change((const unsigned char *)"e\xCC\x81", 3));
    CHECK(nfc_may_change((const unsigned char *)"\xE2\x84\xAB", 3));      /* U+212B: NFC_QC No */
    CHECK(nfc_may_change((const unsigned char *)"\xE1\x85\xA1", 3));      /* U+1161: NFC_QC Maybe */
    CHECK(!nfc_may_change((const unsigned char *)"\xC3\xA9\xEA\xB0\x80", 5)); /* é, 가: already NFC */
    CHECK(NFC_IS("x\xC3\xA9 e\xCC\x81 \xE2\x84\xAB!", "x\xC3\xA9 \xC3\xA9 \xC3\x85!")); /* chunks */
    /* 100000 combining acutes after 'a': one composes, the rest stay (linear time). */
    size_t n = 1 + 2 * 100000;
    char *in = malloc(n), *want = malloc(n);
    in[0] = 'a';
    for (size_t i = 1; i < n; i += 2) { in[i] = '\xCC'; in[i + 1] = '\x81'; }
    memcpy(want, "\xC3\xA1", 2);
    memcpy(want + 2, in + 3, n - 3);
    CHECK(nfc_is(in, n, want, n - 1));
    free(in);
    free(want);
}

/* ---- UTF-8 errors and replacement -------------------------------------------------- */

static int encode_is(const moee_tokenizer *t, const char *s, size_t n, int flags, const char *like, size_t like_n) {
    tokenizer_ids a = {0}, b = {0};
    char err[256];
    int ok = tokenizer_encode(t, s, n, flags, &a, err, sizeof err) == 0 &&
             tokenizer_encode(t, like, like_n, flags, &b, err, sizeof err) == 0 &&
             a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids);
    tokenizer_ids_free(&a);
    tokenizer_ids_free(&b);
    return ok;
}

static void test_invalid_utf8(const moee_tokenizer *t) {
    static const struct { const char *s; size_t n; size_t at; const char *replaced; size_t rn; } cases[] = {
        {"ab\xFF" "cd", 5, 2, "ab\xEF\xBF\xBD" "cd", 7},
        {"\xC0\xAF", 2, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 6},                 /* overlong: 2 x U+FFFD */
        {"x\xED\xA0\x80y", 5, 1, "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy", 11}, /* surrogate */
        {"ok\xE2\x82", 4, 2, "ok\xEF\xBF\xBD", 5},                          /* truncated: 1 x U+FFFD */
        {"\xE2\x82x", 3, 0, "\xEF\xBF\xBDx", 4},
        {"\xF4\x90\x80\x80", 4, 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 12}, /* > U+10FFFF */
        {"\x80", 1, 0, "\xEF\xBF\xBD", 3},
    };
    tokenizer_ids ids = {0};
    char err[256], want[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = tokenizer_encode(t, cases[i].s, cases[i].n, 0, &ids, err, sizeof err);
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", cases[i].at);
        CHECKF(rc != 0 && !strcmp(err, want), "case %zu: rc %d, '%s'", i, rc, rc ? err : "");
        CHECKF(encode_is(t, cases[i].s, cases[i].n, TOKENIZER_REPLACE_INVALID, cases[i].replaced, cases[i].rn),
               "case %zu replaced", i);
    }
    /* NUL and other controls are ordinary characters. */
    CHECK(tokenizer_encode(t, "a\0b", 3, 0, &ids, err, sizeof err) == 0 && ids.n >= 2);
    char *text;
    size_t len;
    CHECK(tokenizer_decode(t, ids.ids, ids.n, 0, &text, &len, err, sizeof err) == 0 && len == 3 &&
          !memcmp(text, "a\0b", 3));
    free(text);
    tokenizer_ids_free(&ids);
}

/* ---- decoding ------------------------------------------------------------------------- */

/* What HF's decode(encode(text)) gives: NFC(text) for olmo/qwen2; for DeepSeek the
 * 13 byte-symbol added tokens decode through bytes that are never UTF-8, so each
 * of ø ö ú ÿ õ ÷ û ý À ù Á þ ü becomes U+FFFD. */
static void expected_decode(const char *family, const char *s, size_t n, byte_buffer *out) {
    cp_buffer cps = {0};
    if (strcmp(family, "deepseek-llm")) {
        nfc_normalize((const unsigned char *)s, n, out, &cps);
        free(cps.p);
        return;
    }
    static const uint32_t byte_symbols[] = {0xF8, 0xF6, 0xFA, 0xFF, 0xF5, 0xF7, 0xFB, 0xFD, 0xC0, 0xF9, 0xC1, 0xFE, 0xFC};
    out->len = 0;
    scratch_reserve((void **)&out->p, &out->cap, 2 * n + 1, 1);
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t c = utf8_decode_valid((const unsigned char *)s + i, &l);
        int hit = 0;
        for (size_t k = 0; k < 13; k++) hit |= c == byte_symbols[k];
        if (hit) { memcpy(out->p + out->len, "\xEF\xBF\xBD", 3); out->len += 3; }
        else { memcpy(out->p + out->len, s + i, l); out->len += l; }
        i += l;
    }
}

static void test_decode_round_trip(const moee_tokenizer *t, const char *vectors) {
    test_vectors vs;
    CHECK(test_vectors_load(&vs, vectors, "text") == 0);
    tokenizer_ids ids = {0};
    byte_buffer want = {0};
    char err[256];
    int bad = 0;
    for (size_t i = 0; i < vs.n; i++) {
        char *text;
        size_t len;
        if (tokenizer_encode(t, vs.items[i].text, vs.items[i].len, 0, &ids, err, sizeof err) ||
            tokenizer_decode(t, ids.ids, ids.n, 0, &text, &len, err, sizeof err)) { bad++; continue; }
        expected_decode(tokenizer_pre_name(t), vs.items[i].text, vs.items[i].len, &want);
        if (len != want.len || memcmp(text, want.p, len)) {
            if (bad++ < 3) fprintf(stderr, "%s: round trip of vector %zu (%.50s) gave %.50s\n", vectors, i, vs.items[i].text, text);
        }
        free(text);
    }
    CHECKF(bad == 0, "%s: %d round trips differ", vectors, bad);
    free(want.p);
    tokenizer_ids_free(&ids);
    test_vectors_free(&vs);
}

static void test_decode_edges(void) {
    char *text = NULL, err[256];
    size_t len;
    /* The symbol of byte 0xC3 alone is not UTF-8: U+FFFD, as from_utf8_lossy gives. */
    int32_t lone[] = {olmoe.t->byte_ids[0xC3]};
    tokenizer_ids ids = {0};
    CHECK(lone[0] >= 0 && tokenizer_decode(olmoe.t, lone, 1, 0, &text, &len, err, sizeof err) == 0 &&
          len == 3 && !memcmp(text, "\xEF\xBF\xBD", 3));
    free(text);
    /* Ids of single bytes 0xC3 then 0xA9 decode together to é; 0xC3 alone to U+FFFD. */
    CHECK(tokenizer_encode(olmoe.t, "\xC3\xA9", 2, 0, &ids, err, sizeof err) == 0);
    lone[0] = ids.ids[0];
    CHECK(tokenizer_decode(olmoe.t, lone, 1, 0, &text, &len, err, sizeof err) == 0);
    if (ids.n == 2) CHECK(len == 3 && !memcmp(text, "\xEF\xBF\xBD", 3));
    free(text);
    int32_t out_of_range[] = {5, 999999};
    CHECK(tokenizer_decode(olmoe.t, out_of_range, 2, 0, &text, &len, err, sizeof err) != 0 &&
          strstr(err, "999999") != NULL);
    /* BOS is added by default for DeepSeek, also for "", and skip_special drops it. */
    CHECK(tokenizer_encode(deepseek.t, "", 0, TOKENIZER_ADD_SPECIAL, &ids, err, sizeof err) == 0 &&
          ids.n == 1 && ids.ids[0] == 100000);
    CHECK(tokenizer_encode(deepseek.t, "hi", 2, TOKENIZER_ADD_SPECIAL, &ids, err, sizeof err) == 0 &&
          ids.ids[0] == 100000);
    CHECK(tokenizer_decode(deepseek.t, ids.ids, ids.n, 1, &text, &len, err, sizeof err) == 0 &&
          len == 2 && !memcmp(text, "hi", 2));
    free(text);
    CHECK(tokenizer_encode(olmoe.t, "", 0, TOKENIZER_ADD_SPECIAL, &ids, err, sizeof err) == 0 && ids.n == 0);
    CHECK(tokenizer_bos_id(deepseek.t) == 100000 && tokenizer_eos_id(deepseek.t) == 100001);
    CHECK(tokenizer_eos_id(olmoe.t) == 50279 && tokenizer_bos_id(olmoe.t) == -1);
    CHECK(tokenizer_eos_id(qwen2.t) == 151643);
    CHECK(!strcmp(tokenizer_pre_name(olmoe.t), "olmo") && !strcmp(tokenizer_pre_name(qwen2.t), "qwen2") &&
          !strcmp(tokenizer_pre_name(deepseek.t), "deepseek-llm"));
    tokenizer_ids_free(&ids);
}

/* ---- long inputs: a 1 MB word and 1 MB of spaces ------------------------------------- */

static void test_long_inputs(const moee_tokenizer *t) {
    size_t n = 1 << 20;
    char *s = malloc(n), *text, err[256];
    size_t len;
    tokenizer_ids ids = {0};
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < n; i++) s[i] = kind ? ' ' : "abcdefghij"[i % 7];
        int ok = tokenizer_encode(t, s, n, 0, &ids, err, sizeof err) == 0 &&
                 tokenizer_decode(t, ids.ids, ids.n, 0, &text, &len, err, sizeof err) == 0;
        CHECKF(ok && len == n && !memcmp(text, s, n), "%s: 1 MB of %s", tokenizer_pre_name(t), kind ? "spaces" : "word");
        if (ok) free(text);
        if (kind && t == olmoe.t) {
            /* Space runs are added tokens of 2..24 spaces, id 50278 - length. */
            int exact = ids.n == n / 24 + 1;
            for (size_t i = 0; exact && i + 1 < ids.n; i++) exact = ids.ids[i] == 50254;
            CHECK(exact && ids.ids[ids.n - 1] == 50278 - (int32_t)(n % 24));
        }
    }
    free(s);
    tokenizer_ids_free(&ids);
}

/* ---- GGUF writer and hostile metadata --------------------------------------------------- */

static char tmpdir[64];

static moee_tokenizer *reload(const char *path, gguf_file **g, char *err, size_t err_size) {
    *g = gguf_open(path, err, err_size);
    return *g ? tokenizer_load_gguf(*g, err, err_size) : NULL;
}

static int write_file(const moee_tokenizer *t, int padded, const char *path, char *err, size_t err_size) {
    gguf_writer *w = gguf_writer_create(path, err, err_size);
    if (!w) return -1;
    if ((padded ? tokenizer_write_gguf_padded(t, w, padded, err, err_size) : tokenizer_write_gguf(t, w, err, err_size)) ||
        gguf_writer_begin_data(w, err, err_size) || gguf_writer_finish(w, err, err_size)) {
        gguf_writer_abort(w);
        return -1;
    }
    return 0;
}

static void test_writer(void) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/deepseek.gguf", tmpdir);
    /* llama.cpp's DeepSeek file (102400 tokens, [PAD] user-defined) written back by us. */
    CHECKF(write_file(deepseek.t, 0, path, err, sizeof err) == 0, "%s", err);
    gguf_file *g;
    moee_tokenizer *t = reload(path, &g, err, sizeof err);
    CHECKF(t != NULL, "%s", err);
    if (t) {
        CHECK(tokenizer_vocab_size(t) == 102400);
        CHECK(tokenizer_bos_id(t) == 100000 && tokenizer_eos_id(t) == 100001);
        test_decode_round_trip(t, TOKENIZER_DATA "deepseek.vectors.jsonl.gz");
        const gguf_kv *kv = gguf_find_kv(g, "tokenizer.ggml.token_type");
        int32_t type;
        CHECK(kv && kv->array_len == 102400);
        if (kv) { memcpy(&type, kv->data + 12 + 4 * 100015, 4); CHECK(type == 5); }   /* [PAD] is unused */
        tokenizer_free(t);
        gguf_close(g);
    }
    /* Padded: OLMoE's 50280 tokens to the model's 50304 embedding rows. */
    snprintf(path, sizeof path, "%s/olmoe.gguf", tmpdir);
    CHECKF(write_file(olmoe.t, 50304, path, err, sizeof err) == 0, "%s", err);
    t = reload(path, &g, err, sizeof err);
    CHECKF(t != NULL, "%s", err);
    if (t) {
        CHECK(tokenizer_vocab_size(t) == 50304);
        tokenizer_ids a = {0}, b = {0};
        const char *s = "Hello  world <|endoftext|> |||EMAIL_ADDRESS||| [PAD50300]";
        CHECK(tokenizer_encode(t, s, strlen(s), 0, &a, err, sizeof err) == 0 &&
              tokenizer_encode(olmoe.t, s, strlen(s), 0, &b, err, sizeof err) == 0 &&
              a.n == b.n && !memcmp(a.ids, b.ids, a.n * 4));
        tokenizer_ids_free(&a);
        tokenizer_ids_free(&b);
        tokenizer_free(t);
        gguf_close(g);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/deepseek.gguf", tmpdir);
    unlink(path);
}

/* A small GGUF with the given model/pre/merge, to check the loader's errors. */
static void test_hostile(void) {
    static const struct { const char *model, *pre, *merge; int32_t type; const char *error; } cases[] = {
        {"llama", "olmo", "a b", 1, "unsupported tokenizer.ggml.model 'llama'"},
        {"gpt2", "gpt-4o", "a b", 1, "unsupported tokenizer.ggml.pre 'gpt-4o'"},
        {"gpt2", "olmo", "a q", 1, "names a token not in the vocabulary"},
        {"gpt2", "olmo", "ab", 1, "is not \"left right\""},
        {"gpt2", "olmo", "a b", 9, "unknown token_type 9"},
        {"gpt2", "olmo", "a b", 3, "added token 2 is not valid UTF-8"},
        {"gpt2", "qwen2", "a b", 1, NULL},
    };
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/small.gguf", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* Token 2 is "ab", or a lone continuation byte when it is a control token. */
        const char *tokens[] = {"a", "b", cases[i].type == 3 ? "\xA9" : "ab"};
        int32_t types[] = {1, 1, cases[i].type};
        gguf_writer *w = gguf_writer_create(path, err, sizeof err);
        gguf_writer_set_str(w, "tokenizer.ggml.model", cases[i].model);
        gguf_writer_set_str(w, "tokenizer.ggml.pre", cases[i].pre);
        gguf_writer_set_str_array(w, "tokenizer.ggml.tokens", tokens, NULL, 3);
        gguf_writer_set_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 3);
        gguf_writer_set_str_array(w, "tokenizer.ggml.merges", &cases[i].merge, NULL, 1);
        CHECK(gguf_writer_begin_data(w, err, sizeof err) == 0 && gguf_writer_finish(w, err, sizeof err) == 0);
        gguf_file *g;
        moee_tokenizer *t = reload(path, &g, err, sizeof err);
        if (cases[i].error) {
            CHECKF(!t && strstr(err, cases[i].error) && strstr(err, path), "case %zu: %s", i, t ? "(loaded)" : err);
        } else {
            CHECKF(t != NULL, "%s", err);
            tokenizer_ids ids = {0};
            /* Bytes without a vocabulary symbol are dropped; "ab" merges. */
            CHECK(t && tokenizer_encode(t, "abzab", 5, 0, &ids, err, sizeof err) == 0 && ids.n == 2 &&
                  ids.ids[0] == 2 && ids.ids[1] == 2);
            tokenizer_ids_free(&ids);
        }
        tokenizer_free(t);
        if (g) gguf_close(g);
    }
    /* No tokenizer at all. */
    gguf_writer *w = gguf_writer_create(path, err, sizeof err);
    gguf_writer_set_str(w, "general.architecture", "olmoe");
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == 0 && gguf_writer_finish(w, err, sizeof err) == 0);
    gguf_file *g;
    moee_tokenizer *t = reload(path, &g, err, sizeof err);
    CHECKF(!t && strstr(err, "has no tokenizer"), "%s", err);
    if (g) gguf_close(g);
    unlink(path);

    /* tokenizer.json that is not one of the three families. */
    snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
          "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"normalizer\":null,\"added_tokens\":[]}", f);
    fclose(f);
    t = tokenizer_load_json(path, NULL, err, sizeof err);
    CHECKF(!t && strstr(err, "unsupported pre_tokenizer"), "%s", t ? "(loaded)" : err);
    tokenizer_free(t);
    unlink(path);
}

/* ---- concurrency: one tokenizer, many threads, same ids ------------------------------ */

static void test_concurrent(void) {
    test_vectors vs;
    CHECK(test_vectors_load(&vs, TOKENIZER_DATA "qwen2.vectors.jsonl.gz", "text") == 0);
    int bad = 0;
#ifdef _OPENMP
#pragma omp parallel for reduction(+ : bad) schedule(dynamic, 16)
#endif
    for (size_t i = 0; i < vs.n; i++) {
        tokenizer_ids ids = {0};
        char err[256];
        if (tokenizer_encode(qwen2.t, vs.items[i].text, vs.items[i].len, TOKENIZER_ADD_SPECIAL, &ids, err, sizeof err) ||
            !ids_equal(&ids, vs.items[i].ids, vs.items[i].n_ids)) bad++;
        tokenizer_ids_free(&ids);
    }
    CHECKF(bad == 0, "%d vectors differ when encoded concurrently", bad);
    test_vectors_free(&vs);
}

int main(void) {
    test_utf8_one_place();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/moee_tokenizer_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_unicode();
    test_nfc();
    int loaded = test_vocab_load(&olmoe, TOKENIZER_DATA "olmoe.gguf.gz") == 0 &&
                 test_vocab_load(&qwen2, TOKENIZER_DATA "qwen2.gguf.gz") == 0 &&
                 test_vocab_load(&deepseek, TOKENIZER_DATA "ggml-vocab-deepseek-llm.gguf.gz") == 0;
    CHECK(loaded);
    if (loaded) {
        test_invalid_utf8(olmoe.t);
        test_invalid_utf8(deepseek.t);
        test_decode_round_trip(olmoe.t, TOKENIZER_DATA "olmoe.vectors.jsonl.gz");
        test_decode_round_trip(qwen2.t, TOKENIZER_DATA "qwen2.vectors.jsonl.gz");
        test_decode_round_trip(deepseek.t, TOKENIZER_DATA "deepseek.vectors.jsonl.gz");
        test_decode_edges();
        test_long_inputs(olmoe.t);
        test_long_inputs(qwen2.t);
        test_long_inputs(deepseek.t);
        test_writer();
        test_hostile();
        test_concurrent();
    }
    test_vocab_free(&olmoe);
    test_vocab_free(&qwen2);
    test_vocab_free(&deepseek);
    rmdir(tmpdir);
    return test_summary("tokenizer_unit");
}
