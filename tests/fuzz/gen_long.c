/* gen_long.c: the long inputs that the fuzz targets, capped at 4-64 KB per input,
 * never produce: long added tokens, long words and space runs (1 MB), deep JSON nesting,
 * millions of ids. Written into OUT/NAME/ (one folder per target); tests/fuzz/run.sh
 * replays each file once through its target, with the campaign's memory and time
 * limits, before fuzzing it.
 *
 *   sh tests/fuzz/build.sh gen_long && build/fuzz/gen_long build/fuzz/long
 *
 * Kept small enough to replay in seconds under the sanitizers (a few MB each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tokenizer/byte_level.h"
#include "tokenizer/unicode.h"
#include "weights/gguf.h"

static const char *out_dir;
static int failures;

/* A growing byte string. */
typedef struct { char *p; size_t n, cap; } buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 1 << 16;
        if (!(b->p = realloc(b->p, b->cap))) { perror("gen_long"); exit(1); }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void repeat(buf *b, const char *s, size_t times) { for (size_t i = 0; i < times; i++) puts_(b, s); }

/* Writes b to OUT/target/name and empties it. */
static void save(buf *b, const char *target, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(out_dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f)) { perror(path); failures++; }
    b->n = 0;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    s[n] = 0;
    *len = (size_t)n;
    return s;
}

/* ---- json, stats, safetensors: nesting and size ------------------------------------- */

static void gen_json(void) {
    buf b = {0};
    repeat(&b, "[", 1000000);
    save(&b, "json", "nest-array-1m");
    repeat(&b, "{\"a\":", 300000);
    save(&b, "json", "nest-object-300k");
    puts_(&b, "[\"");
    repeat(&b, "\\u00e9\\ud83d\\ude00ab", 300000);
    puts_(&b, "\"]");
    save(&b, "json", "string-escapes-6mb");
    puts_(&b, "[");
    repeat(&b, "1.5e-300,-0,", 400000);
    puts_(&b, "7]");
    save(&b, "json", "numbers-800k");

    puts_(&b, "{\"format\": \"moee-stats\", \"version\": 1, \"hs\": {\"dim\": 1000000, \"count\": 10, \"mean\": [");
    repeat(&b, "0.5,", 999999);
    puts_(&b, "1], \"std\": [");
    repeat(&b, "1,", 999999);
    puts_(&b, "1]}}");
    save(&b, "stats", "dim-1m");
    repeat(&b, "[", 1000000);
    save(&b, "stats", "nest-1m");

    /* safetensors: 8-byte header length, then a deeply nested header */
    uint64_t len = 1000000;
    put(&b, &len, 8);
    repeat(&b, "[", 1000000);
    save(&b, "safetensors", "header-nest-1m");
    free(b.p);
}

/* ---- tokenizer.json: a long added token, the largest id ----------------------------- */

static void gen_tokenizer_json(void) {
    size_t len;
    char *s = read_all("tests/data/tokenizer/olmoe-bytes-tokenizer.json", &len);
    buf b = {0};
    const char *key = "\"added_tokens\":[";
    char *at = strstr(s, key) + strlen(key);
    /* A raw (special) added token of 100,000 bytes that the probe almost matches. */
    put(&b, s, (size_t)(at - s));
    puts_(&b, "{\"id\":271,\"special\":true,\"content\":\"");
    repeat(&b, "a", 99999);
    puts_(&b, "b\"},");
    puts_(&b, at);
    save(&b, "tokenizer_json", "added-token-100k");
    /* The last vocab entry ("Ń") with ids the loader must refuse cheaply. */
    const char *ids[] = {"144444443", "1073741823", "4294967295", "-1"};
    for (int i = 0; i < 4; i++) {
        char *last = strstr(s, "\"\xC5\x83\":270}");
        put(&b, s, (size_t)(last - s));
        puts_(&b, "\"\xC5\x83\":");
        puts_(&b, ids[i]);
        puts_(&b, last + strlen("\"\xC5\x83\":270"));
        char name[64];
        snprintf(name, sizeof name, "vocab-id-%s", ids[i]);
        save(&b, "tokenizer_json", name);
    }
    /* Deep nesting where the loader looks for the pre-tokenizer. */
    char *pre = strstr(s, "\"pre_tokenizer\":");
    put(&b, s, (size_t)(pre - s));
    puts_(&b, "\"pre_tokenizer\":");
    repeat(&b, "[", 200000);
    save(&b, "tokenizer_json", "nest-200k");
    free(s);
    free(b.p);
}

/* ---- tokenizer_encode: long words, space runs, combining marks, bad bytes ------------ */

static void gen_tokenizer_encode(void) {
    buf b = {0};
    const size_t n = 1 << 20;
    for (int tok = 0; tok < 4; tok++) {
        char name[64], c = (char)tok;
        put(&b, &c, 1);
        for (size_t i = 0; i < n; i++) put(&b, &"abcdefghij"[i % 7], 1);
        snprintf(name, sizeof name, "word-1mb-%d", tok);
        save(&b, "tokenizer_encode", name);
        put(&b, &c, 1);
        repeat(&b, " ", n);
        snprintf(name, sizeof name, "spaces-1mb-%d", tok);
        save(&b, "tokenizer_encode", name);
        put(&b, &c, 1);
        repeat(&b, "e\xCC\x81", n / 3);                  /* e + U+0301: NFC composes each */
        snprintf(name, sizeof name, "combining-1mb-%d", tok);
        save(&b, "tokenizer_encode", name);
        put(&b, &c, 1);
        repeat(&b, "\xCC\x81", n / 2);                   /* U+0301 alone: one long non-starter run */
        snprintf(name, sizeof name, "marks-1mb-%d", tok);
        save(&b, "tokenizer_encode", name);
        c = (char)(tok | 4);                             /* replace invalid UTF-8 */
        put(&b, &c, 1);
        repeat(&b, "\xFF", n / 4);
        snprintf(name, sizeof name, "invalid-256kb-%d", tok);
        save(&b, "tokenizer_encode", name);
        put(&b, &c, 1);
        repeat(&b, "<|endoftext|>", n / 13);             /* added tokens back to back */
        snprintf(name, sizeof name, "added-1mb-%d", tok);
        save(&b, "tokenizer_encode", name);
        c = (char)(tok | 16);                            /* decode a million ids */
        put(&b, &c, 1);
        for (uint32_t i = 0; i < 1000000; i++) { uint32_t id = i % 50000; put(&b, &id, 4); }
        snprintf(name, sizeof name, "decode-1m-ids-%d", tok);
        save(&b, "tokenizer_encode", name);
    }
    free(b.p);
}

/* ---- embed_input: millions of ids, one long line ------------------------------------ */

static void gen_embed_input(void) {
    buf b = {0};
    char c = 2, num[16];
    put(&b, &c, 1);
    for (int i = 0; i < 2000000; i++) {
        snprintf(num, sizeof num, "%d ", i % 50000);
        puts_(&b, num);
    }
    puts_(&b, "\n");
    save(&b, "embed_input", "ids-2m-one-line");
    put(&b, &c, 1);
    repeat(&b, "7\n", 2000000);
    save(&b, "embed_input", "ids-2m-lines");
    c = 0;
    put(&b, &c, 1);
    repeat(&b, "word ", 2000000);
    save(&b, "embed_input", "text-10mb-one-line");
    c = 1;
    put(&b, &c, 1);
    puts_(&b, "{\"text\": \"");
    repeat(&b, "\\u00e9x", 1000000);
    puts_(&b, "\"}\n");
    save(&b, "embed_input", "jsonl-7mb-one-line");
    free(b.p);
}

/* ---- prompt: a long text and a long instruction ------------------------------------- */

static void gen_prompt(void) {
    buf b = {0};
    for (int choice = 0; choice < 12; choice++) {
        char head[4] = {(char)choice, 1, 0, 0}, name[64];
        put(&b, head, 2);
        puts_(&b, "{instruction}{text}");
        put(&b, "", 1);
        repeat(&b, "instruction ", 100000);
        put(&b, "", 1);
        repeat(&b, "text ", 200000);
        snprintf(name, sizeof name, "long-%d", choice);
        save(&b, "prompt", name);
    }
    free(b.p);
}

/* ---- tokenizer_gguf: a vocabulary with a 100,000-byte control token ------------------ */

static void gen_tokenizer_gguf(void) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/tokenizer_gguf", out_dir);
    mkdir(out_dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tokenizer_gguf/control-token-100k.gguf", out_dir);
    static char symbols[256][4];
    const char *tokens[259];
    size_t lens[259];
    int32_t types[259];
    for (unsigned i = 0; i < 256; i++) {
        lens[i] = utf8_encode(byte_level_char(i), (unsigned char *)symbols[i]);
        tokens[i] = symbols[i];
        types[i] = 1;
    }
    char *long_token = malloc(100000);
    memset(long_token, 'a', 99999);
    long_token[99999] = 'b';
    tokens[256] = long_token; lens[256] = 100000; types[256] = 3;
    tokens[257] = "<|endoftext|>"; lens[257] = 13; types[257] = 3;
    tokens[258] = "ab"; lens[258] = 2; types[258] = 1;
    const char *merge = "a b";
    gguf_writer *w = gguf_writer_create(path, err, sizeof err);
    if (!w) { fprintf(stderr, "%s\n", err); failures++; free(long_token); return; }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "olmo");
    gguf_writer_set_str_array(w, "tokenizer.ggml.tokens", tokens, lens, 259);
    gguf_writer_set_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 259);
    gguf_writer_set_str_array(w, "tokenizer.ggml.merges", &merge, NULL, 1);
    if (gguf_writer_begin_data(w, err, sizeof err) || gguf_writer_finish(w, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        failures++;
    }
    free(long_token);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_long OUT_DIR   (run from the repository root)\n");
        return 2;
    }
    out_dir = argv[1];
    gen_json();
    gen_tokenizer_json();
    gen_tokenizer_encode();
    gen_embed_input();
    gen_prompt();
    gen_tokenizer_gguf();
    return failures ? 1 : 0;
}
