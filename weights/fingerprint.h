/* fingerprint.h: a short digest that tells GGUF files apart, cheaply. */
#ifndef MOEE_FINGERPRINT_H
#define MOEE_FINGERPRINT_H
#include "weights/gguf.h"

/* 32 hex digits and a NUL into out: a 128-bit digest of the whole header (metadata
 * and tensor infos) and of a fixed sample of every tensor's bytes (its first, middle
 * and last 256 bytes). Reads about 1 KB per tensor plus the header, so it costs
 * milliseconds on a multi-gigabyte file; it changes when the metadata, the tensor
 * layout or (almost surely) the weights change. Not a cryptographic hash: it
 * protects against mistakes (statistics of another model), not against forgery. */
void gguf_fingerprint(const gguf_file *f, char out[33]);

#endif
