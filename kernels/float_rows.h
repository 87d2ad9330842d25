/* float_rows.h: the driver of the float-weight (F32, F16, BF16) matmul, shared by
 * every SIMD variant. A variant's matmul.c defines its register tile and includes
 * this file:
 *
 *   INLINE                      its always-inline qualifier
 *   FLOAT_TILE_ROWS, TILE_T     weight rows and tokens of one float tile
 *   TOKEN_CHUNK                 tokens whose activations stay in cache while rows stream
 *   float_tile(type, nt, W, row, n_rows, x, tok, Y)
 *                               Y[tok[j]][row[i]] = W[row[i]] . x[j] for one tile
 *   FLOAT_MATMUL                the name of the public entry point to define
 *
 * A call computes rows [r0, r1) (dispatch.c shares the row blocks out); tokens go in
 * chunks, tiles of TILE_T tokens, then the last n % TILE_T tokens one at a time.
 * An output's operations depend only on its own row and token, never on the tile. */

INLINE void float_rows(uint32_t type, const moee_matrix *W, const float *X, const int32_t *x_rows,
                       int64_t n, float *Y, int64_t rt0, int64_t rt1) {
    for (int64_t c0 = 0; c0 < n; c0 += TOKEN_CHUNK)
        for (int64_t rt = rt0; rt < rt1; rt++) {
            int64_t row[FLOAT_TILE_ROWS];
            const int n_rows = tile_rows(W, rt, FLOAT_TILE_ROWS, row);
            for (int64_t t0 = c0; t0 < c0 + TOKEN_CHUNK && t0 < n;) {
                const int nt = n - t0 >= TILE_T ? TILE_T : 1;
                const float *x[TILE_T];
                int64_t tok[TILE_T];
                for (int j = 0; j < nt; j++) {
                    tok[j] = t0 + j;
                    x[j] = X + (x_rows ? (int64_t)x_rows[t0 + j] : t0 + j) * W->cols;
                }
                if (nt == TILE_T) float_tile(type, TILE_T, W, row, n_rows, x, tok, Y);
                else float_tile(type, 1, W, row, n_rows, x, tok, Y);
                t0 += nt;
            }
        }
}

/* One out-of-line copy per weight type, so each gets its own specialized tile code. */
static void float_rows_f32(const moee_matrix *W, const float *X, const int32_t *x_rows, int64_t n,
                           float *Y, int64_t rt0, int64_t rt1) {
    float_rows(MOEE_TYPE_F32, W, X, x_rows, n, Y, rt0, rt1);
}
static void float_rows_f16(const moee_matrix *W, const float *X, const int32_t *x_rows, int64_t n,
                           float *Y, int64_t rt0, int64_t rt1) {
    float_rows(MOEE_TYPE_F16, W, X, x_rows, n, Y, rt0, rt1);
}
static void float_rows_bf16(const moee_matrix *W, const float *X, const int32_t *x_rows, int64_t n,
                            float *Y, int64_t rt0, int64_t rt1) {
    float_rows(MOEE_TYPE_BF16, W, X, x_rows, n, Y, rt0, rt1);
}

void FLOAT_MATMUL(const moee_matrix *W, const float *X, const int32_t *x_rows, int64_t n, float *Y,
                  int64_t r0, int64_t r1) {
    /* FLOAT_TILE_ROWS divides MOEE_ROW_BLOCK */
    const int64_t rt0 = r0 / FLOAT_TILE_ROWS, rt1 = (r1 + FLOAT_TILE_ROWS - 1) / FLOAT_TILE_ROWS;
    if (W->type == MOEE_TYPE_F16) float_rows_f16(W, X, x_rows, n, Y, rt0, rt1);
    else if (W->type == MOEE_TYPE_BF16) float_rows_bf16(W, X, x_rows, n, Y, rt0, rt1);
    else float_rows_f32(W, X, x_rows, n, Y, rt0, rt1);
}
