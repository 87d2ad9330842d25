/* tools/eval/util.c: see tools/eval/util.h. */
#include "tools/eval/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int eval_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int eval_thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static void out_of_memory(void) {
    fprintf(stderr, "moee eval: out of memory\n");
    exit(1);
}

void *eval_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory();
    return p;
}

void *eval_realloc(void *p, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) out_of_memory();
    size_t bytes = count * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) out_of_memory();
    return q;
}

char *eval_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = eval_calloc(n, 1);
    memcpy(d, s, n);
    return d;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void eval_rng_seed(eval_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t eval_rng_next(eval_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

double eval_rng_uniform(eval_rng *r) {
    return (double)(eval_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t eval_rng_below(eval_rng *r, uint64_t n) {
    /* Reject the top partial block so that every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = eval_rng_next(r); while (x >= limit);
    return x % n;
}

void eval_rng_shuffle(eval_rng *r, int64_t *items, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)eval_rng_below(r, (uint64_t)i + 1);
        int64_t t = items[i]; items[i] = items[j]; items[j] = t;
    }
}

/* Merge sort of indices: stable, O(n log n), no global state (unlike qsort with a
 * key pointer). */
static int goes_first(const double *key, int descending, int64_t a, int64_t b) {
    /* a (from the left run) goes first unless b's key is strictly better. */
    return descending ? !(key[b] > key[a]) : !(key[b] < key[a]);
}

void eval_argsort(const double *key, int64_t n, int descending, int64_t *order) {
    int64_t *tmp = eval_calloc((size_t)(n ? n : 1), sizeof *tmp);
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = goes_first(key, descending, order[i], order[j]) ? order[i++] : order[j++];
            while (i < mid) tmp[k++] = order[i++];
            while (j < hi) tmp[k++] = order[j++];
        }
        memcpy(order, tmp, (size_t)n * sizeof *order);
    }
    free(tmp);
}

/* ---- dense products (see tools/eval/util.h) ------------------------------------------ */

int64_t eval_product_padded(int64_t cols) {
    return (cols + EVAL_PRODUCT_PANEL - 1) / EVAL_PRODUCT_PANEL * EVAL_PRODUCT_PANEL;
}

eval_columns eval_product_pack(const double *m, int64_t cols, int64_t depth, int64_t m_stride, double *packed) {
    for (int64_t c = 0; c < eval_product_padded(cols); c++) {
        double *panel = packed + c / EVAL_PRODUCT_PANEL * depth * EVAL_PRODUCT_PANEL + c % EVAL_PRODUCT_PANEL;
        for (int64_t j = 0; j < depth; j++) panel[j * EVAL_PRODUCT_PANEL] = c < cols ? m[c * m_stride + j] : 0;
    }
    return (eval_columns){packed, EVAL_PRODUCT_PANEL, EVAL_PRODUCT_PANEL * depth};
}

/* Four rows of a (row[] and out[] repeat the last real row when fewer remain:
 * the same numbers are then stored twice) times all the columns of b, one panel
 * of 8 columns per pass: 8 running sums held in registers, each fed once per j,
 * so that every load from b serves four rows. */
EVAL_ANY_ISA
static void product_rows_block(const double *const row[4], int64_t depth, const double *b, int64_t row_step,
                               int64_t panel_step, int64_t cols, const double *init, double *const out[4]) {
    const eval_lanes4 zero = {0, 0, 0, 0};
    for (int64_t c0 = 0; c0 < cols; c0 += EVAL_PRODUCT_PANEL) {
        eval_lanes4 lo = zero, hi = zero;
        if (init) { EVAL_LOAD4(lo, init + c0); EVAL_LOAD4(hi, init + c0 + 4); }
        eval_lanes4 s0l = lo, s0h = hi, s1l = lo, s1h = hi, s2l = lo, s2h = hi, s3l = lo, s3h = hi;
        const double *panel = b + c0 / EVAL_PRODUCT_PANEL * panel_step;
        for (int64_t j = 0; j < depth; j++) {
            eval_lanes4 bl, bh;
            EVAL_LOAD4(bl, panel + j * row_step); EVAL_LOAD4(bh, panel + j * row_step + 4);
            double a0 = row[0][j], a1 = row[1][j], a2 = row[2][j], a3 = row[3][j];
            s0l += a0 * bl; s0h += a0 * bh;
            s1l += a1 * bl; s1h += a1 * bh;
            s2l += a2 * bl; s2h += a2 * bh;
            s3l += a3 * bl; s3h += a3 * bh;
        }
        double sums[4][8];
        EVAL_STORE4(sums[0], s0l); EVAL_STORE4(sums[0] + 4, s0h);
        EVAL_STORE4(sums[1], s1l); EVAL_STORE4(sums[1] + 4, s1h);
        EVAL_STORE4(sums[2], s2l); EVAL_STORE4(sums[2] + 4, s2h);
        EVAL_STORE4(sums[3], s3l); EVAL_STORE4(sums[3] + 4, s3h);
        int64_t width = cols - c0 < 8 ? cols - c0 : 8;
        for (int r = 0; r < 4; r++) memcpy(out[r] + c0, sums[r], (size_t)width * sizeof(double));
    }
}

void eval_product_rows(const double *a, const int64_t *which, int64_t rows, int64_t depth, eval_columns b,
                       int64_t cols, const double *init, double *out, int64_t out_stride) {
    int64_t blocks = (rows + 3) / 4;
    EVAL_PARALLEL_FOR
    for (int64_t blk = 0; blk < blocks; blk++) {
        const double *row[4];
        double *dest[4];
        for (int r = 0; r < 4; r++) {
            int64_t i = 4 * blk + r < rows ? 4 * blk + r : rows - 1;
            if (which) i = which[i];
            row[r] = a + i * depth;
            dest[r] = out + i * out_stride;
        }
        product_rows_block(row, depth, b.at, b.row_step, b.panel_step, cols, init, dest);
    }
}
