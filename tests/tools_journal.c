/* tools_journal.c: the journal (checksummed chunks), shards (K/N, Slurm's array
 * variables, ranges) and journaled jobs, with a stand-in for the engine whose row i
 * is a fixed function of i. A crash is simulated by cutting the journal at every
 * byte (what a SIGKILL inside a write leaves is a prefix of the bytes written),
 * damage by flipping bytes: recovery must keep exactly the whole, intact chunks
 * before the first bad one, and a resumed job must end with every row exact. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "tools/embed_job.h"
#include "tools/journal.h"
#include "tools/shard.h"

static char dir[64];

static char *path_in(const char *name) {
    static char buf[4][128];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void copy_prefix(const char *from, const char *to, long n) {
    FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
    for (long i = 0; i < n; i++) {
        int ch = fgetc(f);
        if (ch == EOF) break;
        fputc(ch, g);
    }
    fclose(f);
    fclose(g);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* ---- journal ------------------------------------------------------------------------- */

static void test_journal(void) {
    char err[512];
    journal j;
    const char *p = path_in("a.journal");
    CHECK(journal_create(&j, p, err, sizeof err) == 0);
    journal other;
    CHECK(journal_create(&other, p, err, sizeof err) != 0 && strstr(err, "exists"));
    CHECK(journal_open(&other, p, 1, err, sizeof err) != 0 && strstr(err, "another moee run"));
    long ends[6] = {0};
    for (int i = 0; i < 5; i++) {
        char payload[64];
        int len = snprintf(payload, sizeof payload, "chunk %d %s", i, i % 2 ? "odd" : "even and longer");
        const void *parts[2] = {payload, payload};
        size_t sizes[2] = {(size_t)len, (size_t)i};   /* two parts: concatenated */
        CHECK(journal_append(&j, 10 + (uint32_t)i, parts, sizes, 2, err, sizeof err) == 0);
        ends[i + 1] = (long)j.end;
    }
    journal_close(&j);
    CHECK(file_size(p) == ends[5]);

    /* every prefix of the file reads as exactly the whole chunks it holds, then a
     * clean end (on a chunk boundary) or damage (inside a chunk) */
    const char *q = path_in("cut.journal");
    int all_ok = 1;
    for (long cut = 0; cut <= ends[5]; cut++) {
        copy_prefix(p, q, cut);
        CHECK(journal_open(&j, q, 1, err, sizeof err) == 0);
        journal_chunk c;
        int whole = 0, got;
        while ((got = journal_read(&j, &c, err, sizeof err)) == 1) {
            if (c.type != 10 + (uint32_t)whole) all_ok = 0;
            whole++;
            journal_chunk_free(&c);
        }
        int expect = 0;
        while (expect < 5 && ends[expect + 1] <= cut) expect++;
        if (whole != expect || (long)j.end != ends[expect] || (got == 0) != (cut == ends[expect])) all_ok = 0;
        /* cut the torn end, append, and the chunk is there */
        if (got < 0) {
            CHECK(journal_cut(&j, err, sizeof err) == 0);
            const void *part[1] = {"x"};
            size_t one = 1;
            journal_append(&j, 99, part, &one, 1, err, sizeof err);
            journal_close(&j);
            CHECK(journal_open(&j, q, 1, err, sizeof err) == 0);
            int n = 0;
            uint32_t last = 0;
            while (journal_read(&j, &c, err, sizeof err) == 1) { n++; last = c.type; journal_chunk_free(&c); }
            if (n != expect + 1 || last != 99) all_ok = 0;
        }
        journal_close(&j);
    }
    CHECK(all_ok);

    /* a flipped byte anywhere stops reading at the chunk that holds it */
    int flips_ok = 1;
    for (long at = 0; at < ends[5]; at++) {
        copy_prefix(p, q, ends[5]);
        FILE *f = fopen(q, "r+b");
        fseek(f, at, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, at, SEEK_SET);
        fputc(ch ^ 0x20, f);
        fclose(f);
        journal_open(&j, q, 1, err, sizeof err);
        journal_chunk c;
        int whole = 0;
        while (journal_read(&j, &c, err, sizeof err) == 1) { whole++; journal_chunk_free(&c); }
        int holder = 0;
        while (ends[holder + 1] <= at) holder++;
        if (whole != holder) flips_ok = 0;
        journal_close(&j);
    }
    CHECK(flips_ok);
    CHECK(journal_open(&j, path_in("missing.journal"), 1, err, sizeof err) != 0 && errno == ENOENT);
}

/* ---- shards ------------------------------------------------------------------------------ */

static void clear_slurm(void) {
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_MAX");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_STEP");
}

static void test_shards(void) {
    char err[512];
    shard_spec s;
    CHECK(shard_parse("3/8", &s, err, sizeof err) == 0 && s.k == 3 && s.n == 8);
    CHECK(shard_parse("0/1", &s, err, sizeof err) == 0 && s.k == 0 && s.n == 1);
    const char *bad[] = {"8/8", "1/0", "-1/4", "a/4", "3", "3/", "/4", "3/4x", "1/2000000", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECKF(shard_parse(bad[i], &s, err, sizeof err) != 0 && strstr(err, "--shard"), "%s", bad[i]);

    /* the N ranges cover 0..n-1 exactly once, in order, sizes differing by at most 1 */
    int cover_ok = 1;
    for (int64_t n = 0; n < 40; n++)
        for (int64_t N = 1; N < 12; N++) {
            int64_t next = 0;
            for (int64_t k = 0; k < N; k++) {
                int64_t a, b;
                shard_range((shard_spec){k, N}, n, &a, &b);
                if (a != next || b < a || b - a > n / N + 1) cover_ok = 0;
                next = b;
            }
            if (next != n) cover_ok = 0;
        }
    CHECK(cover_ok);

    clear_slurm();
    CHECK(shard_parse("auto", &s, err, sizeof err) != 0 && strstr(err, "SLURM_ARRAY_TASK_ID is not set"));
    /* sbatch --array=0-7: task 5 */
    setenv("SLURM_ARRAY_TASK_ID", "5", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    setenv("SLURM_ARRAY_TASK_MAX", "7", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "8", 1);
    CHECK(shard_parse("auto", &s, err, sizeof err) == 0 && s.k == 5 && s.n == 8);
    /* --array=10-40:10, task 30: K = (30 - 10) / 10 */
    setenv("SLURM_ARRAY_TASK_ID", "30", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "10", 1);
    setenv("SLURM_ARRAY_TASK_MAX", "40", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    setenv("SLURM_ARRAY_TASK_STEP", "10", 1);
    CHECK(shard_parse("auto", &s, err, sizeof err) == 0 && s.k == 2 && s.n == 4);
    /* --array=1,4,9: not a range */
    setenv("SLURM_ARRAY_TASK_ID", "4", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    setenv("SLURM_ARRAY_TASK_MAX", "9", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
    unsetenv("SLURM_ARRAY_TASK_STEP");
    CHECK(shard_parse("auto", &s, err, sizeof err) != 0 && strstr(err, "is not a range"));
    setenv("SLURM_ARRAY_TASK_ID", "x", 1);
    CHECK(shard_parse("auto", &s, err, sizeof err) != 0 && strstr(err, "SLURM_ARRAY_TASK_ID='x'"));
    clear_slurm();
}

/* ---- jobs ---------------------------------------------------------------------------------- */

enum { TOTAL = 300, HS = 5, RW = 3 };

static float value(int64_t record, int col) { return (float)record * 0.25f + (float)col / 7.0f - 3.0f; }

typedef struct { int64_t calls, stop_after; } fake_engine;

/* Row i = value(i, col); 3 tokens per record, record i truncated when i % 50 == 7. */
static int fake_compute(void *user, int64_t first, int64_t count, float *hs, float *rw, int64_t *tokens,
                        int64_t *truncated_rows, int64_t *truncated, char *err, size_t err_size) {
    fake_engine *e = user;
    if (e->stop_after && e->calls >= e->stop_after) { snprintf(err, err_size, "stopped"); return -1; }
    e->calls++;
    for (int64_t i = 0; i < count; i++) {
        for (int c = 0; c < HS; c++) hs[i * HS + c] = value(first + i, c);
        for (int c = 0; c < RW; c++) rw[i * RW + c] = value(first + i, 100 + c);
        *tokens += 3;
        if ((first + i) % 50 == 7) truncated_rows[(*truncated)++] = first + i;
    }
    return 0;
}

static void make_desc(job_desc *d, int64_t first, int64_t end, const char *prompt) {
    memset(d, 0, sizeof *d);
    job_desc_add(d, 1, "model", "fingerprint-1");
    job_desc_add(d, 1, "--prompt", prompt);
    job_desc_add(d, 0, "model_path", "m.gguf");
    d->first = first;
    d->end = end;
    d->total = TOTAL;
    d->hs_dim = HS;
    d->rw_dim = RW;
}

static int rows_exact(const job_rows *r, int64_t first, int64_t n) {
    int64_t t = 0;   /* the truncated records: every 50th from 7 */
    for (int64_t i = first; i < first + n; i++)
        if (i % 50 == 7 && (t >= r->truncated || r->truncated_rows[t++] != i)) return 0;
    if (t != r->truncated) return 0;
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < HS; c++) if (r->hs[i * HS + c] != value(first + i, c)) return 0;
        for (int c = 0; c < RW; c++) if (r->rw[i * RW + c] != value(first + i, 100 + c)) return 0;
    }
    return 1;
}

static void test_jobs(void) {
    char err[1024];
    job_desc d;
    make_desc(&d, 0, TOTAL, "none");
    char *p = strdup(path_in("out.npy.journal"));
    char *full = strdup(path_in("full.journal"));
    char *ids[TOTAL];
    int64_t lines[TOTAL];
    for (int i = 0; i < TOTAL; i++) {
        lines[i] = 2 * i + 1;
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "\"r%d\"", i);
    }

    /* a whole run, kept (not removed) to cut up below */
    embed_job job;
    fake_engine e = {0};
    CHECK(embed_job_open(&job, full, &d, 0, NULL, NULL, err, sizeof err) == 0);
    CHECK(embed_job_run(&job, fake_compute, &e, 40, 8.0, err, sizeof err) == 0);
    CHECK(job.rows.done == TOTAL && job.rows.tokens == 3 * TOTAL && job.rows.truncated == 6);
    CHECK(rows_exact(&job.rows, 0, TOTAL));
    CHECK(e.calls > 5);   /* 5 records (guessed 8 tokens each), then about 40 tokens = 13 records per chunk */
    embed_job_close(&job);

    /* no --resume with a journal there: refused, journal untouched */
    long size = file_size(full);
    CHECK(embed_job_open(&job, full, &d, 0, NULL, NULL, err, sizeof err) != 0 && strstr(err, "add --resume"));
    CHECK(file_size(full) == size);

    /* a crash anywhere = the journal cut at any byte: resume recovers the whole
     * chunks, computes the rest, and every row is exact */
    int resume_ok = 1, recovered_some = 0, damage_seen = 0;
    for (long cut = 0; cut <= size; cut += (cut < 400 ? 1 : 7)) {
        copy_prefix(full, p, cut);
        fake_engine e2 = {0};
        if (embed_job_open(&job, p, &d, 1, NULL, NULL, err, sizeof err)) { resume_ok = 0; fprintf(stderr, "%s\n", err); continue; }
        recovered_some |= job.recovered > 0;
        damage_seen |= job.damage[0] != 0;
        if (embed_job_run(&job, fake_compute, &e2, 40, 8.0, err, sizeof err) || !rows_exact(&job.rows, 0, TOTAL) ||
            job.rows.tokens != 3 * TOTAL || job.rows.truncated != 6)
            resume_ok = 0;
        embed_job_remove(&job, err, sizeof err);
        if (access(p, F_OK) == 0) resume_ok = 0;
    }
    CHECK(resume_ok);
    CHECK(recovered_some && damage_seen);

    /* a flipped byte in a middle chunk: detected, that chunk and what follows recomputed */
    copy_prefix(full, p, size);
    FILE *f = fopen(p, "r+b");
    fseek(f, size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch ^ 1, f);
    fclose(f);
    fake_engine e3 = {0};
    CHECK(embed_job_open(&job, p, &d, 1, NULL, NULL, err, sizeof err) == 0);
    CHECK(job.recovered > 0 && job.recovered < TOTAL && strstr(job.damage, "checksum"));
    CHECK(embed_job_run(&job, fake_compute, &e3, 40, 8.0, err, sizeof err) == 0 && rows_exact(&job.rows, 0, TOTAL));
    CHECK(e3.calls > 0);
    embed_job_close(&job);

    /* another option: refused, naming it */
    job_desc other;
    make_desc(&other, 0, TOTAL, "prompteol");
    CHECK(embed_job_open(&job, p, &other, 1, NULL, NULL, err, sizeof err) != 0);
    CHECKF(strstr(err, "--prompt: the journal has 'none', this run has 'prompteol'") != NULL, "%s", err);
    job_desc_free(&other);
    unlink(p);

    /* a run that fails half way keeps its chunks for --resume */
    fake_engine e4 = {0, 3};
    CHECK(embed_job_open(&job, p, &d, 0, NULL, NULL, err, sizeof err) == 0);
    CHECK(embed_job_run(&job, fake_compute, &e4, 40, 8.0, err, sizeof err) != 0);
    embed_job_close(&job);
    CHECK(embed_job_open(&job, p, &d, 1, NULL, NULL, err, sizeof err) == 0 && job.recovered >= 5 + 13);
    embed_job_remove(&job, err, sizeof err);

    /* shards: 3 parts with ids, finished, read back; a torn part is refused */
    int shards_ok = 1;
    for (int k = 0; k < 3; k++) {
        job_desc sd;
        make_desc(&sd, 0, 0, "none");
        sd.is_shard = 1;
        sd.shard_k = k;
        sd.shard_n = 3;
        shard_range((shard_spec){k, 3}, TOTAL, &sd.first, &sd.end);
        char part[32], jpath[48];
        snprintf(part, sizeof part, "part%d", k);
        snprintf(jpath, sizeof jpath, "part%d.journal", k);
        fake_engine e5 = {0};
        char *jp = strdup(path_in(jpath)), *pp = strdup(path_in(part));
        if (embed_job_open(&job, jp, &sd, 1, (const char *const *)ids + sd.first, lines + sd.first, err, sizeof err) ||
            embed_job_run(&job, fake_compute, &e5, 40, 8.0, err, sizeof err) ||
            embed_job_finish_shard(&job, pp, err, sizeof err))
            shards_ok = 0;
        job_desc rd;
        job_rows rr;
        if (job_read_shard(pp, &rd, &rr, err, sizeof err) || rd.shard_k != k || rd.shard_n != 3 ||
            rd.first != sd.first || !rows_exact(&rr, sd.first, sd.end - sd.first) || !rr.ids ||
            strcmp(rr.ids[0], ids[sd.first]) || job_desc_differ(&rd, &sd, "a", "b", err, sizeof err) ||
            strcmp(job_desc_get(&rd, "model_path"), "m.gguf") || (rr.truncated && rr.truncated_lines[0] != 2 * rr.truncated_rows[0] + 1))
            shards_ok = 0;
        job_rows_free(&rr, rd.end - rd.first);
        job_desc_free(&rd);
        if (k == 2) {
            long n = file_size(pp);
            copy_prefix(pp, jp, n - 30);
            CHECK(job_read_shard(jp, &rd, &rr, err, sizeof err) != 0 && strstr(err, "damaged shard"));
            copy_prefix(pp, jp, n - 24 - 24);   /* without its END chunk */
            CHECK(job_read_shard(jp, &rd, &rr, err, sizeof err) != 0 && strstr(err, "unfinished"));
            unlink(jp);
        }
        free(jp);
        free(pp);
        job_desc_free(&sd);
    }
    CHECK(shards_ok);
    for (int i = 0; i < TOTAL; i++) free(ids[i]);
    job_desc_free(&d);
    unlink(full);
    free(full);
    free(p);
    for (int k = 0; k < 3; k++) {
        char part[32];
        snprintf(part, sizeof part, "part%d", k);
        unlink(path_in(part));
    }
}

int main(void) {
    /* in memory where there is a tmpfs: thousands of fdatasync calls cost nothing there */
    snprintf(dir, sizeof dir, "%s/moee-journal-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return 1;
    test_journal();
    test_shards();
    test_jobs();
    unlink(path_in("a.journal"));
    unlink(path_in("cut.journal"));
    rmdir(dir);
    return test_summary("tools_journal");
}
