/* fuzz_stats.c: arbitrary bytes as a statistics file through moee_statistics_load; a
 * file that loads is applied to a row (every mean and std must be finite, std >= 0). */
#define FUZZ_NAME "stats"
#include "fuzz.h"
#include <math.h>
#include "moee.h"
#include "engine/embed.h"

static void check(const moee_stats *s) {
    if (s->dim < 0 || (s->dim > 0 && (!s->mean || !s->std || s->count < 2))) abort();
    for (int64_t d = 0; d < s->dim; d++)
        if (!isfinite(s->mean[d]) || !isfinite(s->std[d]) || s->std[d] < 0) abort();
    if (s->dim > 0 && s->dim <= 4096) {
        float *row = calloc((size_t)s->dim, sizeof *row);
        if (row) moee_stats_apply(s, row, 1);
        free(row);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_as_file(data, size);
    if (!path) return 0;
    char err[256];
    err[0] = 0;
    moee_statistics s;
    if (moee_statistics_load(path, &s, err, sizeof err)) {
        fuzz_check_err(err, sizeof err, "moee_statistics_load");
        return 0;
    }
    check(&s.hs);
    check(&s.rw);
    if (!s.prompt || strlen(s.model_fingerprint) > 32 || strlen(s.arch) > 15) abort();
    moee_statistics_free(&s);
    return 0;
}
