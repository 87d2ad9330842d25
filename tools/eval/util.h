/* tools/eval/util.h: small helpers shared by the files of `moee eval`: allocation that
 * ends the command on failure (an evaluation cannot continue without memory), a
 * seeded random generator, and sorting of indices by a key.
 *
 * Everything random in `moee eval` comes from eval_rng, seeded with fixed
 * documented values, so results are identical across runs and thread counts. */
#ifndef MOEE_EVAL_UTIL_H
#define MOEE_EVAL_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A loop whose iterations are independent (each writes only its own outputs),
 * run in parallel with OpenMP; spelled as a macro so that builds without OpenMP
 * see no unknown pragma. */
#ifdef _OPENMP
#define EVAL_PARALLEL_FOR _Pragma("omp parallel for schedule(static)")
#else
#define EVAL_PARALLEL_FOR
#endif

/* An innermost loop whose iterations are independent lanes (no reduction), so
 * that SIMD execution gives bit-identical results. */
#ifdef _OPENMP
#define EVAL_SIMD _Pragma("omp simd")
#else
#define EVAL_SIMD
#endif

/* A function compiled for AVX-512, AVX2 and the baseline instruction set, the
 * loader picking the best one the CPU runs (GCC's target_clones, an ifunc): for
 * the blocked loops below, wider registers, same operations, same results. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define EVAL_ANY_ISA __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef EVAL_ANY_ISA
#define EVAL_ANY_ISA
#endif

/* Four doubles side by side (a GCC/Clang vector extension): + - * act lane by
 * lane as the scalar IEEE operations, so a lane's running sum is the scalar
 * loop's. Loaded and stored with memcpy (any alignment) through macros: passing
 * 32-byte vectors by value to functions would depend on the ABI. */
typedef double eval_lanes4 __attribute__((vector_size(4 * sizeof(double))));
#define EVAL_LOAD4(v, p) memcpy(&(v), (p), sizeof(eval_lanes4))
#define EVAL_STORE4(p, v) memcpy((p), &(v), sizeof(eval_lanes4))

/* Threads of the parallel loops (1 without OpenMP), and the calling thread's
 * index in 0..eval_max_threads()-1 (for per-thread scratch). */
int eval_max_threads(void);
int eval_thread_index(void);

/* calloc / realloc that print "moee eval: out of memory" and exit(1) on failure. */
void *eval_calloc(size_t count, size_t size);
void *eval_realloc(void *p, size_t count, size_t size);
char *eval_strdup(const char *s);

/* splitmix64-seeded xoshiro256** generator. */
typedef struct { uint64_t s[4]; } eval_rng;
void eval_rng_seed(eval_rng *r, uint64_t seed);
uint64_t eval_rng_next(eval_rng *r);
double eval_rng_uniform(eval_rng *r);              /* in [0, 1) with 53 random bits */
uint64_t eval_rng_below(eval_rng *r, uint64_t n);  /* uniform in [0, n), n > 0, unbiased */
void eval_rng_shuffle(eval_rng *r, int64_t *items, int64_t n);  /* Fisher-Yates */

/* order[0..n) = the indices 0..n-1 sorted by key, decreasing (descending != 0) or
 * increasing; equal keys keep increasing index order (a stable sort). */
void eval_argsort(const double *key, int64_t n, int descending, int64_t *order);

/* ---- dense products in double precision (k-means, logistic regression) ------
 * out = A B (+ init): each output element is ONE sum over j in increasing order,
 * written as a separate multiply and add (the project builds with -std=c11, which
 * keeps the compiler from fusing them), exactly as the plain loop computes it.
 * The loop is blocked (4 rows of A and 8 columns of B per pass, SIMD lanes holding
 * different columns) and spread over threads, but no element's order of
 * operations changes: the results are bit-identical to the plain loop whatever
 * the SIMD width or the number of threads. Call it outside parallel regions. */

/* B, read 8 columns (a panel) at a time: element (j, c) at
 *   at[j * row_step + (c / 8) * panel_step + c % 8].
 * Two layouts fit: a row-major matrix [depth][stride] with stride a multiple of 8
 * (row_step = stride, panel_step = 8), or the rows of a matrix packed by
 * eval_product_pack (row_step = 8, panel_step = 8 * depth: each panel contiguous,
 * read in order). Columns past the last one up to a multiple of 8 must be
 * readable (they are computed and thrown away). */
typedef struct {
    const double *at;
    int64_t row_step, panel_step;
} eval_columns;

#define EVAL_PRODUCT_PANEL 8
int64_t eval_product_padded(int64_t cols);   /* cols rounded up to a whole panel */

/* Packs the rows of m (cols rows of depth numbers, row c at m + c * m_stride) as
 * the COLUMNS of B into packed[eval_product_padded(cols) * depth], the padding
 * set to 0; returns the eval_columns that reads them. */
eval_columns eval_product_pack(const double *m, int64_t cols, int64_t depth, int64_t m_stride, double *packed);

/* out[i * out_stride + c] = init[c] + sum over j < depth of a[i * depth + j] * B(j, c)
 * for c < cols and the rows i = which[0..rows) of a (all rows 0..rows-1 when
 * which is NULL); the sum starts from init[c], or from 0 when init is NULL
 * (init, when given, has eval_product_padded(cols) readable numbers). */
void eval_product_rows(const double *a, const int64_t *which, int64_t rows, int64_t depth, eval_columns b,
                       int64_t cols, const double *init, double *out, int64_t out_stride);

#endif
