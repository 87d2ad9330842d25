/* fingerprint.c: see fingerprint.h. The digest is weights/digest.c's. */
#include "weights/fingerprint.h"
#include "weights/digest.h"

#define SAMPLE 256

void gguf_fingerprint(const gguf_file *f, char out[33]) {
    digest d;
    digest_init(&d);
    uint64_t header = f->data_offset < f->map_size ? f->data_offset : f->map_size;
    digest_feed_u64(&d, f->map_size);
    digest_feed(&d, f->map, header);
    for (uint64_t t = 0; t < f->n_tensors; t++) {
        const gguf_tensor *x = &f->tensors[t];
        const uint8_t *p = x->data;
        uint64_t n = x->nbytes;
        if (n <= 3 * SAMPLE) {
            digest_feed(&d, p, n);
            continue;
        }
        digest_feed(&d, p, SAMPLE);
        digest_feed(&d, p + (n / 2 - SAMPLE / 2), SAMPLE);
        digest_feed(&d, p + (n - SAMPLE), SAMPLE);
    }
    digest_hex(&d, out);
}
