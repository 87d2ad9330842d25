/* tools/convert/convert.c: Hugging Face checkpoint -> GGUF (see convert.h).
 *
 * Steps: read config.json into a model_config (tools/convert/arch.c), list the GGUF
 * tensors and where each comes from, check that the checkpoint holds exactly those
 * tensors with the right shapes and dtypes (before anything is written), then let
 * model_write stream them out, asking this file for rows: each row is read from
 * the memory-mapped safetensors, widened to float, and (deepseek attn_q/attn_k)
 * taken from its permuted position. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernels/types.h"
#include "tokenizer/tokenizer.h"
#include "tools/convert/arch.h"
#include "tools/convert/convert.h"
#include "tools/convert/model_write.h"
#include "weights/json.h"
#include "weights/safetensors.h"

/* ---- small path helpers ----------------------------------------------------- */

static char *path_join(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* The last component of path, without trailing slashes and without `strip_ext`. */
static void base_name(const char *path, const char *strip_ext, char *out, size_t out_size) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = end - start, ext = strip_ext ? strlen(strip_ext) : 0;
    if (ext && len > ext && !strncmp(path + end - ext, strip_ext, ext)) len -= ext;
    snprintf(out, out_size, "%.*s", (int)len, path + start);
}

static int file_exists(const char *path) { return access(path, R_OK) == 0; }

static int is_directory(const char *path) {
    char *probe = path_join(path, ".");
    int ok = probe && access(probe, F_OK) == 0;
    free(probe);
    return ok;
}

/* ---- the checkpoint's tensors ------------------------------------------------ */

/* The HF name of slice `slice` of t. */
static void source_name(const tensor_plan *t, int64_t slice, char *out, size_t out_size) {
    if (t->n_stacked > 0) snprintf(out, out_size, "%s%lld%s", t->hf_name, (long long)slice, t->hf_suffix);
    else snprintf(out, out_size, "%s", t->hf_name);
}

static const char *dtype_name(st_dtype d) {
    static const char *const names[] = {"F32", "F16", "BF16", "F64", "I32", "I64", "I8", "U8", "BOOL"};
    return (unsigned)d < sizeof names / sizeof names[0] ? names[d] : "?";
}

/* Is slice `slice` of t in the checkpoint, with the expected shape and a float dtype? */
static int check_source(const st_checkpoint *ck, const char *dir, const tensor_plan *t, int64_t slice,
                        char *err, size_t err_size) {
    char name[160];
    source_name(t, slice, name, sizeof name);
    const st_tensor *s = st_find(ck, name);
    if (!s) {
        snprintf(err, err_size, "%s: tensor %s (for %s) is missing from the checkpoint", dir, name, t->name);
        return -1;
    }
    int same = s->n_dims == t->hf_n_dims;
    for (int d = 0; same && d < t->hf_n_dims; d++) same = s->shape[d] == t->hf_shape[d];
    if (!same) {
        char got[96] = "", want[64];
        size_t used = 0;
        for (int d = 0; d < s->n_dims && used < sizeof got; d++)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
        if (t->hf_n_dims == 1) snprintf(want, sizeof want, "%lld", (long long)t->hf_shape[0]);
        else snprintf(want, sizeof want, "%lld, %lld", (long long)t->hf_shape[0], (long long)t->hf_shape[1]);
        snprintf(err, err_size, "%s: tensor %s has shape [%s], expected [%s] from config.json", s->file, name, got, want);
        return -1;
    }
    if (s->dtype != ST_F32 && s->dtype != ST_F16 && s->dtype != ST_BF16) {
        snprintf(err, err_size, "%s: tensor %s has dtype %s; moee converts F32, F16 and BF16", s->file, name,
                 dtype_name(s->dtype));
        return -1;
    }
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every tensor of the checkpoint must be used (else the config describes a
 * different model than the weights, e.g. biases moee would silently drop), except
 * RoPE tables some checkpoints carry and a tied lm_head. */
static int check_nothing_left(const st_checkpoint *ck, const tensor_plan *plan, size_t n_plan,
                              int has_output, char *err, size_t err_size) {
    size_t n_names = 0;
    for (size_t i = 0; i < n_plan; i++) n_names += plan[i].n_stacked > 0 ? (size_t)plan[i].n_stacked : 1;
    char **names = calloc(n_names ? n_names : 1, sizeof *names);
    if (!names) { snprintf(err, err_size, "out of memory"); return -1; }
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n_plan && !rc; i++) {
        int64_t slices = plan[i].n_stacked > 0 ? plan[i].n_stacked : 1;
        for (int64_t s = 0; s < slices; s++) {
            char buf[160];
            source_name(&plan[i], s, buf, sizeof buf);
            if (!(names[k++] = strdup(buf))) { rc = -1; snprintf(err, err_size, "out of memory"); break; }
        }
    }
    if (!rc) {
        if (k > 1) qsort(names, k, sizeof *names, compare_names);
        for (size_t i = 0; i < st_count(ck); i++) {
            const st_tensor *s = st_at(ck, i);
            size_t len = strlen(s->name);
            const char *skip = "rotary_emb.inv_freq";
            if (len >= strlen(skip) && !strcmp(s->name + len - strlen(skip), skip)) continue;
            if (!has_output && !strcmp(s->name, "lm_head.weight")) continue;
            const char *key = s->name;
            if (!bsearch(&key, names, k, sizeof *names, compare_names)) {
                snprintf(err, err_size, "%s: tensor %s is not part of the model config.json describes "
                         "(unsupported configuration?)", s->file, s->name);
                rc = -1;
                break;
            }
        }
    }
    for (size_t i = 0; i < k; i++) free(names[i]);
    free(names);
    return rc;
}

/* ---- rows -------------------------------------------------------------------- */

/* Elements [first, first + n) of a safetensors float tensor as floats (exactly:
 * every F16/BF16 value is a float). The mapping may be unaligned: bytes are read
 * one by one. */
static void widen(const st_tensor *s, int64_t first, int64_t n, float *out) {
    const uint8_t *p = s->data;
    switch (s->dtype) {
    case ST_F32:
        memcpy(out, p + first * 4, (size_t)n * 4);
        break;
    case ST_F16:
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *e = p + (first + i) * 2;
            out[i] = moee_f16_to_f32((uint16_t)(e[0] | e[1] << 8));
        }
        break;
    default: /* ST_BF16: check_source allowed nothing else */
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *e = p + (first + i) * 2;
            out[i] = moee_bf16_to_f32((uint16_t)(e[0] | e[1] << 8));
        }
        break;
    }
}

/* Which source row lands in GGUF row r: convert_hf_to_gguf.py's LLaMA permute
 * reshapes [n_head, 2, head_dim/2, in] -> swaps axes 1, 2, so GGUF row
 * (head h, pair i, half j) is source row (head h, half j, pair i). */
static int64_t source_row(const tensor_plan *t, int64_t r, int64_t slice_rows) {
    if (t->permute_heads <= 0) return r;
    const int64_t head_dim = slice_rows / t->permute_heads, half = head_dim / 2;
    const int64_t h = r / head_dim, i = (r % head_dim) / 2, j = r % 2;
    return h * head_dim + j * half + i;
}

static int fill_from_checkpoint(void *user, const tensor_plan *t, int64_t slice, int64_t first_row,
                                int64_t n_rows, float *out, char *err, size_t err_size) {
    const st_checkpoint *ck = user;
    char name[160];
    source_name(t, slice, name, sizeof name);
    const st_tensor *s = st_find(ck, name);
    if (!s) { snprintf(err, err_size, "tensor %s vanished from the checkpoint", name); return -1; }
    const int64_t row_len = (int64_t)t->ne[0], slice_rows = s->n_elements / row_len;
    for (int64_t r = 0; r < n_rows; r++)
        widen(s, source_row(t, first_row + r, slice_rows) * row_len, row_len, out + r * row_len);
    return 0;
}

/* ---- tokenizer ---------------------------------------------------------------- */

/* tokenizer.json (+ tokenizer_config.json) of dir, or NULL without error if absent. */
static int load_tokenizer_of_dir(const char *dir, moee_tokenizer **tok, char *err, size_t err_size) {
    *tok = NULL;
    char *json = path_join(dir, "tokenizer.json"), *cfg = path_join(dir, "tokenizer_config.json");
    int rc = 0;
    if (!json || !cfg) { snprintf(err, err_size, "out of memory"); rc = -1; }
    else if (file_exists(json)) {
        *tok = tokenizer_load_json(json, file_exists(cfg) ? cfg : NULL, err, err_size);
        if (!*tok) rc = -1;
    }
    free(json);
    free(cfg);
    return rc;
}

/* ---- the conversion -------------------------------------------------------------- */

int convert_hf(const char *hf_dir, const char *out_path, const convert_options *o,
               char *err, size_t err_size) {
    int rc = -1;
    json_doc *doc = NULL;
    st_checkpoint *ck = NULL;
    tensor_plan *plan = NULL;
    size_t n_plan = 0;
    moee_tokenizer *tok = NULL;
    model_config *c = calloc(1, sizeof *c);
    char *config_path = path_join(hf_dir, "config.json");
    char name[128];
    if (!c || !config_path) { snprintf(err, err_size, "out of memory"); goto done; }
    if (!o->recipe) { snprintf(err, err_size, "no file type given"); goto done; }

    if (!file_exists(config_path)) {
        snprintf(err, err_size, "%s: no config.json (is this a Hugging Face model directory?)", hf_dir);
        goto done;
    }
    if (!(doc = json_parse_file(config_path, err, err_size))) goto done;
    base_name(hf_dir, NULL, name, sizeof name);
    if (arch_config_from_hf(json_root(doc), config_path, name, c, err, err_size)) goto done;
    if (!(ck = st_open(hf_dir, err, err_size))) goto done;
    /* lm_head is written when the checkpoint has one (embeddings never use it). */
    c->has_output = c->has_output && st_find(ck, "lm_head.weight") != NULL;

    if (arch_tensor_plan(c, &plan, &n_plan, err, err_size)) goto done;
    for (size_t i = 0; i < n_plan; i++) {
        int64_t slices = plan[i].n_stacked > 0 ? plan[i].n_stacked : 1;
        for (int64_t s = 0; s < slices; s++)
            if (check_source(ck, hf_dir, &plan[i], s, err, err_size)) goto done;
    }
    if (check_nothing_left(ck, plan, n_plan, c->has_output, err, err_size)) goto done;
    if (load_tokenizer_of_dir(hf_dir, &tok, err, err_size)) goto done;
    if (tok && tokenizer_vocab_size(tok) > c->vocab_size) {
        snprintf(err, err_size, "%s/tokenizer.json: %d tokens but the embedding has only %lld rows", hf_dir,
                 tokenizer_vocab_size(tok), (long long)c->vocab_size);
        goto done;
    }

    if (!tok && o->log)
        fprintf(o->log, "moee convert: warning: %s has no tokenizer.json: the model will only embed token ids "
                "(moee embed --ids)\n", hf_dir);
    model_write_options wo = {o->recipe, o->pure, tok, o->log, o->progress, "moee convert"};
    rc = model_write(out_path, c, plan, n_plan, &wo, fill_from_checkpoint, ck, o->stats, err, err_size);
done:
    if (tok) tokenizer_free(tok);
    free(plan);
    if (ck) st_close(ck);
    if (doc) json_free(doc);
    free(config_path);
    free(c);
    return rc;
}

int convert_vocab_only(const char *src, const char *out_path, const char *arch,
                       char *err, size_t err_size) {
    int rc = -1;
    moee_tokenizer *tok = NULL;
    json_doc *doc = NULL;
    gguf_writer *w = NULL;
    char name[128], *config_path = NULL;
    const char *arch_str = arch;
    model_config c;

    if (is_directory(src)) {
        char *json = path_join(src, "tokenizer.json");
        int have = json && file_exists(json);
        free(json);
        if (!have) { snprintf(err, err_size, "%s: no tokenizer.json in this directory", src); goto done; }
        if (load_tokenizer_of_dir(src, &tok, err, err_size)) goto done;
        base_name(src, NULL, name, sizeof name);
        if (!arch_str) {
            config_path = path_join(src, "config.json");
            if (config_path && file_exists(config_path)) {
                if (!(doc = json_parse_file(config_path, err, err_size))) goto done;
                if (arch_config_from_hf(json_root(doc), config_path, name, &c, err, err_size)) goto done;
                arch_str = arch_name(c.arch);
            }
        }
    } else {
        if (!(tok = tokenizer_load_json(src, NULL, err, err_size))) goto done;
        base_name(src, ".json", name, sizeof name);
    }
    if (!arch_str) {
        snprintf(err, err_size, "%s: which architecture? (no config.json beside tokenizer.json: give --arch)", src);
        goto done;
    }
    if (arch_from_name(arch_str) < 0) {
        snprintf(err, err_size, "unknown architecture \"%s\" (olmoe, qwen2moe, deepseek)", arch_str);
        goto done;
    }
    if (!(w = gguf_writer_create(out_path, err, err_size))) goto done;
    gguf_writer_set_str(w, "general.architecture", arch_str);
    gguf_writer_set_str(w, "general.name", name);
    if (tokenizer_write_gguf(tok, w, err, err_size) || gguf_writer_begin_data(w, err, err_size) ||
        gguf_writer_finish(w, err, err_size)) {
        gguf_writer_abort(w);
        goto done;
    }
    rc = 0;
done:
    if (tok) tokenizer_free(tok);
    if (doc) json_free(doc);
    free(config_path);
    return rc;
}
