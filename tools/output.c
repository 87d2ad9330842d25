/* output.c: .npy, .npz and .jsonl writers, onto a moee_out (weights/file.h: a
 * temporary file renamed into place only when complete, or a device written straight).
 *
 * Format notes (NumPy's format.rst, PKWARE's APPNOTE.TXT):
 * - .npy 1.0: magic "\x93NUMPY", bytes 1 0, u16 little-endian header length, then
 *   a Python dict literal padded with spaces and ended by "\n" so that magic +
 *   length + header is a multiple of 64 bytes; the raw data follows.
 * - .npz: a zip whose members NAME.npy are stored (method 0): per member a local
 *   header + name (+ zip64 extra) + data; then the central directory (one record
 *   per member) and the end-of-central-directory record. Zip64 (the extra field
 *   0x0001, the zip64 end record and its locator) is used only when a size or an
 *   offset reaches 0xFFFFFFFF, or a member count 0xFFFF. */
#include "tools/output.h"
#include "weights/json.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- little-endian helpers -------------------------------------------------------- */

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }

/* Writes n floats as little-endian float32 (byte-swapping in chunks on big-endian hosts). */
static void write_floats(moee_out *o, const float *x, size_t n) {
    if (host_is_little_endian()) { moee_out_write(o, x, n * sizeof(float)); return; }
    unsigned char chunk[4096];
    while (n > 0) {
        size_t m = n < sizeof chunk / 4 ? n : sizeof chunk / 4;
        for (size_t i = 0; i < m; i++) {
            uint32_t bits;
            memcpy(&bits, x + i, 4);
            put_u32(chunk + 4 * i, bits);
        }
        moee_out_write(o, chunk, 4 * m);
        x += m; n -= m;
    }
}

/* CRC of n floats as they are written (little-endian). */
static uint32_t crc_floats(uint32_t crc, const float *x, size_t n) {
    if (host_is_little_endian()) return output_crc32(crc, x, n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        unsigned char le[4];
        memcpy(&bits, x + i, 4);
        put_u32(le, bits);
        crc = output_crc32(crc, le, 4);
    }
    return crc;
}

uint32_t output_crc32(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    static int ready;
    if (!ready) {   /* benign race: every thread computes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- .npy -------------------------------------------------------------------------- */

size_t npy_header(char *buf, size_t size, int64_t rows, int64_t cols) {
    char dict[160];
    int dict_len = snprintf(dict, sizeof dict,
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64 "), }",
                            rows, cols);
    size_t total = 10 + (size_t)dict_len + 1;           /* magic+version+length, dict, "\n" */
    total = (total + 63) / 64 * 64;
    if (total > size) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    put_u16((unsigned char *)buf + 8, (uint16_t)(total - 10));
    memcpy(buf + 10, dict, (size_t)dict_len);
    memset(buf + 10 + dict_len, ' ', total - 10 - (size_t)dict_len - 1);
    buf[total - 1] = '\n';
    return total;
}

int npy_put(moee_out *o, const output_array *a, char *err, size_t err_size) {
    char header[256];
    size_t header_len = npy_header(header, sizeof header, a->rows, a->cols);
    moee_out_write(o, header, header_len);
    write_floats(o, a->data, (size_t)(a->rows * a->cols));
    return 0;
}

/* ---- .npz -------------------------------------------------------------------------- */

#define ZIP_LOCAL_SIG   0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_END_SIG     0x06054b50u
#define ZIP64_END_SIG   0x06064b50u
#define ZIP64_LOC_SIG   0x07064b50u
#define ZIP_DOS_DATE    ((0 << 9) | (1 << 5) | 1)   /* 1980-01-01 */
#define ZIP_MAX32       0xFFFFFFFFu

typedef struct {
    char name[80];
    uint32_t crc;
    uint64_t size;      /* stored = uncompressed size */
    uint64_t offset;    /* of the local header */
    int zip64;
} zip_entry;

/* Local header (30 bytes) + name + optional zip64 extra (4 + 16). */
static void zip_local_header(moee_out *o, const zip_entry *e) {
    unsigned char h[30], extra[20];
    size_t name_len = strlen(e->name);
    put_u32(h, ZIP_LOCAL_SIG);
    put_u16(h + 4, e->zip64 ? 45 : 20);        /* version needed: 4.5 for zip64 */
    put_u16(h + 6, 0);                         /* flags */
    put_u16(h + 8, 0);                         /* method: stored */
    put_u16(h + 10, 0);                        /* time 00:00 */
    put_u16(h + 12, ZIP_DOS_DATE);
    put_u32(h + 14, e->crc);
    put_u32(h + 18, e->zip64 ? ZIP_MAX32 : (uint32_t)e->size);   /* compressed */
    put_u32(h + 22, e->zip64 ? ZIP_MAX32 : (uint32_t)e->size);   /* uncompressed */
    put_u16(h + 26, (uint16_t)name_len);
    put_u16(h + 28, e->zip64 ? 20 : 0);
    moee_out_write(o, h, sizeof h);
    moee_out_write(o, e->name, name_len);
    if (e->zip64) {
        put_u16(extra, 0x0001);
        put_u16(extra + 2, 16);
        put_u64(extra + 4, e->size);           /* uncompressed */
        put_u64(extra + 12, e->size);          /* compressed */
        moee_out_write(o, extra, sizeof extra);
    }
}

/* Central directory record (46 bytes) + name + optional zip64 extra (4 + 24). */
static uint64_t zip_central_record(moee_out *o, const zip_entry *e) {
    unsigned char h[46], extra[28];
    size_t name_len = strlen(e->name);
    put_u32(h, ZIP_CENTRAL_SIG);
    put_u16(h + 4, e->zip64 ? 45 : 20);        /* version made by (MS-DOS attributes) */
    put_u16(h + 6, e->zip64 ? 45 : 20);        /* version needed */
    put_u16(h + 8, 0);
    put_u16(h + 10, 0);
    put_u16(h + 12, 0);
    put_u16(h + 14, ZIP_DOS_DATE);
    put_u32(h + 16, e->crc);
    put_u32(h + 20, e->zip64 ? ZIP_MAX32 : (uint32_t)e->size);
    put_u32(h + 24, e->zip64 ? ZIP_MAX32 : (uint32_t)e->size);
    put_u16(h + 28, (uint16_t)name_len);
    put_u16(h + 30, e->zip64 ? 28 : 0);
    put_u16(h + 32, 0);                        /* comment length */
    put_u16(h + 34, 0);                        /* disk number */
    put_u16(h + 36, 0);                        /* internal attributes */
    put_u32(h + 38, 0);                        /* external attributes */
    put_u32(h + 42, e->zip64 ? ZIP_MAX32 : (uint32_t)e->offset);
    moee_out_write(o, h, sizeof h);
    moee_out_write(o, e->name, name_len);
    if (e->zip64) {   /* the fields set to 0xFFFFFFFF, in the order the format fixes */
        put_u16(extra, 0x0001);
        put_u16(extra + 2, 24);
        put_u64(extra + 4, e->size);
        put_u64(extra + 12, e->size);
        put_u64(extra + 20, e->offset);
        moee_out_write(o, extra, sizeof extra);
    }
    return sizeof h + name_len + (e->zip64 ? sizeof extra : 0);
}

static void zip_end(moee_out *o, uint64_t n_entries, uint64_t cd_offset, uint64_t cd_size,
                    int zip64) {
    if (zip64) {
        unsigned char r[56], loc[20];
        uint64_t end64_offset = cd_offset + cd_size;
        put_u32(r, ZIP64_END_SIG);
        put_u64(r + 4, sizeof r - 12);         /* size of the rest of this record */
        put_u16(r + 12, 45);
        put_u16(r + 14, 45);
        put_u32(r + 16, 0);                    /* this disk */
        put_u32(r + 20, 0);                    /* disk with the central directory */
        put_u64(r + 24, n_entries);
        put_u64(r + 32, n_entries);
        put_u64(r + 40, cd_size);
        put_u64(r + 48, cd_offset);
        moee_out_write(o, r, sizeof r);
        put_u32(loc, ZIP64_LOC_SIG);
        put_u32(loc + 4, 0);
        put_u64(loc + 8, end64_offset);
        put_u32(loc + 16, 1);                  /* total disks */
        moee_out_write(o, loc, sizeof loc);
    }
    unsigned char e[22];
    put_u32(e, ZIP_END_SIG);
    put_u16(e + 4, 0);
    put_u16(e + 6, 0);
    put_u16(e + 8, zip64 ? 0xFFFF : (uint16_t)n_entries);
    put_u16(e + 10, zip64 ? 0xFFFF : (uint16_t)n_entries);
    put_u32(e + 12, zip64 ? ZIP_MAX32 : (uint32_t)cd_size);
    put_u32(e + 16, zip64 ? ZIP_MAX32 : (uint32_t)cd_offset);
    put_u16(e + 20, 0);                        /* comment length */
    moee_out_write(o, e, sizeof e);
}

int npz_put(moee_out *out, const output_array *arrays, int n_arrays, int force_zip64,
            char *err, size_t err_size) {
    const char *path = out->path;
    if (n_arrays <= 0) { snprintf(err, err_size, "%s: no arrays to write", path); return -1; }
    zip_entry *entries = calloc((size_t)n_arrays, sizeof *entries);
    if (!entries) { snprintf(err, err_size, "%s: out of memory", path); return -1; }
    for (int i = 0; i < n_arrays; i++) {
        if (strlen(arrays[i].name) + 5 > sizeof entries[i].name) {
            snprintf(err, err_size, "%s: array name too long: %s", path, arrays[i].name);
            free(entries);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(arrays[i].name, arrays[j].name)) {
                snprintf(err, err_size, "%s: two arrays named %s", path, arrays[i].name);
                free(entries);
                return -1;
            }
    }
    moee_out *o = out;
    uint64_t offset = 0;
    for (int i = 0; i < n_arrays; i++) {
        const output_array *a = &arrays[i];
        zip_entry *e = &entries[i];
        char header[256];
        size_t header_len = npy_header(header, sizeof header, a->rows, a->cols);
        size_t n_floats = (size_t)(a->rows * a->cols);
        snprintf(e->name, sizeof e->name, "%s.npy", a->name);
        e->size = header_len + 4 * (uint64_t)n_floats;
        e->offset = offset;
        e->crc = crc_floats(output_crc32(0, header, header_len), a->data, n_floats);
        e->zip64 = force_zip64 || e->size >= ZIP_MAX32 || e->offset >= ZIP_MAX32;
        zip_local_header(o, e);
        moee_out_write(o, header, header_len);
        write_floats(o, a->data, n_floats);
        offset += 30 + strlen(e->name) + (e->zip64 ? 20 : 0) + e->size;
    }
    uint64_t cd_offset = offset, cd_size = 0;
    int any_zip64 = force_zip64 || (uint64_t)n_arrays >= 0xFFFF;
    for (int i = 0; i < n_arrays; i++) {
        cd_size += zip_central_record(o, &entries[i]);
        any_zip64 |= entries[i].zip64;
    }
    any_zip64 |= cd_offset >= ZIP_MAX32 || cd_size >= ZIP_MAX32;
    zip_end(o, (uint64_t)n_arrays, cd_offset, cd_size, any_zip64);
    free(entries);
    return 0;
}

/* ---- .jsonl ------------------------------------------------------------------------ */

int jsonl_put(moee_out *out, const output_array *arrays, int n_arrays, const char *const *ids,
              const char *const *texts, const size_t *lens, char *err, size_t err_size) {
    const char *path = out->path;
    if (n_arrays <= 0) { snprintf(err, err_size, "%s: no arrays to write", path); return -1; }
    int64_t rows = arrays[0].rows;
    for (int k = 1; k < n_arrays; k++)
        if (arrays[k].rows != rows) {
            snprintf(err, err_size, "%s: arrays with different row counts", path);
            return -1;
        }
    /* find a non-finite value before creating anything */
    for (int k = 0; k < n_arrays; k++)
        for (int64_t i = 0; i < rows * arrays[k].cols; i++)
            if (!isfinite(arrays[k].data[i])) {
                snprintf(err, err_size, "%s: row %" PRId64 " of %s is not finite (%g): JSON cannot hold it",
                         path, i / arrays[k].cols, arrays[k].name, (double)arrays[k].data[i]);
                return -1;
            }
    moee_out *o = out;
    char num[32];
    for (int64_t r = 0; r < rows && !o->failed; r++) {
        if (ids) fprintf(o->f, "{\"id\": %s", ids[r]);
        else fprintf(o->f, "{\"id\": %" PRId64, r);
        if (texts) {
            fputs(", \"text\": ", o->f);
            json_write_string(o->f, texts[r], lens[r]);
        }
        for (int k = 0; k < n_arrays; k++) {
            fprintf(o->f, ", \"%s\": [", n_arrays == 1 ? "embedding" : arrays[k].name);
            const float *row = arrays[k].data + r * arrays[k].cols;
            for (int64_t c = 0; c < arrays[k].cols; c++) {
                int len = snprintf(num, sizeof num, c ? ", %.9g" : "%.9g", (double)row[c]);
                moee_out_write(o, num, (size_t)len);
            }
            moee_out_write(o, "]", 1);
        }
        moee_out_write(o, "}\n", 2);
        if (ferror(o->f)) o->failed = EIO;
    }
    return 0;
}

/* ---- whole files ------------------------------------------------------------------- */

typedef int (*put_fn)(moee_out *o, const void *ctx, char *err, size_t err_size);

/* Opens path, puts, commits (or removes everything on failure). */
static int write_file(const char *path, put_fn put, const void *ctx, char *err, size_t err_size) {
    moee_out o;
    if (moee_out_open(&o, path, err, err_size)) return -1;
    if (put(&o, ctx, err, err_size)) { moee_out_abort(&o); return -1; }
    return moee_out_commit(&o, err, err_size);
}

typedef struct { const output_array *arrays; int n, zip64; const char *const *ids; } put_args;
static int put_npy(moee_out *o, const void *c, char *err, size_t es) { return npy_put(o, ((const put_args *)c)->arrays, err, es); }
static int put_npz(moee_out *o, const void *c, char *err, size_t es) {
    const put_args *a = c;
    return npz_put(o, a->arrays, a->n, a->zip64, err, es);
}
static int put_jsonl(moee_out *o, const void *c, char *err, size_t es) {
    const put_args *a = c;
    return jsonl_put(o, a->arrays, a->n, a->ids, NULL, NULL, err, es);
}

int npy_write(const char *path, const output_array *a, char *err, size_t err_size) {
    put_args args = {a, 1, 0, NULL};
    return write_file(path, put_npy, &args, err, err_size);
}

int npz_write(const char *path, const output_array *arrays, int n_arrays, int force_zip64,
              char *err, size_t err_size) {
    put_args args = {arrays, n_arrays, force_zip64, NULL};
    return write_file(path, put_npz, &args, err, err_size);
}

int jsonl_write(const char *path, const output_array *arrays, int n_arrays,
                const char *const *ids, char *err, size_t err_size) {
    put_args args = {arrays, n_arrays, 0, ids};
    return write_file(path, put_jsonl, &args, err, err_size);
}
