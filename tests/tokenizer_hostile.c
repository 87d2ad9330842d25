/* tokenizer_hostile.c: inputs built to make the tokenizer slow or big, with time
 * and memory asserted (generous bounds, far below what the naive code took):
 *   - a 6 KB tokenizer.json whose one id is 144,444,443 or 2^30 - 1 (the old loader
 *     sized its tables by the largest id: 6.6 GB and 18 s);
 *   - a 100,000-byte added token on 1 MB of text (the old matcher re-walked the
 *     token from every position: minutes);
 *   - a 4 MB word, 4 MB of spaces and 4 MB of one combining mark (the old
 *     pre-tokenizer and BPE kept ~35-41 bytes per input byte);
 * and the added-token matcher and long-piece BPE against the obvious quadratic
 * versions on random inputs.
 *
 * Each measured case runs in a forked child: the parent polls its resident size
 * and kills it past a hard limit, then reads its peak (wait4's ru_maxrss) and CPU
 * time. Under AddressSanitizer (quarantine, shadow) only the time is asserted. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer_data.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEMORY_ASSERTED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMORY_ASSERTED 0
#endif
#endif
#ifndef MEMORY_ASSERTED
#define MEMORY_ASSERTED 1
#endif

static char tmpdir[64];

/* ---- running a case in a child, with its time and peak memory ------------------------- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double resident_mb(pid_t pid) {
    char path[64];
    long pages = 0, resident = 0;
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

typedef struct {
    int ok;            /* the child returned 0 and was not killed */
    double seconds;    /* CPU time (user + system): what a loaded machine does not inflate */
    double wall;       /* wall time */
    double peak_mb;    /* peak resident size above what the child started with */
} bounded_run;

/* Runs fn(arg) in a child; kills it past kill_seconds of wall time or kill_mb of growth. */
static bounded_run run_bounded(int (*fn)(void *), void *arg, double kill_seconds, double kill_mb) {
    bounded_run r = {0, 0, 0, 0};
    fflush(NULL);
    double base_mb = resident_mb(getpid()), t0 = now();
    pid_t pid = fork();
    if (pid == 0) _exit(fn(arg) ? 1 : 0);
    if (pid < 0) return r;
    int status = 0, killed = 0;
    struct rusage ru;
    for (;;) {
        pid_t got = wait4(pid, &status, WNOHANG, &ru);
        if (got == pid) break;
        if (!killed && (now() - t0 > kill_seconds || resident_mb(pid) - base_mb > kill_mb)) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    r.wall = now() - t0;
    r.seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    r.peak_mb = (double)ru.ru_maxrss / 1024 - base_mb;
    r.ok = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (killed) fprintf(stderr, "  (killed after %.1f s)\n", r.wall);
    return r;
}

/* ---- a tokenizer.json with one id changed ---------------------------------------------- */

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    fclose(f);
    if (s) { s[n] = 0; *len = (size_t)n; }
    return s;
}

/* Writes the byte-level OLMoE tokenizer.json with `from` replaced by `to` (first
 * occurrence) into path. */
static int write_edited_json(const char *path, const char *from, const char *to) {
    size_t len;
    char *s = read_text(TOKENIZER_DATA "olmoe-bytes-tokenizer.json", &len);
    char *at = s ? strstr(s, from) : NULL;
    FILE *f = at ? fopen(path, "wb") : NULL;
    if (!f) { free(s); return -1; }
    fwrite(s, 1, (size_t)(at - s), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    free(s);
    return fclose(f);
}

static int load_json_case(void *path) {
    char err[256];
    moee_tokenizer *t = tokenizer_load_json(path, NULL, err, sizeof err);
    if (t) { tokenizer_free(t); return 0; }
    return strstr(err, "bad id") ? 0 : 1;   /* refused for the right reason */
}

static void test_huge_ids(void) {
    static const char *const ids[] = {"144444443", "1073741823"};
    char path[128], edit[64];
    snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
    for (int i = 0; i < 2; i++) {
        snprintf(edit, sizeof edit, "\"\xC5\x83\":%s}", ids[i]);   /* the last vocab entry, "Ń" */
        CHECK(write_edited_json(path, "\"\xC5\x83\":270}", edit) == 0);
        bounded_run r = run_bounded(load_json_case, path, 60, 4096);
        CHECKF(r.ok && r.seconds < 5 && (!MEMORY_ASSERTED || r.peak_mb < 512),
               "vocab id %s: ok %d, %.1f s, %.0f MB", ids[i], r.ok, r.seconds, r.peak_mb);
    }
    /* Ids with a gap below the entry count still load (unused ids in between). */
    CHECK(write_edited_json(path, "\"\xC5\x83\":270}", "\"\xC5\x83\":280}") == 0);
    char err[256];
    moee_tokenizer *t = tokenizer_load_json(path, NULL, err, sizeof err);
    CHECKF(t && tokenizer_vocab_size(t) == 281, "%s", t ? "wrong size" : err);
    tokenizer_free(t);
    unlink(path);
}

/* ---- a 100,000-byte added token on 1 MB of text ------------------------------------------ */

enum { LONG_TOKEN = 100000, LONG_TEXT = 1 << 20 };

static int long_token_case(void *path) {
    char err[256];
    moee_tokenizer *t = tokenizer_load_json(path, NULL, err, sizeof err);
    if (!t) { fprintf(stderr, "%s\n", err); return 1; }
    /* 1 MB of 'a': every position starts the long tokens' prefix, none matches. */
    char *text = malloc(LONG_TEXT + LONG_TOKEN + 2);
    memset(text, 'a', LONG_TEXT);
    tokenizer_ids ids = {0};
    int bad = tokenizer_encode(t, text, LONG_TEXT, 0, &ids, err, sizeof err) || ids.n != LONG_TEXT;
    for (size_t i = 0; !bad && i < ids.n; i++) bad = ids.ids[i] != ids.ids[0] || ids.ids[0] >= 271;
    /* "x" + the raw token + "y" + the normalized one: both found. */
    size_t n = 0;
    text[n++] = 'x';
    memset(text + n, 'a', LONG_TOKEN - 1); n += LONG_TOKEN - 1;
    text[n++] = 'b';
    text[n++] = 'y';
    memset(text + n, 'a', LONG_TOKEN - 1); n += LONG_TOKEN - 1;
    text[n++] = 'c';
    bad = bad || tokenizer_encode(t, text, n, 0, &ids, err, sizeof err) || ids.n != 4 || ids.ids[1] != 271 ||
          ids.ids[3] != 272;
    tokenizer_ids_free(&ids);
    free(text);
    tokenizer_free(t);
    return bad;
}

static void test_long_added_token(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
    /* Two added tokens of 100,000 bytes: 'a' x 99,999 then 'b' (raw) or 'c' (normalized). */
    size_t extra = 2 * LONG_TOKEN + 256;
    char *tokens = malloc(extra), *p = tokens;
    for (int k = 0; k < 2; k++) {
        p += sprintf(p, "{\"id\":%d,\"content\":\"", 271 + k);
        memset(p, 'a', LONG_TOKEN - 1);
        p += LONG_TOKEN - 1;
        p += sprintf(p, "%c\",\"special\":%s,\"normalized\":%s},", k ? 'c' : 'b', k ? "false" : "true",
                     k ? "true" : "false");
    }
    char *edit = malloc(extra + 32);
    snprintf(edit, extra + 32, "\"added_tokens\":[%s", tokens);
    CHECK(write_edited_json(path, "\"added_tokens\":[", edit) == 0);
    free(tokens);
    free(edit);
    bounded_run r = run_bounded(long_token_case, path, 60, 4096);
    CHECKF(r.ok && r.seconds < 5, "100 KB added token on 1 MB: ok %d, %.1f s", r.ok, r.seconds);
    unlink(path);
}

/* ---- the matcher against the obvious one ------------------------------------------------ */

typedef struct { char s[8]; size_t len; } small_token;

/* Leftmost-longest by trying every token at every position (first id on ties). */
static int naive_find(const small_token *tok, int n_tok, const char *s, size_t n, size_t from,
                      size_t *start, size_t *end, int32_t *id) {
    for (size_t i = from; i < n; i++) {
        int best = -1;
        for (int k = 0; k < n_tok; k++)
            if (tok[k].len <= n - i && !memcmp(s + i, tok[k].s, tok[k].len) &&
                (best < 0 || tok[k].len > tok[best].len)) best = k;
        if (best >= 0) { *start = i; *end = i + tok[best].len; *id = best; return 1; }
    }
    return 0;
}

static void test_matcher_oracle(void) {
    unsigned seed = 12345;
    int mismatches = 0;
    added_scan sc = {0};
    for (int round = 0; round < 3000; round++) {
        small_token tok[8];
        int n_tok = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 8;
        added_matcher m = {0};
        for (int k = 0; k < n_tok; k++) {
            tok[k].len = 1 + ((seed = seed * 1103515245u + 12345u) >> 16) % 6;
            for (size_t j = 0; j < tok[k].len; j++) tok[k].s[j] = "abc"[((seed = seed * 1103515245u + 12345u) >> 16) % 3];
            /* A repeated string keeps its first id, as the matcher does. */
            int dup = 0;
            for (int q = 0; q < k; q++) dup |= tok[q].len == tok[k].len && !memcmp(tok[q].s, tok[k].s, tok[k].len);
            if (dup) tok[k].len = 7, memcpy(tok[k].s, "zzzzzzz", 7);
            added_matcher_add(&m, tok[k].s, tok[k].len, k);
        }
        added_matcher_finish(&m);
        char text[64];
        size_t n = ((seed = seed * 1103515245u + 12345u) >> 16) % 60;
        for (size_t j = 0; j < n; j++) text[j] = "abc"[((seed = seed * 1103515245u + 12345u) >> 16) % 3];
        added_scan_begin(&sc, &m, (const unsigned char *)text, n);
        size_t from = 0, s1, e1, s2, e2;
        int32_t id1, id2;
        for (;;) {
            int a = added_scan_next(&sc, &s1, &e1, &id1), b = naive_find(tok, n_tok, text, n, from, &s2, &e2, &id2);
            if (a != b || (a && (s1 != s2 || e1 != e2 || id1 != id2))) { mismatches++; break; }
            if (!a) break;
            from = e2;
        }
        added_matcher_free(&m);
    }
    added_scan_free(&sc);
    CHECKF(mismatches == 0, "%d of 3000 random cases differ from the naive matcher", mismatches);
}

/* ---- BPE on long pieces against the obvious loop ---------------------------------------- */

/* Merges the lowest-ranked adjacent pair, leftmost among equals, until none is left. */
static size_t naive_bpe(const bpe_merges *m, int32_t *ids, size_t n) {
    for (;;) {
        size_t best = SIZE_MAX;
        int32_t best_rank = INT32_MAX;
        for (size_t i = 0; i + 1 < n; i++) {
            const bpe_merge_slot *slot = bpe_merges_find(m, ids[i], ids[i + 1]);
            if (slot && slot->rank < best_rank) { best_rank = slot->rank; best = i; }
        }
        if (best == SIZE_MAX) return n;
        ids[best] = bpe_merges_find(m, ids[best], ids[best + 1])->merged;
        memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof *ids);
        n--;
    }
}

static void test_bpe_oracle(void) {
    unsigned seed = 777;
    int mismatches = 0;
    bpe_scratch sc = {0};
    tokenizer_ids out = {0};
    for (int round = 0; round < 2000; round++) {
        /* Tokens 0-3 are the bytes 'a'-'d' ('e' has none: dropped); every merge
         * makes a new token from two existing ones, ranks in a random order. */
        int32_t byte_ids[256];
        for (int b = 0; b < 256; b++) byte_ids[b] = b >= 'a' && b <= 'd' ? b - 'a' : -1;
        bpe_merges m;
        int n_merges = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
        bpe_merges_init(&m, (size_t)n_merges);
        for (int r = 0; r < n_merges; r++) {
            int32_t left = (int32_t)(((seed = seed * 1103515245u + 12345u) >> 16) % (unsigned)(4 + r));
            int32_t right = (int32_t)(((seed = seed * 1103515245u + 12345u) >> 16) % (unsigned)(4 + r));
            int32_t rank = (int32_t)(((seed = seed * 1103515245u + 12345u) >> 16) % 20);
            bpe_merges_add(&m, left, right, rank, 4 + r);
        }
        unsigned char piece[300];
        int32_t ids[300];
        size_t n = 17 + ((seed = seed * 1103515245u + 12345u) >> 16) % 280, k = 0;
        for (size_t i = 0; i < n; i++) {
            piece[i] = (unsigned char)"abcde"[((seed = seed * 1103515245u + 12345u) >> 16) % (round % 2 ? 5 : 4)];
            if (byte_ids[piece[i]] >= 0) ids[k++] = byte_ids[piece[i]];
        }
        k = naive_bpe(&m, ids, k);
        out.n = 0;
        if (bpe_encode_piece(&m, byte_ids, piece, n, &sc, &out) || out.n != k || memcmp(out.ids, ids, k * sizeof *ids))
            mismatches++;
        bpe_merges_free(&m);
    }
    bpe_scratch_free(&sc);
    tokenizer_ids_free(&out);
    CHECKF(mismatches == 0, "%d of 2000 random pieces differ from the obvious BPE loop", mismatches);
}

/* ---- memory per input byte: a 4 MB word, 4 MB of spaces, 4 MB of U+0301 -------------------------------- */

/* 4 MB keeps the test to seconds; under ASan, where memory is not asserted, 1 MB. */
enum { BIG_TEXT = MEMORY_ASSERTED ? 4 << 20 : 1 << 20 };
typedef struct { const moee_tokenizer *t; int kind; } big_case;

static int big_text_case(void *arg) {
    const big_case *c = arg;
    char *text = malloc(BIG_TEXT), err[256];
    for (size_t i = 0; i < BIG_TEXT; i++)
        text[i] = c->kind == 0 ? "abcdefghij"[i % 7] : c->kind == 1 ? ' ' : "\xCC\x81"[i % 2];
    tokenizer_ids ids = {0};
    int rc = tokenizer_encode(c->t, text, BIG_TEXT, 0, &ids, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    tokenizer_ids_free(&ids);
    free(text);
    return rc;
}

static void test_big_texts(void) {
    static const char *const kinds[3] = {"one word", "spaces", "U+0301 (NFC's longest case)"};
    test_vocab v[3];
    const char *files[3] = {TOKENIZER_DATA "olmoe.gguf.gz", TOKENIZER_DATA "qwen2.gguf.gz",
                            TOKENIZER_DATA "ggml-vocab-deepseek-llm.gguf.gz"};
    for (int f = 0; f < 3; f++) {
        if (test_vocab_load(&v[f], files[f])) { CHECK(0); continue; }
        for (int kind = 0; kind < 3; kind++) {
            big_case c = {v[f].t, kind};
            bounded_run r = run_bounded(big_text_case, &c, 120, 4096);
            double per_byte = r.peak_mb * (1 << 20) / BIG_TEXT;
            printf("  %s, %d MB of %s: %.1f s, %.1f bytes per input byte\n", tokenizer_pre_name(v[f].t),
                   BIG_TEXT >> 20, kinds[kind], r.seconds, per_byte);
            /* The input itself is 1 byte per byte; the bound is twice the aim of ~10. */
            CHECKF(r.ok && (!MEMORY_ASSERTED || per_byte < 20), "%s, %d MB of %s: ok %d, %.1f bytes per byte",
                   tokenizer_pre_name(v[f].t), BIG_TEXT >> 20, kinds[kind], r.ok, per_byte);
        }
        test_vocab_free(&v[f]);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/moee-tokhostile-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_huge_ids();
    test_long_added_token();
    test_matcher_oracle();
    test_bpe_oracle();
    test_big_texts();
    rmdir(tmpdir);
    return test_summary("tokenizer_hostile");
}
