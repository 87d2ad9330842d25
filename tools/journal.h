/* journal.h: an append-only file of checksummed chunks, the memory of a long run.
 *
 * `moee embed` appends one chunk per group of finished texts and flushes it to disk
 * (fdatasync) before going on, so a run killed at any moment (SIGKILL, a machine
 * that dies) leaves a prefix of whole chunks, possibly followed by a torn one. A
 * reader takes chunks from the start and stops at the first that is short or whose
 * checksum does not match: everything before it is trusted, nothing after it is.
 *
 * One chunk:
 *   offset  0  u32  magic "MJC1" (0x3143_4A4D little-endian)
 *           4  u32  type (the caller's: header, rows, end, ...)
 *           8  u64  payload bytes
 *          16  u32  CRC-32 of bytes 4..15 and the payload (output_crc32)
 *          20  u32  0
 *          24       payload
 * Integers are little-endian. A journal is locked (flock) while open, so two runs
 * never write the same one.
 *
 * Errors: -1 and one line naming the path in err. */
#ifndef MOEE_JOURNAL_H
#define MOEE_JOURNAL_H
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_CHUNK_HEADER 24
#define JOURNAL_MAX_PAYLOAD  ((uint64_t)1 << 40)   /* a larger length field is damage */

typedef struct {
    int fd;
    char *path;
    uint64_t end;       /* where the next chunk goes: after the last good one read or written */
} journal;

typedef struct {
    uint32_t type;
    unsigned char *payload;   /* malloc'ed (freed by journal_chunk_free) */
    uint64_t size;
    uint64_t offset;          /* of the chunk's header in the file */
} journal_chunk;

/* A new, empty journal; an existing file at path is an error ("exists"). */
int journal_create(journal *j, const char *path, char *err, size_t err_size);
/* An existing journal, positioned before its first chunk; writable ones are locked.
 * A missing file is an error whose errno is left as ENOENT so the caller can tell. */
int journal_open(journal *j, const char *path, int writable, char *err, size_t err_size);

/* The chunk at j->end: 1 = read (j->end moves past it), 0 = clean end of file,
 * -1 = damaged or unreadable (err says what and where; j->end stays before it). */
int journal_read(journal *j, journal_chunk *c, char *err, size_t err_size);
void journal_chunk_free(journal_chunk *c);

/* Drops everything from j->end on (a damaged tail), durably. */
int journal_cut(journal *j, char *err, size_t err_size);

/* Appends one chunk whose payload is the concatenation of n_parts buffers, then
 * fdatasync: when this returns 0 the chunk survives a crash. */
int journal_append(journal *j, uint32_t type, const void *const *parts, const size_t *sizes, int n_parts,
                   char *err, size_t err_size);

/* Closes (and unlocks). journal_remove also deletes the file. */
void journal_close(journal *j);
int journal_remove(journal *j, char *err, size_t err_size);

/* ---- little-endian payload helpers -------------------------------------------- */
void journal_put_u32(unsigned char *p, uint32_t v);
void journal_put_u64(unsigned char *p, uint64_t v);
uint32_t journal_get_u32(const unsigned char *p);
uint64_t journal_get_u64(const unsigned char *p);

#endif
