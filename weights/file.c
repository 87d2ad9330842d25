/* file.c: whole-file reads and read-only mappings, with errors that name the path. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

char *moee_read_file(const char *path, size_t *size, char *err, size_t err_size) {
    size_t n;
    int fd = open_regular(path, &n, err, err_size);
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

void moee_map_populate(const void *map, size_t size) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    if (map && size) (void)madvise((void *)map, size, MADV_POPULATE_READ);   /* best effort */
#else
    (void)map;
    (void)size;
#endif
}

void moee_err_oneline(char *err) {
    if (!err) return;
    for (unsigned char *p = (unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}
