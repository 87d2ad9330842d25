/* team.h: a persistent team of worker threads that share out independent work items.
 *
 *   moee_team *t; moee_team_create(2, &t);
 *   moee_team_for(t, n_items, grain, task, arg);   // task(arg, begin, end, thread) over [0, n_items)
 *   moee_team_free(t);
 *
 * The caller is thread 0 and always works too; the team's other threads join a call
 * when they are awake. Items are claimed from a shared counter, a share of what is
 * left at a time (in whole grains, down to one grain at the end), so a thread that
 * lost its core (a busy machine) simply claims fewer, and a call never
 * waits for a worker that has not started on it: with the machine full, a team of 2
 * is never much slower than a team of 1. Between calls a worker spins briefly (a few
 * tens of microseconds, enough to catch the next call of a forward pass) and then
 * sleeps on a condition variable: an idle team costs no CPU.
 *
 * Which thread runs an item must never change a result: tasks write disjoint outputs,
 * computed by operations that do not depend on the thread (every kernel's promise).
 * `thread` (0..size-1) only selects per-thread scratch memory.
 *
 * A team serves one caller at a time (it belongs to one moee_context); several teams
 * may run at once. NULL stands for a team of one: the caller does everything. */
#ifndef MOEE_KERNELS_TEAM_H
#define MOEE_KERNELS_TEAM_H
#include <stdint.h>

typedef struct moee_team moee_team;

typedef void (*moee_team_task)(void *arg, int64_t begin, int64_t end, int thread);

/* Starts n_threads - 1 workers (n_threads >= 1). 0 on success, -1 if the threads or
 * memory could not be had. */
int moee_team_create(int n_threads, moee_team **out);
void moee_team_free(moee_team *t);
/* Threads of the team, the caller included (1 for NULL). */
int moee_team_size(const moee_team *t);

/* Runs task over [0, n_items) in pieces that start at multiples of `grain` (and are
 * whole grains but for the last), each item exactly once, on the team's threads;
 * returns when every item is done. */
void moee_team_for(moee_team *t, int64_t n_items, int64_t grain, moee_team_task task, void *arg);

#endif
