/* gguf.c: the GGUF reader. The file is mapped read-only and parsed in one pass
 * with a bounds-checked cursor; nothing is trusted: every count is compared with
 * the bytes left before anything is allocated for it, every length before it is
 * read, every tensor extent against the data section. Tensor data is never
 * copied: gguf_tensor.data points into the mapping.
 *
 * Lookups by key / tensor name use name-sorted index tables (binary search), which
 * also make the duplicate checks O(n log n) for hostile files with many entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/types.h"
#include "weights/file.h"
#include "weights/gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian files by copying bytes: port it for big-endian hosts"
#endif

#define GGUF_DEFAULT_ALIGNMENT 32

/* The public struct plus what only this file needs. */
typedef struct {
    gguf_file pub;
    int owns_map;                    /* 1 when gguf_open mapped the file */
    const gguf_kv **kv_by_key;       /* sorted by key */
    const gguf_tensor **tensor_by_name;
} gguf_reader;

size_t gguf_type_size(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- bounds-checked cursor ---------------------------------------------------- */

typedef struct {
    const uint8_t *base;
    size_t size, pos;
    const char *name;      /* file name for error lines */
    char *err;
    size_t err_size;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->pos; }

/* Copies s into dst (size n) with control and non-ASCII bytes shown as '?' and
 * long names shortened, so that an error line stays one readable line. */
static const char *printable(char *dst, size_t n, const char *s, uint64_t len) {
    size_t k = 0;
    for (uint64_t i = 0; i < len && k + 4 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (len > k && k + 4 <= n) { memcpy(dst + k, "...", 3); k += 3; }
    dst[k] = '\0';
    return dst;
}

#define FAIL(c, ...) do { \
    char fail_msg_[256]; \
    snprintf(fail_msg_, sizeof fail_msg_, __VA_ARGS__); \
    if ((c)->err && (c)->err_size) snprintf((c)->err, (c)->err_size, "%s: %s", (c)->name, fail_msg_); \
} while (0)

static int read_bytes(cursor *c, void *dst, size_t n, const char *what) {
    if (remaining(c) < n) {
        FAIL(c, "truncated file: %s at offset %zu extends past the end", what, c->pos);
        return -1;
    }
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return 0;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) { return read_bytes(c, v, 4, what); }
static int read_u64(cursor *c, uint64_t *v, const char *what) { return read_bytes(c, v, 8, what); }

/* A GGUF string: u64 length then the bytes (no terminator). */
static int read_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    if (read_u64(c, &len, what) < 0) return -1;
    if (len > remaining(c)) {
        FAIL(c, "truncated file: %s of %llu bytes at offset %zu extends past the end", what,
             (unsigned long long)len, c->pos);
        return -1;
    }
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += (size_t)len;
    return 0;
}

/* ---- key/values -------------------------------------------------------------------- */

static const char *type_name(uint32_t t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Checks n bools at p: GGUF writes them as one byte 0 or 1. */
static int bools_valid(const uint8_t *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1) return 0;
    return 1;
}

static int read_kv(cursor *c, gguf_kv *kv) {
    char shown[96];
    if (read_str(c, &kv->key, "key") < 0) return -1;
    const char *key = printable(shown, sizeof shown, kv->key.ptr, kv->key.len);
    if (read_u32(c, &kv->type, "value type") < 0) return -1;
    kv->array_type = 0;
    kv->array_len = 0;
    if (kv->type == GGUF_TYPE_STRING) {
        kv->data = c->base + c->pos;
        gguf_str s;
        return read_str(c, &s, "string value");
    }
    if (kv->type == GGUF_TYPE_ARRAY) {
        if (read_u32(c, &kv->array_type, "array element type") < 0) return -1;
        if (read_u64(c, &kv->array_len, "array length") < 0) return -1;
        kv->data = c->base + c->pos;
        if (kv->array_type == GGUF_TYPE_STRING) {
            /* each element is at least its 8-byte length: check the count first */
            if (kv->array_len > remaining(c) / 8) {
                FAIL(c, "key '%s': array of %llu strings cannot fit in the file", key, (unsigned long long)kv->array_len);
                return -1;
            }
            for (uint64_t i = 0; i < kv->array_len; i++) {
                gguf_str s;
                if (read_str(c, &s, "array string") < 0) return -1;
            }
            return 0;
        }
        size_t size = gguf_type_size(kv->array_type);
        if (!size) {
            if (kv->array_type == GGUF_TYPE_ARRAY) FAIL(c, "key '%s': arrays of arrays are not supported", key);
            else FAIL(c, "key '%s': unknown array element type %u", key, kv->array_type);
            return -1;
        }
        if (kv->array_len > remaining(c) / size) {
            FAIL(c, "key '%s': array of %llu %s values extends past the end of the file", key,
                 (unsigned long long)kv->array_len, type_name(kv->array_type));
            return -1;
        }
        if (kv->array_type == GGUF_TYPE_BOOL && !bools_valid(kv->data, kv->array_len)) {
            FAIL(c, "key '%s': bool array holds a value other than 0 or 1", key);
            return -1;
        }
        c->pos += (size_t)(kv->array_len * size);
        return 0;
    }
    size_t size = gguf_type_size(kv->type);
    if (!size) {
        FAIL(c, "key '%s': unknown value type %u", key, kv->type);
        return -1;
    }
    kv->data = c->base + c->pos;
    if (remaining(c) < size) {
        FAIL(c, "truncated file: value of key '%s' extends past the end", key);
        return -1;
    }
    if (kv->type == GGUF_TYPE_BOOL && !bools_valid(kv->data, 1)) {
        FAIL(c, "key '%s': bool value other than 0 or 1", key);
        return -1;
    }
    c->pos += size;
    return 0;
}

/* ---- sorted indexes ----------------------------------------------------------------------- */

static int str_cmp(gguf_str a, gguf_str b) {
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (r) return r;
    return a.len < b.len ? -1 : a.len > b.len;
}
static int kv_ptr_cmp(const void *a, const void *b) {
    return str_cmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}
static int tensor_ptr_cmp(const void *a, const void *b) {
    return str_cmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

/* Binary search for NUL-terminated `key` over a table of pointers sorted by `field`. */
#define SORTED_FIND(table, n, field, key) do { \
    gguf_str k_ = {key, strlen(key)}; \
    size_t lo_ = 0, hi_ = (size_t)(n); \
    while (lo_ < hi_) { \
        size_t mid_ = lo_ + (hi_ - lo_) / 2; \
        int r_ = str_cmp((table)[mid_]->field, k_); \
        if (r_ == 0) return (table)[mid_]; \
        if (r_ < 0) lo_ = mid_ + 1; else hi_ = mid_; \
    } \
    return NULL; \
} while (0)

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    if (!f || !key) return NULL;
    const gguf_reader *r = (const gguf_reader *)f;
    SORTED_FIND(r->kv_by_key, f->n_kv, key, key);
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f || !name) return NULL;
    const gguf_reader *r = (const gguf_reader *)f;
    SORTED_FIND(r->tensor_by_name, f->n_tensors, name, name);
}

/* ---- tensor infos ---------------------------------------------------------------------------- */

static int read_tensor_info(cursor *c, gguf_tensor *t) {
    char shown[96];
    if (read_str(c, &t->name, "tensor name") < 0) return -1;
    const char *name = printable(shown, sizeof shown, t->name.ptr, t->name.len);
    if (t->name.len == 0) {
        FAIL(c, "tensor with an empty name at offset %zu", c->pos);
        return -1;
    }
    if (read_u32(c, &t->n_dims, "tensor dimension count") < 0) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
        FAIL(c, "tensor '%s': %u dimensions (must be 1 to %d)", name, t->n_dims, GGUF_MAX_DIMS);
        return -1;
    }
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    uint64_t elements = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (read_u64(c, &t->ne[d], "tensor shape") < 0) return -1;
        if (t->ne[d] < 1 || t->ne[d] > (uint64_t)INT64_MAX) {
            FAIL(c, "tensor '%s': dimension %u has size %llu", name, d, (unsigned long long)t->ne[d]);
            return -1;
        }
        if (elements > (uint64_t)INT64_MAX / t->ne[d]) {
            FAIL(c, "tensor '%s': element count overflows", name);
            return -1;
        }
        elements *= t->ne[d];
    }
    if (read_u32(c, &t->type, "tensor type") < 0) return -1;
    if (read_u64(c, &t->offset, "tensor offset") < 0) return -1;
    const moee_type_traits *tt = moee_type(t->type);
    if (!tt) {
        const char *tn = moee_ggml_type_name(t->type);
        if (tn) FAIL(c, "tensor '%s': type %s is not implemented by moee", name, tn);
        else FAIL(c, "tensor '%s': unknown tensor type %u", name, t->type);
        return -1;
    }
    if (t->ne[0] % (uint64_t)tt->block_size) {
        FAIL(c, "tensor '%s': row of %llu elements is not a multiple of the %s block size %lld", name,
             (unsigned long long)t->ne[0], tt->name, (long long)tt->block_size);
        return -1;
    }
    uint64_t blocks = elements / (uint64_t)tt->block_size;
    if (blocks > UINT64_MAX / tt->block_bytes) {
        FAIL(c, "tensor '%s': byte size overflows", name);
        return -1;
    }
    t->nbytes = blocks * tt->block_bytes;
    t->data = NULL;
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------------- */

void gguf_close(gguf_file *f) {
    if (!f) return;
    gguf_reader *r = (gguf_reader *)f;
    if (r->owns_map) moee_unmap_file(f->map, f->map_size);
    free(f->path);
    free(f->kv);
    free(f->tensors);
    free(r->kv_by_key);
    free(r->tensor_by_name);
    free(r);
}

static int parse(gguf_reader *r, cursor *c) {
    gguf_file *f = &r->pub;
    char magic[4];
    if (read_bytes(c, magic, 4, "magic") < 0) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) {
        FAIL(c, "not a GGUF file (bad magic)");
        return -1;
    }
    if (read_u32(c, &f->version, "version") < 0) return -1;
    if (f->version != 2 && f->version != 3) {
        if (f->version == 1) FAIL(c, "GGUF version 1 is not supported (re-convert the model)");
        else if ((f->version & 0xffff) == 0) FAIL(c, "GGUF version %u: a big-endian file is not supported", f->version);
        else FAIL(c, "unsupported GGUF version %u", f->version);
        return -1;
    }
    if (read_u64(c, &f->n_tensors, "tensor count") < 0) return -1;
    if (read_u64(c, &f->n_kv, "key/value count") < 0) return -1;
    /* Smallest possible entries: a key/value is an 8-byte key length, a 4-byte type
     * and a 1-byte value; a tensor info a name length, n_dims, one ne, type, offset.
     * A count that cannot fit is rejected before it sizes an allocation. */
    if (f->n_kv > remaining(c) / 13) {
        FAIL(c, "key/value count %llu cannot fit in the file", (unsigned long long)f->n_kv);
        return -1;
    }
    if (f->n_tensors > remaining(c) / 32) {
        FAIL(c, "tensor count %llu cannot fit in the file", (unsigned long long)f->n_tensors);
        return -1;
    }
    f->kv = calloc(f->n_kv ? (size_t)f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? (size_t)f->n_tensors : 1, sizeof *f->tensors);
    r->kv_by_key = malloc((f->n_kv ? (size_t)f->n_kv : 1) * sizeof *r->kv_by_key);
    r->tensor_by_name = malloc((f->n_tensors ? (size_t)f->n_tensors : 1) * sizeof *r->tensor_by_name);
    if (!f->kv || !f->tensors || !r->kv_by_key || !r->tensor_by_name) {
        FAIL(c, "out of memory");
        return -1;
    }

    for (uint64_t i = 0; i < f->n_kv; i++) {
        if (read_kv(c, &f->kv[i]) < 0) return -1;
        r->kv_by_key[i] = &f->kv[i];
    }
    qsort(r->kv_by_key, (size_t)f->n_kv, sizeof *r->kv_by_key, kv_ptr_cmp);
    char shown[96];
    for (uint64_t i = 1; i < f->n_kv; i++) {
        if (str_cmp(r->kv_by_key[i - 1]->key, r->kv_by_key[i]->key) == 0) {
            FAIL(c, "duplicate key '%s'", printable(shown, sizeof shown, r->kv_by_key[i]->key.ptr, r->kv_by_key[i]->key.len));
            return -1;
        }
    }

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *align = gguf_find_kv(f, "general.alignment");
    if (align) {
        uint32_t a = 0;
        if (align->type == GGUF_TYPE_UINT32) memcpy(&a, align->data, 4);
        if (align->type != GGUF_TYPE_UINT32 || a == 0 || (a & (a - 1)) != 0) {
            FAIL(c, "general.alignment must be a power of two stored as uint32");
            return -1;
        }
        f->alignment = a;
    }

    for (uint64_t i = 0; i < f->n_tensors; i++) {
        if (read_tensor_info(c, &f->tensors[i]) < 0) return -1;
        r->tensor_by_name[i] = &f->tensors[i];
    }
    qsort(r->tensor_by_name, (size_t)f->n_tensors, sizeof *r->tensor_by_name, tensor_ptr_cmp);
    for (uint64_t i = 1; i < f->n_tensors; i++) {
        if (str_cmp(r->tensor_by_name[i - 1]->name, r->tensor_by_name[i]->name) == 0) {
            const gguf_str *n = &r->tensor_by_name[i]->name;
            FAIL(c, "duplicate tensor name '%s'", printable(shown, sizeof shown, n->ptr, n->len));
            return -1;
        }
    }

    /* The data section starts at the next multiple of the alignment. */
    uint64_t data_offset = ((uint64_t)c->pos + f->alignment - 1) / f->alignment * f->alignment;
    f->data_offset = data_offset;
    uint64_t data_size = data_offset <= c->size ? c->size - data_offset : 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        const char *name = printable(shown, sizeof shown, t->name.ptr, t->name.len);
        if (t->offset % f->alignment) {
            FAIL(c, "tensor '%s': data offset %llu is not a multiple of the alignment %u", name,
                 (unsigned long long)t->offset, f->alignment);
            return -1;
        }
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            FAIL(c, "tensor '%s': data extends past the end of the file", name);
            return -1;
        }
        t->data = c->base + data_offset + t->offset;
    }
    return 0;
}

static gguf_file *gguf_open_buffer_unchecked(const void *data, size_t size, const char *name, char *err, size_t err_size) {
    gguf_reader *r = calloc(1, sizeof *r);
    char *path = strdup(name ? name : "(buffer)");
    if (!r || !path) {
        if (err && err_size) snprintf(err, err_size, "%s: out of memory", name ? name : "(buffer)");
        free(r);
        free(path);
        return NULL;
    }
    r->pub.path = path;
    r->pub.map = data;
    r->pub.map_size = size;
    cursor c = {.base = data, .size = size, .pos = 0, .name = path, .err = err, .err_size = err_size};
    if (parse(r, &c) < 0) {
        gguf_close(&r->pub);
        return NULL;
    }
    return &r->pub;
}

gguf_file *gguf_open(const char *path, char *err, size_t err_size) {
    const void *map;
    size_t size;
    if (moee_map_file(path, &map, &size, err, err_size) < 0) return NULL;
    gguf_file *f = gguf_open_buffer(map, size, path, err, err_size);
    if (!f) {
        moee_unmap_file(map, size);
        return NULL;
    }
    ((gguf_reader *)f)->owns_map = 1;
    return f;
}

/* ---- typed getters ----------------------------------------------------------------------------------- */

/* Reads an integer-typed value as a wide signed/unsigned pair; 0 if not an integer. */
static int kv_integer(const gguf_kv *kv, int *negative, uint64_t *magnitude) {
    const uint8_t *p = kv->data;
    int64_t s = 0;
    uint64_t u = 0;
    int is_signed = 1;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: { uint8_t v; memcpy(&v, p, 1); u = v; is_signed = 0; break; }
    case GGUF_TYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); u = v; is_signed = 0; break; }
    case GGUF_TYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); u = v; is_signed = 0; break; }
    case GGUF_TYPE_UINT64: { uint64_t v; memcpy(&v, p, 8); u = v; is_signed = 0; break; }
    case GGUF_TYPE_INT8: { int8_t v; memcpy(&v, p, 1); s = v; break; }
    case GGUF_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case GGUF_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case GGUF_TYPE_INT64: { int64_t v; memcpy(&v, p, 8); s = v; break; }
    default: return 0;
    }
    if (is_signed) {
        *negative = s < 0;
        *magnitude = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    } else {
        *negative = 0;
        *magnitude = u;
    }
    return 1;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    int neg;
    uint64_t mag;
    if (!kv_integer(kv, &neg, &mag) || neg || mag > UINT32_MAX) return -1;
    *out = (uint32_t)mag;
    return 1;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    int neg;
    uint64_t mag;
    if (!kv_integer(kv, &neg, &mag)) return -1;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return -1;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)mag;
    }
    return 1;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type == GGUF_TYPE_FLOAT32) {
        memcpy(out, kv->data, 4);
        return 1;
    }
    if (kv->type == GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, kv->data, 8);
        *out = (float)d;
        return 1;
    }
    return -1;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_BOOL) return -1;
    *out = kv->data[0] != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_STRING) return -1;
    memcpy(&out->len, kv->data, 8);      /* validated by the parser */
    out->ptr = (const char *)kv->data + 8;
    return 1;
}

int gguf_get_array(const gguf_file *f, const char *key, uint32_t *elem_type, const void **data, uint64_t *n) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_ARRAY || !gguf_type_size(kv->array_type)) return -1;
    *elem_type = kv->array_type;
    *data = kv->data;
    *n = kv->array_len;
    return 1;
}

int gguf_get_str_array(const gguf_file *f, const char *key, gguf_str **strs, uint64_t *n) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_ARRAY || kv->array_type != GGUF_TYPE_STRING) return -1;
    gguf_str *table = malloc((kv->array_len ? (size_t)kv->array_len : 1) * sizeof *table);
    if (!table) return -1;
    const uint8_t *p = kv->data;      /* every length was checked by the parser */
    for (uint64_t i = 0; i < kv->array_len; i++) {
        memcpy(&table[i].len, p, 8);
        table[i].ptr = (const char *)p + 8;
        p += 8 + table[i].len;
    }
    *strs = table;
    *n = kv->array_len;
    return 1;
}

/* The public entry point: every error it returns is one printable line. */
gguf_file *gguf_open_buffer(const void *data, size_t size, const char *name, char *err, size_t err_size) {
    gguf_file *r = gguf_open_buffer_unchecked(data, size, name, err, err_size);
    if (!r) moee_err_oneline(err);
    return r;
}
