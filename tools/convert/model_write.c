/* tools/convert/model_write.c: a tensor plan + a row source -> a GGUF file (see model_write.h).
 *
 * Every tensor is produced in chunks of rows (at most CHUNK_FLOATS floats), each
 * chunk converted to the tensor's type and appended to the GGUF writer, so the
 * memory used is two chunk buffers whatever the model's size. Stacked expert
 * tensors are produced expert by expert. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernels/types.h"
#include "tools/convert/model_write.h"

#define CHUNK_FLOATS ((int64_t)1 << 22)   /* 16 MB of floats per chunk */

static void show_progress(const model_write_options *o, size_t done, size_t total, uint64_t bytes) {
    if (!o->log || !o->progress) return;
    fprintf(o->log, "\r%s: %zu/%zu tensors, %.1f MB written", o->log_prefix, done, total, bytes / 1e6);
    if (done == total) fputc('\n', o->log);
    fflush(o->log);
}

/* What the recipe's choice depends on, for a model of config c. */
static recipe_model recipe_model_of(const model_config *c) {
    recipe_model m = {c->n_layers, c->n_experts, c->n_heads / c->n_kv_heads, c->has_output};
    return m;
}

int model_write_tensor_types(const model_config *c, const tensor_plan *plan, size_t n_plan, const recipe *r,
                             int pure, uint32_t *types, FILE *log, const char *log_prefix, size_t *n_fallback,
                             char *err, size_t err_size) {
    const recipe_model m = recipe_model_of(c);
    for (size_t i = 0; i < n_plan; i++) {
        const tensor_plan *t = &plan[i];
        uint32_t wanted;
        types[i] = MOEE_TYPE_F32;   /* norms, biases and routers: f32, as convert_hf_to_gguf.py */
        if (!recipe_quantizable(t->name, t->n_dims)) continue;
        if (recipe_tensor_type(r, pure, &m, t->name, (int64_t)t->ne[0], &types[i], &wanted, err, err_size))
            return -1;
        if (types[i] == wanted) continue;
        if (n_fallback) (*n_fallback)++;
        if (log)
            fprintf(log, "%s: %s: rows of %llu values are not whole %s blocks; written as %s\n", log_prefix,
                    t->name, (unsigned long long)t->ne[0], moee_type(wanted)->name, moee_type(types[i])->name);
    }
    return 0;
}

int model_write(const char *out_path, const model_config *c, const tensor_plan *plan, size_t n_plan,
                const model_write_options *o, model_row_filler fill, void *user,
                model_write_stats *stats, char *err, size_t err_size) {
    model_write_stats st = {0};
    uint32_t *types = malloc((n_plan ? n_plan : 1) * sizeof *types);
    if (!types) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (model_write_tensor_types(c, plan, n_plan, o->recipe, o->pure, types, o->log, o->log_prefix,
                                 &st.n_fallback, err, err_size)) {
        free(types);
        return -1;
    }
    gguf_writer *w = gguf_writer_create(out_path, err, err_size);
    if (!w) {
        free(types);
        return -1;
    }
    float *rows = NULL;
    uint8_t *packed = NULL;

    arch_write_metadata(c, w, o->tokenizer == NULL);
    gguf_writer_set_u32(w, "general.file_type", o->recipe->file_type);
    if (moee_type(o->recipe->base_type)->is_quantized) gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (o->tokenizer) {
        /* llama.cpp wants one token per embedding row: padded as its converter pads */
        if (tokenizer_write_gguf_padded(o->tokenizer, w, (int)c->vocab_size, err, err_size)) goto fail;
    } else {
        /* llama.cpp loads a model without a vocabulary when tokenizer.ggml.model is
         * "none" (it then takes the vocabulary size from {arch}.vocab_size). */
        gguf_writer_set_str(w, "tokenizer.ggml.model", "none");
    }

    /* Tensor infos, and the largest row so the buffers can be sized once. */
    int64_t max_row = 1;
    for (size_t i = 0; i < n_plan; i++) {
        const tensor_plan *t = &plan[i];
        gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne);
        if ((int64_t)t->ne[0] > max_row) max_row = (int64_t)t->ne[0];
    }
    if (gguf_writer_begin_data(w, err, err_size)) goto fail;

    const int64_t chunk = max_row > CHUNK_FLOATS ? max_row : CHUNK_FLOATS;
    rows = malloc((size_t)chunk * sizeof *rows);
    packed = malloc((size_t)chunk * sizeof(float));   /* no type is wider than f32 */
    if (!rows || !packed) {
        snprintf(err, err_size, "%s: out of memory", out_path);
        goto fail;
    }

    show_progress(o, 0, n_plan, 0);
    for (size_t i = 0; i < n_plan; i++) {
        const tensor_plan *t = &plan[i];
        const moee_type_traits *tt = moee_type(types[i]);
        const int64_t row_len = (int64_t)t->ne[0];
        const size_t row_bytes = moee_type_row_bytes(tt->id, row_len);
        const int64_t n_slices = t->n_stacked > 0 ? t->n_stacked : 1;
        const int64_t slice_rows = (int64_t)t->ne[1] * (t->n_stacked > 0 ? 1 : (int64_t)t->ne[2]);
        const int64_t rows_per_chunk = chunk / row_len;
        for (int64_t s = 0; s < n_slices; s++) {
            for (int64_t r = 0; r < slice_rows; r += rows_per_chunk) {
                const int64_t n = slice_rows - r < rows_per_chunk ? slice_rows - r : rows_per_chunk;
                if (fill(user, t, s, r, n, rows, err, err_size)) goto fail;
#ifdef _OPENMP
                #pragma omp parallel for schedule(static)
#endif
                for (int64_t j = 0; j < n; j++)
                    tt->from_float(rows + j * row_len, packed + (size_t)j * row_bytes, row_len);
                if (gguf_writer_write_tensor(w, packed, (uint64_t)n * row_bytes, err, err_size)) goto fail;
                st.file_bytes += (uint64_t)n * row_bytes;
            }
        }
        st.n_tensors++;
        show_progress(o, i + 1, n_plan, st.file_bytes);
    }
    free(rows);
    free(packed);
    rows = NULL;
    packed = NULL;
    free(types);
    types = NULL;
    if (gguf_writer_finish(w, err, err_size)) goto fail;
    struct stat sb;
    if (stat(out_path, &sb) == 0) st.file_bytes = (uint64_t)sb.st_size;
    if (stats) *stats = st;
    return 0;

fail:
    if (o->log && o->progress) fputc('\n', o->log);
    if (w) gguf_writer_abort(w);
    free(types);
    free(rows);
    free(packed);
    return -1;
}
