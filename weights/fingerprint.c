/* fingerprint.c: see fingerprint.h. Two 64-bit lanes over the same bytes, FNV-1a and
 * a multiply-rotate hash with other constants, each finished with the splitmix64 mixer. */
#include <stdio.h>
#include "weights/fingerprint.h"

#define SAMPLE 256

typedef struct { uint64_t a, b; } digest;

static void feed(digest *d, const uint8_t *p, uint64_t n) {
    uint64_t a = d->a, b = d->b;
    for (uint64_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * 0x100000001b3ULL;
        b = ((b + p[i]) * 0x9e3779b97f4a7c15ULL);
        b = (b << 29) | (b >> 35);
    }
    d->a = a;
    d->b = b;
}

static void feed_u64(digest *d, uint64_t v) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(v >> (8 * i));
    feed(d, bytes, 8);
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gguf_fingerprint(const gguf_file *f, char out[33]) {
    digest d = {0xcbf29ce484222325ULL, 0x2545f4914f6cdd1dULL};
    uint64_t header = f->data_offset < f->map_size ? f->data_offset : f->map_size;
    feed_u64(&d, f->map_size);
    feed(&d, f->map, header);
    for (uint64_t t = 0; t < f->n_tensors; t++) {
        const gguf_tensor *x = &f->tensors[t];
        const uint8_t *p = x->data;
        uint64_t n = x->nbytes;
        if (n <= 3 * SAMPLE) {
            feed(&d, p, n);
            continue;
        }
        feed(&d, p, SAMPLE);
        feed(&d, p + (n / 2 - SAMPLE / 2), SAMPLE);
        feed(&d, p + (n - SAMPLE), SAMPLE);
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)mix(d.a), (unsigned long long)mix(d.b ^ d.a));
}
