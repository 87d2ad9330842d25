/* tools_embed.c: text -> embeddings end to end, on a tiny random-weight OLMoE-shaped
 * model that carries the real OLMoE tokenizer (tests/data/tokenizer/olmoe.gguf.gz)
 * and a 40-token context, written into a temporary directory:
 *   - the API: moee_embed_raw == moee_embed_ids of the tokenized prompts, bit for
 *     bit; invariance to batch_tokens / threads / order / batch company; truncation
 *     keeps the longest text prefix whose prompt fits; errors name the text;
 *   - the command (cmd_embed, run in-process): .npy / .npz / .jsonl outputs and the
 *     sidecar, standardization against a direct computation, --stats-out/--stats-in,
 *     --ids, JSONL input with ids, and "INPUT:LINE: what" errors with no output left. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/embed.h"
#include "kernels/types.h"
#include "moee.h"
#include "test.h"
#include "tokenizer_data.h"
#include "tools/convert/arch.h"
#include "tools/cmd.h"
#include "tools/embed_input.h"
#include "tools/convert/model_write.h"
#include "tools/convert/recipe.h"
#include "tools/output.h"

#define CONTEXT 40

static char dir[64];
static char model_path[128];

static char *path_in_dir(const char *name) {
    static char buf[8][192];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static char *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (fread(p, 1, (size_t)len, f) != (size_t)len) len = 0;
    p[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return p;
}

/* ---- the model ---------------------------------------------------------------------- */

static int fill_rows(void *user, const tensor_plan *t, int64_t slice, int64_t first_row, int64_t n_rows,
                     float *out, char *err, size_t err_size) {
    int norm = t->role == ROLE_NORM;
    for (int64_t r = 0; r < n_rows; r++)
        for (uint64_t i = 0; i < t->ne[0]; i++) {
            uint64_t h = (uint64_t)(first_row + r) * 0x9E3779B97F4A7C15ULL ^ (i + 1) * 0xC2B2AE3D27D4EB4FULL ^
                         (uint64_t)slice * 0x165667B19E3779F9ULL ^ (uint64_t)strlen(t->name) * 0x27D4EB2F165667C5ULL;
            for (const char *c = t->name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ULL;
            h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ULL; h ^= h >> 32;
            double u = (double)(h >> 11) / 9007199254740992.0 * 2 - 1;
            out[r * (int64_t)t->ne[0] + (int64_t)i] = (float)(norm ? 1 + 0.1 * u : u / sqrt((double)t->ne[0]) * 1.7);
        }
    return 0;
}

static int make_model(void) {
    char err[512];
    test_vocab vocab;
    if (test_vocab_load(&vocab, "tests/data/tokenizer/olmoe.gguf.gz")) return -1;
    model_config c;
    tensor_plan *plan = NULL;
    size_t n_plan = 0;
    int rc = arch_config_preset("olmoe", "tiny", &c, err, sizeof err);
    c.vocab_size = tokenizer_vocab_size(vocab.t);
    c.context_length = CONTEXT;
    if (!rc) rc = arch_tensor_plan(&c, &plan, &n_plan, err, sizeof err);
    model_write_options wo = {recipe_by_name("F16"), 0, vocab.t, NULL, 0, "test"};
    if (!rc) rc = model_write(model_path, &c, plan, n_plan, &wo, fill_rows, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    free(plan);
    test_vocab_free(&vocab);
    return rc;
}

/* ---- the API -------------------------------------------------------------------------- */

static const char *const texts_a[] = {
    "A man is playing a guitar.", "", "Ünïcödé façade", "snake_case \"quoted\"", "x",
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "日本語の文", "A man is playing a guitar.",
};
#define N_A ((int64_t)(sizeof texts_a / sizeof texts_a[0]))

static void api(moee_model *m) {
    const moee_model_info *info = moee_model_get_info(m);
    int64_t H = info->hs_dim, R = info->rw_dim;
    CHECK(info->context_length == CONTEXT && info->has_tokenizer);
    char err[512];
    size_t lens[N_A];
    for (int64_t i = 0; i < N_A; i++) lens[i] = strlen(texts_a[i]);
    float *hs = malloc(sizeof(float) * (size_t)(N_A * H)), *rw = malloc(sizeof(float) * (size_t)(N_A * R));
    float *hs2 = malloc(sizeof(float) * (size_t)(N_A * H)), *rw2 = malloc(sizeof(float) * (size_t)(N_A * R));
    moee_embed_options o;
    moee_embed_options_init(&o);
    CHECK(!strcmp(o.template_name, "none") && o.pool == MOEE_POOL_LAST && o.rw_source == MOEE_RW_AUTO &&
          o.batch_tokens == MOEE_DEFAULT_BATCH_TOKENS && o.truncate == 1 && o.replace_invalid_utf8 == 0);
    o.template_name = "prompteol";
    moee_embed_counts counts;
    CHECKF(moee_embed_raw(m, &o, texts_a, lens, N_A, hs, rw, &counts, NULL, err, sizeof err) == 0, "%s", err);

    /* == the ids of each prompt, through moee_embed_ids */
    int32_t *ids[N_A];
    int64_t n_ids[N_A], tokens = 0;
    for (int64_t i = 0; i < N_A; i++) {
        char *p;
        size_t plen;
        CHECK(moee_prompt_build(texts_a[i], lens[i], "prompteol", NULL, NULL, &p, &plen, err, sizeof err) == 0);
        CHECK(moee_tokenize(m, p, plen, 0, &ids[i], &n_ids[i], err, sizeof err) == 0);
        tokens += n_ids[i];
        free(p);
    }
    CHECK(counts.texts == N_A && counts.tokens == tokens && counts.truncated == 0);
    CHECK(moee_embed_ids(m, &o, (const int32_t *const *)ids, n_ids, N_A, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
    CHECK(!memcmp(hs, hs2, sizeof(float) * (size_t)(N_A * H)) && !memcmp(rw, rw2, sizeof(float) * (size_t)(N_A * R)));
    CHECK(!memcmp(hs, hs + 7 * H, sizeof(float) * (size_t)H));            /* the same text twice */
    for (int64_t i = 0; i < N_A; i++) free(ids[i]);

    /* invariance: each text alone, in reverse order, any budget, 1 or 2 threads */
    static const int64_t budgets[] = {1, 13, 100000};
    for (int b = 0; b < 3; b++) {
        moee_set_threads(1 + b % 2);
        moee_embed_options p = o;
        p.batch_tokens = budgets[b];
        const char *rev[N_A];
        size_t rev_lens[N_A];
        for (int64_t i = 0; i < N_A; i++) { rev[i] = texts_a[N_A - 1 - i]; rev_lens[i] = lens[N_A - 1 - i]; }
        CHECK(moee_embed_raw(m, &p, rev, rev_lens, N_A, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
        int same = 1;
        for (int64_t i = 0; i < N_A; i++)
            same &= !memcmp(hs2 + i * H, hs + (N_A - 1 - i) * H, sizeof(float) * (size_t)H) &&
                    !memcmp(rw2 + i * R, rw + (N_A - 1 - i) * R, sizeof(float) * (size_t)R);
        CHECKF(same, "budget %lld: rows changed", (long long)budgets[b]);
        CHECK(moee_embed_raw(m, &p, &texts_a[5], &lens[5], 1, hs2, rw2, NULL, NULL, err, sizeof err) == 0);
        CHECK(!memcmp(hs2, hs + 5 * H, sizeof(float) * (size_t)H) && !memcmp(rw2, rw + 5 * R, sizeof(float) * (size_t)R));
    }
    moee_set_threads(0);

    /* truncation: the longest prefix (whole characters) whose prompt fits */
    const char *long_text = "Ünïcödé words keep coming, one after another, until this sentence is far longer than "
                            "the forty tokens the test model accepts, so that it must be cut somewhere.";
    size_t long_len = strlen(long_text), best = 0;
    for (size_t k = 0; k <= long_len; k++) {
        if (k < long_len && ((unsigned char)long_text[k] & 0xC0) == 0x80) continue;
        char *p;
        size_t plen;
        int32_t *t;
        int64_t nt;
        CHECK(moee_prompt_build(long_text, k, "prompteol", NULL, NULL, &p, &plen, err, sizeof err) == 0);
        CHECK(moee_tokenize(m, p, plen, 0, &t, &nt, err, sizeof err) == 0);
        if (nt <= CONTEXT) best = k;
        free(p);
        free(t);
    }
    CHECK(best > 10 && best < long_len);
    CHECK(moee_embed_raw(m, &o, &long_text, &long_len, 1, hs, rw, &counts, NULL, err, sizeof err) == 0);
    CHECK(counts.truncated == 1 && counts.tokens <= CONTEXT);
    CHECK(moee_embed_raw(m, &o, &long_text, &best, 1, hs2, rw2, &counts, NULL, err, sizeof err) == 0);
    CHECK(counts.truncated == 0);
    CHECKF(!memcmp(hs, hs2, sizeof(float) * (size_t)H) && !memcmp(rw, rw2, sizeof(float) * (size_t)R),
           "truncated text differs from its longest fitting prefix (%zu bytes)", best);
    o.truncate = 0;
    const char *two[2] = {"short", long_text};
    size_t two_lens[2] = {5, long_len};
    CHECK(moee_embed_raw(m, &o, two, two_lens, 2, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "text 1: ") && strstr(err, "context (40)"), "%s", err);
    o.truncate = 1;
    /* a prompt that cannot fit even without the text */
    o.instruction = "Retrieve semantically similar text, and do it with a very long instruction that by itself "
                    "takes more than forty tokens of this model's context, which is tiny on purpose.";
    CHECK(moee_embed_raw(m, &o, two, two_lens, 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "text 0: ") && strstr(err, "even without the text"), "%s", err);
    o.instruction = NULL;

    /* invalid UTF-8 names the text and the byte; --replace-invalid accepts it */
    const char *bad[3] = {"fine", "also fine", "ab\xff"};
    size_t bad_lens[3] = {4, 9, 3};
    CHECK(moee_embed_raw(m, &o, bad, bad_lens, 3, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(!strcmp(err, "text 2: invalid UTF-8 at byte 2"), "%s", err);
    o.replace_invalid_utf8 = 1;
    CHECK(moee_embed_raw(m, &o, bad, bad_lens, 3, hs, rw, NULL, NULL, err, sizeof err) == 0);
    o.replace_invalid_utf8 = 0;
    /* raw prompt: an empty text has no token on a model without BOS */
    o.template_name = "raw";
    CHECK(moee_embed_raw(m, &o, &texts_a[1], &lens[1], 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "text 0: ") && strstr(err, "no tokens"), "%s", err);
    o.template_name = "nonsense";
    CHECK(moee_embed_raw(m, &o, texts_a, lens, 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "unknown template"), "%s", err);
    o.template_name = "none";
    o.pool = MOEE_POOL_NONE;
    CHECK(moee_embed_raw(m, &o, texts_a, lens, 1, hs, rw, NULL, NULL, err, sizeof err) != 0);
    free(hs); free(rw); free(hs2); free(rw2);
}

/* ---- the command ------------------------------------------------------------------------ */

/* Runs `moee embed ARGS...` in-process with stderr captured into *errout. */
static int run_embed(char **errout, ...) {
    char *argv[64];
    int argc = 0;
    argv[argc++] = "embed";
    va_list ap;
    va_start(ap, errout);
    for (char *a; argc < 63 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path_in_dir("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    int rc = cmd_embed(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *e = read_whole(path_in_dir("stderr.txt"), NULL);
    if (errout) *errout = e;
    else free(e);
    return rc;
}

/* Rows of an .npy written by moee (float32 [rows][cols]); NULL if the file is not one. */
static float *load_npy(const char *path, int64_t *rows, int64_t *cols) {
    size_t n;
    char *p = read_whole(path, &n);
    if (!p) return NULL;
    long long r, c;
    const char *shape = n > 128 ? strstr(p + 10, "'shape': (") : NULL;
    if (!shape || sscanf(shape, "'shape': (%lld, %lld)", &r, &c) != 2 || memcmp(p, "\x93NUMPY\x01\x00", 8)) {
        free(p);
        return NULL;
    }
    size_t header = 10 + (size_t)((unsigned char)p[8] | (unsigned char)p[9] << 8);
    float *x = malloc(sizeof(float) * (size_t)(r * c) + 1);
    if (header + sizeof(float) * (size_t)(r * c) == n) memcpy(x, p + header, sizeof(float) * (size_t)(r * c));
    else { free(x); x = NULL; }
    free(p);
    *rows = r;
    *cols = c;
    return x;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static void cli(moee_model *m) {
    const moee_model_info *info = moee_model_get_info(m);
    int64_t H = info->hs_dim, R = info->rw_dim, rows, cols;
    char *err = NULL, e[512];
    char input[192], npy[192], npz[192], jl[192], jout[192], ids_file[192], in2[192];
    snprintf(input, sizeof input, "%s", path_in_dir("in.txt"));
    snprintf(npy, sizeof npy, "%s", path_in_dir("out.npy"));
    snprintf(npz, sizeof npz, "%s", path_in_dir("out.npz"));
    snprintf(jl, sizeof jl, "%s", path_in_dir("in.jsonl"));
    snprintf(jout, sizeof jout, "%s", path_in_dir("out.jsonl"));
    snprintf(ids_file, sizeof ids_file, "%s", path_in_dir("ids.txt"));
    snprintf(in2, sizeof in2, "%s", path_in_dir("in2.txt"));
    /* five texts, one empty, CRLF on one line, no final newline */
    const char text[] = "A man is playing a guitar.\n\nSomeone plays music.\r\nThe cat sleeps.\nStocks fell sharply";
    write_file(input, text, sizeof text - 1);
    const char *texts[5] = {"A man is playing a guitar.", "", "Someone plays music.", "The cat sleeps.", "Stocks fell sharply"};
    size_t lens[5];
    for (int i = 0; i < 5; i++) lens[i] = strlen(texts[i]);

    /* raw parts from the API, then the standardized ones computed directly */
    float *hs = malloc(sizeof(float) * (size_t)(5 * H)), *rw = malloc(sizeof(float) * (size_t)(5 * R));
    moee_embed_options o;
    moee_embed_options_init(&o);
    o.template_name = "prompteol";
    CHECK(moee_embed_raw(m, &o, texts, lens, 5, hs, rw, NULL, NULL, e, sizeof e) == 0);
    float *hs_z = malloc(sizeof(float) * (size_t)(5 * H)), *rw_z = malloc(sizeof(float) * (size_t)(5 * R));
    for (int64_t d = 0; d < H + R; d++) {
        const float *x = d < H ? hs : rw;
        float *z = d < H ? hs_z : rw_z;
        int64_t dim = d < H ? H : R, j = d < H ? d : d - H;
        double mean = 0, var = 0;
        for (int i = 0; i < 5; i++) mean += x[i * dim + j];
        mean /= 5;
        for (int i = 0; i < 5; i++) var += (x[i * dim + j] - mean) * (x[i * dim + j] - mean);
        double std = sqrt(var / 4);
        for (int i = 0; i < 5; i++) z[i * dim + j] = (float)((x[i * dim + j] - mean) / (std + 1e-8));
    }

    /* .npz with every kind */
    int rc = run_embed(&err, "-m", model_path, "-i", input, "-o", npz, "--kind", "hs,rw,moee,moee-sum",
                       "--prompt", "prompteol", "--alpha", "2", "--stats-out", path_in_dir("stats.json"), NULL);
    CHECKF(rc == 0, "%s", err);
    free(err);
    CHECK(file_exists(npz) && file_exists(path_in_dir("out.npz.json")) && file_exists(path_in_dir("stats.json")));
    /* pull each member out of the zip: it is stored, so its .npy bytes are in the file */
    size_t zn;
    char *z = read_whole(npz, &zn);
    static const char *const names[4] = {"hs.npy", "rw.npy", "moee.npy", "moee-sum.npy"};
    float *member[4] = {0};
    for (int k = 0; k < 4 && z; k++) {
        for (size_t i = 0; i + 30 < zn; i++)
            if (!memcmp(z + i, "PK\x03\x04", 4) && (size_t)((unsigned char)z[i + 26]) == strlen(names[k]) &&
                !memcmp(z + i + 30, names[k], strlen(names[k]))) {
                const char *data = z + i + 30 + strlen(names[k]);
                write_file(path_in_dir("member.npy"), data, zn - (size_t)(data - z));
                break;
            }
        /* the trailing zip records are ignored by loading only rows * cols floats */
        size_t n;
        char *p = read_whole(path_in_dir("member.npy"), &n);
        long long r = 0, c = 0;
        const char *shape = p && n > 10 ? strstr(p + 10, "'shape': (") : NULL;
        if (shape && sscanf(shape, "'shape': (%lld, %lld)", &r, &c) == 2) {
            size_t header = 10 + (size_t)((unsigned char)p[8] | (unsigned char)p[9] << 8);
            member[k] = malloc(sizeof(float) * (size_t)(r * c));
            memcpy(member[k], p + header, sizeof(float) * (size_t)(r * c));
        }
        CHECKF(r == 5 && c == moee_kind_dim((moee_kind)k, H, R), "%s: %lld x %lld", names[k], r, c);
        free(p);
    }
    free(z);
    if (member[0] && member[1] && member[2] && member[3]) {
        CHECK(!memcmp(member[0], hs, sizeof(float) * (size_t)(5 * H)));       /* hs: raw by default */
        double worst = 0;
        for (int64_t i = 0; i < 5 * R; i++) worst = fmax(worst, fabs(member[1][i] - rw_z[i]));
        CHECKF(worst <= 1e-5, "rw standardization off by %g", worst);
        worst = 0;
        for (int i = 0; i < 5; i++) {
            for (int64_t j = 0; j < H; j++) worst = fmax(worst, fabs(member[2][i * (H + R) + j] - hs_z[i * H + j]));
            CHECK(!memcmp(member[2] + i * (H + R) + H, member[1] + i * R, sizeof(float) * (size_t)R));
        }
        CHECKF(worst <= 1e-5, "moee standardization off by %g", worst);
        /* moee-sum: u_a . u_b = cos(hs'_a, hs'_b) + 2 cos(rw'_a, rw'_b) */
        worst = 0;
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++) {
                double uu = 0, hh = 0, ha = 0, hb = 0, rr = 0, ra = 0, rb = 0;
                for (int64_t j = 0; j < H + R; j++) uu += (double)member[3][a * (H + R) + j] * member[3][b * (H + R) + j];
                for (int64_t j = 0; j < H; j++) {
                    hh += (double)hs_z[a * H + j] * hs_z[b * H + j];
                    ha += (double)hs_z[a * H + j] * hs_z[a * H + j];
                    hb += (double)hs_z[b * H + j] * hs_z[b * H + j];
                }
                for (int64_t j = 0; j < R; j++) {
                    rr += (double)rw_z[a * R + j] * rw_z[b * R + j];
                    ra += (double)rw_z[a * R + j] * rw_z[a * R + j];
                    rb += (double)rw_z[b * R + j] * rw_z[b * R + j];
                }
                worst = fmax(worst, fabs(uu - (hh / sqrt(ha * hb) + 2 * rr / sqrt(ra * rb))));
            }
        CHECKF(worst <= 1e-5, "moee-sum identity off by %g", worst);
    }
    /* the sidecar */
    char *side = read_whole(path_in_dir("out.npz.json"), NULL);
    json_doc *doc = side ? json_parse(side, strlen(side), e, sizeof e) : NULL;
    CHECKF(doc != NULL, "sidecar: %s", side ? e : "missing");
    if (doc) {
        const json_value *r = json_root(doc), *counts = json_get(r, "counts");
        long long v;
        const char *s;
        size_t sl;
        CHECK(json_get_int(json_get(counts, "texts"), &v) && v == 5);
        CHECK(json_get_int(json_get(counts, "truncated"), &v) && v == 0);
        CHECK(json_get_int(json_get(r, "hs_dim"), &v) && v == H);
        CHECK(json_get_int(json_get(r, "rw_dim"), &v) && v == R);
        CHECK(json_get_string(json_get(r, "rw_source"), &s, &sl) && !strcmp(s, "logits"));
        CHECK(json_get_string(json_get(r, "prompt"), &s, &sl) && !strcmp(s, "prompteol"));
        CHECK(json_get_string(json_get(json_get(r, "standardize"), "statistics"), &s, &sl) && !strcmp(s, "input"));
        const json_value *kinds = json_get(r, "kinds");
        CHECK(kinds && kinds->kind == JSON_ARRAY && kinds->u.array.count == 4);
        int std_flag;
        CHECK(json_get_bool(json_get(json_at(kinds, 0), "standardized"), &std_flag) && !std_flag);
        CHECK(json_get_bool(json_get(json_at(kinds, 3), "standardized"), &std_flag) && std_flag);
        json_free(doc);
    }
    free(side);

    /* --stats-in: one text alone, with the five texts' statistics, gives its row of before */
    write_file(path_in_dir("one.txt"), "The cat sleeps.\n", 16);
    rc = run_embed(&err, "-m", model_path, "-i", path_in_dir("one.txt"), "-o", npy, "--kind", "moee-sum",
                   "--prompt", "prompteol", "--alpha", "2", "--stats-in", path_in_dir("stats.json"), NULL);
    CHECKF(rc == 0, "%s", err);
    free(err);
    float *x = load_npy(npy, &rows, &cols);
    CHECK(x && rows == 1 && cols == H + R);
    if (x && member[3]) CHECK(!memcmp(x, member[3] + 3 * (H + R), sizeof(float) * (size_t)(H + R)));
    free(x);
    /* ... and without statistics one text cannot be standardized: a clear error, no file */
    unlink(npy);
    rc = run_embed(&err, "-m", model_path, "-i", path_in_dir("one.txt"), "-o", npy, NULL);
    CHECK(rc == 1 && !file_exists(npy));
    CHECKF(err && strstr(err, "moee embed: ") && strstr(err, "--stats-in"), "%s", err);
    free(err);
    /* the one-call API gives the command's rows, bit for bit */
    if (member[3]) {
        float *u = malloc(sizeof(float) * (size_t)(5 * (H + R)));
        o.alpha = 2;
        moee_input in = {.texts = texts, .lens = lens, .n = 5};
        moee_output out = {0};
        out.kinds[MOEE_KIND_MOEE_SUM] = u;
        CHECK(moee_embed(m, &o, &in, &out, e, sizeof e) == 0);
        CHECK(!memcmp(u, member[3], sizeof(float) * (size_t)(5 * (H + R))));
        moee_statistics st;
        CHECK(moee_statistics_load(path_in_dir("stats.json"), &st, e, sizeof e) == 0);
        moee_embed_options with = o;
        with.stats = &st;
        moee_input one = {.texts = &texts[3], .lens = &lens[3], .n = 1};
        CHECKF(moee_embed(m, &with, &one, &out, e, sizeof e) == 0, "%s", e);
        CHECK(!memcmp(u, member[3] + 3 * (H + R), sizeof(float) * (size_t)(H + R)));
        out.kinds[MOEE_KIND_MOEE_SUM] = NULL;
        out.kinds[MOEE_KIND_RW] = u;
        CHECK(moee_embed(m, &o, &one, &out, e, sizeof e) != 0);
        CHECKF(strstr(e, "at least 2"), "%s", e);
        out.kinds[MOEE_KIND_RW] = NULL;
        out.kinds[MOEE_KIND_HS] = u;
        CHECK(moee_embed(m, &o, &in, &out, e, sizeof e) == 0);
        CHECK(!memcmp(u, hs, sizeof(float) * (size_t)(5 * H)));
        moee_statistics_free(&st);
        free(u);
        o.alpha = 1;
    }
    for (int k = 0; k < 4; k++) free(member[k]);

    /* invariance through the command: budget and threads give the same bytes */
    rc = run_embed(NULL, "-m", model_path, "-i", input, "-o", npy, "--kind", "rw", "-q", NULL);
    size_t n1, n2;
    char *a = read_whole(npy, &n1);
    rc |= run_embed(NULL, "-m", model_path, "-i", input, "-o", npy, "--kind", "rw", "-q", "--batch-tokens", "3",
                    "-t", "1", NULL);
    char *b = read_whole(npy, &n2);
    CHECK(rc == 0 && a && b && n1 == n2 && !memcmp(a, b, n1));
    free(a);
    free(b);

    /* JSONL in (ids carried) and out; --standardize off gives the raw rows */
    const char jtext[] = "{\"id\": \"doc-1\", \"text\": \"A man is playing a guitar.\"}\n\n"
                         "{\"text\": \"\", \"id\": 7}\n";
    write_file(jl, jtext, sizeof jtext - 1);
    rc = run_embed(&err, "-m", model_path, "--jsonl", "-i", jl, "-o", jout, "--kind", "hs", "--prompt", "prompteol",
                   "--standardize", "off", NULL);
    CHECKF(rc == 0, "%s", err);
    free(err);
    char *out = read_whole(jout, NULL);
    /* "id" for joins, "text" so that moee eval --embeddings can match the rows */
    static const char first[] = "{\"id\": \"doc-1\", \"text\": \"A man is playing a guitar.\", \"embedding\": [";
    CHECK(out && !strncmp(out, first, sizeof first - 1));
    CHECK(out && strstr(out, "\n{\"id\": 7, \"text\": \"\", \"embedding\": ["));
    if (out) {   /* the first row's values are the raw HS with %.9g: they read back exactly */
        const char *p = out + sizeof first - 1;
        int same = 1;
        for (int64_t j = 0; j < H; j++) {
            char *end;
            float v = strtof(p, &end);
            same &= v == hs[j];
            p = end + (*end == ',' ? 2 : 0);
        }
        CHECK(same);
    }
    free(out);

    /* --ids: token ids as given */
    write_file(ids_file, "1 2 3\n400 5\n", 12);
    rc = run_embed(&err, "-m", model_path, "--ids", ids_file, "-o", npy, "--kind", "hs", NULL);
    CHECKF(rc == 0, "%s", err);
    free(err);
    x = load_npy(npy, &rows, &cols);
    CHECK(x && rows == 2 && cols == H);
    free(x);

    /* errors: "INPUT:LINE: what", exit status 1, no output file (not even a temporary one) */
    struct { const char *content, *option, *want; } cases[] = {
        {"fine\nalso fine\nbad \xc3\x28 byte\n", NULL, "in2.txt:3: invalid UTF-8 at byte 4"},
        {"fine\n" "Ünïcödé words keep coming, one after another, until this sentence is far longer than the forty "
         "tokens the test model accepts, and then it goes on and on for a good while longer.\n", "--no-truncate",
         "in2.txt:2: "},
        {"1 2\n\n", "--ids", "in2.txt:2: no token ids"},
        {"1 2\n3 x\n", "--ids", "in2.txt:2: 'x' is not a token id"},
        {"1 2\n3 99999999\n", "--ids", "in2.txt:2: id 99999999 is outside the vocabulary"},
        {"{\"text\": \"a\"}\n{\"txt\": \"b\"}\n", "--jsonl", "in2.txt:2: no string field \"text\""},
        {"{\"text\": \"a\"}\n{\"text\": \"b\"\n", "--jsonl", "in2.txt:2: "},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_file(in2, cases[c].content, strlen(cases[c].content));
        unlink(npy);
        if (cases[c].option && !strcmp(cases[c].option, "--ids"))
            rc = run_embed(&err, "-m", model_path, "--ids", in2, "-o", npy, "--kind", "hs", NULL);
        else if (cases[c].option)
            rc = run_embed(&err, "-m", model_path, "-i", in2, "-o", npy, "--kind", "hs", cases[c].option, NULL);
        else
            rc = run_embed(&err, "-m", model_path, "-i", in2, "-o", npy, "--kind", "hs", NULL);
        CHECKF(rc == 1 && err && strstr(err, cases[c].want) && !strncmp(err, "moee embed: ", 12),
               "case %zu: rc %d, [%s]", c, rc, err ? err : "");
        CHECK(!file_exists(npy));
        free(err);
    }
    /* option errors */
    rc = run_embed(&err, "-m", model_path, "-i", input, "-o", npy, "--kind", "hs,rw", NULL);
    CHECK(rc == 1 && strstr(err, ".npz"));
    free(err);
    rc = run_embed(&err, "-m", model_path, "-i", input, "-o", path_in_dir("out.bin"), NULL);
    CHECK(rc == 1 && strstr(err, "--format"));
    free(err);
    rc = run_embed(&err, "-m", path_in_dir("missing.gguf"), "-i", input, "-o", npy, NULL);
    CHECK(rc == 1 && strstr(err, "missing.gguf"));
    free(err);
    rc = run_embed(&err, "-m", model_path, "-i", input, "-o", npy, "--kind", "hs,nope", NULL);
    CHECK(rc == 1 && strstr(err, "unknown kind 'nope'"));
    free(err);
    rc = run_embed(&err, "-m", model_path, "--ids", ids_file, "--prompt", "prompteol", "-o", npy, NULL);
    CHECK(rc == 1 && strstr(err, "--ids"));
    free(err);
    rc = run_embed(&err, "-m", model_path, "-i", input, "-o", npy, "--alpha", "-1", NULL);
    CHECK(rc == 1 && strstr(err, "--alpha"));
    free(err);

    free(hs); free(rw); free(hs_z); free(rw_z);
}

/* ---- the input readers ------------------------------------------------------------------ */

static void inputs(void) {
    char err[512];
    embed_input in;
    const char *path = path_in_dir("inputs.txt");
    /* text: NUL bytes kept, CRLF stripped, a lone CR kept, empty lines are texts */
    write_file(path, "a\0b\r\n\nc\rd\n\n", 11);
    CHECKF(embed_input_read_text(&in, path, err, sizeof err) == 0, "%s", err);
    CHECK(in.n == 4);
    if (in.n == 4) {
        CHECK(in.lens[0] == 3 && !memcmp(in.texts[0], "a\0b", 3) && in.line[0] == 1);
        CHECK(in.lens[1] == 0 && in.line[1] == 2);
        CHECK(in.lens[2] == 3 && !memcmp(in.texts[2], "c\rd", 3));
        CHECK(in.lens[3] == 0 && in.line[3] == 4);
    }
    embed_input_free(&in);
    write_file(path, "", 0);
    CHECK(embed_input_read_text(&in, path, err, sizeof err) == 0 && in.n == 0);
    embed_input_free(&in);
    /* ids: spaces and tabs, trailing blanks */
    write_file(path, "  7\t8  9 \n2147483647\n", 21);
    CHECKF(embed_input_read_ids(&in, path, err, sizeof err) == 0, "%s", err);
    CHECK(in.n == 2 && in.id_lens[0] == 3 && in.ids[0][2] == 9 && in.id_lens[1] == 1 && in.ids[1][0] == 2147483647);
    embed_input_free(&in);
    static const char *const bad_ids[] = {"1 2147483648\n", "1 -2\n", "1 2\n\n3\n", "1 0x10\n", "99999999999999999999\n"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        write_file(path, bad_ids[i], strlen(bad_ids[i]));
        CHECK(embed_input_read_ids(&in, path, err, sizeof err) != 0);
        CHECKF(strstr(err, "inputs.txt:"), "%s", err);
        embed_input_free(&in);
    }
    /* jsonl: ids of every scalar type as JSON text; blank lines skipped; line numbers */
    const char *j = "{\"text\": \"a\", \"id\": \"x\\\"y\"}\n\n  \n{\"text\": \"b\\u0000c\", \"id\": 12}\n"
                    "{\"text\": \"\", \"id\": true}\n{\"text\": \"d\", \"id\": null}\n{\"text\": \"e\", \"id\": 1.5}\n"
                    "{\"text\": \"f\"}\n";
    write_file(path, j, strlen(j));
    CHECKF(embed_input_read_jsonl(&in, path, "text", "id", err, sizeof err) == 0, "%s", err);
    CHECK(in.n == 6 && in.id_json);
    if (in.n == 6 && in.id_json) {
        CHECK(!strcmp(in.id_json[0], "\"x\\\"y\"") && in.line[0] == 1);
        CHECK(!strcmp(in.id_json[1], "12") && in.line[1] == 4 && in.lens[1] == 3 && !memcmp(in.texts[1], "b\0c", 3));
        CHECK(!strcmp(in.id_json[2], "true") && !strcmp(in.id_json[3], "null") && !strcmp(in.id_json[4], "1.5"));
        CHECK(in.id_json[5] == NULL);
    }
    embed_input_free(&in);
    static const char *const bad_jsonl[] = {"[1]\n", "{\"text\": 5}\n", "{\"text\": \"a\", \"id\": [1]}\n",
                                            "{\"text\": \"a\"} x\n", "{\"text\": \"\xff\"}\n"};
    for (size_t i = 0; i < sizeof bad_jsonl / sizeof bad_jsonl[0]; i++) {
        write_file(path, bad_jsonl[i], strlen(bad_jsonl[i]));
        CHECK(embed_input_read_jsonl(&in, path, "text", "id", err, sizeof err) != 0);
        CHECKF(strstr(err, "inputs.txt:1: "), "case %zu: %s", i, err);
        embed_input_free(&in);
    }
    write_file(path, "{\"text\": \"a\"}\n\0\n", 17);
    CHECK(embed_input_read_jsonl(&in, path, "text", "id", err, sizeof err) != 0);
    CHECKF(strstr(err, "inputs.txt:2: NUL"), "%s", err);
    embed_input_free(&in);
    CHECK(embed_input_read_text(&in, path_in_dir("does-not-exist"), err, sizeof err) != 0);
    CHECKF(strstr(err, "does-not-exist"), "%s", err);
    embed_input_free(&in);
    unlink(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/moee-embed-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(model_path, sizeof model_path, "%s/tiny-olmoe.gguf", dir);
    inputs();
    CHECK(make_model() == 0);
    char err[512];
    moee_model *m = NULL;
    CHECKF(moee_model_load(model_path, &m, err, sizeof err) == 0, "%s", err);
    if (m) {
        api(m);
        cli(m);
        moee_model_free(m);
    }
    /* clean up: every file this test made, then the directory (nothing else may be left) */
    static const char *const made[] = {"tiny-olmoe.gguf", "in.txt", "in2.txt", "one.txt", "in.jsonl", "ids.txt",
        "out.npy", "out.npy.json", "out.npz", "out.npz.json", "out.jsonl", "out.jsonl.json", "stats.json",
        "member.npy", "stderr.txt"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) unlink(path_in_dir(made[i]));
    CHECKF(rmdir(dir) == 0, "%s: files left behind", dir);
    return test_summary("tools_embed");
}
