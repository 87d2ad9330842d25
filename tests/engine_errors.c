/* engine_errors: bad input gives one clear error line, never a crash.
 * Hostile GGUFs are made by patching copies of a golden file in a temp dir:
 * truncations, an unknown architecture, a missing tensor, a mis-shaped tensor, a
 * wrong tensor type, missing and out-of-range metadata, and random header damage.
 * Then the forward pass's own checks: empty sequence, token id out of range,
 * sequence longer than the context length, batch larger than the context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "moee.h"
#include "engine/embed.h"
#include "weights/gguf.h"

#define SRC "tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf"

static unsigned char *orig;
static size_t orig_size;
static char dir[64];

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const unsigned char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* Offset of the first occurrence of needle in buf, or (size_t)-1. */
static size_t find(const unsigned char *buf, size_t n, const void *needle, size_t len) {
    for (size_t i = 0; i + len <= n; i++)
        if (!memcmp(buf + i, needle, len)) return i;
    return (size_t)-1;
}

/* Offset just past the GGUF string "s" (u64 length + bytes) in buf. */
static size_t after_gguf_string(const unsigned char *buf, size_t n, const char *s) {
    unsigned char pat[128];
    uint64_t len = strlen(s);
    memcpy(pat, &len, 8);
    memcpy(pat + 8, s, len);
    size_t at = find(buf, n, pat, 8 + len);
    return at == (size_t)-1 ? at : at + 8 + len;
}

/* Loads path, expecting failure with an error that names the file, contains `what`,
 * and is one line. */
static void expect_load_error(const char *path, const char *what, const char *label) {
    moee_model *m = NULL;
    char err[512] = "";
    int rc = moee_model_load(path, &m, err, sizeof err);
    CHECKF(rc != 0 && m == NULL, "%s: loaded", label);
    if (rc == 0) { moee_model_free(m); return; }
    CHECKF(strstr(err, path) != NULL, "%s: error does not name the file: %s", label, err);
    CHECKF(strstr(err, what) != NULL, "%s: expected '%s' in: %s", label, what, err);
    CHECKF(strchr(err, '\n') == NULL, "%s: error has a newline: %s", label, err);
    printf("  %-22s -> %s\n", label, err);
}

/* A copy of the golden file with `len` bytes at `at` replaced. */
static void patched(const char *name, size_t at, const void *bytes, size_t len, char *path, size_t path_size) {
    unsigned char *copy = malloc(orig_size);
    memcpy(copy, orig, orig_size);
    CHECKF(at != (size_t)-1 && at + len <= orig_size, "%s: patch site not found", name);
    if (at != (size_t)-1 && at + len <= orig_size) memcpy(copy + at, bytes, len);
    snprintf(path, path_size, "%s/%s", dir, name);
    write_file(path, copy, orig_size);
    free(copy);
}

static void test_hostile_files(void) {
    char path[256];
    expect_load_error("tests/data/no-such-file.gguf", "no-such-file", "missing file");

    /* truncations: inside the header, the metadata, the tensor infos, the data */
    size_t cuts[] = { 0, 3, 10, 30, 200, 1000, 3000, orig_size / 2, orig_size - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        snprintf(path, sizeof path, "%s/trunc%zu.gguf", dir, i);
        write_file(path, orig, cuts[i]);
        expect_load_error(path, "", "truncated");
    }

    /* the architecture's value (the key's other uses stay): "olmoe" -> "llama" */
    size_t at = after_gguf_string(orig, orig_size, "general.architecture");
    patched("arch.gguf", at + 4 + 8, "llama", 5, path, sizeof path);
    expect_load_error(path, "unknown architecture 'llama'", "unknown architecture");

    /* a tensor renamed away */
    at = find(orig, orig_size, "blk.2.attn_k.weight", 19);
    patched("missing.gguf", at, "blk.2.attn_k.weighX", 19, path, sizeof path);
    expect_load_error(path, "tensor blk.2.attn_k.weight is missing", "missing tensor");

    at = find(orig, orig_size, "blk.3.ffn_up_exps.weight", 24);
    patched("missing_exps.gguf", at, "blk.3.ffn_up_exps.weighX", 24, path, sizeof path);
    expect_load_error(path, "blk.3.ffn_up_exps.weight is missing", "missing expert tensor");

    /* the router's shape {64, 8} -> {8, 64}: same size, wrong shape */
    at = after_gguf_string(orig, orig_size, "blk.1.ffn_gate_inp.weight");
    uint64_t swapped[2] = { 8, 64 };
    patched("shape.gguf", at + 4, swapped, sizeof swapped, path, sizeof path);
    expect_load_error(path, "blk.1.ffn_gate_inp.weight has shape {8, 64}, expected {64, 8}", "mis-shaped tensor");

    /* a norm stored as f16 (the forward pass reads norms as f32) */
    at = after_gguf_string(orig, orig_size, "blk.0.ffn_norm.weight");
    uint32_t f16 = 1;
    patched("type.gguf", at + 4 + 8, &f16, 4, path, sizeof path);
    expect_load_error(path, "blk.0.ffn_norm.weight has type f16, expected f32", "wrong tensor type");

    /* an unsupported type id (ggml's Q4_K = 12) on an expert tensor */
    at = after_gguf_string(orig, orig_size, "blk.0.ffn_down_exps.weight");
    uint32_t q4k = 12;
    patched("qtype.gguf", at + 4 + 3 * 8, &q4k, 4, path, sizeof path);
    expect_load_error(path, "", "unsupported type");

    /* required metadata missing, and out of range */
    at = find(orig, orig_size, "olmoe.attention.layer_norm_rms_epsilon", 38);
    patched("eps.gguf", at, "olmoe.attention.layer_norm_rms_epsiloX", 38, path, sizeof path);
    expect_load_error(path, "olmoe.attention.layer_norm_rms_epsilon is missing", "missing metadata");

    at = after_gguf_string(orig, orig_size, "olmoe.expert_used_count");
    uint32_t nine = 9;
    patched("k.gguf", at + 4, &nine, 4, path, sizeof path);
    expect_load_error(path, "olmoe.expert_used_count = 9 is out of range", "k > E");

    at = after_gguf_string(orig, orig_size, "olmoe.attention.head_count_kv");
    uint32_t three = 3;
    patched("kv.gguf", at + 4, &three, 4, path, sizeof path);
    expect_load_error(path, "head_count", "heads % kv_heads");
}

/* Random damage to the header (metadata and tensor infos): loading either fails
 * cleanly or gives a model whose forward pass runs. ASan watches for the rest. */
static void test_random_damage(void) {
    size_t header = after_gguf_string(orig, orig_size, "output.weight") + 4 + 16 + 4 + 8;
    unsigned char *copy = malloc(orig_size);
    uint32_t rng = 7;
    int loaded = 0, failed = 0;
    char path[256];
    snprintf(path, sizeof path, "%s/damaged.gguf", dir);
    for (int iter = 0; iter < 150; iter++) {
        memcpy(copy, orig, orig_size);
        for (int j = 0; j < 1 + iter % 4; j++) {
            rng = rng * 1664525u + 1013904223u;
            size_t at = (rng >> 4) % header;
            rng = rng * 1664525u + 1013904223u;
            copy[at] = (iter & 1) ? (unsigned char)(rng >> 24) : copy[at] ^ (unsigned char)(1u << (rng >> 29));
        }
        write_file(path, copy, orig_size);
        moee_model *m;
        char err[512];
        if (moee_model_load(path, &m, err, sizeof err) == 0) {
            loaded++;
            moee_context *ctx;
            int32_t ids[3] = { 1, 2, 3 };
            const int32_t *pids = ids;
            int64_t len = 3;
            if (moee_context_create(m, 8, 0, &ctx, err, sizeof err) == 0) {
                moee_forward(ctx, &pids, &len, 1, MOEE_POOL_LAST, NULL, NULL, NULL, err, sizeof err);
                moee_context_free(ctx);
            }
            moee_model_free(m);
        } else {
            failed++;
            if (strchr(err, '\n') || !err[0]) { CHECKF(0, "bad error line: '%s'", err); }
        }
    }
    printf("  random header damage: %d loaded, %d rejected\n", loaded, failed);
    CHECK(failed > 0);
    free(copy);
}

static void expect_forward_error(moee_context *ctx, const int32_t *const *ids, const int64_t *lens,
                                 int64_t n, moee_pool pool, const char *what, const char *label) {
    char err[512] = "";
    float hs[64 * 8];
    int rc = moee_forward(ctx, ids, lens, n, pool, hs, NULL, NULL, err, sizeof err);
    CHECKF(rc != 0, "%s: accepted", label);
    CHECKF(strstr(err, what) != NULL, "%s: expected '%s' in: %s", label, what, err);
    CHECKF(strchr(err, '\n') == NULL, "%s: newline in error", label);
    printf("  %-22s -> %s\n", label, err);
}

static void test_forward_errors(void) {
    moee_model *m;
    char err[512];
    int rc = moee_model_load(SRC, &m, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return;
    moee_context *ctx;
    rc = moee_context_create(m, 4100, 0, &ctx, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) { moee_model_free(m); return; }
    CHECK(moee_context_create(m, 0, 0, &(moee_context *){ NULL }, err, sizeof err) != 0);

    int32_t *big = calloc(4200, sizeof(int32_t));
    int32_t good[3] = { 5, 6, 7 }, neg[3] = { 5, -1, 7 }, high[3] = { 5, 6, 512 };
    const int32_t *ids2[2] = { good, high };
    int64_t lens2[2] = { 3, 3 };
    expect_forward_error(ctx, ids2, lens2, 2, MOEE_POOL_LAST, "sequence 1, position 2: token id 512 is out of range",
                         "id too large");
    ids2[1] = neg;
    expect_forward_error(ctx, ids2, lens2, 2, MOEE_POOL_LAST, "sequence 1, position 1: token id -1", "negative id");
    ids2[1] = good;
    lens2[1] = 0;
    expect_forward_error(ctx, ids2, lens2, 2, MOEE_POOL_LAST, "sequence 1 is empty", "empty sequence");
    const int32_t *ids1[1] = { big };
    int64_t len1[1] = { 4097 };
    expect_forward_error(ctx, ids1, len1, 1, MOEE_POOL_LAST, "context length 4096", "too long");
    const int32_t *ids3[2] = { big, big };
    int64_t lens3[2] = { 4000, 200 };
    expect_forward_error(ctx, ids3, lens3, 2, MOEE_POOL_LAST, "more than the context's 4100 tokens", "batch too big");
    lens2[1] = 3;
    expect_forward_error(ctx, ids2, lens2, 2, (moee_pool)7, "unknown pooling", "bad pooling");
    /* the context still works after errors */
    rc = moee_forward(ctx, ids2, lens2, 2, MOEE_POOL_LAST, NULL, NULL, NULL, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    free(big);
    moee_context_free(ctx);
    moee_model_free(m);
}

/* A model whose weights make the activations non-finite (found by
 * tests/fuzz/fuzz_model.c: huge or NaN norm weights) loads, but embedding with it
 * must be an error naming the sequence, not NaN rows. Here: output_norm[0] = NaN. */
static void test_nonfinite_weights(void) {
    char err[512] = "", path[256];
    gguf_file *g = gguf_open_buffer(orig, orig_size, SRC, err, sizeof err);
    CHECKF(g != NULL, "%s", err);
    if (!g) return;
    const gguf_tensor *t = gguf_find_tensor(g, "output_norm.weight");
    CHECK(t != NULL);
    size_t at = t ? (size_t)((const unsigned char *)t->data - orig) : (size_t)-1;
    gguf_close(g);
    float nan = NAN;
    patched("nan_norm.gguf", at, &nan, sizeof nan, path, sizeof path);
    moee_model *m;
    int rc = moee_model_load(path, &m, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return;
    moee_embed_options o;
    moee_embed_options_init(&o);
    int32_t a[3] = { 5, 6, 7 }, b[2] = { 8, 9 };
    const int32_t *ids[2] = { a, b };
    int64_t lens[2] = { 3, 2 };
    float hs[2 * 64], rw[2 * 32];
    moee_input in = {.ids = ids, .id_lens = lens, .n = 2};
    moee_output out = {.raw_hs = hs, .raw_rw = rw};
    err[0] = 0;
    rc = moee_embed(m, &o, &in, &out, err, sizeof err);
    CHECKF(rc != 0, "NaN weights gave an embedding");
    CHECKF(strstr(err, "sequence ") && strstr(err, "non-finite"), "unexpected error: %s", err);
    CHECK(strchr(err, '\n') == NULL);
    printf("  %-22s -> %s\n", "non-finite weights", err);
    moee_model_free(m);
}

int main(void) {
    orig = read_all(SRC, &orig_size);
    CHECK(orig != NULL);
    if (!orig) return test_summary("engine_errors");
    snprintf(dir, sizeof dir, "/tmp/moee_engine_errors_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    test_hostile_files();
    test_random_damage();
    test_forward_errors();
    test_nonfinite_weights();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(orig);
    return test_summary("engine_errors");
}
