/* output.h: the files `moee embed` writes.
 *
 *   .npy    one float32 matrix [rows][cols], NumPy format version 1.0
 *   .npz    several .npy members in an uncompressed zip (what numpy.savez writes)
 *   .jsonl  one JSON object per row: {"id": ..., "embedding": [...]}
 *   OUTPUT.json  the sidecar describing a run (written by cmd_embed with these helpers)
 *
 * Every file goes through moee_out (weights/file.h): written under a temporary name
 * beside its target and renamed into place only once complete, so an interrupted or
 * failed run never leaves a file that looks finished; symlinks are followed, devices
 * and FIFOs written straight, "-" is standard output. The *_put functions write onto
 * an open moee_out (the caller commits, e.g. with its sidecar); the *_write functions
 * are open + put + commit.
 *
 * Errors: -1 and one line naming the path in err (no newline). */
#ifndef MOEE_OUTPUT_H
#define MOEE_OUTPUT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "weights/file.h"

/* ---- arrays ------------------------------------------------------------------ */

/* One named float32 matrix. For .npz the member is NAME.npy. */
typedef struct { const char *name; const float *data; int64_t rows, cols; } output_array;

/* The NumPy 1.0 header of a little-endian float32 C-order [rows][cols] array:
 * "\x93NUMPY" 1 0, u16 header length, the dict, spaces and "\n" so that the data
 * starts at a multiple of 64 bytes. Returns its length (<= size), 0 if size is too small. */
size_t npy_header(char *buf, size_t size, int64_t rows, int64_t cols);

int npy_write(const char *path, const output_array *a, char *err, size_t err_size);
int npy_put(moee_out *o, const output_array *a, char *err, size_t err_size);

/* Zip64 records are used only when a size or offset does not fit in 32 bits (or
 * always, with force_zip64, for tests). Entries carry the fixed date 1980-01-01 so
 * that the same arrays always give the same bytes. */
int npz_write(const char *path, const output_array *arrays, int n_arrays, int force_zip64,
              char *err, size_t err_size);
int npz_put(moee_out *o, const output_array *arrays, int n_arrays, int force_zip64,
            char *err, size_t err_size);

/* CRC-32 (the zip polynomial), continued from crc (start with 0). */
uint32_t output_crc32(uint32_t crc, const void *data, size_t n);

/* One line per row: {"id": ID, KEY: [v, ...], ...} with one KEY per array: "embedding"
 * when there is a single array, else the arrays' names. ids[i] is row i's id as JSON
 * text (already encoded, e.g. "\"doc-7\"" or "42"); ids NULL gives the row index.
 * Values are printed with %.9g (round-trip float32); a NaN or infinity is an error.
 * All arrays must have the same number of rows. */
int jsonl_write(const char *path, const output_array *arrays, int n_arrays,
                const char *const *ids, char *err, size_t err_size);
/* texts (may be NULL): each row also gets "text": the input text (lens[i] bytes), after
 * "id", so `moee eval --embeddings` can match rows to a dataset's texts. */
int jsonl_put(moee_out *o, const output_array *arrays, int n_arrays, const char *const *ids,
              const char *const *texts, const size_t *lens, char *err, size_t err_size);

#endif
