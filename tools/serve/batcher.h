/* batcher.h: a queue of embedding requests and one thread that packs the inputs of
 * many requests into one engine call.
 *
 * Connection threads submit jobs (one request's inputs each) and wait; the batcher
 * thread takes the oldest job and every later compatible one (same input type and
 * truncation) up to max_tokens tokens, waiting at most max_wait_ms after the oldest
 * job arrived for more to come, and hands them to the engine as one call. That is
 * correct only because the engine's rows depend on their own input alone (fixed
 * statistics or none, never statistics over the call), which the server
 * guarantees. If a packed call fails, each of its jobs runs again alone, so that
 * one request's bad input fails that request only.
 *
 * The engine is a function pointer (the seam tests replace). */
#ifndef MOEE_SERVE_BATCHER_H
#define MOEE_SERVE_BATCHER_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "tools/serve/metrics.h"

typedef struct {
    int ids;                                /* token-id sequences (run as given) instead of texts */
    int truncate;                           /* a too-long input is truncated (1) or an error (0) */
    const char *const *texts; const size_t *lens;
    const int32_t *const *id_seqs; const int64_t *id_lens;
    int64_t n;
} serve_inputs;

typedef struct {
    void *user;
    int64_t dim;                            /* floats per output row */
    /* rows [in->n][dim] into out; 0 or non-zero with one line in err ("text 3: ...") */
    int (*embed)(void *user, const serve_inputs *in, float *out, char *err, size_t err_size);
} serve_engine;

typedef struct batch_job {
    serve_inputs in;
    int64_t tokens;                         /* what packing counts */
    float *out;                             /* [in.n][dim], the submitter's */
    int failed;                             /* after batcher_wait: the engine refused it, err says why */
    char err[512];
    int done;
    struct timespec queued_at;              /* CLOCK_MONOTONIC */
    struct batch_job *next;
} batch_job;

typedef struct {
    serve_engine engine;
    int64_t max_tokens;
    int max_wait_ms;
    int capacity;                           /* requests queued or running, at most */
    serve_metrics *metrics;                 /* may be NULL */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    batch_job *head, *tail;
    int queued, running;
    int stop;
    pthread_t thread;
} batcher;

int batcher_start(batcher *b, serve_engine engine, int64_t max_tokens, int max_wait_ms, int capacity,
                  serve_metrics *metrics, char *err, size_t err_size);
/* 0: queued; 1: the queue is full (answer 429); 2: the batcher is stopping. */
int batcher_submit(batcher *b, batch_job *job);
/* Blocks until the job has run. */
void batcher_wait(batcher *b, batch_job *job);
/* Requests queued and running now. */
void batcher_depth(batcher *b, int *queued, int *running);
/* Runs everything queued, then ends the thread. */
void batcher_stop(batcher *b);
#endif
