/* team.c: the worker team of team.h, on POSIX threads.
 *
 * One job at a time is open: a generation number, the task, and a shared counter of
 * claimed items. The caller publishes the job, claims items like any worker, then
 * closes the job (no worker may join it afterwards) and waits only for the workers
 * that joined it while it was open. A worker that was asleep or descheduled while the
 * job ran never holds the caller up: it wakes later, sees the job closed, and goes
 * back to waiting.
 *
 * Waiting, on both sides, is a short spin (SPIN_NS) on an atomic variable, then a
 * condition variable: fast hand-offs between the many small jobs of a forward pass
 * on an idle machine, no burnt cores on a busy one or between calls. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "kernels/team.h"

/* How long a thread spins before it sleeps: long enough to span the gap between two
 * jobs of one forward pass (a few microseconds of serial work), short enough that an
 * idle or descheduled team costs next to nothing. */
#define SPIN_NS 50000

struct moee_team {
    int n_threads;
    pthread_t *threads;        /* [n_threads - 1] workers */
    pthread_mutex_t lock;
    pthread_cond_t wake;       /* workers: a new job (or quit) */
    pthread_cond_t done;       /* caller: the last joined worker left */

    /* the open job; written under lock before `generation` is bumped */
    moee_team_task task;
    void *arg;
    int64_t n_items, grain;
    _Atomic int64_t next;      /* first unclaimed item */
    _Atomic uint64_t generation;
    int closed;                /* (under lock) no worker may join the current job */
    _Atomic int active;        /* workers inside the current job */
    int caller_waiting;        /* (under lock) the caller sleeps on `done` */
    int quit;                  /* (under lock) workers exit */
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims and runs items of the open job until none are left. A claim is
 * 1 / (GUIDED_SHARE x threads) of what is left, in whole grains, shrinking to one
 * grain at the end: long runs of consecutive items for a thread (a matmul's kernels
 * prefetch the weight rows of their next tile, so only the first tile of a claim is
 * read cold: OLMoE and Qwen1.5-MoE Q4_0 2-6% faster than claims of one grain), and
 * small claims at the end, where the threads must finish together. */
#define GUIDED_SHARE 4
static void work(moee_team *t, int thread) {
    const int64_t n = t->n_items, grain = t->grain, share = GUIDED_SHARE * (int64_t)t->n_threads;
    for (;;) {
        int64_t begin = atomic_load_explicit(&t->next, memory_order_relaxed), size;
        do {
            if (begin >= n) return;
            size = (n - begin) / share / grain * grain;
            if (size < grain) size = grain;
        } while (!atomic_compare_exchange_weak_explicit(&t->next, &begin, begin + size, memory_order_relaxed,
                                                        memory_order_relaxed));
        t->task(t->arg, begin, begin + size < n ? begin + size : n, thread);
    }
}

typedef struct { moee_team *team; int thread; } worker_arg;

static void *worker(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    moee_team *t = wa.team;
    uint64_t seen = 0;
    for (;;) {
        /* wait for a generation other than the last one seen: spin, then sleep */
        int64_t spin_end = now_ns() + SPIN_NS;
        for (int i = 1; atomic_load_explicit(&t->generation, memory_order_acquire) == seen; i++) {
            cpu_relax();
            if (i % 64 == 0 && now_ns() > spin_end) break;
        }
        pthread_mutex_lock(&t->lock);
        while (atomic_load(&t->generation) == seen && !t->quit) pthread_cond_wait(&t->wake, &t->lock);
        if (t->quit) {
            pthread_mutex_unlock(&t->lock);
            return NULL;
        }
        seen = atomic_load(&t->generation);
        if (t->closed) {   /* woke too late for this job */
            pthread_mutex_unlock(&t->lock);
            continue;
        }
        atomic_fetch_add(&t->active, 1);
        pthread_mutex_unlock(&t->lock);

        work(t, wa.thread);

        if (atomic_fetch_sub(&t->active, 1) == 1) {   /* the last one out tells a sleeping caller */
            pthread_mutex_lock(&t->lock);
            if (t->caller_waiting) pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->lock);
        }
    }
}

int moee_team_create(int n_threads, moee_team **out) {
    *out = NULL;
    if (n_threads < 1) return -1;
    moee_team *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->threads = calloc((size_t)n_threads, sizeof *t->threads);
    if (!t->threads || pthread_mutex_init(&t->lock, NULL)) {
        free(t->threads);
        free(t);
        return -1;
    }
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->done, NULL);
    t->n_threads = 1;
    t->closed = 1;
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) break;
        *wa = (worker_arg){t, i};
        if (pthread_create(&t->threads[i - 1], NULL, worker, wa)) {
            free(wa);
            break;
        }
        t->n_threads++;
    }
    if (t->n_threads < n_threads) {
        moee_team_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void moee_team_free(moee_team *t) {
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->quit = 1;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    for (int i = 0; i < t->n_threads - 1; i++) pthread_join(t->threads[i], NULL);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->lock);
    free(t->threads);
    free(t);
}

int moee_team_size(const moee_team *t) { return t ? t->n_threads : 1; }

void moee_team_for(moee_team *t, int64_t n_items, int64_t grain, moee_team_task task, void *arg) {
    if (n_items <= 0) return;
    if (grain < 1) grain = 1;
    if (!t || t->n_threads == 1 || n_items <= grain) {   /* nothing to share */
        for (int64_t b = 0; b < n_items; b += grain) task(arg, b, b + grain < n_items ? b + grain : n_items, 0);
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->task = task;
    t->arg = arg;
    t->n_items = n_items;
    t->grain = grain;
    atomic_store(&t->next, 0);
    t->closed = 0;
    atomic_fetch_add_explicit(&t->generation, 1, memory_order_release);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);

    work(t, 0);

    pthread_mutex_lock(&t->lock);
    t->closed = 1;   /* from here on only the workers already in can be running items */
    pthread_mutex_unlock(&t->lock);
    int64_t spin_end = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load(&t->active) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > spin_end) break;
    }
    if (atomic_load(&t->active) > 0) {
        pthread_mutex_lock(&t->lock);
        t->caller_waiting = 1;
        while (atomic_load(&t->active) > 0) pthread_cond_wait(&t->done, &t->lock);
        t->caller_waiting = 0;
        pthread_mutex_unlock(&t->lock);
    }
}
