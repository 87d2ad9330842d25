/* context.c: sizing the forward pass's working memory once, the RoPE tables, and
 * the context's own team of threads. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "engine/context.h"

/* Rows of the feed-forward chunk buffers: big enough that every weight row read is
 * reused many times, small enough that DeepSeek's 10944-wide dense MLP stays in
 * tens of megabytes. Results do not depend on it (every kernel row is independent). */
#define FF_CHUNK 512

/* The arena, in 2 MB-aligned memory that Linux may back with huge pages (the batch's
 * activations and expert outputs: OLMoE's hold ~160 MB for 3,072 tokens, written anew
 * every layer): page faults and TLB misses cost much in a virtual machine (file.c). */
#define HUGE_PAGE ((size_t)2 << 20)
static void *arena_alloc(size_t bytes) {
    const size_t size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p) (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* The process default for contexts created with n_threads 0 (0 here: all cores). */
static _Atomic int default_threads;

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

void moee_set_threads(int n) {
    atomic_store(&default_threads, n > 0 ? n : 0);
#ifdef _OPENMP   /* what still uses OpenMP (tokenizing many texts, the evaluator) follows it too */
    omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
#endif
}

int moee_default_threads(void) {
    int n = atomic_load(&default_threads);
    return n > 0 ? n : online_cpus();
}

/* Lays buffers out one after another, 64-byte aligned. With base NULL it only
 * measures; the second pass hands out pointers. */
typedef struct { char *base; size_t used; int overflow; } layout;

static void *take(layout *l, int64_t count, size_t elem) {
    size_t off = (l->used + 63) & ~(size_t)63;
    if (count < 0 || (uint64_t)count > ((uint64_t)1 << 46) / elem) { l->overflow = 1; return NULL; }
    size_t bytes = (size_t)count * elem;
    l->used = off + bytes;
    if (l->used > ((size_t)1 << 46)) l->overflow = 1;
    return l->base ? l->base + off : NULL;
}

static void carve(moee_context *c, layout *l) {
    const moee_model_info *in = &c->m->info;
    int64_t T = c->max_tokens, H = in->hidden, E = in->n_experts, K = in->n_experts_used;
    int64_t qd = (int64_t)in->n_heads * in->head_dim, kvd = (int64_t)in->n_kv_heads * in->head_dim;
    int64_t half = in->head_dim / 2, ff = c->m->max_ff;
    int64_t wide = H > qd ? H : qd;   /* widest activation row of a whole-batch matmul */

    /* Buffers share memory where their lifetimes never overlap within a layer: xn (the
     * normed input, dead once q/k/v exist) with att (born in attention, dead after the
     * output projection); q (dead after attention) with out (born in the output
     * projection, consumed by the residual add before the next layer's q); k (dead
     * after attention) with xq_buf (the MoE block's quantized xn). */
    c->x = take(l, T * H, sizeof(float));
    c->xn = c->att = take(l, T * wide, sizeof(float));
    c->q = c->out = take(l, T * wide, sizeof(float));
    size_t k_bytes = (size_t)(T * kvd) * sizeof(float), xq_bytes = moee_qrows_bytes(T, H);
    c->k = c->xq_buf = take(l, (int64_t)(k_bytes > xq_bytes ? k_bytes : xq_bytes), 1);
    c->v = take(l, T * kvd, sizeof(float));
    c->logits = take(l, T * E, sizeof(float));
    c->probs = take(l, T * E, sizeof(float));
    c->top_idx = take(l, T * K, sizeof(int32_t));
    c->top_w = take(l, T * K, sizeof(float));
    c->shared_gate = take(l, T, sizeof(float));
    c->group_start = take(l, E + 1, sizeof(int64_t));
    c->group_fill = take(l, E, sizeof(int64_t));
    c->group_token = take(l, T * K, sizeof(int32_t));
    c->group_w = take(l, T * K, sizeof(float));
    c->ff_gate = take(l, c->chunk * ff, sizeof(float));
    c->ff_up = take(l, c->chunk * ff, sizeof(float));
    c->ff_out = take(l, c->chunk * H, sizeof(float));
    c->seq_start = take(l, T + 1, sizeof(int64_t));
    c->pos = take(l, T, sizeof(int32_t));
    c->rope_cos = take(l, c->max_positions * half, sizeof(float));
    c->rope_sin = take(l, c->max_positions * half, sizeof(float));
    c->att_scratch = take(l, (int64_t)c->n_threads * MOEE_ATTENTION_SCRATCH(c->max_positions), sizeof(float));
    /* matmuls see T rows of at most `wide` columns, or a chunk of rows of at most ff */
    size_t scratch_rows = moee_matmul_scratch_bytes(T, wide), scratch_ff = moee_matmul_scratch_bytes(c->chunk, ff);
    c->mm_scratch = take(l, (int64_t)(scratch_rows > scratch_ff ? scratch_rows : scratch_ff), 1);
}

/* cos/sin(p * theta^(-2i/d)) for every position p and frequency i < d/2, computed in
 * double and rounded once to float. (Hugging Face computes the angle in float32;
 * the two differ by <= ~2e-6 on the golden models, inside their tolerance.) */
static void fill_rope_tables(moee_context *c) {
    const moee_model *m = c->m;
    int64_t d = m->info.head_dim, half = d / 2;
    for (int64_t i = 0; i < half; i++) {
        double freq = pow((double)m->rope_theta, -2.0 * (double)i / (double)d);
        for (int64_t p = 0; p < c->max_positions; p++) {
            double angle = (double)p * freq;
            c->rope_cos[p * half + i] = (float)cos(angle);
            c->rope_sin[p * half + i] = (float)sin(angle);
        }
    }
}

int moee_context_create(const moee_model *m, int64_t max_batch_tokens, int n_threads, moee_context **out,
                        char *err, size_t err_size) {
    *out = NULL;
    if (max_batch_tokens < 1 || max_batch_tokens > ((int64_t)1 << 31) - 1) {
        snprintf(err, err_size, "%s: max_batch_tokens %lld must be in [1, 2^31)", m->path,
                 (long long)max_batch_tokens);
        return -1;
    }
    if (n_threads < 0 || n_threads > 4096) {
        snprintf(err, err_size, "%s: %d threads: expected 0 (the default) to 4096", m->path, n_threads);
        return -1;
    }
    moee_context *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "%s: out of memory", m->path);
        return -1;
    }
    c->m = m;
    c->max_tokens = max_batch_tokens;
    c->max_positions = m->info.context_length < max_batch_tokens ? m->info.context_length : max_batch_tokens;
    c->chunk = max_batch_tokens < FF_CHUNK ? max_batch_tokens : FF_CHUNK;
    c->n_threads = n_threads ? n_threads : moee_default_threads();
    layout l = { NULL, 0, 0 };
    carve(c, &l);
    if (!l.overflow) {
        l.base = arena_alloc(l.used);
        if (l.base) {
            c->arena = l.base;
            l.used = 0;
            carve(c, &l);
        }
    }
    if (!c->arena) {
        snprintf(err, err_size, "%s: out of memory for a context of %lld tokens (%.1f MB)", m->path,
                 (long long)max_batch_tokens, (double)l.used / 1e6);
        free(c);
        return -1;
    }
    if (c->n_threads > 1 && moee_team_create(c->n_threads, &c->team)) {
        snprintf(err, err_size, "%s: could not start %d threads", m->path, c->n_threads);
        moee_context_free(c);
        return -1;
    }
    fill_rope_tables(c);
    *out = c;
    return 0;
}

void moee_context_free(moee_context *ctx) {
    if (!ctx) return;
    moee_team_free(ctx->team);
    free(ctx->arena);
    free(ctx);
}
