/* digest.h: a 128-bit digest that tells contents apart, cheaply (not cryptographic:
 * it protects against mistakes, such as resuming with another input, not forgery).
 * Two 64-bit lanes over the same bytes, FNV-1a and a multiply-rotate hash with other
 * constants, each finished with the splitmix64 mixer.
 *
 *   digest d; digest_init(&d); digest_feed(&d, p, n); ... digest_hex(&d, out);   // 32 hex digits */
#ifndef MOEE_DIGEST_H
#define MOEE_DIGEST_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t a, b; } digest;

void digest_init(digest *d);
void digest_feed(digest *d, const void *p, size_t n);
void digest_feed_u64(digest *d, uint64_t v);   /* as 8 little-endian bytes */
void digest_hex(const digest *d, char out[33]);

#endif
