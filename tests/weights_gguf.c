/* weights_gguf.c: GGUF reader and writer: round trips, llama.cpp-written files,
 * hand-made hostile headers, truncation at every byte and random corruption. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "kernels/types.h"
#include "weights/file.h"
#include "weights/gguf.h"
#include "weights/gguf_names.h"

static char tmpdir[64];

static char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Parses an exact-size heap copy, so that ASan sees any read past the end. */
static gguf_file *open_copy(const void *data, size_t size, char *err, size_t err_size, void **copy) {
    *copy = malloc(size ? size : 1);
    memcpy(*copy, data, size);
    return gguf_open_buffer(*copy, size, "x.gguf", err, err_size);
}

/* Touches everything a caller could read from a successfully parsed file; the sum
 * goes to a volatile so the compiler cannot drop the reads. */
static volatile unsigned touch_sink;
static void touch_all(const gguf_file *f) {
    unsigned sum = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const uint8_t *d = f->tensors[i].data;
        for (uint64_t j = 0; j < f->tensors[i].nbytes; j++) sum += d[j];
    }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char key[64];
        if (kv->key.len >= sizeof key || memchr(kv->key.ptr, 0, kv->key.len)) continue;
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = '\0';
        gguf_str s, *strs;
        uint64_t n;
        uint32_t et;
        const void *data;
        if (gguf_get_str(f, key, &s) == 1) for (uint64_t j = 0; j < s.len; j++) sum += (uint8_t)s.ptr[j];
        if (gguf_get_str_array(f, key, &strs, &n) == 1) {
            for (uint64_t j = 0; j < n; j++) for (uint64_t k = 0; k < strs[j].len; k++) sum += (uint8_t)strs[j].ptr[k];
            free(strs);
        }
        if (gguf_get_array(f, key, &et, &data, &n) == 1)
            for (uint64_t j = 0; j < n * gguf_type_size(et); j++) sum += ((const uint8_t *)data)[j];
        uint32_t u; int64_t l; float x; int b;
        sum += (unsigned)gguf_get_u32(f, key, &u) + (unsigned)gguf_get_i64(f, key, &l) +
               (unsigned)gguf_get_f32(f, key, &x) + (unsigned)gguf_get_bool(f, key, &b);
    }
    touch_sink += sum;
}

/* ---- writer round trip ----------------------------------------------------------- */

#define N_TYPES 5
static const uint32_t tensor_types[N_TYPES] = {MOEE_TYPE_F32, MOEE_TYPE_F16, MOEE_TYPE_BF16, MOEE_TYPE_Q8_0, MOEE_TYPE_Q4_0};

/* Writes a small file holding every value type and a tensor of each type; returns 0. */
static int write_sample(const char *path, uint32_t alignment, uint8_t **tensor_bytes, uint64_t *tensor_sizes) {
    char err[256];
    gguf_writer *w = gguf_writer_create(path, err, sizeof err);
    CHECKF(w != NULL, "%s", err);
    if (!w) return -1;
    if (alignment) gguf_writer_set_u32(w, "general.alignment", alignment);
    gguf_writer_set_str(w, "general.architecture", "olmoe");
    gguf_writer_set_u32(w, "t.u32", 4000000000u);
    gguf_writer_set_i32(w, "t.i32", -7);
    gguf_writer_set_f32(w, "t.f32", 0.25f);
    gguf_writer_set_bool(w, "t.bool", 1);
    gguf_writer_set_str(w, "t.replaced", "first");
    gguf_writer_set_str(w, "t.replaced", "second");
    const char *strs[] = {"a", "", "h\xc3\xa9llo", "x\0y"};
    const size_t lens[] = {1, 0, 6, 3};
    gguf_writer_set_str_array(w, "t.strs", strs, lens, 4);
    uint8_t u8s[3] = {1, 2, 255};
    int8_t i8s[2] = {-1, 5};
    uint16_t u16s[2] = {65535, 1};
    int16_t i16s[2] = {-32768, 2};
    uint32_t u32s[2] = {7, 4294967295u};
    int32_t i32s[3] = {-1, 0, 1};
    float f32s[2] = {1.5f, -2.0f};
    uint8_t bools[2] = {0, 1};
    uint64_t u64s[1] = {UINT64_MAX};
    int64_t i64s[2] = {INT64_MIN, 42};
    double f64s[1] = {3.25};
    gguf_writer_set_array(w, "a.u8", GGUF_TYPE_UINT8, u8s, 3);
    gguf_writer_set_array(w, "a.i8", GGUF_TYPE_INT8, i8s, 2);
    gguf_writer_set_array(w, "a.u16", GGUF_TYPE_UINT16, u16s, 2);
    gguf_writer_set_array(w, "a.i16", GGUF_TYPE_INT16, i16s, 2);
    gguf_writer_set_array(w, "a.u32", GGUF_TYPE_UINT32, u32s, 2);
    gguf_writer_set_array(w, "a.i32", GGUF_TYPE_INT32, i32s, 3);
    gguf_writer_set_array(w, "a.f32", GGUF_TYPE_FLOAT32, f32s, 2);
    gguf_writer_set_array(w, "a.bool", GGUF_TYPE_BOOL, bools, 2);
    gguf_writer_set_array(w, "a.u64", GGUF_TYPE_UINT64, u64s, 1);
    gguf_writer_set_array(w, "a.i64", GGUF_TYPE_INT64, i64s, 2);
    gguf_writer_set_array(w, "a.f64", GGUF_TYPE_FLOAT64, f64s, 1);
    gguf_writer_set_array(w, "a.empty", GGUF_TYPE_INT32, NULL, 0);
    /* one tensor per type, with 1 to 4 dimensions */
    for (int k = 0; k < N_TYPES; k++) {
        char name[32];
        snprintf(name, sizeof name, "tensor.%s", moee_type(tensor_types[k])->name);
        uint64_t ne[4] = {64, (uint64_t)(k + 1), 3, 2};
        uint32_t n_dims = (uint32_t)(k % 4) + 1;
        gguf_writer_add_tensor(w, name, tensor_types[k], n_dims, ne);
        uint64_t elements = 1;
        for (uint32_t d = 0; d < n_dims; d++) elements *= ne[d];
        tensor_sizes[k] = moee_type_row_bytes(tensor_types[k], 64) * (elements / 64);
        tensor_bytes[k] = malloc(tensor_sizes[k]);
        for (uint64_t j = 0; j < tensor_sizes[k]; j++) tensor_bytes[k][j] = (uint8_t)(j * 31 + k * 7 + 1);
    }
    int rc = gguf_writer_begin_data(w, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    /* tensor data in uneven pieces that cross tensor boundaries */
    for (int k = 0; k < N_TYPES && rc == 0; k++) {
        uint64_t first = tensor_sizes[k] / 3;
        rc |= gguf_writer_write_tensor(w, tensor_bytes[k], first, err, sizeof err);
        rc |= gguf_writer_write_tensor(w, tensor_bytes[k] + first, tensor_sizes[k] - first, err, sizeof err);
    }
    CHECKF(rc == 0, "%s", err);
    if (rc == 0) rc = gguf_writer_finish(w, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc) gguf_writer_abort(w);
    return rc;
}

static void test_round_trip(uint32_t alignment) {
    uint8_t *bytes[N_TYPES];
    uint64_t sizes[N_TYPES];
    const char *path = tmp_path("sample.gguf");
    if (write_sample(path, alignment, bytes, sizes) != 0) return;
    CHECK(!exists(tmp_path("sample.gguf.tmp")));
    char err[256];
    gguf_file *f = gguf_open(path, err, sizeof err);
    CHECKF(f != NULL, "%s", err);
    if (!f) return;
    uint32_t align = alignment ? alignment : 32;
    CHECK(f->version == 3 && f->alignment == align && f->n_tensors == N_TYPES);
    CHECK(f->data_offset % align == 0 && f->map_size % align == 0);
    gguf_str s;
    CHECK(gguf_get_str(f, "general.architecture", &s) == 1 && s.len == 5 && !memcmp(s.ptr, "olmoe", 5));
    CHECK(gguf_get_str(f, "t.replaced", &s) == 1 && s.len == 6 && !memcmp(s.ptr, "second", 6));
    uint32_t u; int64_t l; float x; int b;
    CHECK(gguf_get_u32(f, "t.u32", &u) == 1 && u == 4000000000u);
    CHECK(gguf_get_i64(f, "t.u32", &l) == 1 && l == 4000000000LL);
    CHECK(gguf_get_i64(f, "t.i32", &l) == 1 && l == -7);
    CHECK(gguf_get_u32(f, "t.i32", &u) == -1);                 /* negative: does not fit */
    CHECK(gguf_get_f32(f, "t.f32", &x) == 1 && x == 0.25f);
    CHECK(gguf_get_f32(f, "t.i32", &x) == -1);
    CHECK(gguf_get_bool(f, "t.bool", &b) == 1 && b == 1);
    CHECK(gguf_get_bool(f, "t.u32", &b) == -1);
    CHECK(gguf_get_str(f, "t.u32", &s) == -1);
    CHECK(gguf_get_u32(f, "absent", &u) == 0 && gguf_get_str(f, "absent", &s) == 0);
    CHECK(gguf_get_u32(f, "general.architecture", &u) == -1);
    gguf_str *strs;
    uint64_t n;
    CHECK(gguf_get_str_array(f, "t.strs", &strs, &n) == 1 && n == 4);
    if (n == 4) {
        CHECK(strs[0].len == 1 && strs[0].ptr[0] == 'a' && strs[1].len == 0);
        CHECK(strs[2].len == 6 && !memcmp(strs[2].ptr, "h\xc3\xa9llo", 6));
        CHECK(strs[3].len == 3 && !memcmp(strs[3].ptr, "x\0y", 3));
        free(strs);
    }
    CHECK(gguf_get_str_array(f, "a.u8", &strs, &n) == -1);
    uint32_t et;
    const void *data;
    struct { const char *key; uint32_t type; uint64_t n; const char *bytes; } arrays[] = {
        {"a.u8", GGUF_TYPE_UINT8, 3, "\x01\x02\xff"},
        {"a.i8", GGUF_TYPE_INT8, 2, "\xff\x05"},
        {"a.u16", GGUF_TYPE_UINT16, 2, "\xff\xff\x01\x00"},
        {"a.i16", GGUF_TYPE_INT16, 2, "\x00\x80\x02\x00"},
        {"a.u32", GGUF_TYPE_UINT32, 2, "\x07\x00\x00\x00\xff\xff\xff\xff"},
        {"a.i32", GGUF_TYPE_INT32, 3, "\xff\xff\xff\xff\x00\x00\x00\x00\x01\x00\x00\x00"},
        {"a.bool", GGUF_TYPE_BOOL, 2, "\x00\x01"},
        {"a.u64", GGUF_TYPE_UINT64, 1, "\xff\xff\xff\xff\xff\xff\xff\xff"},
        {"a.i64", GGUF_TYPE_INT64, 2, "\x00\x00\x00\x00\x00\x00\x00\x80\x2a\x00\x00\x00\x00\x00\x00\x00"},
        {"a.empty", GGUF_TYPE_INT32, 0, ""},
    };
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
        int rc = gguf_get_array(f, arrays[k].key, &et, &data, &n);
        CHECKF(rc == 1 && et == arrays[k].type && n == arrays[k].n &&
               !memcmp(data, arrays[k].bytes, n * gguf_type_size(et)), "%s", arrays[k].key);
    }
    CHECK(gguf_get_array(f, "a.f32", &et, &data, &n) == 1 && et == GGUF_TYPE_FLOAT32 && n == 2);
    float fv[2];
    memcpy(fv, data, 8);
    CHECK(fv[0] == 1.5f && fv[1] == -2.0f);
    CHECK(gguf_get_array(f, "a.f64", &et, &data, &n) == 1 && et == GGUF_TYPE_FLOAT64 && n == 1);
    CHECK(gguf_get_array(f, "t.strs", &et, &data, &n) == -1);
    CHECK(gguf_get_array(f, "t.u32", &et, &data, &n) == -1);
    for (int k = 0; k < N_TYPES; k++) {
        char name[32];
        snprintf(name, sizeof name, "tensor.%s", moee_type(tensor_types[k])->name);
        const gguf_tensor *t = gguf_find_tensor(f, name);
        CHECKF(t != NULL, "%s", name);
        if (!t) continue;
        CHECK(t->type == tensor_types[k] && t->n_dims == (uint32_t)(k % 4) + 1 && t->ne[0] == 64);
        CHECK(t->ne[1] == (t->n_dims > 1 ? (uint64_t)k + 1 : 1) && t->ne[3] == (t->n_dims > 3 ? 2u : 1u));
        CHECK(t->nbytes == sizes[k] && t->offset % align == 0);
        CHECK(((uintptr_t)t->data - (uintptr_t)f->map) % align == 0);
        CHECK(!memcmp(t->data, bytes[k], sizes[k]));
        free(bytes[k]);
    }
    CHECK(gguf_find_tensor(f, "tensor.nope") == NULL && gguf_find_kv(f, "tensor.f32") == NULL);
    gguf_close(f);
}

static void test_writer_errors(void) {
    char err[256];
    const char *path = tmp_path("bad.gguf");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    uint64_t ne[2] = {32, 2};
    uint8_t data[4096] = {0};

    /* abort removes the temporary file and never creates the final one */
    gguf_writer *w = gguf_writer_create(path, err, sizeof err);
    CHECK(w && exists(tmp));
    gguf_writer_add_tensor(w, "t", MOEE_TYPE_F32, 2, ne);
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == 0);
    CHECK(gguf_writer_write_tensor(w, data, 100, err, sizeof err) == 0);
    /* finish with bytes missing is an error naming the tensor */
    CHECK(gguf_writer_finish(w, err, sizeof err) == -1 && strstr(err, "'t'") && strstr(err, "100 of 256"));
    CHECK(!exists(path));
    /* writing past the last tensor */
    CHECK(gguf_writer_write_tensor(w, data, 157, err, sizeof err) == -1 && strstr(err, "past the last tensor"));
    gguf_writer_abort(w);
    CHECK(!exists(tmp) && !exists(path));

    /* problems in void calls are reported by begin_data */
    struct { uint32_t type, n_dims; uint64_t ne0, ne1; const char *what; } bad[] = {
        {16, 2, 32, 2, "unsupported tensor type"},
        {MOEE_TYPE_Q4_0, 2, 48, 2, "block size"},
        {MOEE_TYPE_F32, 0, 32, 2, "dimension count"},
        {MOEE_TYPE_F32, 5, 32, 2, "dimension count"},
        {MOEE_TYPE_F32, 2, 32, 0, "bad dimension"},
        {MOEE_TYPE_F32, 2, (uint64_t)1 << 62, 8, "overflow"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        w = gguf_writer_create(path, err, sizeof err);
        uint64_t shape[5] = {bad[k].ne0, bad[k].ne1, 1, 1, 1};
        gguf_writer_add_tensor(w, "bad.tensor", bad[k].type, bad[k].n_dims, shape);
        CHECKF(gguf_writer_begin_data(w, err, sizeof err) == -1 && strstr(err, bad[k].what) &&
               strstr(err, path) == err, "%zu: %s", k, err);
        gguf_writer_abort(w);
    }
    w = gguf_writer_create(path, err, sizeof err);
    gguf_writer_add_tensor(w, "dup", MOEE_TYPE_F32, 2, ne);
    gguf_writer_add_tensor(w, "dup", MOEE_TYPE_F32, 2, ne);
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == -1 && strstr(err, "duplicate tensor name 'dup'"));
    gguf_writer_abort(w);
    w = gguf_writer_create(path, err, sizeof err);
    gguf_writer_set_u32(w, "general.alignment", 48);
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == -1 && strstr(err, "general.alignment"));
    gguf_writer_abort(w);
    w = gguf_writer_create(path, err, sizeof err);
    gguf_writer_set_str(w, "general.alignment", "32");
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == -1 && strstr(err, "general.alignment"));
    gguf_writer_abort(w);
    CHECK(!exists(tmp) && !exists(path));
    /* a key set after begin_data would be lost: finish refuses */
    w = gguf_writer_create(path, err, sizeof err);
    CHECK(gguf_writer_begin_data(w, err, sizeof err) == 0);
    gguf_writer_set_u32(w, "late.key", 1);
    CHECK(gguf_writer_finish(w, err, sizeof err) == -1 && strstr(err, "'late.key' set after begin_data"));
    gguf_writer_abort(w);
    CHECK(!exists(tmp) && !exists(path));
    /* no tensors at all: finish alone writes a valid file */
    w = gguf_writer_create(path, err, sizeof err);
    gguf_writer_set_str(w, "general.architecture", "x");
    CHECK(gguf_writer_finish(w, err, sizeof err) == 0);
    gguf_file *f = gguf_open(path, err, sizeof err);
    CHECKF(f && f->n_tensors == 0 && f->n_kv == 1, "%s", err);
    gguf_close(f);
    unlink(path);
    /* an unwritable location */
    CHECK(gguf_writer_create("/nonexistent/dir/m.gguf", err, sizeof err) == NULL && strstr(err, "/nonexistent/dir/m.gguf"));
}

/* ---- files written by llama.cpp --------------------------------------------------------- */

static void test_golden(void) {
    struct { const char *file, *arch; uint64_t n_tensors; uint32_t weight_type; } golden[] = {
        {"olmoe-tiny.f32.gguf", "olmoe", 51, MOEE_TYPE_F32},
        {"olmoe-tiny.q8_0.gguf", "olmoe", 51, MOEE_TYPE_Q8_0},
        {"olmoe-tiny.q4_0.gguf", "olmoe", 51, MOEE_TYPE_Q4_0},
        {"qwen2moe-tiny.f32.gguf", "qwen2moe", 71, MOEE_TYPE_F32},
        {"qwen2moe-tiny.q8_0.gguf", "qwen2moe", 71, MOEE_TYPE_Q8_0},
        {"qwen2moe-tiny.q4_0.gguf", "qwen2moe", 71, MOEE_TYPE_Q4_0},
        {"deepseek-tiny.f32.gguf", "deepseek", 51, MOEE_TYPE_F32},
        {"deepseek-tiny.q8_0.gguf", "deepseek", 51, MOEE_TYPE_Q8_0},
        {"deepseek-tiny.q4_0.gguf", "deepseek", 51, MOEE_TYPE_Q4_0},
    };
    for (size_t k = 0; k < sizeof golden / sizeof golden[0]; k++) {
        char path[256], err[256];
        snprintf(path, sizeof path, "tests/data/golden/llamacpp-gguf/%s", golden[k].file);
        gguf_file *f = gguf_open(path, err, sizeof err);
        CHECKF(f != NULL, "%s", err);
        if (!f) continue;
        gguf_str arch;
        CHECK(gguf_get_str(f, "general.architecture", &arch) == 1 && arch.len == strlen(golden[k].arch) &&
              !memcmp(arch.ptr, golden[k].arch, arch.len));
        CHECKF(f->n_tensors == golden[k].n_tensors, "%s: %llu tensors", path, (unsigned long long)f->n_tensors);
        CHECK(f->version == 3 && f->alignment == 32);
        /* large matrices carry the file's type; norms and the router stay F32 */
        int types_ok = 1;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            if ((t->n_dims == 1 || strstr(name, "gate_inp")) && t->type != MOEE_TYPE_F32) types_ok = 0;
            if (t->n_dims == 3 && t->type != golden[k].weight_type) types_ok = 0;
        }
        CHECKF(types_ok, "%s: tensor types", path);
        char key[64];
        snprintf(key, sizeof key, "%s.expert_count", golden[k].arch);
        uint32_t experts = 0;
        CHECK(gguf_get_u32(f, key, &experts) == 1 && experts > 1);
        const gguf_tensor *t = gguf_find_tensor(f, "blk.1.ffn_gate_inp.weight");
        CHECK(t && t->type == MOEE_TYPE_F32 && t->n_dims == 2 && t->ne[1] == experts);
        t = gguf_find_tensor(f, "blk.1.ffn_up_exps.weight");
        CHECK(t && t->type == golden[k].weight_type && t->n_dims == 3 && t->ne[2] == experts);
        t = gguf_find_tensor(f, "token_embd.weight");
        CHECK(t && t->n_dims == 2 && t->ne[1] == 512);
        gguf_str *tokens;
        uint64_t n;
        CHECK(gguf_get_str_array(f, "tokenizer.ggml.tokens", &tokens, &n) == 1 && n == 512);
        if (n == 512) free(tokens);
        uint32_t et;
        const void *data;
        CHECK(gguf_get_array(f, "tokenizer.ggml.token_type", &et, &data, &n) == 1 && et == GGUF_TYPE_INT32 && n == 512);
        touch_all(f);
        gguf_close(f);
    }
}

/* Re-writes a llama.cpp file through the writer (key/values copied in order, the
 * same tensors in the same order): the bytes must come out identical. */
static void test_rewrite_identical(const char *file) {
    char path[256], err[256];
    snprintf(path, sizeof path, "tests/data/golden/llamacpp-gguf/%s", file);
    gguf_file *f = gguf_open(path, err, sizeof err);
    CHECKF(f != NULL, "%s", err);
    if (!f) return;
    const char *out = tmp_path("rewrite.gguf");
    gguf_writer *w = gguf_writer_create(out, err, sizeof err);
    for (uint64_t i = 0; i < f->n_kv; i++) gguf_writer_copy_kv(w, &f->kv[i]);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne);
    }
    int rc = gguf_writer_begin_data(w, err, sizeof err);
    for (uint64_t i = 0; rc == 0 && i < f->n_tensors; i++)
        rc = gguf_writer_write_tensor(w, f->tensors[i].data, f->tensors[i].nbytes, err, sizeof err);
    if (rc == 0) rc = gguf_writer_finish(w, err, sizeof err);
    else gguf_writer_abort(w);
    CHECKF(rc == 0, "%s", err);
    size_t size;
    char *bytes = moee_read_file(out, &size, err, sizeof err);
    CHECKF(bytes && size == f->map_size && !memcmp(bytes, f->map, size), "%s: rewrite differs (%zu vs %zu bytes)",
           file, size, f->map_size);
    free(bytes);
    unlink(out);
    gguf_close(f);
}

/* ---- hostile headers --------------------------------------------------------------------------- */

typedef struct { uint8_t b[4096]; size_t n; } buf_t;
static void b_put(buf_t *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }
static void b_u32(buf_t *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(buf_t *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(buf_t *b, const char *s) { b_u64(b, strlen(s)); b_put(b, s, strlen(s)); }
static void b_header(buf_t *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
/* tensor info + padding + data of `data_bytes` zero bytes */
static void b_tensor(buf_t *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) b_u64(b, ne[d]);
    b_u32(b, type);
    b_u64(b, offset);
}
static void b_pad_data(buf_t *b, size_t data_bytes) {
    while (b->n % 32) b->b[b->n++] = 0;
    memset(b->b + b->n, 0, data_bytes);
    b->n += data_bytes;
}

static void expect_error(const buf_t *b, const char *what) {
    char err[256] = "";
    void *copy;
    gguf_file *f = open_copy(b->b, b->n, err, sizeof err, &copy);
    CHECKF(f == NULL, "accepted, expected '%s'", what);
    CHECKF(strstr(err, what) != NULL && strncmp(err, "x.gguf: ", 8) == 0, "error '%s', expected '%s'", err, what);
    gguf_close(f);
    free(copy);
}

static void test_hostile(void) {
    buf_t b;
    uint64_t ne2[2] = {32, 2}, ne1[1] = {32};

    b_header(&b, 3, 0, 0);
    b.b[0] = 'X';
    expect_error(&b, "bad magic");
    b_header(&b, 1, 0, 0);
    expect_error(&b, "version 1");
    b_header(&b, 0x03000000, 0, 0);
    expect_error(&b, "big-endian");
    b_header(&b, 4, 0, 0);
    expect_error(&b, "unsupported GGUF version 4");
    b_header(&b, 3, 0, 0);
    b.n -= 3;
    expect_error(&b, "truncated");
    b_header(&b, 3, 0, (uint64_t)1 << 60);
    expect_error(&b, "key/value count");
    b_header(&b, 3, UINT64_MAX, 0);
    expect_error(&b, "tensor count");
    /* a string length far past the end */
    b_header(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX - 3);
    b_put(&b, "abcdefghijklmnop", 16);
    expect_error(&b, "extends past the end");
    /* a value type that does not exist */
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, 13);
    b_u32(&b, 0);
    expect_error(&b, "key 'k': unknown value type 13");
    /* arrays of arrays */
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u64(&b, 1);
    b_u32(&b, GGUF_TYPE_UINT8);
    b_u64(&b, 0);
    expect_error(&b, "arrays of arrays");
    /* an array longer than the file */
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_INT32);
    b_u64(&b, (uint64_t)1 << 62);
    b_u64(&b, 0);
    expect_error(&b, "extends past the end");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_STRING);
    b_u64(&b, (uint64_t)1 << 61);
    b_u64(&b, 0);
    expect_error(&b, "cannot fit");
    /* bool that is not 0/1 */
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_TYPE_BOOL);
    b.b[b.n++] = 2;
    expect_error(&b, "bool");
    /* duplicate keys */
    b_header(&b, 3, 0, 2);
    for (int i = 0; i < 2; i++) { b_str(&b, "dup.key"); b_u32(&b, GGUF_TYPE_UINT8); b.b[b.n++] = 1; }
    expect_error(&b, "duplicate key 'dup.key'");
    /* general.alignment: wrong type, zero, not a power of two */
    uint32_t aligns[3] = {0, 48, 3};
    for (int i = 0; i < 3; i++) {
        b_header(&b, 3, 0, 1);
        b_str(&b, "general.alignment");
        b_u32(&b, GGUF_TYPE_UINT32);
        b_u32(&b, aligns[i]);
        expect_error(&b, "general.alignment");
    }
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, GGUF_TYPE_UINT64);
    b_u64(&b, 32);
    expect_error(&b, "general.alignment");
    /* tensor infos */
    uint64_t ne5[5] = {32, 1, 1, 1, 1}, ne0[2] = {32, 0}, neo[4] = {32, (uint64_t)1 << 40, (uint64_t)1 << 40, 2};
    struct { uint32_t n_dims; const uint64_t *ne; uint32_t type; uint64_t offset; size_t data; const char *what; } cases[] = {
        {0, ne2, 0, 0, 256, "0 dimensions"},
        {5, ne5, 0, 0, 256, "5 dimensions"},
        {2, ne0, 0, 0, 256, "dimension 1 has size 0"},
        {4, neo, 0, 0, 256, "element count overflows"},
        {2, ne2, 16, 0, 256, "type iq2_xxs is not implemented by moee"},
        {2, ne2, 35, 0, 256, "type tq2_0 is not implemented by moee"},
        {2, ne2, 4, 0, 256, "unknown tensor type 4"},
        {2, (const uint64_t[]){48, 2}, MOEE_TYPE_Q8_0, 0, 256, "row of 48 elements is not a multiple of the q8_0 block size 32"},
        {2, ne2, 0, 16, 512, "data offset 16 is not a multiple of the alignment 32"},
        {2, ne2, 0, 0, 255, "data extends past the end of the file"},
        {2, ne2, 0, 32, 256, "data extends past the end of the file"},
        {2, ne2, 0, (uint64_t)1 << 63, 256, "data extends past the end of the file"},
        {1, ne1, 0, UINT64_MAX - 31, 256, "data extends past the end of the file"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        b_header(&b, 3, 1, 0);
        b_tensor(&b, "blk.0.attn_q.weight", cases[k].n_dims, cases[k].ne, cases[k].type, cases[k].offset);
        b_pad_data(&b, cases[k].data);
        char want[160];
        snprintf(want, sizeof want, "tensor 'blk.0.attn_q.weight': %s", cases[k].what);
        expect_error(&b, want);
    }
    /* the exact message format the brief asks for */
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "blk.0.attn_q.weight", 2, ne2, 0, 0);
    b_pad_data(&b, 100);
    char err[256];
    void *copy;
    CHECK(open_copy(b.b, b.n, err, sizeof err, &copy) == NULL);
    CHECKF(!strcmp(err, "x.gguf: tensor 'blk.0.attn_q.weight': data extends past the end of the file"), "%s", err);
    free(copy);
    /* the same tensor with all its data is fine; a name with a newline is shown safely */
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "blk.0.attn_q.weight", 2, ne2, 0, 0);
    b_pad_data(&b, 256);
    gguf_file *f = open_copy(b.b, b.n, err, sizeof err, &copy);
    CHECKF(f != NULL, "%s", err);
    gguf_close(f);
    free(copy);
    b_header(&b, 3, 2, 0);
    b_tensor(&b, "a\nb", 2, ne2, 0, 0);
    b_tensor(&b, "a\nb", 2, ne2, 0, 256);
    b_pad_data(&b, 512);
    expect_error(&b, "duplicate tensor name 'a?b'");
    /* scalars of every type (the writer only makes some of them) and the getters' conversions */
    b_header(&b, 2, 0, 10);   /* version 2 has the same layout */
    struct { const char *key; uint32_t type; uint64_t bits; } scalars[] = {
        {"u8", GGUF_TYPE_UINT8, 200}, {"i8", GGUF_TYPE_INT8, 0x80}, {"u16", GGUF_TYPE_UINT16, 65535},
        {"i16", GGUF_TYPE_INT16, 0xfffe}, {"u64", GGUF_TYPE_UINT64, (uint64_t)1 << 40},
        {"u64max", GGUF_TYPE_UINT64, UINT64_MAX}, {"i64", GGUF_TYPE_INT64, (uint64_t)INT64_MIN},
        {"f64", GGUF_TYPE_FLOAT64, 0}, {"i32", GGUF_TYPE_INT32, 0xffffffffu}, {"u32", GGUF_TYPE_UINT32, 0xffffffffu},
    };
    double quarter = -0.25;
    memcpy(&scalars[7].bits, &quarter, 8);
    for (int i = 0; i < 10; i++) {
        b_str(&b, scalars[i].key);
        b_u32(&b, scalars[i].type);
        b_put(&b, &scalars[i].bits, gguf_type_size(scalars[i].type));
    }
    gguf_file *sf = open_copy(b.b, b.n, err, sizeof err, &copy);
    CHECKF(sf != NULL, "%s", err);
    if (sf) {
        uint32_t u; int64_t l; float x;
        CHECK(sf->version == 2);
        CHECK(gguf_get_u32(sf, "u8", &u) == 1 && u == 200);
        CHECK(gguf_get_i64(sf, "i8", &l) == 1 && l == -128 && gguf_get_u32(sf, "i8", &u) == -1);
        CHECK(gguf_get_u32(sf, "u16", &u) == 1 && u == 65535);
        CHECK(gguf_get_i64(sf, "i16", &l) == 1 && l == -2);
        CHECK(gguf_get_u32(sf, "u64", &u) == -1 && gguf_get_i64(sf, "u64", &l) == 1 && l == (int64_t)1 << 40);
        CHECK(gguf_get_i64(sf, "u64max", &l) == -1);
        CHECK(gguf_get_i64(sf, "i64", &l) == 1 && l == INT64_MIN);
        CHECK(gguf_get_f32(sf, "f64", &x) == 1 && x == -0.25f && gguf_get_i64(sf, "f64", &l) == -1);
        CHECK(gguf_get_i64(sf, "i32", &l) == 1 && l == -1);
        CHECK(gguf_get_u32(sf, "u32", &u) == 1 && u == 0xffffffffu);
    }
    gguf_close(sf);
    free(copy);
    /* an empty file and a directory */
    b.n = 0;
    expect_error(&b, "truncated");
    CHECK(gguf_open(tmpdir, err, sizeof err) == NULL && strstr(err, "not a regular file"));
    CHECK(gguf_open("/nonexistent.gguf", err, sizeof err) == NULL && strstr(err, "/nonexistent.gguf: "));
}

/* ---- truncation and corruption ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {   /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_truncation_and_corruption(void) {
    uint8_t *bytes[N_TYPES];
    uint64_t sizes[N_TYPES];
    const char *path = tmp_path("fuzz.gguf");
    if (write_sample(path, 0, bytes, sizes) != 0) return;
    for (int k = 0; k < N_TYPES; k++) free(bytes[k]);
    size_t size;
    char err[256];
    uint8_t *whole = (uint8_t *)moee_read_file(path, &size, err, sizeof err);
    CHECK(whole != NULL);
    if (!whole) return;
    /* where the last tensor's bytes end: any cut before that must be an error */
    void *copy;
    gguf_file *f = open_copy(whole, size, err, sizeof err, &copy);
    uint64_t data_end = 0;
    for (uint64_t i = 0; f && i < f->n_tensors; i++) {
        uint64_t end = f->data_offset + f->tensors[i].offset + f->tensors[i].nbytes;
        if (end > data_end) data_end = end;
    }
    gguf_close(f);
    free(copy);
    int accepted_short = 0, failures_without_message = 0;
    for (size_t cut = 0; cut < size; cut++) {
        err[0] = '\0';
        f = open_copy(whole, cut, err, sizeof err, &copy);
        if (f) { touch_all(f); if (cut < data_end) accepted_short++; }
        else if (strncmp(err, "x.gguf: ", 8) != 0) failures_without_message++;
        gguf_close(f);
        free(copy);
    }
    CHECKF(accepted_short == 0, "%d truncated files accepted", accepted_short);
    CHECK(failures_without_message == 0);
    /* a truncated file on disk, through the mmap path */
    FILE *out = fopen(path, "wb");
    fwrite(whole, 1, size / 2, out);
    fclose(out);
    CHECK(gguf_open(path, err, sizeof err) == NULL && strstr(err, path) == err);

    /* the first 4 KB of a llama.cpp file, cut at every byte */
    size_t gsize;
    uint8_t *golden = (uint8_t *)moee_read_file("tests/data/golden/llamacpp-gguf/qwen2moe-tiny.q4_0.gguf", &gsize, err, sizeof err);
    CHECKF(golden != NULL, "%s", err);
    if (golden) {
        int accepted = 0;
        for (size_t cut = 0; cut < 4096 && cut < gsize; cut++) {
            f = open_copy(golden, cut, err, sizeof err, &copy);
            if (f) accepted++;
            gguf_close(f);
            free(copy);
        }
        CHECK(accepted == 0);
    }

    /* seeded random corruption: 1 to 4 bytes, biased towards the header */
    int parsed = 0, rejected = 0;
    for (int iter = 0; iter < 3000; iter++) {
        const uint8_t *src = whole;
        size_t n = size;
        if (golden && iter % 4 == 3) { src = golden; n = gsize; }
        uint8_t *m = malloc(n);
        memcpy(m, src, n);
        int flips = 1 + (int)(rng() % 4);
        size_t header = n < 16384 ? n : 16384;
        for (int j = 0; j < flips; j++) {
            size_t at = (size_t)(rng() % (iter % 2 ? header : n));
            switch (rng() % 3) {
            case 0: m[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            case 1: m[at] = (uint8_t)rng(); break;
            default: m[at] = (rng() & 1) ? 0xff : 0x00; break;
            }
        }
        f = gguf_open_buffer(m, n, "x.gguf", err, sizeof err);
        if (f) { parsed++; touch_all(f); } else rejected++;
        gguf_close(f);
        free(m);
    }
    CHECK(parsed + rejected == 3000);
    fprintf(stderr, "gguf fuzz: %d corrupted files parsed, %d rejected\n", parsed, rejected);
    free(golden);
    free(whole);
    unlink(path);
}

/* llama.cpp's naming (gguf_names.h) on llama.cpp's own files: which layers are MoE. */
static void test_names(void) {
    char err[256], name[96];
    CHECK(!strcmp(gguf_layer_tensor_name(name, sizeof name, 12, GGUF_DOWN_EXPS), "blk.12.ffn_down_exps.weight"));
    CHECK(!strcmp(gguf_layer_tensor_name(name, sizeof name, 0, GGUF_SHEXP_GATE), "blk.0.ffn_gate_inp_shexp.weight"));
    gguf_file *o = gguf_open("tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf", err, sizeof err);
    gguf_file *q = gguf_open("tests/data/golden/llamacpp-gguf/qwen2moe-tiny.f32.gguf", err, sizeof err);
    CHECKF(o && q, "%s", err);
    if (!o || !q) return;
    CHECK(gguf_layer_is_moe(o, 0) && gguf_layer_is_moe(o, 3) && !gguf_layer_is_moe(o, 4));
    CHECK(!gguf_layer_has_shared_expert(o, 0) && gguf_layer_has_shared_expert(q, 0));
    CHECK(gguf_find_tensor(o, GGUF_TOKEN_EMBD) && gguf_find_tensor(o, GGUF_OUTPUT_NORM));
    gguf_close(o);
    gguf_close(q);
}

/* ---- the populate tests' files: byte i is pattern_at(i) ---- */

static uint8_t pattern_at(size_t i) { return (uint8_t)(i * 2654435761u >> 13); }

/* Writes `size` bytes of pattern_at to path, `chunk` bytes per write (small writes
 * leave the file cached in small folios), and syncs it. */
static int write_pattern(const char *path, size_t size, size_t chunk) {
    uint8_t *buf = malloc(chunk);
    FILE *fp = fopen(path, "wb");
    int ok = buf && fp;
    if (ok) setvbuf(fp, NULL, _IONBF, 0);
    for (size_t at = 0; ok && at < size; at += chunk) {
        for (size_t i = 0; i < chunk; i++) buf[i] = pattern_at(at + i);
        ok = fwrite(buf, 1, chunk, fp) == chunk;
    }
    if (fp) ok = fsync(fileno(fp)) == 0 && fclose(fp) == 0 && ok;
    free(buf);
    CHECKF(ok, "%s: cannot write the test file", path);
    return ok;
}

/* Whether the n bytes at map are the pattern. */
static int reads_pattern(const void *map, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)map)[i] != pattern_at(i)) return 0;
    return 1;
}

/* moee_map_populate on a file dropped from the page cache (its read-through path), with
 * no path and with a path that does not open: the mapping reads the file's bytes. */
static void test_populate(void) {
    const char *path = tmp_path("populate.bin");
    const size_t size = (size_t)3 << 20;
    if (!write_pattern(path, size, size)) return;
    const char *paths[3] = {path, NULL, tmp_path("no-such-file")};
    for (int k = 0; k < 3; k++) {
        int fd = open(path, O_RDONLY);   /* drop it from the cache (best effort) */
        if (fd >= 0) {
            (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
        const void *map;
        size_t n;
        char err[256];
        CHECKF(moee_map_file(path, &map, &n, err, sizeof err) == 0 && n == size, "%s", err);
        moee_map_populate(paths[k], map, n);
#if defined(__linux__) && defined(MADV_POPULATE_READ)
        /* what it is for: every page of the file in memory afterwards */
        unsigned char in_core[((size_t)3 << 20) / 4096];
        size_t resident = 0;
        if (n == size && sysconf(_SC_PAGESIZE) == 4096 && mincore((void *)map, n, in_core) == 0) {
            for (size_t i = 0; i < sizeof in_core; i++) resident += in_core[i] & 1;
            CHECKF(resident == sizeof in_core, "populate (path %d): %zu of %zu pages in memory", k, resident,
                   sizeof in_core);
        }
#endif
        CHECKF(n == size && reads_pattern(map, size), "populate (path %d) changed what the mapping reads", k);
        moee_unmap_file(map, n);
    }
    moee_map_populate(path, NULL, 0);   /* nothing mapped: nothing to do */
    unlink(path);
}

#if defined(__linux__) && defined(MADV_POPULATE_READ)
/* ---- the page-cache layout tests: how much of a populated mapping of a file is in
 * huge pages (moee_map_huge_bytes: -1 if not known; 0 everywhere on file systems that
 * cache files in small pages only) ---- */

/* Drops the file from the page cache and reads it back sequentially (large folios,
 * after the readahead's first megabytes). */
static void read_back(const char *path) {
    int fd = open(path, O_RDONLY);
    uint8_t *buf = malloc((size_t)1 << 20);
    if (fd >= 0 && buf) {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        while (read(fd, buf, (size_t)1 << 20) > 0) {}
    }
    if (fd >= 0) close(fd);
    free(buf);
}

/* Maps path, populates the mapping (given the path, or populate only), checks that it
 * still reads the file's bytes, and returns how much of it is in huge pages. */
static long long populated_huge(const char *path, size_t size, int with_path) {
    const void *map;
    size_t n;
    char err[256];
    CHECKF(moee_map_file(path, &map, &n, err, sizeof err) == 0 && n == size, "%s", err);
    if (n != size) return -1;
    moee_map_populate(with_path ? path : NULL, map, n);
    const long long huge = moee_map_huge_bytes(map);
    CHECKF(reads_pattern(map, size), "%s: populate changed what the mapping reads", path);
    moee_unmap_file(map, n);
    return huge;
}
#endif

/* A large file cached in small folios (written 64 KB at a time) gets, from
 * moee_map_populate, at least as much of its mapping in huge pages as the same file
 * dropped from the cache and read back sequentially (on file systems that cache files
 * in small pages only, both are 0), and the mapping still reads the file's bytes. */
static void test_populate_recache(void) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    const char *path = tmp_path("recache.bin");
    const size_t size = (size_t)72 << 20;
    if (!write_pattern(path, size, (size_t)64 << 10)) return;
    const long long huge = populated_huge(path, size, 1);
    read_back(path);
    const long long huge_read = populated_huge(path, size, 0);
    /* (a few MB of slack: huge pages are also limited by free memory) */
    CHECKF(huge < 0 || huge_read < 0 || huge + ((long long)8 << 20) >= huge_read,
           "populate left %lld MB of a 72 MB file in huge pages, a sequential read %lld MB", huge >> 20,
           huge_read >> 20);
    printf("populate: a 72 MB file written 64 KB at a time: %lld MB in huge pages (read back: %lld MB)\n",
           huge >> 20, huge_read >> 20);
    unlink(path);
#endif
}

#if defined(__linux__) && defined(MADV_POPULATE_READ)
/* A file read back sequentially (cached in huge-page-sized folios) and populated, then
 * disturbed (`disturb` changes how part of it is cached) and populated again: the
 * second mapping must have at least as much in huge pages as the first. */
static void check_restored(const char *name, size_t size, void (*disturb)(const char *path, size_t size),
                           const char *what) {
    const char *path = tmp_path(name);
    if (!write_pattern(path, size, (size_t)1 << 20)) return;
    read_back(path);
    const long long huge = populated_huge(path, size, 1);
    disturb(path, size);
    const long long huge_after = populated_huge(path, size, 1);
    /* (-1: no smaps; none at all: no huge pages on this system) */
    CHECKF(huge <= 0 || huge_after < 0 || huge_after >= huge,
           "a %zu MB file with %s: %lld MB in huge pages after populate, read sequentially %lld MB", size >> 20,
           what, huge_after >> 20, huge >> 20);
    printf("populate: a %zu MB file read sequentially: %lld MB in huge pages; with %s: %lld MB\n", size >> 20,
           huge >> 20, what, huge_after >> 20);
    unlink(path);
}

/* Two 2 MB holes evicted past the first 32 MB (which may be in small folios: the
 * readahead's start), as memory pressure evicts whole folios: 4 MB of 72, under the
 * read-through's 1/8 and the re-cache's slack. */
static void evict_holes(const char *path, size_t size) {
    int fd = open(path, O_RDONLY);
    for (size_t at = (size_t)40 << 20; fd >= 0 && at < size; at += (size_t)16 << 20)
        (void)posix_fadvise(fd, (off_t)at, (off_t)2 << 20, POSIX_FADV_DONTNEED);
    if (fd >= 0) close(fd);
}

/* 80 MB from 96 MB on dropped, then faulted back in by another mapping read at random
 * (no readahead, so no large folios): 4 KB pages. */
static void refill_small(const char *path, size_t size) {
    const size_t part_at = (size_t)96 << 20, part = (size_t)80 << 20;
    int fd = open(path, O_RDONLY);
    void *other = fd >= 0 ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (other != MAP_FAILED) {
        (void)posix_fadvise(fd, (off_t)part_at, (off_t)part, POSIX_FADV_DONTNEED);
        (void)madvise(other, size, MADV_RANDOM);
        (void)madvise((char *)other + part_at, part, MADV_POPULATE_READ);
        munmap(other, size);
    }
    if (fd >= 0) close(fd);
}
#endif

/* Holes evicted from a cached file: populate must bring them back in huge pages too,
 * not in 4 KB ones (which fault-around would give them). */
static void test_populate_holes(void) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    check_restored("holes.bin", (size_t)72 << 20, evict_holes, "4 MB of holes filled");
#endif
}

/* A cached file with a part faulted back in 4 KB pages by another process: 80 MB of
 * 256, under half of it, but more than the re-cache's slack, so populate reads the
 * file through again. */
static void test_populate_partly_small(void) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    check_restored("partly.bin", (size_t)256 << 20, refill_small, "80 MB faulted in small pages by another mapping");
#endif
}

int main(void) {
    strcpy(tmpdir, "/tmp/moee_gguf_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_round_trip(0);
    test_round_trip(64);
    test_writer_errors();
    test_golden();
    test_names();
    test_rewrite_identical("olmoe-tiny.q4_0.gguf");
    test_rewrite_identical("qwen2moe-tiny.f32.gguf");
    test_rewrite_identical("deepseek-tiny.q8_0.gguf");
    test_hostile();
    test_truncation_and_corruption();
    test_populate();
    test_populate_recache();
    test_populate_holes();
    test_populate_partly_small();
    unlink(tmp_path("sample.gguf"));
    rmdir(tmpdir);
    return test_summary("weights_gguf");
}
