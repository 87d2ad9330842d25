/* forward.c: moee_forward, the batched forward pass of olmoe, qwen2moe and deepseek.
 *
 * A batch is several independent sequences laid end to end: activations are
 * token-major x[T][H], sequence s owning rows seq_start[s]..seq_start[s+1]-1 at
 * positions 0..len-1. Per decoder layer (pre-norm):
 *
 *   x += Wo . Attention(RoPE(q), RoPE(k), v),  q,k,v = W{q,k,v} . RMSNorm(x) (+bias, q/k norm)
 *   x += MLP(RMSNorm(x))
 *
 * where MLP is a dense SwiGLU, or for MoE layers the routed experts (softmax over all
 * experts, top-k, mixing weight = probability) plus an optional shared expert.
 *
 * How the batch stays fast: every weight matrix sees all T rows at once (moee_matmul);
 * attention runs per (sequence, head) in parallel; routed experts see their tokens
 * grouped (moee_matmul_gather2: gate and up share one quantization of the rows, as
 * q, k and v do; the rows are quantized once per layer and copied per expert), so
 * each expert's weights are read once per batch (once per chunk of 512 of its
 * tokens: the chunk bounds the intermediate buffers).
 *
 * How it stays exact: every output row is computed by a sequence of operations that
 * depends on that row's own sequence only. The kernels promise this per row; the
 * only sums across rows here are a token's k expert outputs, which are added in
 * ascending expert order (a function of the token's own routing, not of the batch),
 * and the pooling means, which run over one sequence in token order in double.
 *
 * Nothing is allocated here: every buffer was sized by moee_context_create. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "engine/context.h"

/* Loops over independent rows are shared out over the context's team of threads
 * (kernels/team.h) when there is enough work to pay for handing it out; small
 * batches stay on the calling thread. Each loop is a task over a range of rows. */
#define PARALLEL_MIN_WORK 65536   /* floats touched by a loop before it is worth threads */

static moee_team *team_for_work(const moee_context *c, int64_t work) {
    return work >= PARALLEL_MIN_WORK ? c->team : NULL;
}

/* Rows of a loop claimed at a time: enough to amortize the claim, small enough to balance. */
#define ROWS_GRAIN 8

/* ---- input checks ---------------------------------------------------------- */

static int check_batch(moee_context *c, const int32_t *const *ids, const int64_t *lens, int64_t n_seqs,
                       moee_pool pool, char *err, size_t err_size) {
    const moee_model_info *in = &c->m->info;
    if (pool != MOEE_POOL_LAST && pool != MOEE_POOL_MEAN && pool != MOEE_POOL_NONE) {
        snprintf(err, err_size, "moee_forward: unknown pooling %d", (int)pool);
        return -1;
    }
    if (n_seqs < 0 || (n_seqs > 0 && (!ids || !lens))) {
        snprintf(err, err_size, "moee_forward: bad batch (%lld sequences)", (long long)n_seqs);
        return -1;
    }
    int64_t total = 0;
    for (int64_t s = 0; s < n_seqs; s++) {
        if (lens[s] < 1) {
            snprintf(err, err_size, "moee_forward: sequence %lld is empty", (long long)s);
            return -1;
        }
        if (lens[s] > in->context_length) {
            snprintf(err, err_size, "moee_forward: sequence %lld has %lld tokens, more than the model's "
                     "context length %d", (long long)s, (long long)lens[s], in->context_length);
            return -1;
        }
        total += lens[s];
        if (total > c->max_tokens) {
            snprintf(err, err_size, "moee_forward: the batch has more than the context's %lld tokens",
                     (long long)c->max_tokens);
            return -1;
        }
        if (!ids[s]) {
            snprintf(err, err_size, "moee_forward: sequence %lld has no ids", (long long)s);
            return -1;
        }
        for (int64_t i = 0; i < lens[s]; i++) {
            if (ids[s][i] < 0 || ids[s][i] >= in->vocab_size) {
                snprintf(err, err_size, "moee_forward: sequence %lld, position %lld: token id %d is out "
                         "of range [0, %d)", (long long)s, (long long)i, (int)ids[s][i], in->vocab_size);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- blocks ----------------------------------------------------------------- */

/* x[t] = embedding row of token t, converted to float from whatever type it is stored in. */
static void embed_tokens(moee_context *c, const int32_t *const *ids, int64_t n_seqs) {
    const moee_model *m = c->m;
    int64_t H = m->info.hidden;
    size_t row_bytes = moee_type_row_bytes(m->token_embd.type, H);
    void (*to_float)(const void *, float *, int64_t) = moee_type(m->token_embd.type)->to_float;
    for (int64_t s = 0; s < n_seqs; s++) {
        int64_t start = c->seq_start[s], n = c->seq_start[s + 1] - start;
        for (int64_t i = 0; i < n; i++) {
            c->pos[start + i] = (int32_t)i;
            const char *row = (const char *)m->token_embd.data + (size_t)ids[s][i] * row_bytes;
            to_float(row, c->x + (start + i) * H, H);
        }
    }
}

/* Row-wise operations on [rows][n] arrays: what the simple loops below share out. */
typedef struct {
    float *dst;
    const float *src, *w;      /* w: RMSNorm weights; for AXPY_ROWS, NULL or per-row gate logits */
    const int32_t *dst_rows;   /* AXPY_ROWS: the row of dst that row i goes to (NULL: row i) */
    const float *row_scale;    /* AXPY_ROWS: per-row factor (NULL: gate logits or 1) */
    int64_t n;
    float eps;
} rows_job;

/* dst[t] = RMSNorm(src[t]; w) */
static void rmsnorm_task(void *arg, int64_t t0, int64_t t1, int thread) {
    const rows_job *j = arg;
    for (int64_t t = t0; t < t1; t++) moee_rmsnorm(j->dst + t * j->n, j->src + t * j->n, j->w, j->n, j->eps);
}

/* dst[dst_rows[i]] += a_i * src[i], a_i = row_scale[i], sigmoid(w[i]) (Qwen's shared
 * expert gate) or 1 */
static void axpy_task(void *arg, int64_t i0, int64_t i1, int thread) {
    const rows_job *j = arg;
    for (int64_t i = i0; i < i1; i++) {
        float a = 1.0f;
        if (j->row_scale) a = j->row_scale[i];
        else if (j->w) a = 1.0f / (1.0f + expf(-j->w[i]));
        int64_t row = j->dst_rows ? (int64_t)j->dst_rows[i] : i;
        moee_axpy(j->dst + row * j->n, a, j->src + i * j->n, j->n);
    }
}

/* gate[i] = silu(gate[i]) * up[i] (src = up) */
static void silu_task(void *arg, int64_t i0, int64_t i1, int thread) {
    const rows_job *j = arg;
    for (int64_t i = i0; i < i1; i++) moee_silu_mul(j->dst + i * j->n, j->src + i * j->n, j->n);
}

/* dst[t] = RMSNorm(src[t]; w) for every row t < T of n floats. */
static void rmsnorm_rows(moee_context *c, float *dst, const float *src, const float *w, int64_t T, int64_t n,
                         float eps) {
    rows_job j = {.dst = dst, .src = src, .w = w, .n = n, .eps = eps};
    moee_team_for(team_for_work(c, T * n), T, ROWS_GRAIN, rmsnorm_task, &j);
}

/* y[t] += x[t] for every row (a residual add). */
static void add_rows(moee_context *c, float *y, const float *x, int64_t T, int64_t n) {
    rows_job j = {.dst = y, .src = x, .n = n};
    moee_team_for(team_for_work(c, T * n), T, ROWS_GRAIN, axpy_task, &j);
}

typedef struct { float *x, *xn; const float *add, *w; int64_t n; float eps; } add_norm_job;

/* x[t] += add[t], then xn[t] = RMSNorm(x[t]; w): the row is still in the cache */
static void add_norm_task(void *arg, int64_t t0, int64_t t1, int thread) {
    const add_norm_job *j = arg;
    for (int64_t t = t0; t < t1; t++) {
        moee_axpy(j->x + t * j->n, 1.0f, j->add + t * j->n, j->n);
        moee_rmsnorm(j->xn + t * j->n, j->x + t * j->n, j->w, j->n, j->eps);
    }
}

/* add_rows(x, add) then rmsnorm_rows(xn, x, w) in one pass over the rows (the same
 * operations on each row, so the same bits). */
static void add_norm_rows(moee_context *c, float *x, const float *add, float *xn, const float *w, int64_t T,
                          int64_t n, float eps) {
    add_norm_job j = {x, xn, add, w, n, eps};
    moee_team_for(team_for_work(c, T * n), T, ROWS_GRAIN, add_norm_task, &j);
}

/* gate[i] = silu(gate[i]) * up[i] for n rows of ff */
static void silu_rows(moee_context *c, float *gate, const float *up, int64_t n, int64_t ff) {
    rows_job j = {.dst = gate, .src = up, .n = ff};
    moee_team_for(team_for_work(c, n * ff), n, ROWS_GRAIN, silu_task, &j);
}

typedef struct { moee_context *c; const moee_layer *ly; } layer_job;

/* Per token: q/k/v biases, q/k norms, RoPE. */
static void qk_task(void *arg, int64_t t0, int64_t t1, int thread) {
    const layer_job *j = arg;
    moee_context *c = j->c;
    const moee_layer *ly = j->ly;
    const moee_model *m = c->m;
    int64_t d = m->info.head_dim, nh = m->info.n_heads, nkv = m->info.n_kv_heads;
    int64_t qd = nh * d, kvd = nkv * d, half = d / 2;
    for (int64_t t = t0; t < t1; t++) {
        float *q = c->q + t * qd, *k = c->k + t * kvd, *v = c->v + t * kvd;
        if (ly->bq) {                 /* Qwen: q/k/v biases */
            moee_axpy(q, 1.0f, ly->bq, qd);
            moee_axpy(k, 1.0f, ly->bk, kvd);
            moee_axpy(v, 1.0f, ly->bv, kvd);
        }
        if (ly->q_norm) {             /* OLMoE: RMSNorm over all heads at once, before RoPE */
            moee_rmsnorm(q, q, ly->q_norm, qd, m->rms_eps);
            moee_rmsnorm(k, k, ly->k_norm, kvd, m->rms_eps);
        }
        const float *cos_t = c->rope_cos + (int64_t)c->pos[t] * half;
        const float *sin_t = c->rope_sin + (int64_t)c->pos[t] * half;
        moee_rope(q, nh, d, cos_t, sin_t, m->rope_mode);
        moee_rope(k, nkv, d, cos_t, sin_t, m->rope_mode);
    }
}

/* One item per (sequence, query head); query head h reads kv head h / (nh / nkv).
 * Each thread has its own scratch row. */
static void attention_task(void *arg, int64_t i0, int64_t i1, int thread) {
    const layer_job *j = arg;
    moee_context *c = j->c;
    const moee_model *m = c->m;
    int64_t d = m->info.head_dim, nh = m->info.n_heads, nkv = m->info.n_kv_heads;
    int64_t qd = nh * d, kvd = nkv * d, group = nh / nkv;
    float scale = (float)(1.0 / sqrt((double)d));
    float *scratch = c->att_scratch + (int64_t)thread * MOEE_ATTENTION_SCRATCH(c->max_positions);
    for (int64_t i = i0; i < i1; i++) {
        int64_t s = i / nh, h = i % nh, g = h / group;
        int64_t start = c->seq_start[s], n = c->seq_start[s + 1] - start;
        moee_attention_head(c->q + start * qd + h * d, qd, c->k + start * kvd + g * d, kvd,
                            c->v + start * kvd + g * d, kvd, c->att + start * qd + h * d, qd, n, d,
                            scale, scratch);
    }
}

/* out = the attention block's output for the rows of xn (RMSNorm(x; attn_norm), made
 * by the caller: see moee_forward). */
static void attention_block(moee_context *c, const moee_layer *ly, int64_t n_seqs, int64_t T) {
    const moee_model *m = c->m;
    int64_t d = m->info.head_dim, nh = m->info.n_heads, nkv = m->info.n_kv_heads;
    int64_t qd = nh * d, kvd = nkv * d;

    {   /* q, k and v from one quantization of xn */
        const moee_matrix *w_qkv[3] = {&ly->wq, &ly->wk, &ly->wv};
        float *y_qkv[3] = {c->q, c->k, c->v};
        moee_matmul_gather_n(c->team, w_qkv, 3, c->xn, NULL, T, y_qkv, c->mm_scratch);
    }
    layer_job j = {c, ly};
    moee_team_for(team_for_work(c, T * (qd + kvd)), T, ROWS_GRAIN, qk_task, &j);
    moee_team_for(team_for_work(c, T * qd), n_seqs * nh, 1, attention_task, &j);
    moee_matmul(c->team, &ly->wo, c->att, T, c->out, c->mm_scratch);
}

/* out[rows] = down(silu(gate xn) * up xn) for a dense SwiGLU block over all T rows,
 * in chunks of c->chunk rows. If add, the result is added into out (y += 1 * v, or
 * y += sigmoid(gate logit) * v when the layer has Qwen's shared-expert gate). */
static void dense_ffn(moee_context *c, const moee_ffn *f, const float *gate_logits, int64_t T, int add) {
    int64_t H = c->m->info.hidden, ff = f->ff;
    for (int64_t r0 = 0; r0 < T; r0 += c->chunk) {
        int64_t n = T - r0 < c->chunk ? T - r0 : c->chunk;
        moee_matmul_gather2(c->team, &f->gate, &f->up, c->xn + r0 * H, NULL, NULL, n, c->ff_gate, c->ff_up,
                            c->mm_scratch);
        silu_rows(c, c->ff_gate, c->ff_up, n, ff);
        if (!add) {
            moee_matmul(c->team, &f->down, c->ff_gate, n, c->out + r0 * H, c->mm_scratch);
            continue;
        }
        moee_matmul(c->team, &f->down, c->ff_gate, n, c->ff_out, c->mm_scratch);
        rows_job j = {.dst = c->out + r0 * H, .src = c->ff_out, .w = gate_logits ? gate_logits + r0 : NULL, .n = H};
        moee_team_for(team_for_work(c, n * H), n, ROWS_GRAIN, axpy_task, &j);
    }
}

/* Per token: softmax over all experts, top-k and mixing weights. */
static void route_task(void *arg, int64_t t0, int64_t t1, int thread) {
    moee_context *c = ((const layer_job *)arg)->c;
    const moee_model *m = c->m;
    int64_t E = m->info.n_experts, K = m->info.n_experts_used;
    int deepseek = m->arch == MOEE_ARCH_DEEPSEEK;
    for (int64_t t = t0; t < t1; t++) {
        float *p = c->probs + t * E, *w = c->top_w + t * K;
        int32_t *idx = c->top_idx + t * K;
        memcpy(p, c->logits + t * E, (size_t)E * sizeof(float));
        moee_softmax(p, E);
        moee_topk(p, E, K, idx);
        float sum = 0.0f;
        for (int64_t j = 0; j < K; j++) {
            w[j] = p[idx[j]];
            sum += w[j];
        }
        /* norm_topk_prob; DeepSeek's own code adds 1e-20 and skips it for k = 1 */
        if (m->norm_topk_prob && (!deepseek || K > 1)) {
            float denom = deepseek ? sum + 1e-20f : sum;
            for (int64_t j = 0; j < K; j++) w[j] /= denom;
        }
    }
}

/* Router: logits, then per token softmax, top-k and mixing weights. */
static void route(moee_context *c, const moee_layer *ly, int64_t T) {
    moee_matmul(c->team, &ly->router, c->xn, T, c->logits, c->mm_scratch);
    layer_job j = {c, ly};
    moee_team_for(team_for_work(c, T * c->m->info.n_experts), T, ROWS_GRAIN, route_task, &j);
}

/* Groups the batch's (token, expert) pairs by expert, tokens ascending in each group. */
static void group_by_expert(moee_context *c, int64_t T) {
    int64_t E = c->m->info.n_experts, K = c->m->info.n_experts_used;
    memset(c->group_start, 0, (size_t)(E + 1) * sizeof *c->group_start);
    for (int64_t i = 0; i < T * K; i++) c->group_start[c->top_idx[i] + 1]++;
    for (int64_t e = 0; e < E; e++) c->group_start[e + 1] += c->group_start[e];
    memcpy(c->group_fill, c->group_start, (size_t)E * sizeof *c->group_fill);
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < K; j++) {
            int64_t slot = c->group_fill[c->top_idx[t * K + j]]++;
            c->group_token[slot] = (int32_t)t;
            c->group_w[slot] = c->top_w[t * K + j];
        }
}

/* out = sum over each token's chosen experts of w_e * FFN_e(xn), experts in ascending
 * index order (so a token's sum depends on its own routing only), + shared expert. */
static void moe_block(moee_context *c, const moee_layer *ly, int64_t T) {
    const moee_model *m = c->m;
    int64_t H = m->info.hidden, E = m->info.n_experts, ff = ly->experts.ff;
    group_by_expert(c, T);
    memset(c->out, 0, (size_t)(T * H) * sizeof(float));
    /* every token's row goes to k experts: quantize it once for all of them */
    moee_qrows xq_rows, *xq = NULL;
    if (moee_type(ly->experts.gate.type)->is_quantized) {
        moee_quantize_rows(c->team, c->xn, T, H, c->xq_buf, &xq_rows);
        xq = &xq_rows;
    }
    for (int e = 0; e < E; e++) {
        moee_matrix gate = moee_expert_matrix(&ly->experts.gate, ly->gate_expert_bytes, e);
        moee_matrix up = moee_expert_matrix(&ly->experts.up, ly->up_expert_bytes, e);
        moee_matrix down = moee_expert_matrix(&ly->experts.down, ly->down_expert_bytes, e);
        for (int64_t g0 = c->group_start[e]; g0 < c->group_start[e + 1]; g0 += c->chunk) {
            int64_t n = c->group_start[e + 1] - g0 < c->chunk ? c->group_start[e + 1] - g0 : c->chunk;
            const int32_t *rows = c->group_token + g0;
            moee_matmul_gather2(c->team, &gate, &up, c->xn, xq, rows, n, c->ff_gate, c->ff_up, c->mm_scratch);
            silu_rows(c, c->ff_gate, c->ff_up, n, ff);
            moee_matmul(c->team, &down, c->ff_gate, n, c->ff_out, c->mm_scratch);
            /* each token appears at most once in a group: no two rows collide */
            rows_job j = {.dst = c->out, .src = c->ff_out, .dst_rows = rows, .row_scale = c->group_w + g0, .n = H};
            moee_team_for(team_for_work(c, n * H), n, ROWS_GRAIN, axpy_task, &j);
        }
    }
    if (ly->shared.ff) {
        const float *gate_logits = NULL;
        if (ly->shared_gate) {   /* Qwen: sigmoid(w_sg . x) scales the shared expert */
            moee_matrix wsg = { MOEE_TYPE_F32, ly->shared_gate, 1, H };
            moee_matmul(c->team, &wsg, c->xn, T, c->shared_gate, c->mm_scratch);
            gate_logits = c->shared_gate;
        }
        dense_ffn(c, &ly->shared, gate_logits, T, 1);
    }
}

/* ---- outputs ---------------------------------------------------------------- */

/* Writes this MoE layer's router logits/probabilities into the caller's rows:
 * every token (NONE), each sequence's last token (LAST) or its mean (MEAN). */
static void save_routing(moee_context *c, const moee_layer *ly, int64_t n_seqs, int64_t T, moee_pool pool,
                         float *rw_logits, float *rw_probs) {
    int64_t E = c->m->info.n_experts, rw_dim = c->m->info.rw_dim, col = (int64_t)ly->moe_index * E;
    for (int which = 0; which < 2; which++) {
        float *dst = which ? rw_probs : rw_logits;
        const float *src = which ? c->probs : c->logits;
        if (!dst) continue;
        if (pool == MOEE_POOL_NONE) {
            for (int64_t t = 0; t < T; t++)
                memcpy(dst + t * rw_dim + col, src + t * E, (size_t)E * sizeof(float));
        } else if (pool == MOEE_POOL_LAST) {
            for (int64_t s = 0; s < n_seqs; s++)
                memcpy(dst + s * rw_dim + col, src + (c->seq_start[s + 1] - 1) * E, (size_t)E * sizeof(float));
        } else {   /* (a few thousand floats a sequence: one thread) */
            for (int64_t s = 0; s < n_seqs; s++) {
                int64_t start = c->seq_start[s], n = c->seq_start[s + 1] - start;
                for (int64_t e = 0; e < E; e++) {
                    double acc = 0.0;
                    for (int64_t t = start; t < start + n; t++) acc += src[t * E + e];
                    dst[s * rw_dim + col + e] = (float)(acc / (double)n);
                }
            }
        }
    }
}

/* Final RMSNorm and pooling of the hidden states into hs. */
static void save_hidden(moee_context *c, int64_t n_seqs, int64_t T, moee_pool pool, float *hs) {
    const moee_model *m = c->m;
    int64_t H = m->info.hidden;
    if (pool == MOEE_POOL_NONE) {
        rmsnorm_rows(c, hs, c->x, m->output_norm, T, H, m->rms_eps);
    } else if (pool == MOEE_POOL_LAST) {
        for (int64_t s = 0; s < n_seqs; s++)
            moee_rmsnorm(hs + s * H, c->x + (c->seq_start[s + 1] - 1) * H, m->output_norm, H, m->rms_eps);
    } else {
        rmsnorm_rows(c, c->xn, c->x, m->output_norm, T, H, m->rms_eps);
        for (int64_t s = 0; s < n_seqs; s++) {
            int64_t start = c->seq_start[s], n = c->seq_start[s + 1] - start;
            for (int64_t j = 0; j < H; j++) {
                double acc = 0.0;
                for (int64_t t = start; t < start + n; t++) acc += c->xn[t * H + j];
                hs[s * H + j] = (float)(acc / (double)n);
            }
        }
    }
}

/* With MOEE_POOL_LAST nothing after the last layer's attention looks at any token
 * but each sequence's last: move those rows to the front (row s = sequence s, each
 * sequence now one row long) so the last feed-forward block runs on n_seqs rows
 * only. Rows are computed independently, so the results are the same bits.
 * (Moving in increasing s is safe: row s never lies past the last row of sequence s.) */
static void keep_last_tokens(moee_context *c, int64_t n_seqs) {
    int64_t H = c->m->info.hidden;
    for (int64_t s = 0; s < n_seqs; s++) {
        int64_t last = c->seq_start[s + 1] - 1;
        if (last != s) memcpy(c->x + s * H, c->x + last * H, (size_t)H * sizeof(float));
    }
    for (int64_t s = 0; s <= n_seqs; s++) c->seq_start[s] = s;
}

int moee_forward(moee_context *ctx, const int32_t *const *ids, const int64_t *lens, int64_t n_seqs,
                 moee_pool pool, float *hs, float *rw_logits, float *rw_probs, char *err, size_t err_size) {
    if (check_batch(ctx, ids, lens, n_seqs, pool, err, err_size)) return -1;
    if (n_seqs == 0) return 0;
    const moee_model *m = ctx->m;
    ctx->seq_start[0] = 0;
    for (int64_t s = 0; s < n_seqs; s++) ctx->seq_start[s + 1] = ctx->seq_start[s] + lens[s];
    int64_t T = ctx->seq_start[n_seqs];

    /* Each block's residual add (x += out) goes together with the RMSNorm that reads x
     * next (add_norm_rows): one pass over the rows instead of two. */
    const int64_t H = m->info.hidden;
    embed_tokens(ctx, ids, n_seqs);
    rmsnorm_rows(ctx, ctx->xn, ctx->x, m->layers[0].attn_norm, T, H, m->rms_eps);   /* (block_count >= 1: model.c) */
    for (int i = 0; i < m->info.n_layers; i++) {
        const moee_layer *ly = &m->layers[i];
        attention_block(ctx, ly, n_seqs, T);
        if (pool == MOEE_POOL_LAST && i == m->info.n_layers - 1 && T > n_seqs) {
            add_rows(ctx, ctx->x, ctx->out, T, H);
            keep_last_tokens(ctx, n_seqs);
            T = n_seqs;
            rmsnorm_rows(ctx, ctx->xn, ctx->x, ly->ffn_norm, T, H, m->rms_eps);
        } else {
            add_norm_rows(ctx, ctx->x, ctx->out, ctx->xn, ly->ffn_norm, T, H, m->rms_eps);
        }
        if (ly->is_moe) {
            route(ctx, ly, T);
            save_routing(ctx, ly, n_seqs, T, pool, rw_logits, rw_probs);
            moe_block(ctx, ly, T);
        } else {
            dense_ffn(ctx, &ly->shared, NULL, T, 0);
        }
        if (i + 1 < m->info.n_layers)
            add_norm_rows(ctx, ctx->x, ctx->out, ctx->xn, m->layers[i + 1].attn_norm, T, H, m->rms_eps);
        else
            add_rows(ctx, ctx->x, ctx->out, T, H);
    }
    if (hs) save_hidden(ctx, n_seqs, T, pool, hs);
    return 0;
}
