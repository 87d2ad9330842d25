/* scratch.h: growable arrays for the working memory of one encode call.
 *
 * A loaded tokenizer is shared and immutable, so everything an encode call
 * writes lives in a tokenizer_scratch that the call creates and frees. Arrays
 * only grow, by half their size each time: a call makes a few dozen allocations
 * at most, and an array holds at most 1.5 times what it needs (doubling would
 * allow 2 times: 4 more bytes per input byte on a text that is one id per byte). */
#ifndef MOEE_TOKENIZER_SCRATCH_H
#define MOEE_TOKENIZER_SCRATCH_H
#include <stdint.h>
#include <stdlib.h>

/* Ensures room for `need` elements of `size` bytes in *p (capacity *cap).
 * Returns 0, or -1 when out of memory (then *p is unchanged). */
static inline int scratch_reserve(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size) return -1;
        n += n / 2;
    }
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

typedef struct { unsigned char *p; size_t len, cap; } byte_buffer;
typedef struct { uint32_t *p; size_t len, cap; } cp_buffer;

#endif
