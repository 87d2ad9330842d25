/* added_tokens.c: the added tokens as an Aho-Corasick automaton over their
 * reversed bytes, and the scan that finds them leftmost-longest in linear time.
 *
 * Why backwards: leftmost-longest asks, at each text position i, for the longest
 * token that starts at i. Read from right to left, the automaton's state at i
 * stands for the longest string starting at i that ends some token; the tokens
 * on its failure chain are exactly those that are prefixes of s[i..], and the
 * deepest of them (the node's `out`) is the longest token starting at i. A
 * forward automaton would have to restart after each match and could re-read up
 * to a token's length each time, which is quadratic with a 100 KB token. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/added_tokens.h"
#include "tokenizer/scratch.h"

struct added_node {
    int32_t parent, fail;   /* fail: the node of the longest proper suffix (in reversed text) */
    int32_t id;             /* token ending here, or -1 */
    int32_t out;            /* the deepest node with a token on the fail chain from here (itself included), or -1 */
    uint32_t depth;
    unsigned char byte;     /* the edge from the parent */
};

/* ---- edges: (node, byte) -> child ---------------------------------------------------- */

static uint64_t edge_key(int32_t node, unsigned char byte) { return ((uint64_t)node << 8 | byte) + 1; }

static size_t edge_slot(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;      /* MurmurHash3's finalizer */
    key ^= key >> 33;
    return (size_t)key & mask;
}

static int32_t edge_find(const added_matcher *m, int32_t node, unsigned char byte) {
    if (!m->edge_keys) return -1;
    uint64_t key = edge_key(node, byte);
    for (size_t i = edge_slot(key, m->edge_mask); m->edge_keys[i]; i = (i + 1) & m->edge_mask)
        if (m->edge_keys[i] == key) return m->edge_child[i];
    return -1;
}

static void edge_put(uint64_t *keys, int32_t *child, size_t mask, uint64_t key, int32_t c) {
    size_t i = edge_slot(key, mask);
    while (keys[i]) i = (i + 1) & mask;
    keys[i] = key;
    child[i] = c;
}

/* Adds an edge known to be absent; the table stays at most half full. */
static int edge_add(added_matcher *m, int32_t node, unsigned char byte, int32_t c) {
    if (2 * (m->n_edges + 1) > (m->edge_keys ? m->edge_mask + 1 : 0)) {
        size_t size = m->edge_keys ? 2 * (m->edge_mask + 1) : 64;
        uint64_t *keys = calloc(size, sizeof *keys);
        int32_t *child = malloc(size * sizeof *child);
        if (!keys || !child) { free(keys); free(child); return -1; }
        for (size_t i = 0; m->edge_keys && i <= m->edge_mask; i++)
            if (m->edge_keys[i]) edge_put(keys, child, size - 1, m->edge_keys[i], m->edge_child[i]);
        free(m->edge_keys);
        free(m->edge_child);
        m->edge_keys = keys;
        m->edge_child = child;
        m->edge_mask = size - 1;
    }
    edge_put(m->edge_keys, m->edge_child, m->edge_mask, edge_key(node, byte), c);
    m->n_edges++;
    if (node == 0) m->root_next[byte] = c;
    return 0;
}

/* ---- building ------------------------------------------------------------------------- */

static int32_t new_node(added_matcher *m, int32_t parent, unsigned char byte) {
    if (m->n_nodes >= INT32_MAX ||
        scratch_reserve((void **)&m->nodes, &m->cap, m->n_nodes + 1, sizeof *m->nodes)) return -1;
    uint32_t depth = parent < 0 ? 0 : m->nodes[parent].depth + 1;
    m->nodes[m->n_nodes] = (struct added_node){parent, 0, -1, -1, depth, byte};
    return (int32_t)m->n_nodes++;
}

int added_matcher_add(added_matcher *m, const char *s, size_t len, int32_t id) {
    if (!m->n_nodes && new_node(m, -1, 0) < 0) return -1;
    if (len >= UINT32_MAX) return -1;
    int32_t node = 0;
    for (size_t i = len; i-- > 0;) {           /* the token backwards */
        unsigned char b = (unsigned char)s[i];
        int32_t c = edge_find(m, node, b);
        if (c < 0 && ((c = new_node(m, node, b)) < 0 || edge_add(m, node, b, c))) return -1;
        node = c;
    }
    if (node != 0 && m->nodes[node].id < 0) m->nodes[node].id = id;
    if (len > m->longest) m->longest = len;
    return 0;
}

/* The automaton's transition: the child for byte b, or the failure links' one. */
static int32_t step(const added_matcher *m, int32_t state, unsigned char b) {
    while (state) {
        int32_t c = edge_find(m, state, b);
        if (c >= 0) return c;
        state = m->nodes[state].fail;
    }
    return m->root_next[b];
}

int added_matcher_finish(added_matcher *m) {
    if (m->n_nodes <= 1) return 0;
    /* Nodes by depth (a counting sort): a node's failure link is shallower. */
    size_t *first = calloc(m->longest + 2, sizeof *first);
    int32_t *order = malloc(m->n_nodes * sizeof *order);
    if (!first || !order) { free(first); free(order); return -1; }
    for (size_t v = 0; v < m->n_nodes; v++) first[m->nodes[v].depth + 1]++;
    for (size_t d = 1; d <= m->longest + 1; d++) first[d] += first[d - 1];
    for (size_t v = 0; v < m->n_nodes; v++) order[first[m->nodes[v].depth]++] = (int32_t)v;
    for (size_t k = 1; k < m->n_nodes; k++) {   /* order[0] is the root */
        struct added_node *v = &m->nodes[order[k]];
        v->fail = v->parent == 0 ? 0 : step(m, m->nodes[v->parent].fail, v->byte);
        v->out = v->id >= 0 ? order[k] : m->nodes[v->fail].out;
    }
    free(first);
    free(order);
    return 0;
}

void added_matcher_free(added_matcher *m) {
    free(m->nodes);
    free(m->edge_keys);
    free(m->edge_child);
    memset(m, 0, sizeof *m);
}

int added_matcher_empty(const added_matcher *m) { return m->n_nodes <= 1; }

/* ---- scanning ------------------------------------------------------------------------- */

void added_scan_begin(added_scan *sc, const added_matcher *m, const unsigned char *s, size_t n) {
    sc->m = m;
    sc->s = s;
    sc->n = n;
    sc->pos = sc->win_lo = sc->win_hi = 0;
}

void added_scan_free(added_scan *sc) {
    free(sc->longest_at);
    sc->longest_at = NULL;
    sc->cap = 0;
}

/* Fills longest_at for the window starting at lo. The automaton starts `longest`
 * bytes past the window's end: its state at a position depends only on the next
 * `longest` bytes, so the window's states are exact, and each window costs its
 * length plus the longest token. */
static int fill_window(added_scan *sc, size_t lo) {
    const added_matcher *m = sc->m;
    size_t width = m->longest > 65536 ? m->longest : 65536;
    size_t hi = sc->n - lo > width ? lo + width : sc->n;
    if (scratch_reserve((void **)&sc->longest_at, &sc->cap, hi - lo, sizeof *sc->longest_at)) return -1;
    size_t from = sc->n - hi > m->longest ? hi + m->longest : sc->n;
    int32_t state = 0;
    for (size_t q = from; q-- > lo;) {
        state = step(m, state, sc->s[q]);
        if (q < hi) sc->longest_at[q - lo] = m->nodes[state].out;
    }
    sc->win_lo = lo;
    sc->win_hi = hi;
    return 0;
}

int added_scan_next(added_scan *sc, size_t *start, size_t *end, int32_t *id) {
    if (added_matcher_empty(sc->m)) return 0;
    while (sc->pos < sc->n) {
        if (sc->pos < sc->win_lo || sc->pos >= sc->win_hi) {
            if (fill_window(sc, sc->pos)) return -1;
        }
        for (size_t i = sc->pos; i < sc->win_hi; i++) {
            int32_t node = sc->longest_at[i - sc->win_lo];
            if (node >= 0) {
                *start = i;
                *end = i + sc->m->nodes[node].depth;
                *id = sc->m->nodes[node].id;
                sc->pos = *end;
                return 1;
            }
        }
        sc->pos = sc->win_hi;
    }
    return 0;
}
