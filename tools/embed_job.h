/* embed_job.h: embedding a range of records through a journal, so that a run can be
 * interrupted and resumed, or split into shards and merged.
 *
 * Why this works: every raw (unstandardized) HS / RW row depends only on its own
 * record, the model and the options, never on which records share its engine call.
 * So a job computes its records in chunks of consecutive records, one engine call
 * each, and appends each chunk's raw rows to the journal (journal.h) before going
 * on. Standardization and the kinds need every row, so they run once, at the end,
 * over all raw rows: after the last chunk of a run, or in `moee merge` over all shards.
 *
 * The journal's first chunk is a JSON header describing the job:
 *   {"moee_job": 1, "role": "journal" | "shard",
 *    "check": {NAME: VALUE, ...},   every fact the rows depend on (model and input
 *                                   fingerprints, each output-affecting option),
 *                                   compared on --resume and by merge
 *    "info": {NAME: VALUE, ...},    facts that are not checked
 *    "args": [ARG, ...],            a shard's options (all but -o, --shard, -t, ...), which merge replays
 *    "shard": [K, N], "records": [FIRST, END, TOTAL], "dims": [HS, RW]}
 * then one ROWS chunk per group of records:
 *   u64 first, u64 count, u64 tokens, u64 truncated,
 *   per truncated record: u64 index, u64 input line,
 *   per record: u32 id length + id bytes (the record's id as JSON; 0xFFFFFFFF = none),
 *   f32 hs[count][HS], f32 rw[count][RW]   (little-endian)
 * and, when the job is done (shards only), an END chunk: u64 texts, tokens, truncated.
 * A finished shard is its journal renamed to the shard's name. */
#ifndef MOEE_EMBED_JOB_H
#define MOEE_EMBED_JOB_H
#include <stddef.h>
#include <stdint.h>
#include "tools/journal.h"

enum { JOB_CHUNK_HEADER = 1, JOB_CHUNK_ROWS = 2, JOB_CHUNK_END = 3 };
#define JOB_MAX_FIELDS 64

typedef struct { char *name, *value; } job_field;

/* What a job is: built by the caller (job_desc_add), or read from a header. */
typedef struct {
    job_field check[JOB_MAX_FIELDS]; int n_check;
    job_field info[JOB_MAX_FIELDS]; int n_info;
    char **args; int n_args;       /* a shard's `moee embed` options, which merge replays */
    int is_shard;
    int64_t shard_k, shard_n;
    int64_t first, end, total;     /* this job's records [first, end) of total */
    int64_t hs_dim, rw_dim;        /* raw row widths kept (0 = not kept) */
} job_desc;

int job_desc_add(job_desc *d, int check, const char *name, const char *value);
int job_desc_add_arg(job_desc *d, const char *arg);
/* The value of the first field called name, checked or not; NULL if absent. */
const char *job_desc_get(const job_desc *d, const char *name);
void job_desc_free(job_desc *d);

/* The first difference between two descriptions' checked facts (or shard, records,
 * dims), as "NAME: VALUE_A vs VALUE_B" phrased with the labels given; 0 if equal. */
int job_desc_differ(const job_desc *a, const job_desc *b, const char *label_a, const char *label_b,
                    char *msg, size_t msg_size);

/* The rows of a job's records, in record order (row r of [first, end) at index r - first). */
typedef struct {
    float *hs, *rw;                /* [end-first][hs_dim], [end-first][rw_dim] (NULL when not kept) */
    char **ids;                    /* [end-first] id JSON or NULL; NULL when no record has one */
    int64_t *lines;                /* [end-first] input line of each record, or NULL (not kept) */
    int64_t done;                  /* records [first, first + done) are filled */
    int64_t tokens, truncated;     /* counts over the done records */
    int64_t *truncated_rows;       /* [truncated] record indices (absolute), in order */
    int64_t *truncated_lines;      /* [truncated] their input lines */
} job_rows;

/* A running job: its journal and rows. */
typedef struct {
    journal j;
    job_desc desc;
    job_rows rows;
    int64_t recovered;             /* records found in the journal when it was opened */
    char damage[256];              /* why reading the journal stopped early ("" if it did not) */
} embed_job;

/* Opens journal_path for desc (copied). With resume and an existing journal: checks
 * that it describes the same job (else an error naming the difference) and takes
 * its rows (up to the first damaged chunk, which is cut off and computed again).
 * Otherwise a new journal; an existing one without resume is an error that says
 * so. ids: the records' ids as JSON ([desc->end - desc->first], entries may be NULL),
 * or NULL; lines: their input lines, or NULL; both are copied, and written with the
 * rows (lines for the truncated records only) for merge to report. */
int embed_job_open(embed_job *job, const char *journal_path, const job_desc *desc, int resume,
                   const char *const *ids, const int64_t *lines, char *err, size_t err_size);

/* Computes records [first, first + count) (absolute indices) into hs / rw
 * ([count][dim]): *tokens = their tokens, truncated_rows[0 .. *truncated) = the
 * absolute indices of those truncated, in order. */
typedef int (*job_compute_fn)(void *user, int64_t first, int64_t count, float *hs, float *rw, int64_t *tokens,
                              int64_t *truncated_rows, int64_t *truncated, char *err, size_t err_size);

/* Computes every record not done yet, in chunks of about chunk_tokens tokens
 * (estimated from the tokens per record seen so far, at first from guess_tokens
 * per record), appending each to the journal as soon as it is computed. */
int embed_job_run(embed_job *job, job_compute_fn compute, void *user, int64_t chunk_tokens,
                  double guess_tokens, char *err, size_t err_size);

/* A shard: appends the END chunk and renames the journal to final_path. */
int embed_job_finish_shard(embed_job *job, const char *final_path, char *err, size_t err_size);
/* Removes the journal (the output it fed is safely written). */
int embed_job_remove(embed_job *job, char *err, size_t err_size);
/* Closes without removing (the run failed after computing: keep the work). */
void embed_job_close(embed_job *job);

/* A finished shard file: its description and rows; rows->hs / rw / ids are allocated
 * here for the shard's records. A damaged or unfinished file is an error. */
int job_read_shard(const char *path, job_desc *desc, job_rows *rows, char *err, size_t err_size);
void job_rows_free(job_rows *rows, int64_t n);

#endif
