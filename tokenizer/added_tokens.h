/* added_tokens.h: finding added tokens (special and user-defined strings such as
 * "<|endoftext|>", OLMoE's space runs, DeepSeek's "ü") in text, leftmost-longest:
 * scanning left to right, at the first position where any token matches, the
 * longest one wins; scanning resumes after it. This is what HF's Aho-Corasick
 * matcher (MatchKind::LeftmostLongest) returns.
 *
 * Linear in the text whatever the tokens (a 100 KB token on 1 MB of text is as
 * cheap as "<|endoftext|>"): the matcher is an Aho-Corasick automaton of the
 * tokens written backwards, built once per tokenizer. Run from right to left over
 * the text, its state at position i names the longest token that starts at i; a
 * scan (added_scan) runs it over windows of the text, each window once, and then
 * picks matches from left to right. Memory per scan: 4 bytes per window position
 * (64 K positions, or the longest token's length if that is more). */
#ifndef MOEE_TOKENIZER_ADDED_TOKENS_H
#define MOEE_TOKENIZER_ADDED_TOKENS_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    struct added_node *nodes;        /* nodes[0] is the root */
    size_t n_nodes, cap;
    /* Edges (node, byte) -> child in an open-addressing hash table. */
    uint64_t *edge_keys;             /* node << 8 | byte, plus 1 (0 marks an empty slot) */
    int32_t *edge_child;
    size_t edge_mask, n_edges;
    int32_t root_next[256];          /* the root's children by byte (0: none), the common step */
    size_t longest;                  /* bytes in the longest token */
} added_matcher;

/* Adds a token (len >= 1). Returns 0, or -1 when out of memory. A string added
 * twice keeps the first id. */
int added_matcher_add(added_matcher *m, const char *s, size_t len, int32_t id);
/* Builds the automaton's links once every token has been added (before any scan).
 * Returns 0, or -1 when out of memory. */
int added_matcher_finish(added_matcher *m);
void added_matcher_free(added_matcher *m);
int added_matcher_empty(const added_matcher *m);

/* One left-to-right pass over s[0..n): each added_scan_next returns the next
 * match after the previous one. The scan's memory is reused across begin calls;
 * free it with added_scan_free. */
typedef struct {
    const added_matcher *m;
    const unsigned char *s;
    size_t n, pos;                   /* the next match starts at or after pos */
    int32_t *longest_at;             /* per window position: node of the longest token starting there, or -1 */
    size_t cap, win_lo, win_hi;      /* the window [win_lo, win_hi) that longest_at describes */
} added_scan;

void added_scan_begin(added_scan *sc, const added_matcher *m, const unsigned char *s, size_t n);
/* The next match: returns 1 and sets *start, *end, *id; 0 if there is none left;
 * -1 when out of memory. */
int added_scan_next(added_scan *sc, size_t *start, size_t *end, int32_t *id);
void added_scan_free(added_scan *sc);

#endif
