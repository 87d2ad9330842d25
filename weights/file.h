/* file.h: reading a whole file into memory, memory-mapping one read-only, and
 * writing one safely. Shared by the JSON, GGUF and safetensors readers and by every
 * writer of the project (embeddings, sidecars, statistics, GGUF models, tokenize
 * output, eval results), so each of these rules holds in one place.
 *
 * Errors: NULL / -1 and one line "PATH: what went wrong" in err (no newline). */
#ifndef MOEE_FILE_H
#define MOEE_FILE_H
#include <stddef.h>
#include <stdio.h>

/* Reads the whole file into a malloc'ed buffer with a NUL byte appended (not
 * counted in *size), so text files can be used as C strings. free() it. Any
 * readable file works: regular files, pipes, FIFOs, /dev/stdin, process
 * substitution (read to the end); a directory is an error. */
char *moee_read_file(const char *path, size_t *size, char *err, size_t err_size);

/* Maps the whole file read-only. An empty file gives *map == NULL, *size == 0 and
 * success. Release with moee_unmap_file(*map, *size). */
int moee_map_file(const char *path, const void **map, size_t *size, char *err, size_t err_size);
void moee_unmap_file(const void *map, size_t size);

/* Maps every page of the mapping of file `path` into the process now, in one system
 * call, instead of one page fault per few pages later (Linux >= 5.14: madvise
 * MADV_POPULATE_READ; elsewhere, or if it fails, nothing: the pages fault in on first
 * use as before). For a model about to run: a few tokens already touch nearly every
 * expert. When more than an eighth of the file is not in the page cache it is first
 * read through once sequentially (into /dev/null): Linux then caches it in large
 * folios, which every later process maps as huge pages (a 3.9 GB model: ~0.05 s
 * instead of ~1 s of page faults per process), where faults through the mapping would
 * cache it in 4 KB pages;
 * the mapping is advised for huge pages (Linux), so that parts evicted since are
 * faulted back in huge-page-sized folios too.
 * A large file that is cached but in small folios (written by small writes: just
 * downloaded or copied; or partly, faulted back in by another process: more than 64 MB
 * and a sixteenth of it) is dropped from the cache and read through again, if a probe
 * of its first 32 MB shows that this file system then caches it in large folios (see
 * file.c: in 4 KB pages a model ran up to 20% slower here).
 * Best effort: nothing here fails. Reads the file from disk if it is not cached, so
 * only worth it before real use. */
void moee_map_populate(const char *path, const void *map, size_t size);

/* Bytes of the mapping that starts at `map` mapped as huge pages (Linux: FilePmdMapped
 * in /proc/self/smaps), or -1 when unknown. */
long long moee_map_huge_bytes(const void *map);

/* Makes err one printable line: every control character (a newline or tab from
 * a hostile tensor name, key or token echoed into the message) becomes '?'.
 * The public loaders apply it to every error they return. */
void moee_err_oneline(char *err);

/* ---- writing ---------------------------------------------------------------------
 *
 * moee_out_open(PATH) never replaces anything but a regular file, and never leaves a
 * file that looks complete but is not:
 *   - "-" is standard output, written straight;
 *   - a symbolic link is followed (chains too, even to a file that does not exist yet):
 *     the bytes go to its target, the link stays;
 *   - a target that is a regular file or does not exist is written under a temporary
 *     name beside the target (TARGET.PID.N.tmp) and renamed onto it by commit;
 *   - any other existing target (a device such as /dev/null, a FIFO) is written
 *     straight: no temporary, no rename (moee_out_is_file says 0: put no sidecar
 *     beside it); a directory is an error. */
typedef struct {
    FILE *f;
    char *path;       /* as given (errors name it) */
    char *target;     /* where the bytes land: path, or the end of its symlinks */
    char *tmp_path;   /* NULL when written straight */
    int failed;       /* a write failed: commit refuses */
    char *buf;        /* the stream's buffer (regular files), freed on close */
} moee_out;

int moee_out_open(moee_out *o, const char *path, char *err, size_t err_size);
/* 1 if the output becomes a regular file (committed by rename). */
int moee_out_is_file(const moee_out *o);
/* Writes n bytes; a failure is remembered and reported by commit. */
void moee_out_write(moee_out *o, const void *data, size_t n);
/* Flushes, syncs, closes and renames into place; on any error nothing is left behind. */
int moee_out_commit(moee_out *o, char *err, size_t err_size);
/* Commits several outputs (e.g. a data file and its sidecar) as one: every one is
 * flushed first, then all are renamed while holding an exclusive lock on the first
 * target's directory, so two runs writing the same outputs never end up mixed. On
 * error none of them is renamed. */
int moee_out_commit_all(moee_out *const *outs, int n, char *err, size_t err_size);
/* Closes and removes the temporary file (safe after commit or twice). */
void moee_out_abort(moee_out *o);

#endif
