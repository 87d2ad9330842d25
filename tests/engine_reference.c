/* engine_reference: structures the golden files do not cover, checked against a
 * plain float64 reference written here from MODELS.md (one sequence at a time,
 * straight loops, no batching, no kernels):
 *   olmoe    with grouped-query attention (k-norm over n_kv*d) and norm_topk_prob
 *   qwen2moe with a dense layer in the middle (mlp_only_layers) and the shared gate
 *   deepseek with two leading dense layers, k = 1 and norm_topk_prob (a no-op for k = 1)
 * Each model is written with the GGUF writer (random F32 weights) in a temp dir. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "moee.h"
#include "weights/gguf.h"
#include "kernels/types.h"

typedef struct {
    const char *arch;
    int layers, hidden, heads, kv_heads, experts, k, ff_exp, ff_shared, ff_dense;
    unsigned dense_mask;   /* bit i: layer i is a dense MLP */
    int qk_norm, qkv_bias, shared_gate, norm_topk, rope_norm;
    float theta, eps;
} config;

static const config configs[] = {
    { "olmoe", 3, 64, 4, 2, 8, 2, 32, 0, 0, 0x0, 1, 0, 0, 1, 0, 10000.0f, 1e-5f },
    { "qwen2moe", 3, 64, 4, 4, 6, 3, 16, 48, 40, 0x2, 0, 1, 1, 0, 0, 1000000.0f, 1e-6f },
    { "deepseek", 4, 64, 4, 4, 8, 1, 32, 64, 96, 0x3, 0, 0, 0, 1, 1, 10000.0f, 1e-6f },
};

#define VOCAB 300
#define MAX_T 40

/* ---- the model file ------------------------------------------------------------ */

static uint64_t rng_state;
static float rnd(float scale) {   /* uniform in [-scale, scale] */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(rng_state >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
}

typedef struct { char name[64]; uint32_t n_dims; uint64_t ne[3]; float scale, offset; } tensor_spec;

static int n_specs;
static tensor_spec specs[128];

static void spec(const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1, uint64_t ne2, float scale, float offset) {
    tensor_spec *s = &specs[n_specs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->n_dims = n_dims;
    s->ne[0] = ne0; s->ne[1] = ne1; s->ne[2] = ne2;
    s->scale = scale;
    s->offset = offset;
}

static int write_model(const config *c, const char *path, char *err, size_t err_size) {
    int H = c->hidden, d = H / c->heads, qd = c->heads * d, kvd = c->kv_heads * d;
    char key[96], name[64];
    n_specs = 0;
    spec("token_embd.weight", 2, H, VOCAB, 1, 1.0f, 0);
    for (int i = 0; i < c->layers; i++) {
#define N(s) (snprintf(name, sizeof name, "blk.%d." s, i), name)
        spec(N("attn_norm.weight"), 1, H, 1, 1, 0.1f, 1.0f);
        spec(N("attn_q.weight"), 2, H, qd, 1, 0.25f, 0);
        spec(N("attn_k.weight"), 2, H, kvd, 1, 0.25f, 0);
        spec(N("attn_v.weight"), 2, H, kvd, 1, 0.25f, 0);
        spec(N("attn_output.weight"), 2, qd, H, 1, 0.25f, 0);
        if (c->qkv_bias) {
            spec(N("attn_q.bias"), 1, qd, 1, 1, 0.1f, 0);
            spec(N("attn_k.bias"), 1, kvd, 1, 1, 0.1f, 0);
            spec(N("attn_v.bias"), 1, kvd, 1, 1, 0.1f, 0);
        }
        if (c->qk_norm) {
            spec(N("attn_q_norm.weight"), 1, qd, 1, 1, 0.1f, 1.0f);
            spec(N("attn_k_norm.weight"), 1, kvd, 1, 1, 0.1f, 1.0f);
        }
        spec(N("ffn_norm.weight"), 1, H, 1, 1, 0.1f, 1.0f);
        if (c->dense_mask >> i & 1) {
            spec(N("ffn_gate.weight"), 2, H, c->ff_dense, 1, 0.25f, 0);
            spec(N("ffn_up.weight"), 2, H, c->ff_dense, 1, 0.25f, 0);
            spec(N("ffn_down.weight"), 2, c->ff_dense, H, 1, 0.25f, 0);
            continue;
        }
        spec(N("ffn_gate_inp.weight"), 2, H, c->experts, 1, 0.5f, 0);
        spec(N("ffn_gate_exps.weight"), 3, H, c->ff_exp, c->experts, 0.25f, 0);
        spec(N("ffn_up_exps.weight"), 3, H, c->ff_exp, c->experts, 0.25f, 0);
        spec(N("ffn_down_exps.weight"), 3, c->ff_exp, H, c->experts, 0.25f, 0);
        if (c->ff_shared) {
            spec(N("ffn_gate_shexp.weight"), 2, H, c->ff_shared, 1, 0.25f, 0);
            spec(N("ffn_up_shexp.weight"), 2, H, c->ff_shared, 1, 0.25f, 0);
            spec(N("ffn_down_shexp.weight"), 2, c->ff_shared, H, 1, 0.25f, 0);
        }
        if (c->shared_gate) spec(N("ffn_gate_inp_shexp.weight"), 1, H, 1, 1, 0.3f, 0);
#undef N
    }
    spec("output_norm.weight", 1, H, 1, 1, 0.1f, 1.0f);

    gguf_writer *w = gguf_writer_create(path, err, err_size);
    if (!w) return -1;
    gguf_writer_set_str(w, "general.architecture", c->arch);
#define KEY(s) (snprintf(key, sizeof key, "%s." s, c->arch), key)
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)c->layers);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)H);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)c->heads);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->kv_heads);
    gguf_writer_set_u32(w, KEY("context_length"), 512);
    gguf_writer_set_u32(w, KEY("expert_count"), (uint32_t)c->experts);
    gguf_writer_set_u32(w, KEY("expert_used_count"), (uint32_t)c->k);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), c->theta);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->eps);
    if (c->norm_topk) gguf_writer_set_bool(w, KEY("expert_weights_norm"), 1);
#undef KEY
    for (int i = 0; i < n_specs; i++) gguf_writer_add_tensor(w, specs[i].name, MOEE_TYPE_F32, specs[i].n_dims, specs[i].ne);
    int rc = gguf_writer_begin_data(w, err, err_size);
    for (int i = 0; rc == 0 && i < n_specs; i++) {
        uint64_t n = specs[i].ne[0] * specs[i].ne[1] * specs[i].ne[2];
        float *v = malloc(n * sizeof(float));
        /* fan-in scaling keeps activations O(1) through the layers */
        float scale = specs[i].n_dims > 1 && strcmp(specs[i].name, "token_embd.weight")
                    ? specs[i].scale * 4.0f / sqrtf((float)specs[i].ne[0]) : specs[i].scale;
        for (uint64_t j = 0; j < n; j++) v[j] = specs[i].offset + rnd(scale);
        rc = gguf_writer_write_tensor(w, v, n * sizeof(float), err, err_size);
        free(v);
    }
    if (rc == 0) return gguf_writer_finish(w, err, err_size);
    gguf_writer_abort(w);
    return -1;
}

/* ---- the float64 reference ------------------------------------------------------- */

static const gguf_file *ref_file;
static const float *T_(const char *fmt, int layer) {
    char name[64];
    snprintf(name, sizeof name, fmt, layer);
    const gguf_tensor *t = gguf_find_tensor(ref_file, name);
    return t ? (const float *)t->data : NULL;
}

/* y[out] = W[out][in] . x (+ b) */
static void linear(double *y, const float *W, const float *b, const double *x, int in, int out) {
    for (int r = 0; r < out; r++) {
        double acc = b ? b[r] : 0.0;
        for (int c = 0; c < in; c++) acc += (double)W[(size_t)r * in + c] * x[c];
        y[r] = acc;
    }
}

static void rmsnorm(double *y, const double *x, const float *g, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * inv * g[i];
}

static void swiglu(double *y, const float *Wg, const float *Wu, const float *Wd, const double *x, int H, int ff) {
    double g[128], u[128];
    linear(g, Wg, NULL, x, H, ff);
    linear(u, Wu, NULL, x, H, ff);
    for (int i = 0; i < ff; i++) g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
    linear(y, Wd, NULL, g, ff, H);
}

static void rope(double *v, int d, int pos, double theta, int norm_pairs) {
    for (int i = 0; i < d / 2; i++) {
        double a = pos * pow(theta, -2.0 * i / d), cs = cos(a), sn = sin(a);
        int i0 = norm_pairs ? 2 * i : i, i1 = norm_pairs ? 2 * i + 1 : i + d / 2;
        double x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * cs - x1 * sn;
        v[i1] = x1 * cs + x0 * sn;
    }
}

/* hidden[n][H], logits[n][n_moe][E] of one sequence */
static void reference(const config *c, const int32_t *ids, int n, double *hidden, double *logits) {
    enum { HMAX = 64 };
    int H = c->hidden, d = H / c->heads, qd = c->heads * d, kvd = c->kv_heads * d, E = c->experts;
    static double h[MAX_T][HMAX], q[MAX_T][HMAX], k[MAX_T][HMAX], v[MAX_T][HMAX], att[MAX_T][HMAX];
    double xn[HMAX], y[HMAX], t[HMAX];
    const float *emb = T_("token_embd.weight", 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < H; j++) h[i][j] = emb[(size_t)ids[i] * H + j];
    int moe = 0;
    for (int l = 0; l < c->layers; l++) {
        for (int i = 0; i < n; i++) {
            rmsnorm(xn, h[i], T_("blk.%d.attn_norm.weight", l), H, c->eps);
            linear(q[i], T_("blk.%d.attn_q.weight", l), T_("blk.%d.attn_q.bias", l), xn, H, qd);
            linear(k[i], T_("blk.%d.attn_k.weight", l), T_("blk.%d.attn_k.bias", l), xn, H, kvd);
            linear(v[i], T_("blk.%d.attn_v.weight", l), T_("blk.%d.attn_v.bias", l), xn, H, kvd);
            if (c->qk_norm) {
                rmsnorm(q[i], q[i], T_("blk.%d.attn_q_norm.weight", l), qd, c->eps);
                rmsnorm(k[i], k[i], T_("blk.%d.attn_k_norm.weight", l), kvd, c->eps);
            }
            for (int hd = 0; hd < c->heads; hd++) rope(q[i] + hd * d, d, i, c->theta, c->rope_norm);
            for (int hd = 0; hd < c->kv_heads; hd++) rope(k[i] + hd * d, d, i, c->theta, c->rope_norm);
        }
        for (int i = 0; i < n; i++)
            for (int hd = 0; hd < c->heads; hd++) {
                int g = hd / (c->heads / c->kv_heads);
                double s[MAX_T], mx = -1e300, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    for (int e = 0; e < d; e++) dot += q[i][hd * d + e] * k[j][g * d + e];
                    s[j] = dot / sqrt((double)d);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
                for (int e = 0; e < d; e++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++) acc += s[j] / sum * v[j][g * d + e];
                    att[i][hd * d + e] = acc;
                }
            }
        for (int i = 0; i < n; i++) {
            linear(y, T_("blk.%d.attn_output.weight", l), NULL, att[i], qd, H);
            for (int j = 0; j < H; j++) h[i][j] += y[j];
            rmsnorm(xn, h[i], T_("blk.%d.ffn_norm.weight", l), H, c->eps);
            if (c->dense_mask >> l & 1) {
                swiglu(y, T_("blk.%d.ffn_gate.weight", l), T_("blk.%d.ffn_up.weight", l),
                       T_("blk.%d.ffn_down.weight", l), xn, H, c->ff_dense);
            } else {
                double lg[16], p[16], mx = -1e300, sum = 0;
                linear(lg, T_("blk.%d.ffn_gate_inp.weight", l), NULL, xn, H, E);
                int n_moe = 0;
                for (int j = 0; j < c->layers; j++) n_moe += !(c->dense_mask >> j & 1);
                for (int e = 0; e < E; e++) {
                    logits[((size_t)i * n_moe + moe) * E + e] = lg[e];
                    if (lg[e] > mx) mx = lg[e];
                }
                for (int e = 0; e < E; e++) sum += (p[e] = exp(lg[e] - mx));
                for (int e = 0; e < E; e++) p[e] /= sum;
                int chosen[16] = { 0 }, top[16];
                double wsum = 0;
                for (int j = 0; j < c->k; j++) {
                    int best = -1;
                    for (int e = 0; e < E; e++)
                        if (!chosen[e] && (best < 0 || p[e] > p[best])) best = e;
                    chosen[best] = 1;
                    top[j] = best;
                    wsum += p[best];
                }
                memset(y, 0, sizeof y);
                const float *Wg = T_("blk.%d.ffn_gate_exps.weight", l), *Wu = T_("blk.%d.ffn_up_exps.weight", l),
                            *Wd = T_("blk.%d.ffn_down_exps.weight", l);
                size_t per = (size_t)c->ff_exp * H;
                for (int j = 0; j < c->k; j++) {
                    double wgt = p[top[j]];
                    if (c->norm_topk && !(c->rope_norm && c->k == 1)) wgt /= wsum;   /* deepseek: not for k = 1 */
                    swiglu(t, Wg + top[j] * per, Wu + top[j] * per, Wd + top[j] * per, xn, H, c->ff_exp);
                    for (int e = 0; e < H; e++) y[e] += wgt * t[e];
                }
                if (c->ff_shared) {
                    swiglu(t, T_("blk.%d.ffn_gate_shexp.weight", l), T_("blk.%d.ffn_up_shexp.weight", l),
                           T_("blk.%d.ffn_down_shexp.weight", l), xn, H, c->ff_shared);
                    double gate = 1.0;
                    if (c->shared_gate) {
                        const float *wsg = T_("blk.%d.ffn_gate_inp_shexp.weight", l);
                        double z = 0;
                        for (int e = 0; e < H; e++) z += wsg[e] * xn[e];
                        gate = 1.0 / (1.0 + exp(-z));
                    }
                    for (int e = 0; e < H; e++) y[e] += gate * t[e];
                }
            }
            for (int j = 0; j < H; j++) h[i][j] += y[j];
        }
        if (!(c->dense_mask >> l & 1)) moe++;
    }
    for (int i = 0; i < n; i++) rmsnorm(hidden + (size_t)i * H, h[i], T_("output_norm.weight", 0), H, c->eps);
}

/* ---- the comparison ------------------------------------------------------------ */

static void test_config(const config *c, const char *dir) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, c->arch);
    rng_state = 0x1234u + (uint64_t)c->layers * 77u + (uint64_t)c->experts;
    int rc = write_model(c, path, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return;
    moee_model *m;
    rc = moee_model_load(path, &m, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) { remove(path); return; }
    gguf_file *f = gguf_open(path, err, sizeof err);
    ref_file = f;
    const moee_model_info *in = moee_model_get_info(m);
    int n_moe = 0;
    for (int j = 0; j < c->layers; j++) n_moe += !(c->dense_mask >> j & 1);
    CHECK(in->n_moe_layers == n_moe && in->n_kv_heads == c->kv_heads && in->rw_dim == n_moe * c->experts);

    enum { N = 3 };
    static const int64_t lens[N] = { 9, 1, MAX_T };
    int32_t ids[N][MAX_T];
    const int32_t *pids[N] = { ids[0], ids[1], ids[2] };
    for (int s = 0; s < N; s++)
        for (int i = 0; i < lens[s]; i++) ids[s][i] = (int32_t)((s * 131 + i * 37 + 11) % VOCAB);
    int64_t total = 9 + 1 + MAX_T;
    float *hs = malloc((size_t)total * c->hidden * 4), *lg = malloc((size_t)total * in->rw_dim * 4);
    double *rh = malloc(MAX_T * (size_t)c->hidden * 8), *rl = malloc(MAX_T * (size_t)in->rw_dim * 8);
    moee_context *ctx = NULL;
    rc = moee_context_create(m, total, 0, &ctx, err, sizeof err) ||
         moee_forward(ctx, pids, lens, N, MOEE_POOL_NONE, hs, lg, NULL, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    double max_h = 0, max_l = 0;
    int64_t row = 0;
    for (int s = 0; rc == 0 && s < N; s++) {
        reference(c, ids[s], (int)lens[s], rh, rl);
        for (int64_t i = 0; i < lens[s]; i++, row++) {
            for (int j = 0; j < c->hidden; j++) {
                double dd = fabs(hs[row * c->hidden + j] - rh[i * c->hidden + j]);
                if (!(dd <= max_h)) max_h = dd;
            }
            for (int j = 0; j < in->rw_dim; j++) {
                double dd = fabs(lg[row * in->rw_dim + j] - rl[i * in->rw_dim + j]);
                if (!(dd <= max_l)) max_l = dd;
            }
        }
    }
    printf("%s (kv heads %d, k %d, dense layers 0x%x, norm_topk %d): max |hidden err| %.3g, max |logit err| %.3g\n",
           c->arch, c->kv_heads, c->k, c->dense_mask, c->norm_topk, max_h, max_l);
    CHECKF(max_h <= 1e-5, "%s: hidden error %g", c->arch, max_h);   /* measured <= 7e-7 */
    CHECKF(max_l <= 1e-5, "%s: logit error %g", c->arch, max_l);
    moee_context_free(ctx);
    free(hs); free(lg); free(rh); free(rl);
    gguf_close(f);
    moee_model_free(m);
    CHECK(remove(path) == 0);
}

int main(void) {
    char dir[] = "/tmp/moee_engine_reference_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) test_config(&configs[i], dir);
    CHECK(rmdir(dir) == 0);
    return test_summary("engine_reference");
}
