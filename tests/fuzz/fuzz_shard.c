/* fuzz_shard.c: arbitrary bytes as a shard file of `moee embed --shard` (the journal
 * format of tools/journal.c with the job header and rows of tools/embed_job.c), read
 * as `moee merge` reads each part. A shard that reads must be consistent: its range
 * inside its input, its rows finite or not but all there, ids where the rows are. */
#define FUZZ_NAME "shard"
#include "fuzz.h"
#include "tools/embed_job.h"

static volatile float fold;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_as_file(data, size);
    if (!path) return 0;
    char err[256];
    err[0] = 0;
    job_desc d;
    job_rows r;
    if (job_read_shard(path, &d, &r, err, sizeof err)) {
        fuzz_check_err(err, sizeof err, "job_read_shard");
        return 0;
    }
    int64_t n = d.end - d.first;
    if (!d.is_shard || d.first > d.end || d.end > d.total || d.shard_k >= d.shard_n || r.done != n) abort();
    float x = 0;
    for (int64_t i = 0; i < n * d.hs_dim; i++) x += r.hs[i];
    for (int64_t i = 0; i < n * d.rw_dim; i++) x += r.rw[i];
    for (int64_t i = 0; r.ids && i < n; i++) x += r.ids[i] ? (float)strlen(r.ids[i]) : 0;
    fold = x;
    job_rows_free(&r, n);
    job_desc_free(&d);
    return 0;
}
