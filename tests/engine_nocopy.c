/* engine_nocopy: a loaded model uses its weights where mmap put them. Every tensor
 * view points into the file's mapping, and loading a 12 MB model (written here with
 * big experts) grows the process's anonymous memory (what a copy would take; the
 * file's own pages, which loading maps in, are not) by far less than the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "engine/model.h"

/* RssAnon of this process in bytes, from /proc/self/status (-1 if unavailable). */
static long long anon_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8)) kb = atoll(line + 8);
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static int in_map(const moee_model *m, const void *p) {
    const uint8_t *b = p;
    return b >= m->file->map && b < m->file->map + m->file->map_size;
}

/* A one-layer OLMoE-shaped model with 8 experts of width 2048 (12.6 MB of zeros). */
static int write_big_model(const char *path, char *err, size_t err_size) {
    gguf_writer *w = gguf_writer_create(path, err, err_size);
    if (!w) return -1;
    gguf_writer_set_str(w, "general.architecture", "olmoe");
    gguf_writer_set_u32(w, "olmoe.block_count", 1);
    gguf_writer_set_u32(w, "olmoe.embedding_length", 64);
    gguf_writer_set_u32(w, "olmoe.attention.head_count", 4);
    gguf_writer_set_u32(w, "olmoe.context_length", 128);
    gguf_writer_set_u32(w, "olmoe.expert_count", 8);
    gguf_writer_set_u32(w, "olmoe.expert_used_count", 2);
    gguf_writer_set_f32(w, "olmoe.attention.layer_norm_rms_epsilon", 1e-5f);
    static const struct { const char *name; uint32_t n_dims; uint64_t ne[3]; } t[] = {
        { "token_embd.weight", 2, { 64, 512, 1 } },      { "blk.0.attn_norm.weight", 1, { 64, 1, 1 } },
        { "blk.0.attn_q.weight", 2, { 64, 64, 1 } },     { "blk.0.attn_k.weight", 2, { 64, 64, 1 } },
        { "blk.0.attn_v.weight", 2, { 64, 64, 1 } },     { "blk.0.attn_output.weight", 2, { 64, 64, 1 } },
        { "blk.0.ffn_norm.weight", 1, { 64, 1, 1 } },    { "blk.0.ffn_gate_inp.weight", 2, { 64, 8, 1 } },
        { "blk.0.ffn_gate_exps.weight", 3, { 64, 2048, 8 } }, { "blk.0.ffn_up_exps.weight", 3, { 64, 2048, 8 } },
        { "blk.0.ffn_down_exps.weight", 3, { 2048, 64, 8 } }, { "output_norm.weight", 1, { 64, 1, 1 } },
    };
    size_t n = sizeof t / sizeof *t;
    for (size_t i = 0; i < n; i++) gguf_writer_add_tensor(w, t[i].name, MOEE_TYPE_F32, t[i].n_dims, t[i].ne);
    int rc = gguf_writer_begin_data(w, err, err_size);
    float *zeros = calloc(64 * 2048, sizeof(float));
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (uint64_t e = 0; rc == 0 && e < t[i].ne[2]; e++)
            rc = gguf_writer_write_tensor(w, zeros, t[i].ne[0] * t[i].ne[1] * 4, err, err_size);
    free(zeros);
    if (rc == 0) return gguf_writer_finish(w, err, err_size);
    gguf_writer_abort(w);
    return -1;
}

int main(void) {
    char err[512], dir[] = "/tmp/moee_engine_nocopy_XXXXXX", big[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(big, sizeof big, "%s/big.gguf", dir);
    int rc = write_big_model(big, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    moee_model *m;
    long long before = anon_bytes();
    rc = moee_model_load(big, &m, err, sizeof err);
    long long after = anon_bytes();
    CHECKF(rc == 0, "%s", err);
    if (rc == 0) {
        uint64_t size = moee_model_get_info(m)->file_bytes;
        printf("file %llu bytes, anonymous memory grew by %lld bytes on load\n", (unsigned long long)size,
               after - before);
        CHECK(size > 12000000);
        CHECK(before > 0 && after > 0);
        CHECKF(after - before < (long long)size / 8, "grew by %lld", after - before);
        moee_model_free(m);
    }
    remove(big);
    CHECK(rmdir(dir) == 0);

    const char *path = "tests/data/golden/llamacpp-gguf/qwen2moe-tiny.f32.gguf";
    rc = moee_model_load(path, &m, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) return test_summary("engine_nocopy");
    const moee_model_info *in = moee_model_get_info(m);

    int views_ok = in_map(m, m->token_embd.data) && in_map(m, m->output_norm);
    for (int i = 0; i < in->n_layers; i++) {
        const moee_layer *ly = &m->layers[i];
        views_ok &= in_map(m, ly->wq.data) && in_map(m, ly->wk.data) && in_map(m, ly->wv.data) &&
                    in_map(m, ly->wo.data) && in_map(m, ly->attn_norm) && in_map(m, ly->ffn_norm) &&
                    in_map(m, ly->bq) && in_map(m, ly->router.data) && in_map(m, ly->experts.gate.data) &&
                    in_map(m, ly->experts.up.data) && in_map(m, ly->experts.down.data) &&
                    in_map(m, ly->shared.gate.data) && in_map(m, ly->shared_gate);
    }
    CHECK(views_ok);
    moee_model_free(m);
    return test_summary("engine_nocopy");
}
