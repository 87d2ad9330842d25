/* file.c: whole-file reads, read-only mappings and safe writes (see file.h), with
 * errors that name the path. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif
#include <sys/stat.h>
#include <unistd.h>
#include "weights/file.h"

/* Opens path and checks that it is a regular file; returns the descriptor and its size. */
static int open_regular(const char *path, size_t *size, char *err, size_t err_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size >= (uint64_t)SIZE_MAX / 2) {
        snprintf(err, err_size, "%s: file too large", path);
        close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    return fd;
}

/* Reads fd to its end (a pipe, a FIFO, a terminal): the buffer grows as needed. */
static char *read_stream(int fd, const char *path, size_t *size, char *err, size_t err_size) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            snprintf(err, err_size, "%s: out of memory reading %zu bytes", path, n);
            return NULL;
        }
        if (n == cap) {
            char *bigger = cap < SIZE_MAX / 4 ? realloc(buf, 2 * cap + 1) : NULL;
            if (!bigger) { free(buf); buf = NULL; continue; }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, err_size, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *size = n;
    return buf;
}

char *moee_read_file(const char *path, size_t *size, char *err, size_t err_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "%s: is a directory", path);
        close(fd);
        return NULL;
    }
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {   /* pipes, FIFOs, /dev/stdin, <(...) */
        char *buf = read_stream(fd, path, size, err, err_size);
        close(fd);
        return buf;
    }
    close(fd);
    size_t n;
    fd = open_regular(path, &n, err, err_size);
    if (fd < 0) return NULL;
    char *buf = malloc(n + 1);
    if (!buf) {
        snprintf(err, err_size, "%s: out of memory reading %zu bytes", path, n);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(err, err_size, "%s: read failed: %s", path,
                     r < 0 ? strerror(errno) : "file shrank while reading");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *size = n;
    return buf;
}

int moee_map_file(const char *path, const void **map, size_t *size, char *err, size_t err_size) {
    size_t n;
    int fd = open_regular(path, &n, err, err_size);
    if (fd < 0) return -1;
    *map = NULL;
    *size = 0;
    if (n > 0) {
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, err_size, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        *map = p;
        *size = n;
    }
    close(fd);   /* the mapping stays valid without the descriptor */
    return 0;
}

void moee_unmap_file(const void *map, size_t size) {
    if (map && size) munmap((void *)map, size);
}

#if defined(__linux__) && defined(MADV_POPULATE_READ)
/* Whether more than 1/8 of 64 pages spread evenly over the mapping are not in the page
 * cache (mincore; asking for every page of a 4 GB file costs 20-30 ms on each load). A
 * file partly evicted (memory pressure) is read through too: faulted in by the populate
 * its missing parts would come in 4 KB pages. (Reading through a wholly cached 3.9 GB
 * file costs 0.11-0.14 s: not for every load.) */
static int partly_uncached(const void *map, size_t size) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (size + page - 1) / page;
    const size_t samples = pages < 64 ? pages : 64;
    size_t cached = 0;
    for (size_t k = 0; k < samples; k++) {
        unsigned char in_core = 1;   /* (unknown: leave it to the mapping) */
        (void)mincore((char *)map + k * (pages / samples) * page, 1, &in_core);
        cached += in_core & 1;
    }
    return cached < samples - samples / 8;
}

/* Reads the file through once, sequentially (see file.h: large page-cache folios),
 * into /dev/null with sendfile: the same readahead as read() without copying every
 * byte to user space (an 8 GB model: 0.3 s of system time instead of 4-5 s). */
static void read_through(int fd, size_t size) {
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    off_t at = 0;
    if (null < 0) return;
    while ((size_t)at < size && sendfile(null, fd, &at, (size_t)128 << 10) > 0) {}
    close(null);
}

long long moee_map_huge_bytes(const void *map) {
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return -1;
    char line[512];
    int in_it = 0;
    long long kb = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {   /* the next mapping's header */
            if (in_it) break;
            in_it = start == (uintptr_t)map;
        } else if (in_it && sscanf(line, "FilePmdMapped: %lld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Drops the file's first `size` bytes from the page cache (the pages no process maps). */
static void drop_cached(int fd, size_t size) { (void)posix_fadvise(fd, 0, (off_t)size, POSIX_FADV_DONTNEED); }

/* Whether this file, read through again, would be cached in huge-page-sized folios:
 * its first PROBE_BYTES are dropped, read through and mapped apart. Not on every file
 * system: those without large folios (ext4 before Linux 6.16, for one) cache files in
 * small pages only. (Here the first 16 MB of a sequential read came in small folios,
 * the rest in 2 MB ones.) */
#define PROBE_BYTES ((size_t)32 << 20)
static int rereads_huge(int fd) {
    drop_cached(fd, PROBE_BYTES);
    read_through(fd, PROBE_BYTES);
    void *probe = mmap(NULL, PROBE_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
    if (probe == MAP_FAILED) return 0;
    (void)madvise(probe, PROBE_BYTES, MADV_POPULATE_READ);
    const long long huge = moee_map_huge_bytes(probe);
    munmap(probe, PROBE_BYTES);
    return huge > 0;
}
#endif

/* A model whose file is already in the page cache, but in small folios (written by
 * small writes: just downloaded or copied), is mapped in 4 KB pages. Each of them
 * costs the weight stream a TLB miss, and on the virtual machine this was measured on
 * one took ~1.6 us in a 4 KB-page mapping against ~0.15-0.35 us in a huge-page one (a
 * 3.9 GB model freshly copied ran 128 texts in 12.3-12.9 s, the same file read back
 * sequentially in 10.7 s). Parts of a cached file can be in small folios too: faulted
 * back in after an eviction by a process that did not advise huge pages (llama.cpp on
 * the same file, or moee before it did). So when more than 64 MB and a sixteenth of a
 * mapping are not in huge pages, and a probe shows the file system would cache the file
 * in large folios, the file is dropped from the cache and read through again: once, a
 * few seconds; every later process maps it in huge pages, and parts evicted later come
 * back in huge pages (moee_map_populate advises them). (A file read through sequentially
 * has its first 16-40 MB in small folios, the readahead's start: the 64 MB leave them.) */
#define RECACHE_SLACK ((size_t)64 << 20)

void moee_map_populate(const char *path, const void *map, size_t size) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    if (!map || !size) return;
#ifdef MADV_HUGEPAGE
    /* Pages missing from the cache (evicted by memory pressure since the last load)
     * are then read in huge-page-sized folios by the faults below, where they would
     * come in 4 KB pages (with THP "madvise", the usual setting: here 61 holes of 4 MB
     * in a cached 3.9 GB model came back as 244 MB of 4 KB pages; with it, huge). On
     * file systems without large folios it changes nothing. */
    (void)madvise((void *)map, size, MADV_HUGEPAGE);
#endif
    const int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;   /* (no file: populate only) */
    if (fd >= 0 && partly_uncached(map, size)) read_through(fd, size);
    (void)madvise((void *)map, size, MADV_POPULATE_READ);
    if (fd >= 0 && size > RECACHE_SLACK) {
        const long long huge = moee_map_huge_bytes(map);
        if (huge >= 0 && (size_t)huge + RECACHE_SLACK + size / 16 < size) {
            /* this mapping's pages go first (read-only and private: nothing is lost),
             * or the cache could not drop them */
            (void)madvise((void *)map, size, MADV_DONTNEED);
            if (rereads_huge(fd)) {
                drop_cached(fd, size);
                read_through(fd, size);
            }
            (void)madvise((void *)map, size, MADV_POPULATE_READ);
        }
    }
    if (fd >= 0) close(fd);
#else
    (void)path;
    (void)map;
    (void)size;
#endif
}

#if !(defined(__linux__) && defined(MADV_POPULATE_READ))
long long moee_map_huge_bytes(const void *map) {
    (void)map;
    return -1;
}
#endif

void moee_err_oneline(char *err) {
    if (!err) return;
    for (unsigned char *p = (unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}

/* ---- writing ------------------------------------------------------------------------ */

/* The file path finally names after following its symlinks (malloc'ed), or NULL
 * (errno set). A dangling link gives the path it points to. */
static char *follow_links(const char *path) {
    char *cur = strdup(path);
    for (int depth = 0; cur && depth < 40; depth++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        char link[4096];
        ssize_t len = readlink(cur, link, sizeof link - 1);
        if (len < 0) { free(cur); return NULL; }
        link[len] = '\0';
        char *next;
        if (link[0] == '/') {
            next = strdup(link);
        } else {   /* relative to the directory holding the link */
            char *copy = strdup(cur);
            const char *dir = copy ? dirname(copy) : NULL;
            next = dir ? malloc(strlen(dir) + strlen(link) + 2) : NULL;
            if (next) sprintf(next, "%s/%s", dir, link);
            free(copy);
        }
        free(cur);
        cur = next;
    }
    if (cur) { free(cur); errno = ELOOP; }
    return NULL;
}

#define OUT_BUFFER_BYTES ((size_t)2 << 20)

int moee_out_open(moee_out *o, const char *path, char *err, size_t err_size) {
    memset(o, 0, sizeof *o);
    o->path = strdup(path);
    if (!o->path) { snprintf(err, err_size, "%s: out of memory", path); return -1; }
    if (!strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    o->target = follow_links(path);
    if (!o->target) {
        snprintf(err, err_size, "%s: cannot follow the link: %s", path, strerror(errno));
        moee_out_abort(o);
        return -1;
    }
    struct stat st;
    if (stat(o->target, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, err_size, "%s: is a directory", path);
            moee_out_abort(o);
            return -1;
        }
        /* a device or a FIFO: straight in, never replaced */
        o->f = fopen(o->target, "wb");
        if (!o->f) {
            snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
            moee_out_abort(o);
            return -1;
        }
        return 0;
    }
    /* TARGET.PID[.N].tmp beside the target, created exclusively so that nothing
     * existing is ever clobbered (and ignored by git through *.tmp) */
    size_t cap = strlen(o->target) + 48;
    o->tmp_path = malloc(cap);
    if (!o->tmp_path) {
        snprintf(err, err_size, "%s: out of memory", path);
        moee_out_abort(o);
        return -1;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        if (attempt == 0) snprintf(o->tmp_path, cap, "%s.%ld.tmp", o->target, (long)getpid());
        else snprintf(o->tmp_path, cap, "%s.%ld.%d.tmp", o->target, (long)getpid(), attempt);
        fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        snprintf(err, err_size, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) { close(fd); unlink(o->tmp_path); }
        free(o->tmp_path);
        o->tmp_path = NULL;
        moee_out_abort(o);
        return -1;
    }
    /* Written 2 MB at a time: the page cache then holds the file in large folios, so a
     * model written here (synth, convert) maps with huge pages when it is next run,
     * instead of 4 KB pages: on a VM measured here the first touch of each 4 KB page
     * of a mapping cost 1.4-1.7 s in all for a 3.9 GB model, in every new process. */
    o->buf = malloc(OUT_BUFFER_BYTES);
    if (o->buf) setvbuf(o->f, o->buf, _IOFBF, OUT_BUFFER_BYTES);
    return 0;
}

int moee_out_is_file(const moee_out *o) { return o->tmp_path != NULL; }

void moee_out_write(moee_out *o, const void *data, size_t n) {
    if (o->failed || n == 0) return;
    if (fwrite(data, 1, n, o->f) != n) o->failed = errno ? errno : EIO;
}

/* Everything but the rename: flush, sync and close (not stdout). 0 or an errno. */
static int finish_writing(moee_out *o) {
    int e = o->failed;
    if (fflush(o->f) != 0 || ferror(o->f)) { if (!e) e = errno ? errno : EIO; }
    if (o->f != stdout) {
        if (!e && o->tmp_path && fsync(fileno(o->f)) != 0 && errno != EINVAL) e = errno;
        if (fclose(o->f) != 0 && !e) e = errno;
        o->f = NULL;
    }
    return e;
}

int moee_out_commit_all(moee_out *const *outs, int n, char *err, size_t err_size) {
    int e = 0, bad = -1;
    for (int i = 0; i < n; i++) {
        int ei = finish_writing(outs[i]);
        if (ei && !e) { e = ei; bad = i; }
    }
    int lock = -1;
    if (!e && n > 1 && outs[0]->tmp_path) {
        char *copy = strdup(outs[0]->target);
        if (copy) lock = open(dirname(copy), O_RDONLY | O_CLOEXEC);
        free(copy);
        if (lock >= 0) flock(lock, LOCK_EX);
    }
    for (int i = 0; i < n && !e; i++)
        if (outs[i]->tmp_path && rename(outs[i]->tmp_path, outs[i]->target) != 0) { e = errno; bad = i; }
    if (lock >= 0) close(lock);   /* releases the lock */
    if (e) {
        snprintf(err, err_size, "%s: write failed: %s", outs[bad]->path, strerror(e));
        for (int i = 0; i < n; i++) moee_out_abort(outs[i]);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        free(outs[i]->path); free(outs[i]->target); free(outs[i]->tmp_path); free(outs[i]->buf);
        memset(outs[i], 0, sizeof *outs[i]);
    }
    return 0;
}

int moee_out_commit(moee_out *o, char *err, size_t err_size) {
    moee_out *one[1] = {o};
    return moee_out_commit_all(one, 1, err, err_size);
}

void moee_out_abort(moee_out *o) {
    if (o->f && o->f != stdout) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    free(o->path); free(o->target); free(o->tmp_path); free(o->buf);
    memset(o, 0, sizeof *o);
}
