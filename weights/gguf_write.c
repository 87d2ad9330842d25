/* gguf_write.c: the streaming GGUF writer.
 *
 * Key/values and tensor infos are collected in memory (they are small); tensor
 * data is streamed straight to the file, so a converter never holds a whole
 * model. Everything goes through moee_out (weights/file.h: a temporary renamed to PATH only by a successful
 * finish: a crash or an error never leaves a complete-looking PATH behind.
 *
 * The set_* and add_tensor calls return nothing; a problem there (a bad shape,
 * an unknown type, out of memory) is remembered and reported by begin_data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernels/types.h"
#include "weights/file.h"
#include "weights/gguf.h"

#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    char *key;
    uint8_t *value;          /* serialized: type tag and value, as in the file */
    size_t value_len;
} pending_kv;

typedef struct {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes, offset;
} pending_tensor;

struct gguf_writer {
    char *path;
    moee_out file;           /* weights/file.h: temporary + rename, or a device written straight */
    FILE *out;               /* = file.f */
    pending_kv *kv;
    size_t n_kv, cap_kv;
    pending_tensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t alignment;
    char first_error[256];   /* the first problem seen by a void setter */
    int data_started;
    size_t current;          /* tensor being written */
    uint64_t current_written;
    uint64_t file_pos;       /* bytes written so far */
};

/* Remembers the first problem of a void call; begin_data reports it. */
static void note_error(gguf_writer *w, const char *fmt, const char *what) {
    if (w->first_error[0]) return;
    char msg[200];
    snprintf(msg, sizeof msg, fmt, what);
    snprintf(w->first_error, sizeof w->first_error, "%s: %s", w->path, msg);
}

gguf_writer *gguf_writer_create(const char *path, char *err, size_t err_size) {
    gguf_writer *w = calloc(1, sizeof *w);
    char *copy = strdup(path);
    if (!w || !copy) {
        snprintf(err, err_size, "%s: out of memory", path);
        free(w); free(copy);
        return NULL;
    }
    w->path = copy;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (moee_out_open(&w->file, path, err, err_size)) {
        free(w->path); free(w);
        return NULL;
    }
    w->out = w->file.f;
    setvbuf(w->out, NULL, _IOFBF, 1 << 20);
    return w;
}

/* ---- key/values ------------------------------------------------------------------- */

/* Stores a serialized value under key, replacing an earlier value of that key. */
static void set_value(gguf_writer *w, const char *key, uint8_t *value, size_t value_len) {
    if (!value) { note_error(w, "out of memory storing key '%s'", key); return; }
    if (w->data_started) { note_error(w, "key '%s' set after begin_data", key); free(value); return; }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].value);
            w->kv[i].value = value;
            w->kv[i].value_len = value_len;
            return;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        pending_kv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) { note_error(w, "out of memory storing key '%s'", key); free(value); return; }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) { note_error(w, "out of memory storing key '%s'", key); free(value); return; }
    w->kv[w->n_kv++] = (pending_kv){k, value, value_len};
}

/* A serialized scalar: the u32 type tag then the value's bytes. */
static void set_scalar(gguf_writer *w, const char *key, uint32_t type, const void *v, size_t size) {
    uint8_t *buf = malloc(4 + size);
    if (buf) {
        memcpy(buf, &type, 4);
        memcpy(buf + 4, v, size);
    }
    set_value(w, key, buf, 4 + size);
}

void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) {
    set_scalar(w, key, GGUF_TYPE_UINT32, &v, 4);
}
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) {
    set_scalar(w, key, GGUF_TYPE_INT32, &v, 4);
}
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v) {
    set_scalar(w, key, GGUF_TYPE_FLOAT32, &v, 4);
}
void gguf_writer_set_bool(gguf_writer *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    set_scalar(w, key, GGUF_TYPE_BOOL, &b, 1);
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *s) {
    uint64_t len = strlen(s);
    uint8_t *buf = malloc(12 + len);
    if (buf) {
        uint32_t type = GGUF_TYPE_STRING;
        memcpy(buf, &type, 4);
        memcpy(buf + 4, &len, 8);
        memcpy(buf + 12, s, len);
    }
    set_value(w, key, buf, 12 + len);
}

void gguf_writer_set_str_array(gguf_writer *w, const char *key, const char *const *s,
                               const size_t *lens, uint64_t n) {
    size_t total = 16;
    for (uint64_t i = 0; i < n; i++) total += 8 + (lens ? lens[i] : strlen(s[i]));
    uint8_t *buf = malloc(total);
    if (buf) {
        uint32_t type = GGUF_TYPE_ARRAY, elem = GGUF_TYPE_STRING;
        memcpy(buf, &type, 4);
        memcpy(buf + 4, &elem, 4);
        memcpy(buf + 8, &n, 8);
        size_t pos = 16;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t len = lens ? lens[i] : strlen(s[i]);
            memcpy(buf + pos, &len, 8);
            memcpy(buf + pos + 8, s[i], len);
            pos += 8 + len;
        }
    }
    set_value(w, key, buf, total);
}

void gguf_writer_set_array(gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n) {
    size_t size = gguf_type_size(elem_type);
    if (!size) { note_error(w, "key '%s': array element type must be a fixed-size type", key); return; }
    if (n > (SIZE_MAX - 16) / size) { note_error(w, "key '%s': array too large", key); return; }
    uint8_t *buf = malloc(16 + n * size);
    if (buf) {
        uint32_t type = GGUF_TYPE_ARRAY;
        memcpy(buf, &type, 4);
        memcpy(buf + 4, &elem_type, 4);
        memcpy(buf + 8, &n, 8);
        if (n) memcpy(buf + 16, data, n * size);
    }
    set_value(w, key, buf, 16 + n * size);
}

void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    char *key = malloc(kv->key.len + 1);
    if (!key) { note_error(w, "out of memory copying a key%s", ""); return; }
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = '\0';
    if (strlen(key) != kv->key.len) {
        note_error(w, "key '%s' contains a NUL byte", key);
        free(key);
        return;
    }
    /* the value's extent in the mapping (the reader checked every length) */
    size_t header = 4, body;
    if (kv->type == GGUF_TYPE_STRING) {
        uint64_t len;
        memcpy(&len, kv->data, 8);
        body = 8 + (size_t)len;
    } else if (kv->type == GGUF_TYPE_ARRAY) {
        header += 12;
        if (kv->array_type == GGUF_TYPE_STRING) {
            body = 0;
            for (uint64_t i = 0; i < kv->array_len; i++) {
                uint64_t len;
                memcpy(&len, kv->data + body, 8);
                body += 8 + (size_t)len;
            }
        } else {
            body = (size_t)kv->array_len * gguf_type_size(kv->array_type);
        }
    } else {
        body = gguf_type_size(kv->type);
    }
    uint8_t *buf = malloc(header + body);
    if (buf) {
        memcpy(buf, &kv->type, 4);
        if (kv->type == GGUF_TYPE_ARRAY) {
            memcpy(buf + 4, &kv->array_type, 4);
            memcpy(buf + 8, &kv->array_len, 8);
        }
        memcpy(buf + header, kv->data, body);
    }
    set_value(w, key, buf, header + body);
    free(key);
}

/* ---- tensor infos --------------------------------------------------------------------- */

void gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne) {
    if (w->data_started) { note_error(w, "tensor '%s' added after begin_data", name); return; }
    const moee_type_traits *tt = moee_type(type);
    if (!tt) { note_error(w, "tensor '%s': unsupported tensor type", name); return; }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) { note_error(w, "tensor '%s': dimension count must be 1 to 4", name); return; }
    if (!*name) { note_error(w, "tensor with an empty name%s", ""); return; }
    pending_tensor t = {.type = type, .n_dims = n_dims};
    uint64_t elements = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
        if (t.ne[d] < 1 || t.ne[d] > (uint64_t)INT64_MAX / elements) {
            note_error(w, "tensor '%s': bad dimension size or element count overflow", name);
            return;
        }
        elements *= t.ne[d];
    }
    if (t.ne[0] % (uint64_t)tt->block_size) {
        note_error(w, "tensor '%s': row length is not a multiple of the type's block size", name);
        return;
    }
    t.nbytes = elements / (uint64_t)tt->block_size * tt->block_bytes;
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) { note_error(w, "duplicate tensor name '%s'", name); return; }
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        pending_tensor *ts = realloc(w->tensors, cap * sizeof *ts);
        if (!ts) { note_error(w, "out of memory adding tensor '%s'", name); return; }
        w->tensors = ts;
        w->cap_tensors = cap;
    }
    t.name = strdup(name);
    if (!t.name) { note_error(w, "out of memory adding tensor '%s'", name); return; }
    w->tensors[w->n_tensors++] = t;
}

/* ---- output ----------------------------------------------------------------------------- */

static int put(gguf_writer *w, const void *data, size_t n, char *err, size_t err_size) {
    if (n && fwrite(data, 1, n, w->out) != n) {
        snprintf(err, err_size, "%s: write failed: %s", w->path, strerror(errno));
        return -1;
    }
    w->file_pos += n;
    return 0;
}

static int put_u32(gguf_writer *w, uint32_t v, char *err, size_t err_size) { return put(w, &v, 4, err, err_size); }
static int put_u64(gguf_writer *w, uint64_t v, char *err, size_t err_size) { return put(w, &v, 8, err, err_size); }

static int put_padding(gguf_writer *w, char *err, size_t err_size) {
    static const uint8_t zeros[256];
    uint64_t pad = (w->alignment - w->file_pos % w->alignment) % w->alignment;
    while (pad > 0) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        if (put(w, zeros, n, err, err_size) < 0) return -1;
        pad -= n;
    }
    return 0;
}

/* The alignment comes from general.alignment when the caller set it. */
static int choose_alignment(gguf_writer *w, char *err, size_t err_size) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment")) continue;
        uint32_t type, a = 0;
        memcpy(&type, w->kv[i].value, 4);
        if (type == GGUF_TYPE_UINT32) memcpy(&a, w->kv[i].value + 4, 4);
        if (type != GGUF_TYPE_UINT32 || a == 0 || (a & (a - 1))) {
            snprintf(err, err_size, "%s: general.alignment must be a power of two stored as uint32", w->path);
            return -1;
        }
        w->alignment = a;
    }
    return 0;
}

int gguf_writer_begin_data(gguf_writer *w, char *err, size_t err_size) {
    if (w->first_error[0]) {
        snprintf(err, err_size, "%s", w->first_error);
        return -1;
    }
    if (w->data_started) {
        snprintf(err, err_size, "%s: begin_data called twice", w->path);
        return -1;
    }
    if (choose_alignment(w, err, err_size) < 0) return -1;
    w->data_started = 1;
    /* each tensor starts at the next aligned offset after the previous one */
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = offset;
        offset += (w->tensors[i].nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    if (put(w, "GGUF", 4, err, err_size) < 0 || put_u32(w, 3, err, err_size) < 0 ||
        put_u64(w, w->n_tensors, err, err_size) < 0 || put_u64(w, w->n_kv, err, err_size) < 0)
        return -1;
    for (size_t i = 0; i < w->n_kv; i++) {
        uint64_t len = strlen(w->kv[i].key);
        if (put_u64(w, len, err, err_size) < 0 || put(w, w->kv[i].key, len, err, err_size) < 0 ||
            put(w, w->kv[i].value, w->kv[i].value_len, err, err_size) < 0)
            return -1;
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const pending_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        if (put_u64(w, len, err, err_size) < 0 || put(w, t->name, len, err, err_size) < 0 ||
            put_u32(w, t->n_dims, err, err_size) < 0 || put(w, t->ne, 8 * t->n_dims, err, err_size) < 0 ||
            put_u32(w, t->type, err, err_size) < 0 || put_u64(w, t->offset, err, err_size) < 0)
            return -1;
    }
    if (put_padding(w, err, err_size) < 0) return -1;
    w->current = 0;
    w->current_written = 0;
    return 0;
}

int gguf_writer_write_tensor(gguf_writer *w, const void *data, uint64_t nbytes, char *err, size_t err_size) {
    if (!w->data_started) {
        snprintf(err, err_size, "%s: tensor data written before begin_data", w->path);
        return -1;
    }
    const uint8_t *p = data;
    while (nbytes > 0) {
        if (w->current >= w->n_tensors) {
            snprintf(err, err_size, "%s: %llu bytes of tensor data past the last tensor", w->path,
                     (unsigned long long)nbytes);
            return -1;
        }
        pending_tensor *t = &w->tensors[w->current];
        uint64_t room = t->nbytes - w->current_written;
        uint64_t n = nbytes < room ? nbytes : room;
        if (put(w, p, (size_t)n, err, err_size) < 0) return -1;
        p += n;
        nbytes -= n;
        w->current_written += n;
        if (w->current_written == t->nbytes) {
            if (put_padding(w, err, err_size) < 0) return -1;
            w->current++;
            w->current_written = 0;
        }
    }
    return 0;
}

static void free_writer(gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) { free(w->kv[i].key); free(w->kv[i].value); }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w->path);
    free(w);
}

int gguf_writer_finish(gguf_writer *w, char *err, size_t err_size) {
    if (!w->data_started) {
        if (gguf_writer_begin_data(w, err, err_size) < 0) return -1;
    }
    if (w->first_error[0]) {   /* e.g. a key set after begin_data: it was not written */
        snprintf(err, err_size, "%s", w->first_error);
        return -1;
    }
    if (w->current < w->n_tensors) {
        const pending_tensor *t = &w->tensors[w->current];
        snprintf(err, err_size, "%s: tensor '%s' has %llu of %llu bytes written", w->path, t->name,
                 (unsigned long long)w->current_written, (unsigned long long)t->nbytes);
        return -1;
    }
    w->out = NULL;
    if (moee_out_commit(&w->file, err, err_size)) return -1;
    free_writer(w);
    return 0;
}

void gguf_writer_abort(gguf_writer *w) {
    if (!w) return;
    moee_out_abort(&w->file);
    free_writer(w);
}
