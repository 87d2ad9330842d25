/* file.h: reading a whole file into memory, and memory-mapping one read-only.
 * Shared by the JSON, GGUF and safetensors readers, and handy for any caller that
 * wants a file's bytes (JSONL inputs, config files).
 *
 * Errors: NULL / -1 and one line "PATH: what went wrong" in err (no newline). */
#ifndef MOEE_FILE_H
#define MOEE_FILE_H
#include <stddef.h>

/* Reads the whole file into a malloc'ed buffer with a NUL byte appended (not
 * counted in *size), so text files can be used as C strings. free() it. */
char *moee_read_file(const char *path, size_t *size, char *err, size_t err_size);

/* Maps the whole file read-only. An empty file gives *map == NULL, *size == 0 and
 * success. Release with moee_unmap_file(*map, *size). */
int moee_map_file(const char *path, const void **map, size_t *size, char *err, size_t err_size);
void moee_unmap_file(const void *map, size_t size);

/* Maps every page of a mapping into the process now, in one system call, instead of
 * one page fault per few pages later (Linux >= 5.14: madvise MADV_POPULATE_READ;
 * elsewhere, or if it fails, nothing: the pages fault in on first use as before).
 * For a model about to run: a few tokens already touch nearly every expert. Reads a
 * file that is not in the page cache from disk, so only worth it before real use. */
void moee_map_populate(const void *map, size_t size);

/* Makes err one printable line: every control character (a newline or tab from
 * a hostile tensor name, key or token echoed into the message) becomes '?'.
 * The public loaders apply it to every error they return. */
void moee_err_oneline(char *err);

#endif
