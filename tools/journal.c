/* journal.c: checksummed chunks appended and flushed one by one (see journal.h). */
#include "tools/journal.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tools/output.h"

#define CHUNK_MAGIC 0x31434A4Du   /* "MJC1" */

void journal_put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
void journal_put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
uint32_t journal_get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
uint64_t journal_get_u64(const unsigned char *p) { return journal_get_u32(p) | (uint64_t)journal_get_u32(p + 4) << 32; }

/* The directory entry of a new file survives a crash only once its directory is synced. */
static void sync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(copy);
}

static int open_file(journal *j, const char *path, int flags, char *err, size_t err_size) {
    memset(j, 0, sizeof *j);
    j->fd = -1;
    int fd = open(path, flags | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", path, e == EEXIST ? "exists" : strerror(e));
        errno = e;
        return -1;
    }
    if ((flags & O_ACCMODE) != O_RDONLY && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", path,
                 e == EWOULDBLOCK ? "another moee run is using this journal" : strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    j->path = strdup(path);
    if (!j->path) { close(fd); snprintf(err, err_size, "%s: out of memory", path); return -1; }
    j->fd = fd;
    return 0;
}

int journal_create(journal *j, const char *path, char *err, size_t err_size) {
    if (open_file(j, path, O_RDWR | O_CREAT | O_EXCL, err, err_size)) return -1;
    sync_parent_dir(path);
    return 0;
}

int journal_open(journal *j, const char *path, int writable, char *err, size_t err_size) {
    if (open_file(j, path, writable ? O_RDWR : O_RDONLY, err, err_size)) return -1;
    struct stat st;
    if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s: not a regular file", path);
        journal_close(j);
        return -1;
    }
    return 0;
}

/* Reads exactly n bytes at off: n = done, else the count read before EOF; -1 on error. */
static int64_t read_at(int fd, void *buf, uint64_t n, uint64_t off) {
    uint64_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, (size_t)(n - done > (1u << 30) ? (1u << 30) : n - done),
                          (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (uint64_t)r;
    }
    return (int64_t)done;
}

/* For tests: MOEE_JOURNAL_KILL_AT=N sends this process SIGKILL in the middle of a
 * journal write, once N bytes have been written to journals, so that tests can stop a
 * run at exact points (a kill at a random moment is the other half of those tests). */
static int64_t kill_budget = -2;

static int write_at(int fd, const void *buf, size_t n, uint64_t off) {
    if (kill_budget == -2) {
        const char *v = getenv("MOEE_JOURNAL_KILL_AT");
        kill_budget = v && *v ? strtoll(v, NULL, 10) : -1;
    }
    if (kill_budget >= 0 && (int64_t)n > kill_budget) {
        if (kill_budget > 0 && pwrite(fd, buf, (size_t)kill_budget, (off_t)off) < 0) return -1;
        raise(SIGKILL);
    }
    if (kill_budget >= 0) kill_budget -= (int64_t)n;
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

int journal_read(journal *j, journal_chunk *c, char *err, size_t err_size) {
    memset(c, 0, sizeof *c);
    unsigned char h[JOURNAL_CHUNK_HEADER];
    int64_t got = read_at(j->fd, h, sizeof h, j->end);
    if (got < 0) { snprintf(err, err_size, "%s: read error: %s", j->path, strerror(errno)); return -1; }
    if (got == 0) return 0;
    if (got < (int64_t)sizeof h) {
        snprintf(err, err_size, "%s: chunk at byte %" PRIu64 " is cut short", j->path, j->end);
        return -1;
    }
    uint64_t size = journal_get_u64(h + 8);
    if (journal_get_u32(h) != CHUNK_MAGIC || journal_get_u32(h + 20) != 0 || size > JOURNAL_MAX_PAYLOAD) {
        snprintf(err, err_size, "%s: no valid chunk at byte %" PRIu64, j->path, j->end);
        return -1;
    }
    struct stat st;
    if (fstat(j->fd, &st) != 0 || (uint64_t)st.st_size < j->end + sizeof h + size) {
        snprintf(err, err_size, "%s: chunk at byte %" PRIu64 " is cut short", j->path, j->end);
        return -1;
    }
    c->payload = malloc(size ? size : 1);
    if (!c->payload) { snprintf(err, err_size, "%s: out of memory", j->path); return -1; }
    if (read_at(j->fd, c->payload, size, j->end + sizeof h) != (int64_t)size) {
        snprintf(err, err_size, "%s: chunk at byte %" PRIu64 " is cut short", j->path, j->end);
        journal_chunk_free(c);
        return -1;
    }
    uint32_t crc = output_crc32(output_crc32(0, h + 4, 12), c->payload, size);
    if (crc != journal_get_u32(h + 16)) {
        snprintf(err, err_size, "%s: chunk at byte %" PRIu64 " is damaged (checksum mismatch)", j->path, j->end);
        journal_chunk_free(c);
        return -1;
    }
    c->type = journal_get_u32(h + 4);
    c->size = size;
    c->offset = j->end;
    j->end += sizeof h + size;
    return 1;
}

void journal_chunk_free(journal_chunk *c) {
    free(c->payload);
    memset(c, 0, sizeof *c);
}

int journal_cut(journal *j, char *err, size_t err_size) {
    if (ftruncate(j->fd, (off_t)j->end) != 0 || fdatasync(j->fd) != 0) {
        snprintf(err, err_size, "%s: cannot cut the damaged end: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

int journal_append(journal *j, uint32_t type, const void *const *parts, const size_t *sizes, int n_parts,
                   char *err, size_t err_size) {
    unsigned char h[JOURNAL_CHUNK_HEADER];
    uint64_t size = 0;
    for (int i = 0; i < n_parts; i++) size += sizes[i];
    journal_put_u32(h, CHUNK_MAGIC);
    journal_put_u32(h + 4, type);
    journal_put_u64(h + 8, size);
    uint32_t crc = output_crc32(0, h + 4, 12);
    for (int i = 0; i < n_parts; i++) crc = output_crc32(crc, parts[i], sizes[i]);
    journal_put_u32(h + 16, crc);
    journal_put_u32(h + 20, 0);
    /* The payload first, the header last, so that a torn write most often leaves no
     * header at all; whatever it leaves, the length and the checksum catch it. */
    uint64_t off = j->end + sizeof h;
    for (int i = 0; i < n_parts; i++) {
        if (write_at(j->fd, parts[i], sizes[i], off)) goto fail;
        off += sizes[i];
    }
    if (write_at(j->fd, h, sizeof h, j->end) || fdatasync(j->fd) != 0) goto fail;
    j->end = off;
    return 0;
fail:
    snprintf(err, err_size, "%s: write failed: %s", j->path, strerror(errno));
    return -1;
}

void journal_close(journal *j) {
    if (j->fd >= 0) close(j->fd);   /* closing drops the lock */
    free(j->path);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

int journal_remove(journal *j, char *err, size_t err_size) {
    int rc = 0;
    if (j->path && unlink(j->path) != 0) {
        snprintf(err, err_size, "%s: cannot remove: %s", j->path, strerror(errno));
        rc = -1;
    }
    journal_close(j);
    return rc;
}
