/* bpe.h: byte-pair encoding of one pre-tokenized piece, as Hugging Face's BPE model
 * does it (no dropout, no unk, no byte fallback, merges applied even when the
 * whole piece is a vocabulary entry).
 *
 * Merges are kept as a hash table from a pair of token ids to (rank, merged id);
 * the encoder keeps the piece's symbols and the ranks of adjacent pairs in two
 * int32 per byte with a tournament tree over blocks of them, so a piece of n bytes
 * costs O(n log n) time and ~8.3 n bytes whatever it holds (pieces of up to 16
 * bytes, most words, take a plain scan instead). */
#ifndef MOEE_TOKENIZER_BPE_H
#define MOEE_TOKENIZER_BPE_H
#include <stddef.h>
#include <stdint.h>
#include "tokenizer/tokenizer.h"

typedef struct { uint64_t key; int32_t rank; int32_t merged; } bpe_merge_slot;

typedef struct {
    bpe_merge_slot *slots;   /* open addressing; key 0 never occurs (see bpe.c) */
    size_t mask;             /* slot count - 1 (a power of two) */
    size_t count;
} bpe_merges;

/* Room for n merges. Returns 0, or -1 when out of memory. */
int bpe_merges_init(bpe_merges *m, size_t n);
void bpe_merges_free(bpe_merges *m);
/* Adds (left, right) -> (rank, merged); a pair listed twice keeps the later entry,
 * as HF's merge map does. */
void bpe_merges_add(bpe_merges *m, int32_t left, int32_t right, int32_t rank, int32_t merged);
/* The slot of (left, right), or NULL. */
const bpe_merge_slot *bpe_merges_find(const bpe_merges *m, int32_t left, int32_t right);

/* Working memory of the encoder (grows; free with bpe_scratch_free). */
typedef struct {
    int32_t *cell; size_t cell_cap;        /* the symbols, one int32 per byte (bpe.c) */
    uint32_t *rank; size_t rank_cap;       /* per byte: rank of the pair starting there */
    uint32_t *tree; size_t tree_cap;       /* minimum rank per block of bytes, and above */
    unsigned char *kept; size_t kept_cap;  /* the piece without bytes that have no symbol */
} bpe_scratch;
void bpe_scratch_free(bpe_scratch *s);

/* Appends the ids of piece[0..n) to out. byte_ids[b] is the id of byte b's
 * byte-level symbol (-1 if the vocabulary lacks it: the byte is dropped, as HF
 * drops characters it has no id for when there is no unk token).
 * Returns 0, or -1 when out of memory. */
int bpe_encode_piece(const bpe_merges *m, const int32_t byte_ids[256], const unsigned char *piece,
                     size_t n, bpe_scratch *scratch, tokenizer_ids *out);

/* Appends id to v, growing it. Returns 0, or -1 when out of memory. */
int tokenizer_ids_push(tokenizer_ids *v, int32_t id);

#endif
