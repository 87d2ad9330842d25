/* engine_embed_golden.c: moee_embed_ids on the golden GGUF models (llama.cpp's F32
 * files) against expected.safetensors:
 *   HS   last token = hidden.K[n-1];  mean pool = mean over the rows of hidden.K
 *   RW   logits = router_logits.K[l][n-1] concatenated over MoE layers l;
 *        probs = per-layer softmax of those; mean pool = mean over tokens
 * then the moee-sum identity on the standardized vectors, and invariance of every
 * output bit to batch_tokens, thread count and input order. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/embed.h"
#include "moee.h"
#include "test.h"
#include "weights/safetensors.h"

#define MAX_SEQS 8

typedef struct {
    int n;
    int32_t *ids[MAX_SEQS];
    int64_t lens[MAX_SEQS];
    float *hidden[MAX_SEQS];   /* [len][H] */
    float *logits[MAX_SEQS];   /* [L][len][E] */
} expected;

static float *tensor_f32(const st_checkpoint *c, const char *name, int64_t *n_elements) {
    const st_tensor *t = st_find(c, name);
    if (!t) return NULL;
    float *x = malloc((size_t)t->n_elements * sizeof *x);
    if (x && st_to_f32(t, x)) { free(x); return NULL; }
    if (n_elements) *n_elements = t->n_elements;
    return x;
}

static int load_expected(const char *path, expected *e) {
    char err[512], name[64];
    memset(e, 0, sizeof *e);
    st_checkpoint *c = st_open(path, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c) return -1;
    for (e->n = 0; e->n < MAX_SEQS; e->n++) {
        snprintf(name, sizeof name, "ids.%d", e->n);
        const st_tensor *t = st_find(c, name);
        if (!t) break;
        e->lens[e->n] = t->n_elements;
        e->ids[e->n] = malloc((size_t)t->n_elements * sizeof(int32_t));
        memcpy(e->ids[e->n], t->data, (size_t)t->n_elements * sizeof(int32_t));
        snprintf(name, sizeof name, "hidden.%d", e->n);
        e->hidden[e->n] = tensor_f32(c, name, NULL);
        snprintf(name, sizeof name, "router_logits.%d", e->n);
        e->logits[e->n] = tensor_f32(c, name, NULL);
        CHECK(e->hidden[e->n] && e->logits[e->n]);
    }
    st_close(c);
    return e->n > 0 ? 0 : -1;
}

static void free_expected(expected *e) {
    for (int i = 0; i < e->n; i++) { free(e->ids[i]); free(e->hidden[i]); free(e->logits[i]); }
}

/* The expected embedding rows of sequence s. */
static void expected_rows(const expected *e, int s, int64_t H, int64_t L, int64_t E, int mean, int probs,
                          double *hs, double *rw) {
    int64_t n = e->lens[s];
    for (int64_t j = 0; j < H; j++) {
        double acc = 0;
        for (int64_t t = mean ? 0 : n - 1; t < n; t++) acc += e->hidden[s][t * H + j];
        hs[j] = acc / (mean ? (double)n : 1.0);
    }
    for (int64_t l = 0; l < L; l++) {
        for (int64_t x = 0; x < E; x++) rw[l * E + x] = 0;
        for (int64_t t = mean ? 0 : n - 1; t < n; t++) {
            const float *row = e->logits[s] + (l * n + t) * E;
            double mx = row[0], sum = 0, p[256];
            for (int64_t x = 1; x < E; x++) mx = row[x] > mx ? row[x] : mx;
            for (int64_t x = 0; x < E; x++) sum += (p[x] = exp(row[x] - mx));
            for (int64_t x = 0; x < E; x++) rw[l * E + x] += probs ? p[x] / sum : row[x];
        }
        for (int64_t x = 0; x < E; x++) rw[l * E + x] /= mean ? (double)n : 1.0;
    }
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void golden(const char *gguf, const char *expected_path, const char *label) {
    char err[512];
    moee_model *m = NULL;
    CHECKF(moee_model_load(gguf, &m, err, sizeof err) == 0, "%s", err);
    expected e;
    if (!m || load_expected(expected_path, &e)) { moee_model_free(m); return; }
    const moee_model_info *info = moee_model_get_info(m);
    int64_t H = info->hs_dim, R = info->rw_dim, L = info->n_moe_layers, E = info->n_experts;
    int n = e.n;
    float *hs = malloc(sizeof(float) * (size_t)(n * H)), *rw = malloc(sizeof(float) * (size_t)(n * R));
    float *hs2 = malloc(sizeof(float) * (size_t)(n * H)), *rw2 = malloc(sizeof(float) * (size_t)(n * R));
    double *want_h = malloc(sizeof(double) * (size_t)H), *want_r = malloc(sizeof(double) * (size_t)R);
    moee_embed_options o;
    moee_embed_counts counts;

    /* values: last/mean x logits/probs */
    for (int mean = 0; mean < 2; mean++)
        for (int probs = 0; probs < 2; probs++) {
            moee_embed_options_init(&o);
            o.pool = mean ? MOEE_POOL_MEAN : MOEE_POOL_LAST;
            o.rw_source = probs ? MOEE_RW_PROBS : MOEE_RW_LOGITS;
            int rc = moee_embed_ids(m, &o, (const int32_t *const *)e.ids, e.lens, n, hs, rw, &counts, NULL, err, sizeof err);
            CHECKF(rc == 0, "%s: %s", label, err);
            if (rc) continue;
            int64_t tokens = 0;
            for (int s = 0; s < n; s++) tokens += e.lens[s];
            CHECK(counts.texts == n && counts.tokens == tokens && counts.truncated == 0);
            double worst_h = 0, worst_r = 0;
            for (int s = 0; s < n; s++) {
                expected_rows(&e, s, H, L, E, mean, probs, want_h, want_r);
                for (int64_t j = 0; j < H; j++) worst_h = fmax(worst_h, fabs(hs[s * H + j] - want_h[j]));
                for (int64_t j = 0; j < R; j++) worst_r = fmax(worst_r, fabs(rw[s * R + j] - want_r[j]));
            }
            CHECKF(worst_h <= 1e-5, "%s %s: HS off by %g", label, mean ? "mean" : "last", worst_h);
            CHECKF(worst_r <= 1e-5, "%s %s %s: RW off by %g", label, mean ? "mean" : "last",
                   probs ? "probs" : "logits", worst_r);
        }

    /* auto = logits for olmoe/qwen2moe, probs for deepseek */
    moee_embed_options_init(&o);
    CHECK(moee_rw_source_resolve(m, MOEE_RW_AUTO) ==
          (strcmp(info->arch, "deepseek") ? MOEE_RW_LOGITS : MOEE_RW_PROBS));

    /* invariance: batch budget, threads, order (reversed) give the same bits */
    CHECK(moee_embed_ids(m, &o, (const int32_t *const *)e.ids, e.lens, n, hs, rw, NULL, NULL, err, sizeof err) == 0);
    static const int64_t budgets[] = {1, 70, 100000};
    for (size_t b = 0; b < 3; b++) {
        int threads = 2 - (int)(b % 2);
        moee_set_threads(threads);
        moee_embed_options p = o;
        p.batch_tokens = budgets[b];
        int32_t *rev_ids[MAX_SEQS];
        int64_t rev_lens[MAX_SEQS];
        for (int s = 0; s < n; s++) { rev_ids[s] = e.ids[n - 1 - s]; rev_lens[s] = e.lens[n - 1 - s]; }
        CHECK(moee_embed_ids(m, &p, (const int32_t *const *)rev_ids, rev_lens, n, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
        int same = 1;
        for (int s = 0; s < n; s++)
            same &= !memcmp(hs2 + s * H, hs + (n - 1 - s) * H, sizeof(float) * (size_t)H) &&
                    !memcmp(rw2 + s * R, rw + (n - 1 - s) * R, sizeof(float) * (size_t)R);
        CHECKF(same, "%s: budget %lld, %d threads: rows changed", label, (long long)budgets[b], threads);
        /* one sequence alone gives the same row as in the batch */
        CHECK(moee_embed_ids(m, &p, (const int32_t *const *)&e.ids[2], &e.lens[2], 1, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
        CHECK(!memcmp(hs2, hs + 2 * H, sizeof(float) * (size_t)H) && !memcmp(rw2, rw + 2 * R, sizeof(float) * (size_t)R));
    }
    moee_set_threads(0);

    /* moee-sum of standardized parts: u_a . u_b = cos(HS'_a, HS'_b) + alpha cos(RW'_a, RW'_b) */
    moee_stats sh, sr;
    CHECK(moee_stats_compute(hs, n, H, &sh, err, sizeof err) == 0);
    CHECK(moee_stats_compute(rw, n, R, &sr, err, sizeof err) == 0);
    moee_stats_apply(&sh, hs, n);
    moee_stats_apply(&sr, rw, n);
    float *u = malloc(sizeof(float) * (size_t)(n * (H + R)));
    const float alpha = 0.7f;
    moee_kind_combine(MOEE_KIND_MOEE_SUM, hs, rw, n, H, R, alpha, u);
    double worst = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double ch = dot(hs + a * H, hs + b * H, H) / sqrt(dot(hs + a * H, hs + a * H, H) * dot(hs + b * H, hs + b * H, H));
            double cr = dot(rw + a * R, rw + b * R, R) / sqrt(dot(rw + a * R, rw + a * R, R) * dot(rw + b * R, rw + b * R, R));
            worst = fmax(worst, fabs(dot(u + a * (H + R), u + b * (H + R), H + R) - (ch + alpha * cr)));
        }
    CHECKF(worst <= 1e-5, "%s: moee-sum identity off by %g", label, worst);
    moee_stats_free(&sh);
    moee_stats_free(&sr);
    free(u);

    /* errors name the sequence */
    int32_t bad_id = info->vocab_size;
    const int32_t *bad_ids[2] = {e.ids[0], &bad_id};
    int64_t bad_lens[2] = {e.lens[0], 1};
    CHECK(moee_embed_ids(m, &o, bad_ids, bad_lens, 2, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "sequence 1: id") != NULL, "%s", err);
    bad_lens[1] = 0;
    CHECK(moee_embed_ids(m, &o, bad_ids, bad_lens, 2, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "sequence 1:") != NULL, "%s", err);
    o.pool = MOEE_POOL_NONE;
    CHECK(moee_embed_ids(m, &o, bad_ids, bad_lens, 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    /* the golden files carry no usable tokenizer: text input says so */
    const char *text = "hello";
    size_t text_len = 5;
    moee_embed_options_init(&o);
    CHECK(moee_embed_raw(m, &o, &text, &text_len, 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "tokenizer") != NULL, "%s", err);

    free(hs); free(rw); free(hs2); free(rw2); free(want_h); free(want_r);
    free_expected(&e);
    moee_model_free(m);
}

/* A copy of a GGUF with ARCH.context_length (a u32) set to `context`, in dir. */
static int copy_with_context(const char *gguf, const char *arch, uint32_t context, const char *out) {
    FILE *f = fopen(gguf, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    int ok = buf && fread(buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    char key[64];
    int key_len = snprintf(key, sizeof key, "%s.context_length", arch);
    long at = -1;
    for (long i = 8; ok && i + key_len + 8 <= size; i++)
        if (!memcmp(buf + i, key, (size_t)key_len) && buf[i + key_len] == 4 && !buf[i + key_len + 1] &&
            !buf[i + key_len + 2] && !buf[i + key_len + 3]) { at = i + key_len + 4; break; }   /* type UINT32 */
    ok = ok && at > 0;
    if (ok) for (int b = 0; b < 4; b++) buf[at + b] = (unsigned char)(context >> (8 * b));
    FILE *o = ok ? fopen(out, "wb") : NULL;
    ok = o && fwrite(buf, 1, (size_t)size, o) == (size_t)size;
    if (o) fclose(o);
    free(buf);
    return ok ? 0 : -1;
}

/* Truncation: on a copy whose context is 16 tokens, a longer sequence keeps its
 * first 16 ids (the same row as those 16 ids give on the original model), or is an
 * error with truncate off. */
static void truncation(const char *gguf, const char *expected_path) {
    char dir[] = "/tmp/moee-embed-golden-XXXXXX", path[128], err[512];
    if (!mkdtemp(dir)) { CHECK(0); return; }
    snprintf(path, sizeof path, "%s/ctx16.gguf", dir);
    CHECK(copy_with_context(gguf, "olmoe", 16, path) == 0);
    moee_model *m = NULL, *small = NULL;
    expected e;
    CHECK(moee_model_load(gguf, &m, err, sizeof err) == 0);
    CHECKF(moee_model_load(path, &small, err, sizeof err) == 0, "%s", err);
    if (!m || !small || load_expected(expected_path, &e)) { moee_model_free(m); moee_model_free(small); return; }
    CHECK(moee_model_get_info(small)->context_length == 16);
    const moee_model_info *info = moee_model_get_info(m);
    int64_t H = info->hs_dim, R = info->rw_dim, n = e.n, cut_lens[MAX_SEQS], truncated = 0, tokens = 0;
    for (int s = 0; s < n; s++) {
        cut_lens[s] = e.lens[s] < 16 ? e.lens[s] : 16;
        truncated += e.lens[s] > 16;
        tokens += cut_lens[s];
    }
    float *hs = malloc(sizeof(float) * (size_t)(n * H)), *rw = malloc(sizeof(float) * (size_t)(n * R));
    float *hs2 = malloc(sizeof(float) * (size_t)(n * H)), *rw2 = malloc(sizeof(float) * (size_t)(n * R));
    moee_embed_options o;
    moee_embed_options_init(&o);
    moee_embed_counts counts;
    CHECK(moee_embed_ids(small, &o, (const int32_t *const *)e.ids, e.lens, n, hs, rw, &counts, NULL, err, sizeof err) == 0);
    CHECK(counts.texts == n && counts.truncated == truncated && counts.tokens == tokens && truncated == 3);
    CHECK(moee_embed_ids(m, &o, (const int32_t *const *)e.ids, cut_lens, n, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
    CHECK(!memcmp(hs, hs2, sizeof(float) * (size_t)(n * H)) && !memcmp(rw, rw2, sizeof(float) * (size_t)(n * R)));
    o.truncate = 0;
    CHECK(moee_embed_ids(small, &o, (const int32_t *const *)e.ids, e.lens, n, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "sequence 2:") && strstr(err, "context"), "%s", err);
    free(hs); free(rw); free(hs2); free(rw2);
    free_expected(&e);
    moee_model_free(m);
    moee_model_free(small);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    golden("tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf", "tests/data/golden/olmoe-tiny/expected.safetensors", "olmoe");
    golden("tests/data/golden/llamacpp-gguf/qwen2moe-tiny.f32.gguf", "tests/data/golden/qwen2moe-tiny/expected.safetensors", "qwen2moe");
    golden("tests/data/golden/llamacpp-gguf/deepseek-tiny.f32.gguf", "tests/data/golden/deepseek-tiny/expected.safetensors", "deepseek");
    truncation("tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf", "tests/data/golden/olmoe-tiny/expected.safetensors");
    return test_summary("engine_embed_golden");
}
