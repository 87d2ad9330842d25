/* kinds.c: the four kinds of embedding built from (already standardized) HS and RW
 * rows (MOEE.md section 3):
 *
 *   hs        HS
 *   rw        RW
 *   moee      [HS, RW]                                (the paper's concatenation)
 *   moee-sum  [HS/|HS|, sqrt(alpha) * RW/|RW|]        (the paper's similarity sum)
 *
 * moee-sum is one vector whose dot product is the paper's "MoEE (sum)" score:
 * u_a . u_b = cos(HS_a, HS_b) + alpha * cos(RW_a, RW_b), so any tool that ranks by
 * dot product or cosine gets the paper's similarity. Norms are taken in double. A
 * part that is exactly zero stays zero (its cosine with anything is taken as 0). */
#include <math.h>
#include <string.h>
#include "engine/embed.h"

static const char *const kind_names[] = {"hs", "rw", "moee", "moee-sum"};

const char *moee_kind_name(moee_kind k) {
    return (k >= MOEE_KIND_HS && k <= MOEE_KIND_MOEE_SUM) ? kind_names[k] : "?";
}

int moee_kind_from_name(const char *name) {
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

int64_t moee_kind_dim(moee_kind k, int64_t hs_dim, int64_t rw_dim) {
    switch (k) {
    case MOEE_KIND_HS: return hs_dim;
    case MOEE_KIND_RW: return rw_dim;
    case MOEE_KIND_MOEE:
    case MOEE_KIND_MOEE_SUM: return hs_dim + rw_dim;
    }
    return 0;
}

/* out[i] = x[i] * scale / |x|, or zeros when |x| is 0. */
static void scaled_unit(const float *x, int64_t n, double scale, float *out) {
    double sq = 0;
    for (int64_t i = 0; i < n; i++) sq += (double)x[i] * x[i];
    double f = sq > 0 ? scale / sqrt(sq) : 0.0;
    for (int64_t i = 0; i < n; i++) out[i] = (float)(x[i] * f);
}

void moee_kind_combine(moee_kind k, const float *hs, const float *rw, int64_t n,
                       int64_t hs_dim, int64_t rw_dim, float alpha, float *out) {
    int64_t dim = moee_kind_dim(k, hs_dim, rw_dim);
    double rw_scale = alpha > 0 ? sqrt((double)alpha) : 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *h = hs ? hs + i * hs_dim : NULL;
        const float *r = rw ? rw + i * rw_dim : NULL;
        float *o = out + i * dim;
        switch (k) {
        case MOEE_KIND_HS:
            memcpy(o, h, (size_t)hs_dim * sizeof *o);
            break;
        case MOEE_KIND_RW:
            memcpy(o, r, (size_t)rw_dim * sizeof *o);
            break;
        case MOEE_KIND_MOEE:
            memcpy(o, h, (size_t)hs_dim * sizeof *o);
            memcpy(o + hs_dim, r, (size_t)rw_dim * sizeof *o);
            break;
        case MOEE_KIND_MOEE_SUM:
            scaled_unit(h, hs_dim, 1.0, o);
            scaled_unit(r, rw_dim, rw_scale, o + hs_dim);
            break;
        }
    }
}
