/* digest.c: see digest.h. */
#include "weights/digest.h"
#include <stdio.h>

void digest_init(digest *d) {
    d->a = 0xcbf29ce484222325ULL;
    d->b = 0x2545f4914f6cdd1dULL;
}

void digest_feed(digest *d, const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t a = d->a, b = d->b;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * 0x100000001b3ULL;
        b = (b + p[i]) * 0x9e3779b97f4a7c15ULL;
        b = (b << 29) | (b >> 35);
    }
    d->a = a;
    d->b = b;
}

void digest_feed_u64(digest *d, uint64_t v) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(v >> (8 * i));
    digest_feed(d, bytes, 8);
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void digest_hex(const digest *d, char out[33]) {
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)mix(d->a), (unsigned long long)mix(d->b ^ d->a));
}
