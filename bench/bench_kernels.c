/* bench_kernels: how fast each kernel variant runs, against what this machine can do.
 *
 * Measured PER CORE: one thread, timed with the thread's own CPU clock, so that
 * the time the OS gives other processes on a shared machine does not count (cache
 * and memory-bandwidth contention still does). Each number is the best of a few runs.
 *
 * 1. The attainable peak per core and ISA: a register-only loop of independent FMAs
 *    (f32 GFLOP/s) and of the int8 dot-product instruction the kernels use (GOP/s;
 *    vpdpbusd, vpmaddubsw+vpmaddwd, sdot).
 * 2. moee_matmul for every variant and weight type on the real expert shapes
 *    (W rows x cols: 1024x2048 and 2048x1024 are OLMoE's gate/up and down, 1408x2048
 *    Qwen1.5-MoE's and DeepSeekMoE's gate/up) with 1..512 tokens, as GOP/s (2 per
 *    multiply-add, activation quantization included) and % of the same ISA's peak
 *    (int8 peak for quantized types, f32 peak for float weights; scalar rows against the
 *    best SIMD peak, up to 32 tokens only: they are slow). 2048x1408 is their down
 *    projection (only 32-block types: llama-quantize falls back from K types there).
 *    `bench_kernels q4_0,q4_K` measures only the types named.
 * 3. The router (64 x 2048, F32) and one attention head (512 tokens, head_dim 128).
 * 4. Scaling: the int8 peak with one thread per core running at once, and the
 *    Q8_0/Q4_0 expert shapes at 512 tokens on a team of that many threads,
 *    wall-clock (noisy when the machine is shared; the load average is printed).
 *
 * `bench_kernels --peak [THREADS]` prints only the int8 peak of THREADS threads at
 * once (default: every core), in GOP/s: what bench/bench_embed.sh compares with. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kernels/variants.h"

static double cpu_now(void) {      /* this thread's CPU time */
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double wall_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static void print_load(void) {
    char line[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    printf("load average: %s\n", line[0] ? strtok(line, "\n") : "unknown");
}


static const char *variant_names[] = {"scalar", "avx2", "avx512", "neon"};

/* ---- peak ------------------------------------------------------------------------ */

typedef double (*peak_fn)(int64_t iters, float *sink);

/* Operations per CPU-second of fn (best of 3 runs). */
static double measure_peak(peak_fn fn) {
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        float s;
        double t0 = cpu_now();
        double ops = fn(10 * 1000 * 1000, &s);
        double rate = ops / (cpu_now() - t0);
        if (rate > best) best = rate;
        sink += s;
    }
    if (sink == 12345.0f) printf(" ");
    return best;
}

typedef struct { const char *name; double f32, int8; } peak_row;

/* The best ISA's int8 peak loop, or NULL. */
static peak_fn best_int8_loop(void) {
#if defined(__x86_64__)
    if (moee_kernels_variant("avx512")) return moee_avx512_peak_int8;
    if (moee_kernels_variant("avx2")) return moee_avx2_peak_int8;
#endif
#if defined(__aarch64__)
    if (moee_kernels_variant("neon")) return moee_neon_peak_int8;
#endif
    return NULL;
}

typedef struct { peak_fn fn; double ops, seconds; float sink; } peak_thread;

static void *run_peak(void *p) {
    peak_thread *pt = p;
    double t0 = cpu_now();
    pt->ops = pt->fn(50 * 1000 * 1000, &pt->sink);
    pt->seconds = cpu_now() - t0;
    return NULL;
}

/* The int8 peak of n threads running the peak loop at once (best of 3): the sum of
 * each thread's operations per second of its own CPU time, so what n busy cores give
 * together (clocks drop when all are busy) without counting time the OS gave to
 * other processes of a shared machine. */
static double measure_peak_threads(int n) {
    peak_fn fn = best_int8_loop();
    if (!fn || n < 1) return 0;
    double best = 0;
    peak_thread *pt = calloc((size_t)n, sizeof *pt);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    int *started = calloc((size_t)n, sizeof *started);
    for (int rep = 0; rep < 3; rep++) {
        double rate = 0;
        for (int i = 0; i < n; i++) {
            pt[i].fn = fn;
            started[i] = pthread_create(&th[i], NULL, run_peak, &pt[i]) == 0;
            if (!started[i]) run_peak(&pt[i]);
        }
        for (int i = 0; i < n; i++) {
            if (started[i]) pthread_join(th[i], NULL);
            rate += pt[i].ops / pt[i].seconds;
        }
        if (rate > best) best = rate;
    }
    free(pt);
    free(th);
    free(started);
    return best;
}

/* ---- timing ------------------------------------------------------------------------ */

/* Seconds per call of the current variant's matmul: the fastest of up to 7 runs
 * within ~0.15 s, on the clock given. */
static double time_matmul(double (*clock_fn)(void), moee_team *team, const moee_matrix *W, const float *X,
                          int64_t n, float *Y, void *scratch) {
    double best = 1e30, start = clock_fn();
    moee_matmul(team, W, X, n, Y, scratch);             /* warm-up */
    for (int k = 0; k < 7 && (k < 2 || clock_fn() - start < 0.15); k++) {
        double t0 = clock_fn();
        moee_matmul(team, W, X, n, Y, scratch);
        double t = clock_fn() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void *make_weights(uint32_t type, int64_t rows, int64_t cols) {
    size_t row_bytes = moee_type_row_bytes(type, cols);
    uint8_t *w = malloc(row_bytes * (size_t)rows);
    float *f = malloc((size_t)cols * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) f[c] = frand() * 0.05f;
        moee_type(type)->from_float(f, w + row_bytes * (size_t)r, cols);
    }
    free(f);
    return w;
}

int main(int argc, char **argv) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = cores < 1 ? 1 : (int)cores;
    if (argc >= 2 && !strcmp(argv[1], "--peak")) {
        if (argc >= 3) n_threads = atoi(argv[2]);
        printf("%.1f\n", measure_peak_threads(n_threads) / 1e9);
        return 0;
    }
    const char *only_types = argc > 1 ? argv[1] : NULL;   /* e.g. "q4_0,q4_K" */
    printf("moee kernel benchmark: per core (1 thread, thread CPU time, best of runs)\n");
    print_load();

    /* 1. peak */
    peak_row peaks[4];
    int n_peaks = 0;
    double best_f32 = 0, best_int8 = 0, exact_avx512 = 0;
#if defined(__x86_64__)
    if (moee_kernels_variant("avx2"))
        peaks[n_peaks++] = (peak_row){"avx2", measure_peak(moee_avx2_peak_f32), measure_peak(moee_avx2_peak_int8)};
    if (moee_kernels_variant("avx512"))
        peaks[n_peaks++] = (peak_row){"avx512", measure_peak(moee_avx512_peak_f32), measure_peak(moee_avx512_peak_int8)};
#endif
#if defined(__aarch64__)
    if (moee_kernels_variant("neon"))
        peaks[n_peaks++] = (peak_row){"neon", measure_peak(moee_neon_peak_f32), measure_peak(moee_neon_peak_int8)};
#endif
    printf("\nattainable peak per core (register-only loops)\n");
    printf("  %-8s %14s %14s\n", "isa", "f32 GFLOP/s", "int8 GOP/s");
    for (int i = 0; i < n_peaks; i++) {
        printf("  %-8s %14.1f %14.1f\n", peaks[i].name, peaks[i].f32 / 1e9, peaks[i].int8 / 1e9);
#if defined(__x86_64__)
        /* the int8 loop with the quantized tile's exact float step after every block,
         * alternated with the int8 loop (the clock moves by tens of percent here) */
        if (!strcmp(peaks[i].name, "avx512")) {
            double int8 = 0, exact = 0;   /* (the int8 peak of this table stays the one above) */
            for (int rep = 0; rep < 5; rep++) {
                const double a = measure_peak(moee_avx512_peak_int8), b = measure_peak(moee_avx512_peak_int8_exact);
                if (a > int8) int8 = a;
                if (b > exact) exact = b;
            }
            printf("  %-8s %14s %14.1f   int8 with the tile's exact float step: %.0f%% of int8 (%.1f\n"
                   "  %-8s %14s %14s   alongside), the most a bit-exact quantized GEMM can reach\n",
                   "", "exact tile", exact / 1e9, 100 * exact / int8, int8 / 1e9, "", "", "");
            exact_avx512 = exact;
        }
#endif
        if (peaks[i].f32 > best_f32) best_f32 = peaks[i].f32;
        if (peaks[i].int8 > best_int8) best_int8 = peaks[i].int8;
    }

    /* 2. matmul */
    static const int64_t shapes[][2] = {{1024, 2048}, {2048, 1024}, {1408, 2048}, {2048, 1408}};
    static const uint32_t types[] = {MOEE_TYPE_Q8_0, MOEE_TYPE_Q4_0, MOEE_TYPE_Q4_1, MOEE_TYPE_Q5_0, MOEE_TYPE_Q5_1,
                                     MOEE_TYPE_IQ4_NL, MOEE_TYPE_Q2_K, MOEE_TYPE_Q3_K, MOEE_TYPE_Q4_K, MOEE_TYPE_Q5_K,
                                     MOEE_TYPE_Q6_K, MOEE_TYPE_IQ4_XS, MOEE_TYPE_BF16, MOEE_TYPE_F16, MOEE_TYPE_F32};
    static const int64_t tokens[] = {1, 8, 32, 128, 512};
    const int64_t max_tokens = 512, max_cols = 2048, max_rows = 2048;
    float *X = malloc((size_t)(max_tokens * max_cols) * sizeof(float));
    for (int64_t i = 0; i < max_tokens * max_cols; i++) X[i] = frand();
    float *Y = malloc((size_t)(max_tokens * max_rows) * sizeof(float));
    void *scratch = malloc(moee_matmul_scratch_bytes(max_tokens, max_cols));

    printf("\nmoee_matmul per core (GOP/s = 2 x rows x cols x tokens / time; %% of the ISA's peak; avx512\n"
           "quantized also %% of the exact tile above)\n");
    printf("  %-8s %-6s %-10s %6s %10s %9s %7s %7s\n", "variant", "type", "W", "tokens", "ms", "GOP/s", "%peak",
           "%exact");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const moee_type_traits *tt = moee_type(types[ti]);
            if (shapes[s][1] % tt->block_size || (only_types && !strstr(only_types, tt->name))) continue;
            moee_matrix W = {types[ti], make_weights(types[ti], shapes[s][0], shapes[s][1]), shapes[s][0], shapes[s][1]};
            for (size_t k = 0; k < sizeof tokens / sizeof tokens[0]; k++)
                for (int v = 0; v < 4; v++) {
                    if (moee_kernels_select(variant_names[v]) != 0) continue;
                    if (v == 0 && tokens[k] > 32) continue;
                    double sec = time_matmul(cpu_now, NULL, &W, X, tokens[k], Y, scratch);
                    double ops = 2.0 * (double)(W.rows * W.cols * tokens[k]) / sec;
                    double peak = tt->is_quantized ? best_int8 : best_f32;
                    for (int p = 0; p < n_peaks; p++)
                        if (!strcmp(peaks[p].name, variant_names[v])) peak = tt->is_quantized ? peaks[p].int8 : peaks[p].f32;
                    char shape[32];
                    snprintf(shape, sizeof shape, "%lldx%lld", (long long)W.rows, (long long)W.cols);
                    printf("  %-8s %-6s %-10s %6lld %10.3f %9.1f %6.1f%%", variant_names[v], tt->name, shape,
                           (long long)tokens[k], sec * 1e3, ops / 1e9, peak > 0 ? 100 * ops / peak : 0);
                    if (v == 2 && tt->is_quantized && exact_avx512 > 0)
                        printf(" %6.1f%%", 100 * ops / exact_avx512);
                    printf("\n");
                    fflush(stdout);
                }
            free((void *)W.data);
        }

    /* 3. router and attention */
    printf("\nrouter and attention per core\n");
    {
        moee_matrix R = {MOEE_TYPE_F32, make_weights(MOEE_TYPE_F32, 64, 2048), 64, 2048};
        const int64_t n = 512, hd = 128;
        float *q = malloc((size_t)(n * hd) * sizeof(float)), *kk = malloc((size_t)(n * hd) * sizeof(float));
        float *vv = malloc((size_t)(n * hd) * sizeof(float)), *o = malloc((size_t)(n * hd) * sizeof(float));
        float *sc = malloc((size_t)MOEE_ATTENTION_SCRATCH(n) * sizeof(float));
        for (int64_t i = 0; i < n * hd; i++) { q[i] = frand(); kk[i] = frand(); vv[i] = frand(); }
        for (int v = 0; v < 4; v++) {
            if (moee_kernels_select(variant_names[v]) != 0) continue;
            double sec = time_matmul(cpu_now, NULL, &R, X, 512, Y, scratch);
            printf("  %-8s router f32 64x2048, 512 tokens: %8.3f ms %7.1f GFLOP/s\n", variant_names[v], sec * 1e3,
                   2.0 * 64 * 2048 * 512 / sec / 1e9);
            double start = cpu_now();
            sec = 1e30;
            for (int reps = 0; reps < 2 || (reps < 20 && cpu_now() - start < 0.15); reps++) {
                double t0 = cpu_now();
                moee_attention_head(q, hd, kk, hd, vv, hd, o, hd, n, hd, 0.088f, sc);
                if (cpu_now() - t0 < sec) sec = cpu_now() - t0;
            }
            double flops = 2.0 * 2.0 * (double)hd * (double)(n * (n + 1) / 2);   /* q.k and p.v */
            printf("  %-8s attention head, 512 tokens x 128:  %8.3f ms %7.1f GFLOP/s\n", variant_names[v],
                   sec * 1e3, flops / sec / 1e9);
        }
        free((void *)R.data); free(q); free(kk); free(vv); free(o); free(sc);
    }

    /* 4. scaling over threads, wall clock */
    printf("\nint8 peak of %d thread(s) at once (each on its own CPU clock): %.1f GOP/s\n", n_threads,
           measure_peak_threads(n_threads) / 1e9);
    moee_team *team = NULL;
    if (n_threads > 1 && moee_team_create(n_threads, &team)) n_threads = 1;
    moee_kernels_select(moee_kernels_variant("avx512") ? "avx512" : moee_kernels_variant("avx2") ? "avx2"
                        : moee_kernels_variant("neon") ? "neon" : "scalar");
    printf("\nscaling: %s, 512 tokens, %d thread(s), wall clock\n", moee_kernels_name(), n_threads);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ti = 0; ti < 2; ti++) {
            moee_matrix W = {types[ti], make_weights(types[ti], shapes[s][0], shapes[s][1]), shapes[s][0], shapes[s][1]};
            double sec = time_matmul(wall_now, team, &W, X, 512, Y, scratch);
            printf("  %-5s %lldx%lld: %8.3f ms %7.1f GOP/s\n", moee_type(types[ti])->name, (long long)W.rows,
                   (long long)W.cols, sec * 1e3, 2.0 * (double)(W.rows * W.cols) * 512 / sec / 1e9);
            free((void *)W.data);
        }
    print_load();
    moee_team_free(team);
    free(X); free(Y); free(scratch);
    return 0;
}
