/* metrics.h: what /metrics reports, in Prometheus' text format: requests by route
 * and status, texts and tokens embedded, forward batches and their sizes, the
 * latency of embedding requests, and (given when written) the queue depth. */
#ifndef MOEE_SERVE_METRICS_H
#define MOEE_SERVE_METRICS_H
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { ROUTE_EMBEDDINGS, ROUTE_EMBED, ROUTE_HEALTH, ROUTE_INFO, ROUTE_MODELS, ROUTE_METRICS,
               ROUTE_OTHER, N_ROUTES } serve_route;
extern const char *const serve_route_names[N_ROUTES];   /* "/v1/embeddings", ..., "other" */

#define METRICS_N_STATUS 16
#define METRICS_N_LATENCY 12
#define METRICS_N_BATCH 11

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[N_ROUTES][METRICS_N_STATUS];   /* by metrics_status_index */
    uint64_t texts, tokens, batches;
    uint64_t batch_texts[METRICS_N_BATCH];           /* cumulative later; counts per bucket here */
    uint64_t batch_texts_sum;
    uint64_t latency[METRICS_N_LATENCY];
    double latency_sum;
    uint64_t latency_count;
} serve_metrics;

void metrics_init(serve_metrics *m);
void metrics_destroy(serve_metrics *m);
/* One answered request; seconds from its arrival to its answer. */
void metrics_request(serve_metrics *m, serve_route route, int status, double seconds);
/* One forward batch of texts texts and tokens tokens. */
void metrics_batch(serve_metrics *m, int64_t texts, int64_t tokens);
void metrics_write(FILE *out, serve_metrics *m, int queued_requests, int running_requests);
#endif
