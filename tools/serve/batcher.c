/* batcher.c: the queue and the batcher thread (see batcher.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/serve/batcher.h"

static int compatible(const batch_job *a, const batch_job *b) {
    return a->in.ids == b->in.ids && a->in.truncate == b->in.truncate;
}

static double ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)(t.tv_sec - t0->tv_sec) + 1e-6 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* Tokens of the jobs that would join the head's batch. */
static int64_t packable_tokens(const batcher *b) {
    int64_t sum = 0;
    for (const batch_job *j = b->head; j && sum < b->max_tokens; j = j->next)
        if (compatible(j, b->head)) sum += j->tokens;
    return sum;
}

/* Runs one job alone, straight into its own rows. */
static void run_alone(batcher *b, batch_job *j) {
    j->err[0] = 0;
    if (b->engine.embed(b->engine.user, &j->in, j->out, j->err, sizeof j->err)) {
        j->failed = 1;
        if (!j->err[0]) snprintf(j->err, sizeof j->err, "the engine failed");
    } else if (b->metrics) {
        metrics_batch(b->metrics, j->in.n, j->tokens);
    }
}

/* One engine call for the jobs of the list (all compatible). */
static void run_batch(batcher *b, batch_job *list, int n_jobs) {
    if (n_jobs == 1) { run_alone(b, list); return; }
    int64_t n = 0, tokens = 0, dim = b->engine.dim;
    for (batch_job *j = list; j; j = j->next) n += j->in.n, tokens += j->tokens;
    serve_inputs in = list->in;
    in.n = n;
    const void **ptrs = malloc((size_t)n * sizeof *ptrs);
    int64_t *id_lens = malloc((size_t)n * sizeof *id_lens);
    size_t *text_lens = malloc((size_t)n * sizeof *text_lens);
    float *out = malloc((size_t)(n * dim) * sizeof *out);
    char err[512];
    int ok = ptrs && id_lens && text_lens && out;
    if (ok) {
        int64_t k = 0;
        for (batch_job *j = list; j; j = j->next)
            for (int64_t i = 0; i < j->in.n; i++, k++) {
                ptrs[k] = in.ids ? (const void *)j->in.id_seqs[i] : (const void *)j->in.texts[i];
                id_lens[k] = in.ids ? j->in.id_lens[i] : 0;
                text_lens[k] = in.ids ? 0 : j->in.lens[i];
            }
        if (in.ids) { in.id_seqs = (const int32_t *const *)ptrs; in.id_lens = id_lens; }
        else { in.texts = (const char *const *)ptrs; in.lens = text_lens; }
        ok = b->engine.embed(b->engine.user, &in, out, err, sizeof err) == 0;
    }
    if (ok) {
        int64_t k = 0;
        for (batch_job *j = list; j; j = j->next) {
            memcpy(j->out, out + k * dim, (size_t)(j->in.n * dim) * sizeof *out);
            k += j->in.n;
        }
        if (b->metrics) metrics_batch(b->metrics, n, tokens);
    } else {
        for (batch_job *j = list; j; j = j->next) run_alone(b, j);   /* whose input was it? */
    }
    free(ptrs);
    free(id_lens);
    free(text_lens);
    free(out);
}

static void *batcher_main(void *arg) {
    batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stop) pthread_cond_wait(&b->work, &b->mu);
        if (!b->head) break;
        /* wait for more work to fill the batch, at most max_wait_ms after the oldest job came */
        while (!b->stop && packable_tokens(b) < b->max_tokens) {
            double left = b->max_wait_ms - ms_since(&b->head->queued_at);
            if (left <= 0) break;
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            long long ns = until.tv_nsec + (long long)(left * 1e6);
            until.tv_sec += (time_t)(ns / 1000000000);
            until.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&b->work, &b->mu, &until);
        }
        /* take the head and every later compatible job that fits */
        batch_job *first = b->head, *list = NULL, **tail = &list, **link = &b->head;
        int64_t tokens = 0;
        int n_jobs = 0;
        b->tail = NULL;
        for (batch_job *j = b->head, *next; j; j = next) {
            next = j->next;
            if (compatible(j, first) && (n_jobs == 0 || tokens + j->tokens <= b->max_tokens)) {
                *link = next;
                j->next = NULL;
                *tail = j;
                tail = &j->next;
                tokens += j->tokens;
                n_jobs++;
            } else {
                link = &j->next;
                b->tail = j;
            }
        }
        b->queued -= n_jobs;
        b->running += n_jobs;
        pthread_mutex_unlock(&b->mu);

        run_batch(b, list, n_jobs);

        pthread_mutex_lock(&b->mu);
        for (batch_job *j = list, *next; j; j = next) {
            next = j->next;
            j->next = NULL;
            j->done = 1;
        }
        b->running -= n_jobs;
        pthread_cond_broadcast(&b->done);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int batcher_start(batcher *b, serve_engine engine, int64_t max_tokens, int max_wait_ms, int capacity,
                  serve_metrics *metrics, char *err, size_t err_size) {
    memset(b, 0, sizeof *b);
    b->engine = engine;
    b->max_tokens = max_tokens;
    b->max_wait_ms = max_wait_ms;
    b->capacity = capacity;
    b->metrics = metrics;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, &attr);
    pthread_cond_init(&b->done, NULL);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&b->thread, NULL, batcher_main, b);
    if (rc) {
        snprintf(err, err_size, "cannot start the batcher thread: %s", strerror(rc));
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->work);
        pthread_cond_destroy(&b->done);
        return -1;
    }
    return 0;
}

int batcher_submit(batcher *b, batch_job *job) {
    job->next = NULL;
    job->done = job->failed = 0;
    job->err[0] = 0;
    clock_gettime(CLOCK_MONOTONIC, &job->queued_at);
    pthread_mutex_lock(&b->mu);
    int rc = b->stop ? 2 : b->queued + b->running >= b->capacity ? 1 : 0;
    if (rc == 0) {
        if (b->tail) b->tail->next = job;
        else b->head = job;
        b->tail = job;
        b->queued++;
        pthread_cond_signal(&b->work);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void batcher_wait(batcher *b, batch_job *job) {
    pthread_mutex_lock(&b->mu);
    while (!job->done) pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

void batcher_depth(batcher *b, int *queued, int *running) {
    pthread_mutex_lock(&b->mu);
    *queued = b->queued;
    *running = b->running;
    pthread_mutex_unlock(&b->mu);
}

void batcher_stop(batcher *b) {
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
}
