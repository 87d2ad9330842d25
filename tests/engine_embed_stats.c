/* engine_embed_stats.c: standardization statistics (compute, apply, save, load)
 * against a direct double computation, their provenance (statistics of another
 * model or other options are refused, naming what differs), the one pipeline
 * (moee_embed == raw rows + moee_embed_finish, bit for bit; the n < 2 rule), and
 * the kinds of embedding (the moee-sum identity u_a . u_b = cos(HS_a, HS_b) +
 * alpha * cos(RW_a, RW_b)). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "moee.h"
#include "engine/embed.h"
#include "test.h"

static uint64_t rng = 88172645463325252ULL;
static float frand(void) {   /* xorshift64: uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static char dir[64];

static void test_compute_apply(void) {
    enum { N = 57, D = 9 };
    static float x[N * D], z[N * D];
    for (int i = 0; i < N * D; i++) x[i] = frand() * (float)(1 + i % D) + (float)(i % D) * 100;
    for (int i = 0; i < N; i++) x[i * D + 4] = 3.25f;     /* a constant dimension: std 0 */
    moee_stats s;
    char err[256];
    CHECKF(moee_stats_compute(x, N, D, &s, err, sizeof err) == 0, "%s", err);
    CHECK(s.dim == D && s.count == N);
    /* direct: Welford's one-pass recurrence, a different computation of the same values */
    for (int d = 0; d < D; d++) {
        double mean = 0, m2 = 0;
        for (int i = 0; i < N; i++) {
            double v = x[i * D + d], delta = v - mean;
            mean += delta / (i + 1);
            m2 += delta * (v - mean);
        }
        double std = sqrt(m2 / (N - 1));
        CHECK_NEAR(s.mean[d], mean, 1e-12 * (1 + fabs(mean)));
        CHECK_NEAR(s.std[d], std, 1e-12 * (1 + std));
        for (int i = 0; i < N; i++) z[i * D + d] = (float)((x[i * D + d] - mean) / (std + 1e-8));
    }
    CHECK(s.std[4] == 0 && s.mean[4] == 3.25);
    moee_stats_apply(&s, x, N);
    double worst = 0;
    for (int i = 0; i < N * D; i++) worst = fmax(worst, fabs(x[i] - z[i]));
    CHECKF(worst <= 1e-6, "worst %g", worst);
    for (int i = 0; i < N; i++) CHECK(x[i * D + 4] == 0);
    /* standardized columns: mean 0, unbiased std 1 */
    for (int d = 0; d < D; d++) {
        if (d == 4) continue;
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += x[i * D + d];
        m /= N;
        for (int i = 0; i < N; i++) v += (x[i * D + d] - m) * (x[i * D + d] - m);
        CHECK_NEAR(m, 0, 1e-6);
        CHECK_NEAR(sqrt(v / (N - 1)), 1, 1e-5);
    }

    /* save, load: every double comes back bit for bit */
    char path[128];
    snprintf(path, sizeof path, "%s/stats.json", dir);
    moee_statistics st = {0}, st2;
    st.hs = s;
    st.hs_dim = D;
    st.rw_dim = 4;
    strcpy(st.arch, "olmoe");
    strcpy(st.model_fingerprint, "0123456789abcdef0123456789abcdef");
    st.prompt = "custom";
    st.template_text = "T \"*sent 0*\"\n";
    st.pool = MOEE_POOL_MEAN;
    st.rw_source = MOEE_RW_PROBS;
    CHECKF(moee_statistics_save(path, &st, err, sizeof err) == 0, "%s", err);
    CHECKF(moee_statistics_load(path, &st2, err, sizeof err) == 0, "%s", err);
    CHECK(st2.hs.dim == D && st2.hs.count == N && st2.rw.dim == 0 && st2.rw.mean == NULL);
    CHECK(st2.hs.mean && !memcmp(st2.hs.mean, s.mean, sizeof(double) * D));
    CHECK(st2.hs.std && !memcmp(st2.hs.std, s.std, sizeof(double) * D));
    CHECK(!strcmp(st2.arch, "olmoe") && !strcmp(st2.model_fingerprint, st.model_fingerprint));
    CHECK(st2.hs_dim == D && st2.rw_dim == 4 && st2.pool == MOEE_POOL_MEAN && st2.rw_source == MOEE_RW_PROBS);
    CHECK(st2.prompt && !strcmp(st2.prompt, "custom") && st2.instruction == NULL);
    CHECK(st2.template_text && !strcmp(st2.template_text, st.template_text));
    moee_statistics_free(&st2);
    st.hs = (moee_stats){0};
    st.rw = s;
    st.rw_dim = D;
    CHECK(moee_statistics_save(path, &st, err, sizeof err) == 0);
    CHECK(moee_statistics_load(path, &st2, err, sizeof err) == 0);
    CHECK(st2.hs.dim == 0 && st2.rw.dim == D && !memcmp(st2.rw.std, s.std, sizeof(double) * D));
    moee_statistics_free(&st2);
    unlink(path);
    moee_stats_free(&s);

    /* one vector cannot give a standard deviation */
    CHECK(moee_stats_compute(x, 1, D, &s, err, sizeof err) != 0);
    CHECKF(strstr(err, "at least 2") != NULL, "%s", err);
    x[3] = NAN;
    CHECK(moee_stats_compute(x, N, D, &s, err, sizeof err) != 0);
    CHECKF(strstr(err, "dimension 3") != NULL, "%s", err);
}

/* Malformed statistics files: an error naming the file, nothing loaded. */
#define PROV "\"format\": \"moee-stats\", \"version\": 2, \"model_fingerprint\": \"00\", \"arch\": \"olmoe\", " \
             "\"hs_dim\": 1, \"rw_dim\": 1, \"prompt\": \"none\", \"template\": null, \"instruction\": null, " \
             "\"pool\": \"last\", \"rw_source\": \"logits\""
static void test_bad_files(void) {
    static const char *const bad[] = {
        "{\"format\": \"moee-stats\", \"version\": 1, \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]}}",  /* no provenance */
        "{" PROV "}",                                                                          /* nothing */
        "{" PROV ", \"hs\": {\"dim\": 2, \"count\": 2, \"mean\": [0, 0], \"std\": [1, 1]}}",     /* dim != hs_dim */
        "{\"format\": \"moee-stats\", \"version\": 2, \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]}}",
        "{\"format\": \"moee-stats\", \"version\": 2, \"model_fingerprint\": \"00\", \"arch\": \"olmoe\", \"hs_dim\": 1, "
        "\"rw_dim\": 1, \"prompt\": \"none\", \"template\": null, \"instruction\": null, \"pool\": \"max\", "
        "\"rw_source\": \"logits\", \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]}}",
        "{\"format\": \"moee-stats\", \"version\": 3}",
        "",
        "{\"format\": \"moee-stats\", \"version\": 1",                                      /* truncated */
        "{\"version\": 1, \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]}}",  /* no format */
        "{\"format\": \"moee-stats\", \"version\": 2, \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]}}",
        "{\"format\": \"moee-stats\", \"version\": 1}",                                     /* nothing */
        "{" PROV ", \"hs\": {\"dim\": 2, \"count\": 2, \"mean\": [0], \"std\": [1]}}",
        "{" PROV ", \"hs\": {\"dim\": 1, \"count\": 1, \"mean\": [0], \"std\": [1]}}",
        "{" PROV ", \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [-1]}}",
        "{" PROV ", \"rw\": {\"dim\": 1, \"count\": 2, \"mean\": [\"0\"], \"std\": [1]}}",
        "{" PROV ", \"rw\": {\"dim\": 1, \"count\": 2, \"mean\": [1e999], \"std\": [1]}}",
        "{" PROV ", \"hs\": {\"dim\": 1, \"count\": 2, \"mean\": [0], \"std\": [1]},"
        " \"rw\": {\"dim\": -1, \"count\": 2, \"mean\": [], \"std\": []}}",
    };
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        moee_statistics st;
        err[0] = 0;
        CHECKF(moee_statistics_load(path, &st, err, sizeof err) != 0, "case %zu loaded", i);
        CHECKF(strstr(err, path) != NULL, "case %zu: %s", i, err);
        CHECK(st.hs.mean == NULL && st.rw.mean == NULL && st.prompt == NULL);
        if (i == 0) CHECKF(strstr(err, "--stats-out"), "%s", err);
    }
    unlink(path);
    moee_statistics st;
    CHECK(moee_statistics_load("/nonexistent/stats.json", &st, err, sizeof err) != 0);
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static double cosine(const float *a, const float *b, int n) {
    return dot(a, b, n) / sqrt(dot(a, a, n) * dot(b, b, n));
}

static void test_kinds(void) {
    CHECK(!strcmp(moee_kind_name(MOEE_KIND_MOEE_SUM), "moee-sum"));
    for (int k = 0; k < 4; k++) CHECK(moee_kind_from_name(moee_kind_name((moee_kind)k)) == k);
    CHECK(moee_kind_from_name("moee_sum") == -1 && moee_kind_from_name("") == -1);
    CHECK(moee_kind_dim(MOEE_KIND_HS, 8, 3) == 8 && moee_kind_dim(MOEE_KIND_RW, 8, 3) == 3);
    CHECK(moee_kind_dim(MOEE_KIND_MOEE, 8, 3) == 11 && moee_kind_dim(MOEE_KIND_MOEE_SUM, 8, 3) == 11);

    enum { N = 6, H = 33, R = 20 };
    static float hs[N * H], rw[N * R], out[N * (H + R)];
    for (int i = 0; i < N * H; i++) hs[i] = frand();
    for (int i = 0; i < N * R; i++) rw[i] = frand() * 5;
    moee_kind_combine(MOEE_KIND_HS, hs, rw, N, H, R, 1, out);
    CHECK(!memcmp(out, hs, sizeof hs));
    moee_kind_combine(MOEE_KIND_RW, hs, rw, N, H, R, 1, out);
    CHECK(!memcmp(out, rw, sizeof rw));
    moee_kind_combine(MOEE_KIND_MOEE, hs, rw, N, H, R, 1, out);
    for (int i = 0; i < N; i++) {
        CHECK(!memcmp(out + i * (H + R), hs + i * H, sizeof(float) * H));
        CHECK(!memcmp(out + i * (H + R) + H, rw + i * R, sizeof(float) * R));
    }
    static const float alphas[] = {0, 0.5f, 1, 2.5f};
    for (size_t a = 0; a < 4; a++) {
        moee_kind_combine(MOEE_KIND_MOEE_SUM, hs, rw, N, H, R, alphas[a], out);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double want = cosine(hs + i * H, hs + j * H, H) + alphas[a] * cosine(rw + i * R, rw + j * R, R);
                CHECK_NEAR(dot(out + i * (H + R), out + j * (H + R), H + R), want, 1e-5);
            }
    }
    /* a zero part stays zero (no NaN) */
    memset(rw, 0, sizeof(float) * R);
    moee_kind_combine(MOEE_KIND_MOEE_SUM, hs, rw, 1, H, R, 1, out);
    int finite = 1;
    for (int i = 0; i < H + R; i++) finite &= isfinite(out[i]);
    CHECK(finite && out[H] == 0);
}

/* The pipeline on a golden model, from token ids. */
#define GOLDEN "tests/data/golden/llamacpp-gguf/"
static void test_pipeline(void) {
    moee_model *m, *other;
    char err[512];
    CHECKF(moee_model_load(GOLDEN "olmoe-tiny.f32.gguf", &m, err, sizeof err) == 0, "%s", err);
    CHECKF(moee_model_load(GOLDEN "olmoe-tiny.q8_0.gguf", &other, err, sizeof err) == 0, "%s", err);
    const moee_model_info *info = moee_model_get_info(m);
    CHECK(strlen(info->fingerprint) == 32 && strcmp(info->fingerprint, moee_model_get_info(other)->fingerprint) != 0);
    enum { N = 7 };
    int32_t store[N][12];
    const int32_t *ids[N];
    int64_t lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = 2 + (i * 5) % 11;
        for (int j = 0; j < lens[i]; j++) store[i][j] = (int32_t)((i * 37 + j * 11) % 200 + 1);
        ids[i] = store[i];
    }
    int64_t H = info->hs_dim, R = info->rw_dim;
    float *kinds[4], *kinds2[4], *raw_hs = malloc(sizeof(float) * N * H), *raw_rw = malloc(sizeof(float) * N * R);
    for (int k = 0; k < 4; k++) {
        kinds[k] = malloc(sizeof(float) * N * (H + R));
        kinds2[k] = malloc(sizeof(float) * N * (H + R));
    }
    moee_embed_options o;
    moee_embed_options_init(&o);
    o.alpha = 0.5f;
    moee_input in = {.ids = ids, .id_lens = lens, .n = N};
    moee_statistics st = {0};
    moee_output out = {.raw_hs = raw_hs, .raw_rw = raw_rw, .stats_out = &st};
    for (int k = 0; k < 4; k++) out.kinds[k] = kinds[k];
    CHECKF(moee_embed(m, &o, &in, &out, err, sizeof err) == 0, "%s", err);
    CHECK(out.counts.texts == N && out.counts.truncated == 0);
    CHECK(st.hs.count == N && st.rw.count == N && !strcmp(st.prompt, "ids"));
    CHECK(!strcmp(st.model_fingerprint, info->fingerprint));

    /* == raw rows + moee_embed_finish, bit for bit, with other threads and batches */
    moee_embed_options p = o;
    p.token_ids = 1;
    moee_output fin = {0};
    for (int k = 0; k < 4; k++) fin.kinds[k] = kinds2[k];
    CHECKF(moee_embed_finish(m, &p, raw_hs, raw_rw, N, &fin, err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < 4; k++)
        CHECKF(!memcmp(kinds[k], kinds2[k], sizeof(float) * N * (size_t)moee_kind_dim((moee_kind)k, H, R)), "kind %d", k);
    p = o;
    p.threads = 1;
    p.batch_tokens = 3;
    CHECK(moee_embed(m, &p, &in, &fin, err, sizeof err) == 0);
    for (int k = 0; k < 4; k++)
        CHECK(!memcmp(kinds[k], kinds2[k], sizeof(float) * N * (size_t)moee_kind_dim((moee_kind)k, H, R)));

    /* one input: with the statistics, row i of the batch; without, a clear error */
    moee_input one = {.ids = &ids[3], .id_lens = &lens[3], .n = 1};
    p = o;
    p.stats = &st;
    moee_output single = {0};
    single.kinds[MOEE_KIND_MOEE_SUM] = kinds2[3];
    CHECKF(moee_embed(m, &p, &one, &single, err, sizeof err) == 0, "%s", err);
    CHECK(!memcmp(kinds2[3], kinds[3] + 3 * (H + R), sizeof(float) * (size_t)(H + R)));
    CHECK(moee_embed(m, &o, &one, &single, err, sizeof err) != 0);
    CHECKF(strstr(err, "kind moee-sum") && strstr(err, "at least 2") && strstr(err, "kind hs"), "%s", err);
    single.kinds[MOEE_KIND_MOEE_SUM] = NULL;
    single.kinds[MOEE_KIND_HS] = kinds2[0];
    CHECKF(moee_embed(m, &o, &one, &single, err, sizeof err) == 0, "%s", err);   /* hs: not standardized */
    CHECK(!memcmp(kinds2[0], kinds[0] + 3 * H, sizeof(float) * (size_t)H));

    /* provenance: saved and loaded, accepted for the same model and options only */
    char path[128];
    snprintf(path, sizeof path, "%s/prov.json", dir);
    moee_statistics back;
    CHECKF(moee_statistics_save(path, &st, err, sizeof err) == 0, "%s", err);
    CHECKF(moee_statistics_load(path, &back, err, sizeof err) == 0, "%s", err);
    p = o;
    p.token_ids = 1;
    CHECKF(moee_statistics_check(&back, m, &p, err, sizeof err) == 0, "%s", err);
    p.pool = MOEE_POOL_MEAN;
    CHECK(moee_statistics_check(&back, m, &p, err, sizeof err) != 0);
    CHECKF(strstr(err, "pooling 'last'") && strstr(err, "'mean'"), "%s", err);
    p = o;
    p.token_ids = 1;
    p.rw_source = MOEE_RW_PROBS;
    CHECK(moee_statistics_check(&back, m, &p, err, sizeof err) != 0);
    CHECKF(strstr(err, "rw-source 'logits'"), "%s", err);
    p = o;
    CHECK(moee_statistics_check(&back, m, &p, err, sizeof err) != 0);    /* texts, not ids */
    CHECKF(strstr(err, "prompt 'ids'") && strstr(err, "'none'"), "%s", err);
    p.token_ids = 1;
    CHECK(moee_statistics_check(&back, other, &p, err, sizeof err) != 0);
    CHECKF(strstr(err, "fingerprint"), "%s", err);
    p.stats = &back;
    CHECK(moee_embed(other, &p, &in, &fin, err, sizeof err) != 0);      /* moee_embed checks too */
    moee_statistics_free(&back);
    unlink(path);

    moee_statistics_free(&st);
    for (int k = 0; k < 4; k++) { free(kinds[k]); free(kinds2[k]); }
    free(raw_hs);
    free(raw_rw);
    moee_model_free(other);
    moee_model_free(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/moee-stats-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_compute_apply();
    test_bad_files();
    test_kinds();
    test_pipeline();
    rmdir(dir);
    return test_summary("engine_embed_stats");
}
