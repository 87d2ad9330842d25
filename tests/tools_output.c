/* tools_output.c: the .npy / .npz / .jsonl writers, byte for byte against the
 * formats (NumPy format 1.0; zip APPNOTE: stored members, CRC-32, central
 * directory, end record; zip64 when forced), and the temporary-file rule. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "tools/output.h"

static char dir[64];

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (fread(p, 1, (size_t)len, f) != (size_t)len) { free(p); fclose(f); return NULL; }
    p[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return p;
}

static unsigned u16(const char *p) { return (unsigned char)p[0] | (unsigned char)p[1] << 8; }
static uint32_t u32(const char *p) { return u16(p) | (uint32_t)u16(p + 2) << 16; }
static uint64_t u64(const char *p) { return u32(p) | (uint64_t)u32(p + 4) << 32; }

/* Only the final files are in the directory: no temporary file left behind. */
static int count_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_npy_header(void) {
    char h[256];
    /* the dict numpy itself writes for np.save(f, np.zeros((3, 4), np.float32)) */
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    size_t n = npy_header(h, sizeof h, 3, 4);
    CHECK(n == 128);                        /* 10 + 59 + "\n" rounded up to 64 */
    CHECK(!memcmp(h, "\x93NUMPY\x01\x00", 8));
    CHECK(u16(h + 8) == 128 - 10);
    CHECK(!memcmp(h + 10, dict, strlen(dict)));
    for (size_t i = 10 + strlen(dict); i < 127; i++) CHECK(h[i] == ' ');
    CHECK(h[127] == '\n');
    /* big shapes still end at a multiple of 64, with at least the "\n" */
    n = npy_header(h, sizeof h, 12345678901LL, 3072);
    CHECK(n % 64 == 0 && h[n - 1] == '\n' && u16(h + 8) == n - 10);
    CHECK(strstr(h + 10, "'shape': (12345678901, 3072), }") != NULL);
    CHECK(npy_header(h, 10, 1, 1) == 0);    /* too small a buffer */
    /* whatever the digits, the data starts at a multiple of 64 */
    for (int64_t rows = 1; rows < 100000000; rows *= 10) {
        n = npy_header(h, sizeof h, rows, 7);
        CHECK(n % 64 == 0 && h[n - 1] == '\n' && h[n - 2] != '\n');
    }
}

static void test_npy_file(void) {
    float x[6] = {1, -2.5f, 3e-8f, 0, 1e30f, -0.0f};
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    output_array a = {"hs", x, 2, 3};
    CHECKF(npy_write(path, &a, err, sizeof err) == 0, "%s", err);
    size_t n;
    char *p = slurp(path, &n);
    CHECK(p && n == 128 + sizeof x);
    if (p) {
        CHECK(strstr(p + 10, "'shape': (2, 3), }") != NULL);
        CHECK(!memcmp(p + 128, x, sizeof x));
    }
    free(p);
    CHECK(count_files() == 1);
    /* 0 rows is a valid array */
    output_array empty = {"hs", x, 0, 3};
    CHECK(npy_write(path, &empty, err, sizeof err) == 0);
    p = slurp(path, &n);
    CHECK(p && n == 128 && strstr(p + 10, "'shape': (0, 3), }"));
    free(p);
    /* a directory that does not exist: an error naming the path, nothing created */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.npy", dir);
    CHECK(npy_write(bad, &a, err, sizeof err) != 0);
    CHECKF(strstr(err, bad) != NULL, "%s", err);
    CHECK(count_files() == 1);
    unlink(path);
}

/* Walks an .npz the way a zip reader does: from the end record to the central
 * directory to each local header, checking every field. */
static void check_npz(const char *path, const output_array *arrays, int n_arrays, int zip64) {
    size_t n;
    char *p = slurp(path, &n);
    CHECK(p != NULL);
    if (!p) return;
    const char *end = p + n - 22;
    CHECK(u32(end) == 0x06054b50);
    CHECK(u16(end + 20) == 0);
    uint64_t entries = u16(end + 10), cd_size = u32(end + 12), cd_offset = u32(end + 16);
    if (zip64) {
        CHECK(entries == 0xFFFF && cd_size == 0xFFFFFFFF && cd_offset == 0xFFFFFFFF);
        const char *loc = end - 20;
        CHECK(u32(loc) == 0x07064b50 && u32(loc + 16) == 1);
        const char *r = p + u64(loc + 8);
        CHECK(r == loc - 56);
        CHECK(u32(r) == 0x06064b50 && u64(r + 4) == 44);
        entries = u64(r + 32);
        cd_size = u64(r + 40);
        cd_offset = u64(r + 48);
        CHECK(cd_offset + cd_size == (uint64_t)(r - p));
    } else {
        CHECK(cd_offset + cd_size == (uint64_t)(end - p));
    }
    CHECK(entries == (uint64_t)n_arrays);
    const char *c = p + cd_offset;
    for (int i = 0; i < n_arrays && c < p + n; i++) {
        const output_array *a = &arrays[i];
        char name[64], h[256];
        snprintf(name, sizeof name, "%s.npy", a->name);
        size_t hl = npy_header(h, sizeof h, a->rows, a->cols);
        uint64_t size = hl + 4 * (uint64_t)(a->rows * a->cols);
        uint32_t crc = output_crc32(output_crc32(0, h, hl), a->data, 4 * (size_t)(a->rows * a->cols));
        /* central record */
        CHECK(u32(c) == 0x02014b50);
        CHECK(u16(c + 10) == 0);                          /* stored */
        CHECK(u16(c + 14) == 0x21);                       /* 1980-01-01 */
        CHECK(u32(c + 16) == crc);
        size_t name_len = u16(c + 28), extra_len = u16(c + 30);
        CHECK(name_len == strlen(name) && !memcmp(c + 46, name, name_len));
        uint64_t csize = u32(c + 20), usize = u32(c + 24), off = u32(c + 42);
        if (zip64) {
            CHECK(extra_len == 28 && u16(c + 46 + name_len) == 1 && u16(c + 48 + name_len) == 24);
            CHECK(csize == 0xFFFFFFFF && usize == 0xFFFFFFFF && off == 0xFFFFFFFF);
            usize = u64(c + 50 + name_len);
            csize = u64(c + 58 + name_len);
            off = u64(c + 66 + name_len);
        } else {
            CHECK(extra_len == 0);
        }
        CHECK(csize == size && usize == size);
        /* local header, then the member's bytes: an .npy file */
        const char *l = p + off;
        CHECK(u32(l) == 0x04034b50 && u16(l + 8) == 0 && u32(l + 14) == crc);
        CHECK(u16(l + 26) == name_len && !memcmp(l + 30, name, name_len));
        size_t l_extra = u16(l + 28);
        CHECK(l_extra == (zip64 ? 20u : 0u));
        if (!zip64) CHECK(u32(l + 18) == size && u32(l + 22) == size);
        else CHECK(u64(l + 34 + name_len) == size && u64(l + 42 + name_len) == size);
        const char *data = l + 30 + name_len + l_extra;
        CHECK(!memcmp(data, h, hl));
        CHECK(!memcmp(data + hl, a->data, 4 * (size_t)(a->rows * a->cols)));
        CHECK(output_crc32(0, data, size) == crc);
        c += 46 + name_len + extra_len + u16(c + 32);
    }
    CHECK(c == p + cd_offset + cd_size);
    free(p);
}

static void test_npz(void) {
    float hs[2 * 3] = {1, 2, 3, 4, 5, 6}, sum[2 * 5] = {0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9};
    output_array arrays[2] = {{"hs", hs, 2, 3}, {"moee-sum", sum, 2, 5}};
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/b.npz", dir);
    CHECKF(npz_write(path, arrays, 2, 0, err, sizeof err) == 0, "%s", err);
    check_npz(path, arrays, 2, 0);
    CHECKF(npz_write(path, arrays, 2, 1, err, sizeof err) == 0, "%s", err);
    check_npz(path, arrays, 2, 1);
    CHECK(count_files() == 1);
    output_array twice[2] = {{"hs", hs, 2, 3}, {"hs", hs, 2, 3}};
    CHECK(npz_write(path, twice, 2, 0, err, sizeof err) != 0);
    unlink(path);
    /* the CRC-32 check value */
    CHECK(output_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(output_crc32(output_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

static void test_jsonl(void) {
    float hs[2 * 2] = {1, 0.1f, -3e-9f, 16777217.0f}, rw[2 * 1] = {7, 8};
    output_array one = {"hs", hs, 2, 2};
    char path[128], err[256];
    size_t n;
    snprintf(path, sizeof path, "%s/c.jsonl", dir);
    CHECKF(jsonl_write(path, &one, 1, NULL, err, sizeof err) == 0, "%s", err);
    char *p = slurp(path, &n);
    const char *want1 = "{\"id\": 0, \"embedding\": [1, 0.100000001]}\n"
                        "{\"id\": 1, \"embedding\": [-3.00000003e-09, 16777216]}\n";
    CHECKF(p && !strcmp(p, want1), "%s", p);
    free(p);
    output_array two[2] = {{"hs", hs, 2, 2}, {"rw", rw, 2, 1}};
    const char *ids[2] = {"\"a\"", "17"};
    CHECK(jsonl_write(path, two, 2, ids, err, sizeof err) == 0);
    p = slurp(path, &n);
    const char *want2 = "{\"id\": \"a\", \"hs\": [1, 0.100000001], \"rw\": [7]}\n"
                        "{\"id\": 17, \"hs\": [-3.00000003e-09, 16777216], \"rw\": [8]}\n";
    CHECKF(p && !strcmp(p, want2), "%s", p);
    free(p);
    /* NaN cannot be JSON: an error, and the earlier complete file is left as it was */
    hs[3] = NAN;
    CHECK(jsonl_write(path, &one, 1, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "row 1") != NULL, "%s", err);
    p = slurp(path, &n);
    CHECK(p && !strcmp(p, want2));
    free(p);
    CHECK(count_files() == 1);
    unlink(path);
}

static void test_abort(void) {
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/d.npy", dir);
    moee_out o;
    CHECK(moee_out_open(&o, path, err, sizeof err) == 0);
    moee_out_write(&o, "partial", 7);
    CHECK(count_files() == 1);          /* only the temporary file exists */
    CHECK(access(path, F_OK) != 0);     /* not under the final name */
    moee_out_abort(&o);
    CHECK(count_files() == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/moee-output-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_npy_header();
    test_npy_file();
    test_npz();
    test_jsonl();
    test_abort();
    rmdir(dir);
    return test_summary("tools_output");
}
