/* context.h: the working memory of forward passes (internal to engine/).
 *
 * Everything a forward pass writes lives in one arena carved up once by
 * moee_context_create for batches of up to max_tokens tokens, so moee_forward
 * allocates nothing. Activations are token-major: row t of x is token t of the
 * batch, the sequences one after another. */
#ifndef MOEE_ENGINE_CONTEXT_H
#define MOEE_ENGINE_CONTEXT_H
#include "engine/model.h"

struct moee_context {
    const moee_model *m;
    int64_t max_tokens;      /* T: sum of sequence lengths a batch may have */
    int64_t max_positions;   /* longest sequence: min(context_length, T) */
    int64_t chunk;           /* rows per feed-forward chunk (bounds the MLP buffers) */
    int n_threads;           /* threads of the team (and attention scratch slots) */
    moee_team *team;         /* the threads every parallel step of this context runs on (NULL: 1) */

    void *arena;             /* the one allocation behind every buffer below */

    /* activations [T][...] */
    float *x;                /* [T][H] residual stream */
    float *xn;               /* [T][H] RMSNorm'ed input of the current block (shares att's memory) */
    float *q;                /* [T][n_h*d] (shares out's memory) */
    float *k;                /* [T][n_kv*d] */
    void *xq_buf;            /* xn quantized once for the routed experts (moee_quantize_rows; = k's memory) */
    float *v;                /* [T][n_kv*d] */
    float *att;              /* [T][n_h*d] attention output, heads concatenated (= xn's memory) */
    float *out;              /* [T][H] output of the current block, attention or MLP (= q's memory) */

    /* routing [T][...] */
    float *logits;           /* [T][E] router logits */
    float *probs;            /* [T][E] softmax of the logits */
    int32_t *top_idx;        /* [T][k] chosen experts, best first */
    float *top_w;            /* [T][k] their mixing weights */
    float *shared_gate;      /* [T] Qwen's shared-expert gate logits */

    /* tokens grouped by expert: group e is rows group_start[e]..group_start[e+1] */
    int64_t *group_start;    /* [E+1] */
    int64_t *group_fill;     /* [E] next free slot of each group while filling */
    int32_t *group_token;    /* [T*k] token row */
    float *group_w;          /* [T*k] mixing weight of that (token, expert) */

    /* feed-forward chunk buffers [chunk][...] */
    float *ff_gate;          /* [chunk][max_ff] */
    float *ff_up;            /* [chunk][max_ff] */
    float *ff_out;           /* [chunk][H] */

    /* per batch */
    int64_t *seq_start;      /* [T+1] first row of each sequence; seq_start[n_seqs] = T */
    int32_t *pos;            /* [T] position of each token inside its sequence */

    /* constant tables */
    float *rope_cos;         /* [max_positions][d/2] */
    float *rope_sin;         /* [max_positions][d/2] */
    float *att_scratch;      /* [n_threads][MOEE_ATTENTION_SCRATCH(max_positions)] */
    void *mm_scratch;        /* moee_matmul scratch */
};

/* moee_set_threads's value, or the number of online cores. */
int moee_default_threads(void);

#endif
