/* bpe.c: merges table and the BPE merge loop. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/bpe.h"
#include "tokenizer/scratch.h"

/* ---- merges: (left id, right id) -> (rank, merged id) ---------------------------- */

/* Ids are < 2^31, so left + 1 > 0 makes every key non-zero and 0 can mark empty slots. */
static uint64_t pair_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left + 1) << 32 | (uint32_t)right;
}

static size_t slot_of(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;      /* a 64-bit mix (MurmurHash3 finalizer) */
    key ^= key >> 33;
    return (size_t)key & mask;
}

int bpe_merges_init(bpe_merges *m, size_t n) {
    size_t size = 16;
    while (size < 2 * n + 1) size *= 2;
    m->slots = calloc(size, sizeof *m->slots);
    m->mask = size - 1;
    m->count = 0;
    return m->slots ? 0 : -1;
}

void bpe_merges_free(bpe_merges *m) {
    free(m->slots);
    m->slots = NULL;
}

void bpe_merges_add(bpe_merges *m, int32_t left, int32_t right, int32_t rank, int32_t merged) {
    uint64_t key = pair_key(left, right);
    size_t i = slot_of(key, m->mask);
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & m->mask;
    if (!m->slots[i].key) m->count++;
    m->slots[i] = (bpe_merge_slot){key, rank, merged};
}

const bpe_merge_slot *bpe_merges_find(const bpe_merges *m, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    size_t i = slot_of(key, m->mask);
    while (m->slots[i].key) {
        if (m->slots[i].key == key) return &m->slots[i];
        i = (i + 1) & m->mask;
    }
    return NULL;
}

/* ---- the merge loop ------------------------------------------------------------- */

/* HF keeps candidate merges in a binary heap ordered by (rank, position) and skips
 * the stale ones when they surface; the merge it applies is therefore always the
 * lowest-ranked pair of adjacent symbols, the leftmost among equals. Short pieces
 * find that pair by scanning; long ones keep, per byte position, the rank of the
 * pair that starts there, the minimum of every block of BLOCK positions, and a
 * tournament tree over the blocks (each inner node the minimum of its children),
 * so the next merge is found by walking down the tree to the leftmost minimal block
 * and scanning it. A merge changes at most three positions' ranks.
 *
 * Memory matters as much as time here: a piece can be a whole 100 MB "word". The
 * symbols are kept in one int32 per byte, `cell` (below), the ranks in another,
 * and the tree in 1/4 to 1/2 byte per byte: 8.25-8.5 bytes per byte of the piece. */

#define NO_RANK UINT32_MAX
#define BLOCK 32

void bpe_scratch_free(bpe_scratch *s) {
    free(s->cell);
    free(s->rank);
    free(s->tree);
    free(s->kept);
    *s = (bpe_scratch){0};
}

int tokenizer_ids_push(tokenizer_ids *v, int32_t id) {
    if (scratch_reserve((void **)&v->ids, &v->cap, v->n + 1, sizeof *v->ids)) return -1;
    v->ids[v->n++] = id;
    return 0;
}

/* Short pieces (most words): the same rule, lowest rank then leftmost, by scanning
 * an array of at most SHORT_PIECE symbols; cheaper than building a tree. */
#define SHORT_PIECE 16

static int encode_short(const bpe_merges *m, const int32_t byte_ids[256], const unsigned char *piece,
                        size_t n, tokenizer_ids *out) {
    int32_t id[SHORT_PIECE], rank[SHORT_PIECE], merged[SHORT_PIECE];   /* rank[i]: pair (i, i+1) */
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (byte_ids[piece[i]] >= 0) id[count++] = byte_ids[piece[i]];
    for (int i = 0; i + 1 < count; i++) {
        const bpe_merge_slot *slot = bpe_merges_find(m, id[i], id[i + 1]);
        rank[i] = slot ? slot->rank : INT32_MAX;
        merged[i] = slot ? slot->merged : -1;
    }
    while (count > 1) {
        int best = 0;
        for (int i = 1; i + 1 < count; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        id[best] = merged[best];
        for (int i = best + 1; i + 1 < count; i++) {       /* drop symbol best+1 */
            id[i] = id[i + 1];
            rank[i] = rank[i + 1];
            merged[i] = merged[i + 1];
        }
        count--;
        for (int i = best - 1; i <= best; i++) {           /* the two pairs that changed */
            if (i < 0 || i + 1 >= count) continue;
            const bpe_merge_slot *slot = bpe_merges_find(m, id[i], id[i + 1]);
            rank[i] = slot ? slot->rank : INT32_MAX;
            merged[i] = slot ? slot->merged : -1;
        }
    }
    for (int i = 0; i < count; i++)
        if (tokenizer_ids_push(out, id[i])) return -1;
    return 0;
}

/* The symbols of a long piece of m bytes, one int32 per byte. A symbol covers the
 * bytes [a, e). cell[a] is its token id (>= 0). If it is 2 bytes long, cell[a+1] is
 * -(a+1); if longer, cell[a+1] is -(e+1) and cell[e-1] is -(a+1); the cells in
 * between are unused. So the next symbol starts at e (read from cell[a+1]) and the
 * one before ends at a (its start read from cell[a-1]). */
static int32_t sym_next(const int32_t *cell, int32_t a, int32_t m) {
    if (a + 1 >= m) return m;
    int32_t v = cell[a + 1];
    if (v >= 0) return a + 1;            /* a one-byte symbol: cell[a+1] starts the next */
    if (v == -(a + 1)) return a + 2;     /* a two-byte symbol */
    return -v - 1;
}

static int32_t sym_prev(const int32_t *cell, int32_t a) {
    int32_t v = cell[a - 1];
    return v >= 0 ? a - 1 : -v - 1;
}

/* The rank of the pair of symbols starting at a, or NO_RANK. */
static uint32_t pair_rank(const bpe_merges *m, const int32_t *cell, int32_t a, int32_t n) {
    int32_t b = sym_next(cell, a, n);
    if (b >= n) return NO_RANK;
    const bpe_merge_slot *slot = bpe_merges_find(m, cell[a], cell[b]);
    return slot ? (uint32_t)slot->rank : NO_RANK;
}

/* Recomputes block j's minimum (leaf size + j of the tree) and the nodes above it. */
static void block_update(uint32_t *tree, size_t size, const uint32_t *rank, int32_t n, size_t j) {
    size_t lo = j * BLOCK, hi = lo + BLOCK < (size_t)n ? lo + BLOCK : (size_t)n;
    uint32_t min = NO_RANK;
    for (size_t i = lo; i < hi; i++) if (rank[i] < min) min = rank[i];
    size_t k = size + j;
    if (tree[k] == min) return;
    tree[k] = min;
    for (k >>= 1; k >= 1; k >>= 1) {
        uint32_t a = tree[2 * k], b = tree[2 * k + 1], v = a < b ? a : b;
        if (tree[k] == v) break;          /* nothing above changes */
        tree[k] = v;
    }
}

static int encode_long(const bpe_merges *m, const unsigned char *piece, int32_t n,
                       const int32_t byte_ids[256], bpe_scratch *sc, tokenizer_ids *out) {
    size_t blocks = ((size_t)n + BLOCK - 1) / BLOCK, size = 1;
    while (size < blocks) size *= 2;
    if (scratch_reserve((void **)&sc->cell, &sc->cell_cap, (size_t)n, sizeof *sc->cell) ||
        scratch_reserve((void **)&sc->rank, &sc->rank_cap, (size_t)n, sizeof *sc->rank) ||
        scratch_reserve((void **)&sc->tree, &sc->tree_cap, 2 * size, sizeof *sc->tree))
        return -1;
    int32_t *cell = sc->cell;
    uint32_t *rank = sc->rank, *tree = sc->tree;
    for (int32_t i = 0; i < n; i++) cell[i] = byte_ids[piece[i]];
    for (int32_t i = 0; i < n; i++) rank[i] = pair_rank(m, cell, i, n);
    for (size_t j = 0; j < 2 * size; j++) tree[j] = NO_RANK;
    for (size_t j = 0; j < blocks; j++) block_update(tree, size, rank, n, j);

    while (tree[1] != NO_RANK) {
        /* The leftmost block holding the minimum, then its leftmost position. */
        size_t k = 1;
        while (k < size) k = tree[2 * k] == tree[k] ? 2 * k : 2 * k + 1;
        int32_t a = (int32_t)((k - size) * BLOCK);
        while (rank[a] != tree[1]) a++;
        int32_t b = sym_next(cell, a, n), c = sym_next(cell, b, n);
        cell[a] = bpe_merges_find(m, cell[a], cell[b])->merged;
        if (c - a == 2) cell[a + 1] = -(a + 1);
        else { cell[a + 1] = -(c + 1); cell[c - 1] = -(a + 1); }
        rank[b] = NO_RANK;
        rank[a] = pair_rank(m, cell, a, n);
        block_update(tree, size, rank, n, (size_t)b / BLOCK);
        block_update(tree, size, rank, n, (size_t)a / BLOCK);
        if (a > 0) {
            int32_t p = sym_prev(cell, a);
            rank[p] = pair_rank(m, cell, p, n);
            block_update(tree, size, rank, n, (size_t)p / BLOCK);
        }
    }
    /* The ids, gathered to the front of cell (each write is behind the reads), are
     * appended once the ranks and tree are given back: a piece that stays one id
     * per byte then peaks at cell + ids, not cell + ranks + ids. */
    int32_t k = 0;
    for (int32_t a = 0; a < n;) {
        int32_t next = sym_next(cell, a, n);
        cell[k++] = cell[a];
        a = next;
    }
    if (sc->rank_cap > (1 << 18)) {
        free(sc->rank);
        free(sc->tree);
        sc->rank = sc->tree = NULL;
        sc->rank_cap = sc->tree_cap = 0;
    }
    if (scratch_reserve((void **)&out->ids, &out->cap, out->n + (size_t)k, sizeof *out->ids)) return -1;
    memcpy(out->ids + out->n, cell, (size_t)k * sizeof *cell);
    out->n += (size_t)k;
    return 0;
}

int bpe_encode_piece(const bpe_merges *m, const int32_t byte_ids[256], const unsigned char *piece,
                     size_t n, bpe_scratch *scratch, tokenizer_ids *out) {
    if (n == 1) return byte_ids[piece[0]] < 0 ? 0 : tokenizer_ids_push(out, byte_ids[piece[0]]);
    if (n <= SHORT_PIECE) return encode_short(m, byte_ids, piece, n, out);
    if (n > INT32_MAX / 4) return -1;
    /* Bytes without a symbol are dropped (their neighbours become adjacent). */
    size_t kept = 0;
    while (kept < n && byte_ids[piece[kept]] >= 0) kept++;
    if (kept < n) {
        if (scratch_reserve((void **)&scratch->kept, &scratch->kept_cap, n, 1)) return -1;
        memcpy(scratch->kept, piece, kept);
        for (size_t i = kept; i < n; i++)
            if (byte_ids[piece[i]] >= 0) scratch->kept[kept++] = piece[i];
        piece = scratch->kept;
        if (kept <= SHORT_PIECE) return kept ? encode_short(m, byte_ids, piece, kept, out) : 0;
    }
    return encode_long(m, piece, (int32_t)kept, byte_ids, scratch, out);
}
