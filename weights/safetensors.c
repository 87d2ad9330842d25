/* safetensors.c: Hugging Face safetensors checkpoints, single-file or sharded.
 *
 * Each file is mapped once; its JSON header is parsed with json.h and every entry
 * is checked (dtype known, shape x dtype size == end - begin, offsets inside the
 * data section) before a tensor is exposed. st_tensor.data points into the
 * mapping: nothing is copied, and the data may be unaligned for its dtype when the
 * header length is not a multiple of 8 (st_to_f32 copies element by element).
 *
 * The tensors of all shards go into one table sorted by name, so that st_at is a
 * stable order and st_find a binary search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "kernels/types.h"
#include "weights/file.h"
#include "weights/json.h"
#include "weights/safetensors.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20)   /* the reference implementation's limit */

typedef struct {
    char *path;
    const void *map;
    size_t size;
} shard;

struct st_checkpoint {
    shard *shards;
    size_t n_shards;
    st_tensor *tensors;
    size_t n_tensors, cap_tensors;
};

static const struct { const char *name; st_dtype dtype; int size; } dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8}, {"I32", ST_I32, 4},
    {"I64", ST_I64, 8}, {"I8", ST_I8, 1},   {"U8", ST_U8, 1},     {"BOOL", ST_BOOL, 1},
};

static int dtype_size(st_dtype d) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].size;
    return 0;
}

void st_close(st_checkpoint *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_tensors; i++) free(c->tensors[i].name);
    for (size_t i = 0; i < c->n_shards; i++) {
        moee_unmap_file(c->shards[i].map, c->shards[i].size);
        free(c->shards[i].path);
    }
    free(c->tensors);
    free(c->shards);
    free(c);
}

/* Reads a JSON integer in [0, max] into *out; 0 if it is anything else. */
static int get_u64(const json_value *v, uint64_t max, uint64_t *out) {
    long long x;
    if (!json_get_int(v, &x) || x < 0 || (uint64_t)x > max) return 0;
    *out = (uint64_t)x;
    return 1;
}

/* Checks one header entry and appends it as a tensor of shard s. */
static int add_tensor(st_checkpoint *c, const shard *s, const uint8_t *data, uint64_t data_size,
                      const json_member *m, char *err, size_t err_size) {
    const char *name = m->key;
    if (m->key_len == 0 || strlen(name) != m->key_len) {
        snprintf(err, err_size, "%s: tensor name is empty or contains a NUL byte", s->path);
        return -1;
    }
#define BAD(...) do { \
        char bad_msg_[200]; \
        snprintf(bad_msg_, sizeof bad_msg_, __VA_ARGS__); \
        snprintf(err, err_size, "%s: tensor '%.80s': %s", s->path, name, bad_msg_); \
        return -1; \
    } while (0)
    if (m->value.kind != JSON_OBJECT) BAD("entry is not an object");
    st_tensor t = {0};
    const char *dname;
    size_t dlen;
    if (!json_get_string(json_get(&m->value, "dtype"), &dname, &dlen)) BAD("missing dtype");
    int size = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (strlen(dtypes[i].name) == dlen && !memcmp(dtypes[i].name, dname, dlen)) {
            t.dtype = dtypes[i].dtype;
            size = dtypes[i].size;
        }
    }
    if (!size) BAD("unsupported dtype '%.20s'", dname);

    const json_value *shape = json_get(&m->value, "shape");
    if (!shape || shape->kind != JSON_ARRAY) BAD("missing shape");
    if (shape->u.array.count > ST_MAX_DIMS) BAD("%zu dimensions (at most %d)", shape->u.array.count, ST_MAX_DIMS);
    t.n_dims = (int)shape->u.array.count;
    uint64_t elements = 1;
    for (int d = 0; d < t.n_dims; d++) {
        uint64_t dim;
        if (!get_u64(json_at(shape, (size_t)d), (uint64_t)INT64_MAX, &dim)) BAD("shape is not a list of sizes");
        t.shape[d] = (int64_t)dim;
        if (dim && elements > (uint64_t)INT64_MAX / dim) BAD("element count overflows");
        elements *= dim;
    }
    t.n_elements = (int64_t)elements;

    const json_value *offsets = json_get(&m->value, "data_offsets");
    uint64_t begin, end;
    if (!offsets || offsets->kind != JSON_ARRAY || offsets->u.array.count != 2 ||
        !get_u64(json_at(offsets, 0), UINT64_MAX >> 1, &begin) || !get_u64(json_at(offsets, 1), UINT64_MAX >> 1, &end))
        BAD("data_offsets must be [begin, end]");
    if (begin > end) BAD("data_offsets begin %llu is after end %llu", (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size) BAD("data extends past the end of the file");
    if (elements > UINT64_MAX / (uint64_t)size || elements * (uint64_t)size != end - begin)
        BAD("shape needs %llu bytes but data_offsets span %llu", (unsigned long long)(elements * (uint64_t)size),
            (unsigned long long)(end - begin));
#undef BAD
    t.nbytes = end - begin;
    t.data = data + begin;
    t.file = s->path;
    t.name = strdup(name);
    if (c->n_tensors == c->cap_tensors) {
        size_t cap = c->cap_tensors ? 2 * c->cap_tensors : 256;
        st_tensor *ts = realloc(c->tensors, cap * sizeof *ts);
        if (!ts) { free(t.name); t.name = NULL; }
        else { c->tensors = ts; c->cap_tensors = cap; }
    }
    if (!t.name) {
        snprintf(err, err_size, "%s: out of memory", s->path);
        return -1;
    }
    c->tensors[c->n_tensors++] = t;
    return 0;
}

/* Maps one safetensors file and adds its tensors to c. */
static int open_shard(st_checkpoint *c, const char *path, char *err, size_t err_size) {
    shard *shards = realloc(c->shards, (c->n_shards + 1) * sizeof *shards);
    if (!shards) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    c->shards = shards;
    shard *s = &c->shards[c->n_shards];
    memset(s, 0, sizeof *s);
    if (!(s->path = strdup(path))) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    c->n_shards++;   /* from here st_close releases it */
    if (moee_map_file(path, &s->map, &s->size, err, err_size) < 0) return -1;
    const uint8_t *bytes = s->map;
    uint64_t header_len;
    if (s->size < 8) {
        snprintf(err, err_size, "%s: file too short for a safetensors header", path);
        return -1;
    }
    memcpy(&header_len, bytes, 8);
    if (header_len > ST_MAX_HEADER || header_len > s->size - 8) {
        snprintf(err, err_size, "%s: header length %llu is larger than %s", path, (unsigned long long)header_len,
                 header_len > ST_MAX_HEADER ? "the 100 MB limit" : "the file");
        return -1;
    }
    char jerr[200];
    json_doc *doc = json_parse((const char *)bytes + 8, (size_t)header_len, jerr, sizeof jerr);
    if (!doc) {
        snprintf(err, err_size, "%s: header: %s", path, jerr);
        return -1;
    }
    const json_value *root = json_root(doc);
    int rc = 0;
    if (root->kind != JSON_OBJECT) {
        snprintf(err, err_size, "%s: header is not a JSON object", path);
        rc = -1;
    }
    const uint8_t *data = bytes + 8 + header_len;
    uint64_t data_size = s->size - 8 - header_len;
    for (size_t i = 0; rc == 0 && i < root->u.object.count; i++) {
        const json_member *m = &root->u.object.members[i];
        if (!strcmp(m->key, "__metadata__") && m->key_len == 12) continue;
        rc = add_tensor(c, s, data, data_size, m, err, err_size);
    }
    json_free(doc);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Opens every shard named by an index file (each once) and checks that each
 * tensor the index lists is in the shard it names. */
static int open_index(st_checkpoint *c, const char *index_path, char *err, size_t err_size) {
    json_doc *doc = json_parse_file(index_path, err, err_size);
    if (!doc) return -1;
    const json_value *map = json_get(json_root(doc), "weight_map");
    int rc = 0;
    if (!map || map->kind != JSON_OBJECT) {
        snprintf(err, err_size, "%s: no \"weight_map\" object", index_path);
        rc = -1;
    }
    /* the directory of the index, shards are relative to it */
    const char *slash = strrchr(index_path, '/');
    size_t dir_len = slash ? (size_t)(slash - index_path) + 1 : 0;
    const char **shard_names = NULL;
    size_t n_names = 0;
    if (rc == 0) shard_names = calloc(map->u.object.count + 1, sizeof *shard_names);
    if (rc == 0 && !shard_names) { snprintf(err, err_size, "%s: out of memory", index_path); rc = -1; }
    for (size_t i = 0; rc == 0 && i < map->u.object.count; i++) {
        const json_member *m = &map->u.object.members[i];
        const char *file;
        size_t len;
        if (!json_get_string(&m->value, &file, &len) || len == 0 || strlen(file) != len || strchr(file, '/') ||
            !strcmp(file, ".") || !strcmp(file, "..")) {
            snprintf(err, err_size, "%s: tensor '%.80s': shard must be a file name in the same folder", index_path, m->key);
            rc = -1;
            break;
        }
        size_t k = 0;
        while (k < n_names && strcmp(shard_names[k], file)) k++;
        if (k < n_names) continue;
        shard_names[n_names++] = file;
        char *path = malloc(dir_len + len + 1);
        if (!path) { snprintf(err, err_size, "%s: out of memory", index_path); rc = -1; break; }
        memcpy(path, index_path, dir_len);
        memcpy(path + dir_len, file, len + 1);
        rc = open_shard(c, path, err, err_size);
        free(path);
    }
    if (rc == 0) {
        /* (a file may hold no tensors: qsort of a NULL array is undefined even for 0) */
        if (c->n_tensors > 1) qsort(c->tensors, c->n_tensors, sizeof *c->tensors, by_name);
        for (size_t i = 0; i < map->u.object.count; i++) {
            const json_member *m = &map->u.object.members[i];
            const st_tensor *t = st_find(c, m->key);
            const char *file = m->value.u.string.ptr;
            const char *base = t ? strrchr(t->file, '/') : NULL;
            base = base ? base + 1 : t ? t->file : NULL;
            if (!t || strcmp(base, file)) {
                snprintf(err, err_size, "%s: tensor '%.80s' is not in shard %.80s", index_path, m->key, file);
                rc = -1;
                break;
            }
        }
    }
    free(shard_names);
    json_free(doc);
    return rc;
}

static st_checkpoint *st_open_unchecked(const char *path, char *err, size_t err_size) {
    st_checkpoint *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "%s: out of memory", path);
        return NULL;
    }
    int rc;
    size_t n = strlen(path);
    if (is_directory(path)) {
        char *index = malloc(n + 64), *single = malloc(n + 64);
        if (!index || !single) {
            snprintf(err, err_size, "%s: out of memory", path);
            rc = -1;
        } else {
            const char *sep = n && path[n - 1] == '/' ? "" : "/";
            snprintf(index, n + 64, "%s%smodel.safetensors.index.json", path, sep);
            snprintf(single, n + 64, "%s%smodel.safetensors", path, sep);
            if (is_file(index)) rc = open_index(c, index, err, err_size);
            else if (is_file(single)) rc = open_shard(c, single, err, err_size);
            else {
                snprintf(err, err_size, "%s: no model.safetensors or model.safetensors.index.json in this folder", path);
                rc = -1;
            }
        }
        free(index);
        free(single);
    } else if (n >= 5 && !strcmp(path + n - 5, ".json")) {
        rc = open_index(c, path, err, err_size);
    } else {
        rc = open_shard(c, path, err, err_size);
    }
    if (rc == 0) {
        /* (a file may hold no tensors: qsort of a NULL array is undefined even for 0) */
        if (c->n_tensors > 1) qsort(c->tensors, c->n_tensors, sizeof *c->tensors, by_name);
        for (size_t i = 1; i < c->n_tensors; i++) {
            if (!strcmp(c->tensors[i - 1].name, c->tensors[i].name)) {
                snprintf(err, err_size, "%s: tensor '%.80s' appears twice", c->tensors[i].file, c->tensors[i].name);
                rc = -1;
                break;
            }
        }
    }
    if (rc < 0) {
        st_close(c);
        return NULL;
    }
    return c;
}

size_t st_count(const st_checkpoint *c) { return c ? c->n_tensors : 0; }

const st_tensor *st_at(const st_checkpoint *c, size_t i) {
    return c && i < c->n_tensors ? &c->tensors[i] : NULL;
}

const st_tensor *st_find(const st_checkpoint *c, const char *name) {
    if (!c || !name) return NULL;
    size_t lo = 0, hi = c->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(c->tensors[mid].name, name);
        if (r == 0) return &c->tensors[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int st_to_f32(const st_tensor *t, float *out) {
    const uint8_t *p = t->data;
    int64_t n = t->n_elements;
    int size = dtype_size(t->dtype);
    /* one memcpy per element: the data may be unaligned */
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, (size_t)n * 4);
        return 0;
    case ST_F16:
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + i * size, 2); out[i] = moee_f16_to_f32(h); }
        return 0;
    case ST_BF16:
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + i * size, 2); out[i] = moee_bf16_to_f32(h); }
        return 0;
    case ST_F64:
        for (int64_t i = 0; i < n; i++) { double d; memcpy(&d, p + i * size, 8); out[i] = (float)d; }
        return 0;
    case ST_I32:
        for (int64_t i = 0; i < n; i++) { int32_t v; memcpy(&v, p + i * size, 4); out[i] = (float)v; }
        return 0;
    case ST_I64:
        for (int64_t i = 0; i < n; i++) { int64_t v; memcpy(&v, p + i * size, 8); out[i] = (float)v; }
        return 0;
    default:
        return -1;
    }
}

/* The public entry point: every error it returns is one printable line. */
st_checkpoint *st_open(const char *path, char *err, size_t err_size) {
    st_checkpoint *r = st_open_unchecked(path, err, err_size);
    if (!r) moee_err_oneline(err);
    return r;
}
