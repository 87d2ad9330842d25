/* engine_batch: the determinism contract of moee_forward. A sequence's outputs are
 * bit-identical (memcmp) whether it runs alone or in a batch with others, in any
 * order, with 1, 2 or 3 threads, in a small or a large context, and while other
 * contexts of the same model run at the same time; LAST and MEAN pooling agree with
 * the per-token rows they summarize. Run on all three architectures. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "moee.h"

#define N_SEQS 5
static const int64_t seq_lens[N_SEQS] = { 1, 7, 33, 2, 90 };

typedef struct {
    float *hs, *logits, *probs;   /* per token, [tokens][dim] */
} outputs;

static outputs alloc_outputs(int64_t rows, int64_t hs_dim, int64_t rw_dim) {
    outputs o = { calloc((size_t)(rows * hs_dim), sizeof(float)), calloc((size_t)(rows * rw_dim), sizeof(float)),
                  calloc((size_t)(rows * rw_dim), sizeof(float)) };
    return o;
}
static void free_outputs(outputs *o) { free(o->hs); free(o->logits); free(o->probs); }

/* Runs the sequences order[0..n) in one batch with POOL_NONE and scatters each
 * sequence's rows to its place in `all` (sequence order 0..N_SEQS-1). */
static int run_batch(moee_context *ctx, int32_t *const *ids, const int *order, int n,
                     const moee_model_info *in, outputs *all) {
    const int32_t *b_ids[N_SEQS];
    int64_t b_lens[N_SEQS], rows = 0;
    for (int i = 0; i < n; i++) {
        b_ids[i] = ids[order[i]];
        b_lens[i] = seq_lens[order[i]];
        rows += b_lens[i];
    }
    outputs o = alloc_outputs(rows, in->hs_dim, in->rw_dim);
    char err[512];
    int rc = moee_forward(ctx, b_ids, b_lens, n, MOEE_POOL_NONE, o.hs, o.logits, o.probs, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    int64_t row = 0;
    for (int i = 0; i < n; i++) {
        int64_t dst = 0;
        for (int s = 0; s < order[i]; s++) dst += seq_lens[s];
        memcpy(all->hs + dst * in->hs_dim, o.hs + row * in->hs_dim, (size_t)(seq_lens[order[i]] * in->hs_dim) * 4);
        memcpy(all->logits + dst * in->rw_dim, o.logits + row * in->rw_dim, (size_t)(seq_lens[order[i]] * in->rw_dim) * 4);
        memcpy(all->probs + dst * in->rw_dim, o.probs + row * in->rw_dim, (size_t)(seq_lens[order[i]] * in->rw_dim) * 4);
        row += seq_lens[order[i]];
    }
    free_outputs(&o);
    return rc;
}

static int same(const outputs *a, const outputs *b, int64_t rows, const moee_model_info *in) {
    return !memcmp(a->hs, b->hs, (size_t)(rows * in->hs_dim) * 4) &&
           !memcmp(a->logits, b->logits, (size_t)(rows * in->rw_dim) * 4) &&
           !memcmp(a->probs, b->probs, (size_t)(rows * in->rw_dim) * 4);
}

/* One of several threads running the big batch at once, each in its own context. */
typedef struct {
    moee_context *ctx;
    const int32_t *const *ids;
    const int64_t *lens;
    int64_t n;
    outputs out;
    int rc;
} concurrent_run;

static void *run_concurrent(void *p) {
    concurrent_run *r = p;
    char err[512];
    r->rc = moee_forward(r->ctx, r->ids, r->lens, r->n, MOEE_POOL_NONE, r->out.hs, r->out.logits, r->out.probs,
                         err, sizeof err);
    return NULL;
}

static void test_model(const char *path) {
    moee_model *m;
    char err[512];
    int rc = moee_model_load(path, &m, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return;
    const moee_model_info *in = moee_model_get_info(m);
    int64_t total = 0;
    int32_t *ids[N_SEQS];
    uint32_t rng = 12345;
    for (int s = 0; s < N_SEQS; s++) {
        ids[s] = malloc((size_t)seq_lens[s] * sizeof(int32_t));
        for (int64_t i = 0; i < seq_lens[s]; i++) {
            rng = rng * 1664525u + 1013904223u;
            ids[s][i] = (int32_t)((rng >> 8) % (uint32_t)in->vocab_size);
        }
        total += seq_lens[s];
    }
    /* make sequence 3 a prefix of sequence 2: causal attention means equal rows */
    memcpy(ids[3], ids[2], 2 * sizeof(int32_t));

    moee_context *big, *small;
    rc = moee_context_create(m, 1000, 1, &big, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    rc |= moee_context_create(m, 90, 1, &small, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return;

    /* reference: every sequence alone, one thread, in a context just big enough */
    outputs alone = alloc_outputs(total, in->hs_dim, in->rw_dim);
    for (int s = 0; s < N_SEQS; s++) run_batch(small, ids, &s, 1, in, &alone);
    /* prefix property */
    CHECK(!memcmp(alone.hs + (1 + 7 + 33) * in->hs_dim, alone.hs + (1 + 7) * in->hs_dim, 2 * (size_t)in->hs_dim * 4));

    static const int forward[N_SEQS] = { 0, 1, 2, 3, 4 }, reversed[N_SEQS] = { 4, 3, 2, 1, 0 },
                     mixed[N_SEQS] = { 2, 4, 0, 3, 1 };
    const int *orders[3] = { forward, reversed, mixed };
    for (int threads = 1; threads <= 3; threads++) {
        if (threads > 1) {   /* the default thread count (moee_set_threads) for contexts made with 0 */
            moee_context_free(big);
            moee_set_threads(threads);
            rc = moee_context_create(m, 1000, threads == 2 ? 0 : threads, &big, err, sizeof err);
            CHECKF(rc == 0, "%s", err);
            if (rc) return;
        }
        for (int o = 0; o < 3; o++) {
            outputs got = alloc_outputs(total, in->hs_dim, in->rw_dim);
            run_batch(big, ids, orders[o], N_SEQS, in, &got);
            CHECKF(same(&alone, &got, total, in), "%s: batch order %d, %d threads differs from alone", path, o, threads);
            free_outputs(&got);
        }
    }

    /* A batch big enough (> 1024 tokens) that the engine's own row loops and the
     * attention tasks run on both threads: the five sequences sit between fillers. */
    enum { N_FILL = 10, FILL_LEN = 120 };
    const int32_t *b_ids[N_SEQS + N_FILL];
    int64_t b_lens[N_SEQS + N_FILL], b_total = total + N_FILL * FILL_LEN;
    int32_t *filler = malloc(FILL_LEN * N_FILL * sizeof(int32_t));
    for (int i = 0; i < FILL_LEN * N_FILL; i++) filler[i] = (int32_t)((i * 7 + 3) % in->vocab_size);
    for (int i = 0; i < N_SEQS + N_FILL; i++) {
        int is_seq = i >= N_FILL / 2 && i < N_FILL / 2 + N_SEQS;
        int f = i < N_FILL / 2 ? i : i - N_SEQS;
        b_ids[i] = is_seq ? ids[i - N_FILL / 2] : filler + f * FILL_LEN;
        b_lens[i] = is_seq ? seq_lens[i - N_FILL / 2] : FILL_LEN;
    }
    moee_context *huge;
    rc = moee_context_create(m, b_total, 2, &huge, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    outputs got = alloc_outputs(b_total, in->hs_dim, in->rw_dim);
    rc = moee_forward(huge, b_ids, b_lens, N_SEQS + N_FILL, MOEE_POOL_NONE, got.hs, got.logits, got.probs, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    int64_t off = (N_FILL / 2) * FILL_LEN;
    outputs mid = { got.hs + off * in->hs_dim, got.logits + off * in->rw_dim, got.probs + off * in->rw_dim };
    CHECKF(same(&alone, &mid, total, in), "%s: big batch differs from alone", path);

    /* the same batch in three contexts of 1, 2 and 2 threads, run by three threads at once */
    enum { N_RUNS = 3 };
    concurrent_run runs[N_RUNS];
    pthread_t th[N_RUNS];
    for (int r = 0; r < N_RUNS; r++) {
        runs[r] = (concurrent_run){.ids = b_ids, .lens = b_lens, .n = N_SEQS + N_FILL,
                                   .out = alloc_outputs(b_total, in->hs_dim, in->rw_dim), .rc = -1};
        rc = moee_context_create(m, b_total, r == 0 ? 1 : 2, &runs[r].ctx, err, sizeof err);
        CHECKF(rc == 0, "%s", err);
        if (rc) return;
    }
    for (int r = 0; r < N_RUNS; r++) CHECK(pthread_create(&th[r], NULL, run_concurrent, &runs[r]) == 0);
    for (int r = 0; r < N_RUNS; r++) {
        pthread_join(th[r], NULL);
        CHECK(runs[r].rc == 0);
        CHECKF(same(&got, &runs[r].out, b_total, in), "%s: concurrent run %d differs", path, r);
        free_outputs(&runs[r].out);
        moee_context_free(runs[r].ctx);
    }
    free_outputs(&got);
    free(filler);
    moee_context_free(huge);

    /* LAST and MEAN pooling summarize the per-token rows exactly */
    for (int s = 0; s < N_SEQS; s++) b_ids[s] = ids[s];
    float *hs = calloc(N_SEQS * (size_t)in->hs_dim, 4), *lg = calloc(N_SEQS * (size_t)in->rw_dim, 4),
          *pr = calloc(N_SEQS * (size_t)in->rw_dim, 4);
    rc = moee_forward(big, b_ids, seq_lens, N_SEQS, MOEE_POOL_LAST, hs, lg, pr, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    int64_t start = 0;
    for (int s = 0; s < N_SEQS; s++) {
        int64_t last = start + seq_lens[s] - 1;
        CHECK(!memcmp(hs + s * in->hs_dim, alone.hs + last * in->hs_dim, (size_t)in->hs_dim * 4));
        CHECK(!memcmp(lg + s * in->rw_dim, alone.logits + last * in->rw_dim, (size_t)in->rw_dim * 4));
        CHECK(!memcmp(pr + s * in->rw_dim, alone.probs + last * in->rw_dim, (size_t)in->rw_dim * 4));
        start += seq_lens[s];
    }
    rc = moee_forward(big, b_ids, seq_lens, N_SEQS, MOEE_POOL_MEAN, hs, lg, NULL, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    start = 0;
    int mean_ok = 1;
    for (int s = 0; s < N_SEQS; s++) {
        for (int64_t j = 0; j < in->hs_dim; j++) {
            double acc = 0;
            for (int64_t t = start; t < start + seq_lens[s]; t++) acc += alone.hs[t * in->hs_dim + j];
            if (hs[s * in->hs_dim + j] != (float)(acc / (double)seq_lens[s])) mean_ok = 0;
        }
        for (int64_t j = 0; j < in->rw_dim; j++) {
            double acc = 0;
            for (int64_t t = start; t < start + seq_lens[s]; t++) acc += alone.logits[t * in->rw_dim + j];
            if (lg[s * in->rw_dim + j] != (float)(acc / (double)seq_lens[s])) mean_ok = 0;
        }
        start += seq_lens[s];
    }
    CHECK(mean_ok);
    /* probabilities are the per-layer softmax of the logits */
    int probs_ok = 1;
    for (int64_t t = 0; t < total; t++)
        for (int l = 0; l < in->n_moe_layers; l++) {
            double sum = 0;
            for (int e = 0; e < in->n_experts; e++) sum += alone.probs[t * in->rw_dim + l * in->n_experts + e];
            if (fabs(sum - 1.0) > 1e-5) probs_ok = 0;
        }
    CHECK(probs_ok);

    free(hs); free(lg); free(pr);
    free_outputs(&alone);
    for (int s = 0; s < N_SEQS; s++) free(ids[s]);
    moee_context_free(big);
    moee_context_free(small);
    moee_model_free(m);
    moee_set_threads(0);
}

int main(void) {
    test_model("tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf");
    test_model("tests/data/golden/llamacpp-gguf/qwen2moe-tiny.q8_0.gguf");
    test_model("tests/data/golden/llamacpp-gguf/deepseek-tiny.q4_0.gguf");
    return test_summary("engine_batch");
}
