/* tools/convert/requantize.c: GGUF -> GGUF in another file type, as llama-quantize
 * does it (see convert.h).
 *
 * The output is what llama-quantize writes for the same input and file type, byte
 * for byte: every key/value of the input but general.quantization_version and
 * general.file_type, which follow at the end (its gguf_set_val removes and appends);
 * the tensors in llama.cpp's loader order (by layer, then by name; tensors outside
 * the layers first); each tensor in the type the recipe gives it (tools/convert/
 * recipe.h), converted from the input's type through floats, or copied as it is
 * when the type does not change (quantizing anew would not give the same bytes for
 * the K types). The input is memory-mapped and read one chunk of rows at a time,
 * and a tensor's pages are released once it is written: memory stays a few chunk
 * buffers and about one tensor of the input whatever the model's size. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernels/types.h"
#include "tools/convert/arch.h"
#include "tools/convert/convert.h"
#include "tools/convert/recipe.h"
#include "weights/gguf.h"

#define CHUNK_FLOATS ((int64_t)1 << 22)   /* 16 MB of floats per chunk */

/* ---- the tensors in llama.cpp's order -------------------------------------------- */

static int layer_of_name(const gguf_str *name) {
    char buf[32];
    size_t n = name->len < sizeof buf - 1 ? (size_t)name->len : sizeof buf - 1;
    memcpy(buf, name->ptr, n);
    buf[n] = '\0';
    int layer = -1;
    sscanf(buf, "blk.%d.", &layer);
    return layer;
}

static int str_is(gguf_str s, const char *c) { return s.len == strlen(c) && !memcmp(s.ptr, c, s.len); }

static int compare_names(const gguf_str *a, const gguf_str *b) {
    size_t n = a->len < b->len ? (size_t)a->len : (size_t)b->len;
    int c = memcmp(a->ptr, b->ptr, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* llama_model_loader's weight_name_comparer: by layer ("blk.N."; none = -1), then name. */
static int loader_order(const void *pa, const void *pb) {
    const gguf_tensor *a = *(const gguf_tensor *const *)pa, *b = *(const gguf_tensor *const *)pb;
    int la = layer_of_name(&a->name), lb = layer_of_name(&b->name);
    if (la != lb) return la < lb ? -1 : 1;
    return compare_names(&a->name, &b->name);
}

/* ggml_n_dims: trailing dimensions of 1 do not count. */
static uint32_t effective_dims(const gguf_tensor *t) {
    uint32_t n = t->n_dims;
    while (n > 1 && t->ne[n - 1] == 1) n--;
    return n;
}

/* A tensor's pages of the input mapping are not needed again: let them go, so
 * that resident memory stays about one tensor whatever the model's size. */
static void release_input(const gguf_tensor *t) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t start = ((uintptr_t)t->data + page - 1) & ~(page - 1);
    const uintptr_t end = ((uintptr_t)t->data + t->nbytes) & ~(page - 1);
    if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
}

/* ---- the model facts the recipe needs ------------------------------------------------ */

static int read_model_facts(const gguf_file *g, recipe_model *m, char *err, size_t err_size) {
    gguf_str arch;
    if (gguf_get_str(g, "general.architecture", &arch) != 1) {
        snprintf(err, err_size, "%s: no general.architecture", g->path);
        return -1;
    }
    char a[32], key[96];
    snprintf(a, sizeof a, "%.*s", (int)(arch.len < 31 ? arch.len : 31), arch.ptr);
    if (arch_from_name(a) < 0) {
        snprintf(err, err_size, "%s: architecture \"%s\": moee re-quantizes olmoe, qwen2moe and deepseek", g->path, a);
        return -1;
    }
    uint32_t n_layer = 0, n_expert = 0, n_head = 0, n_head_kv = 0;
    snprintf(key, sizeof key, "%s.block_count", a);
    if (gguf_get_u32(g, key, &n_layer) != 1 || n_layer == 0) {
        snprintf(err, err_size, "%s: no valid %s", g->path, key);
        return -1;
    }
    snprintf(key, sizeof key, "%s.expert_count", a);
    if (gguf_get_u32(g, key, &n_expert) < 0) { snprintf(err, err_size, "%s: bad %s", g->path, key); return -1; }
    snprintf(key, sizeof key, "%s.attention.head_count", a);
    if (gguf_get_u32(g, key, &n_head) < 0) { snprintf(err, err_size, "%s: bad %s", g->path, key); return -1; }
    snprintf(key, sizeof key, "%s.attention.head_count_kv", a);
    int kv = gguf_get_u32(g, key, &n_head_kv);
    if (kv < 0) { snprintf(err, err_size, "%s: bad %s", g->path, key); return -1; }
    if (kv == 0) n_head_kv = n_head;
    m->n_layer = n_layer;
    m->n_expert = n_expert;
    m->n_gqa = n_head_kv ? n_head / n_head_kv : 0;
    m->has_output = gguf_find_tensor(g, "output.weight") != NULL;
    return 0;
}

/* ---- the conversion -------------------------------------------------------------- */

static void show_progress(const convert_options *o, size_t done, size_t total, uint64_t bytes) {
    if (!o->log || !o->progress) return;
    fprintf(o->log, "\rmoee convert: %zu/%zu tensors, %.1f MB written", done, total, bytes / 1e6);
    if (done == total) fputc('\n', o->log);
    fflush(o->log);
}

int convert_gguf(const char *in_path, const char *out_path, const convert_options *o,
                 char *err, size_t err_size) {
    int rc = -1;
    gguf_writer *w = NULL;
    const gguf_tensor **order = NULL;
    uint32_t *types = NULL;
    float *rows = NULL;
    uint8_t *packed = NULL;
    model_write_stats st = {0};
    recipe_model m;
    gguf_file *g = gguf_open(in_path, err, err_size);
    if (!g) return -1;
    if (!o->recipe) { snprintf(err, err_size, "no file type given"); goto done; }
    if (read_model_facts(g, &m, err, err_size)) goto done;

    const size_t n = (size_t)g->n_tensors;
    order = malloc((n ? n : 1) * sizeof *order);
    types = malloc((n ? n : 1) * sizeof *types);
    if (!order || !types) { snprintf(err, err_size, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) order[i] = &g->tensors[i];
    qsort(order, n, sizeof *order, loader_order);

    /* every tensor's type, before anything is written */
    int64_t max_row = 1;
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = order[i];
        char name[256];
        if (t->name.len >= sizeof name || memchr(t->name.ptr, '\0', (size_t)t->name.len)) {
            snprintf(err, err_size, "%s: a tensor name is longer than %zu bytes or holds a NUL byte", in_path,
                     sizeof name - 1);
            goto done;
        }
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        types[i] = t->type;
        if (recipe_quantizable(name, effective_dims(t))) {
            uint32_t wanted;
            if (recipe_tensor_type(o->recipe, o->pure, &m, name, (int64_t)t->ne[0], &types[i], &wanted,
                                   err, err_size)) goto done;
            if (types[i] != wanted) {
                st.n_fallback++;
                if (o->log)
                    fprintf(o->log, "moee convert: %s: rows of %llu values are not whole %s blocks; written as %s\n",
                            name, (unsigned long long)t->ne[0], moee_type(wanted)->name, moee_type(types[i])->name);
            }
        }
        if ((int64_t)t->ne[0] > max_row) max_row = (int64_t)t->ne[0];
    }

    if (!(w = gguf_writer_create(out_path, err, err_size))) goto done;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        if (!str_is(kv->key, "general.quantization_version") && !str_is(kv->key, "general.file_type"))
            gguf_writer_copy_kv(w, kv);
    }
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    gguf_writer_set_u32(w, "general.file_type", o->recipe->file_type);
    for (size_t i = 0; i < n; i++) {
        char name[256];   /* lengths checked above */
        snprintf(name, sizeof name, "%.*s", (int)order[i]->name.len, order[i]->name.ptr);
        gguf_writer_add_tensor(w, name, types[i], order[i]->n_dims, order[i]->ne);
    }
    if (gguf_writer_begin_data(w, err, err_size)) goto done;

    const int64_t chunk = max_row > CHUNK_FLOATS ? max_row : CHUNK_FLOATS;
    rows = malloc((size_t)chunk * sizeof *rows);
    packed = malloc((size_t)chunk * sizeof(float));   /* no type is wider than f32 */
    if (!rows || !packed) { snprintf(err, err_size, "%s: out of memory", out_path); goto done; }

    show_progress(o, 0, n, 0);
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = order[i];
        if (types[i] == t->type) {
            /* the same type: the bytes as they are */
            if (gguf_writer_write_tensor(w, t->data, t->nbytes, err, err_size)) goto done;
            st.file_bytes += t->nbytes;
        } else {
            const moee_type_traits *from = moee_type(t->type), *to = moee_type(types[i]);
            const int64_t row_len = (int64_t)t->ne[0];
            const int64_t n_rows = (int64_t)(t->nbytes / moee_type_row_bytes(t->type, row_len));
            const size_t in_row = moee_type_row_bytes(t->type, row_len), out_row = moee_type_row_bytes(to->id, row_len);
            const int64_t rows_per_chunk = chunk / row_len;
            for (int64_t r = 0; r < n_rows; r += rows_per_chunk) {
                const int64_t k = n_rows - r < rows_per_chunk ? n_rows - r : rows_per_chunk;
                const uint8_t *src = (const uint8_t *)t->data + (size_t)r * in_row;
#ifdef _OPENMP
                #pragma omp parallel for schedule(static)
#endif
                for (int64_t j = 0; j < k; j++) {
                    from->to_float(src + (size_t)j * in_row, rows + j * row_len, row_len);
                    to->from_float(rows + j * row_len, packed + (size_t)j * out_row, row_len);
                }
                if (gguf_writer_write_tensor(w, packed, (uint64_t)k * out_row, err, err_size)) goto done;
                st.file_bytes += (uint64_t)k * out_row;
            }
        }
        release_input(t);
        st.n_tensors++;
        show_progress(o, i + 1, n, st.file_bytes);
    }
    if (gguf_writer_finish(w, err, err_size)) goto done;
    w = NULL;
    rc = 0;
done:
    if (rc && o->log && o->progress) fputc('\n', o->log);
    if (w) gguf_writer_abort(w);
    struct stat sb;
    if (!rc && stat(out_path, &sb) == 0) st.file_bytes = (uint64_t)sb.st_size;
    if (!rc && o->stats) *o->stats = st;
    free(rows);
    free(packed);
    free(types);
    free(order);
    gguf_close(g);
    return rc;
}
