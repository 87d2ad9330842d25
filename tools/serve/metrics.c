/* metrics.c: counters behind one mutex, written as Prometheus text (see metrics.h). */
#include <inttypes.h>
#include <string.h>
#include "tools/serve/metrics.h"

const char *const serve_route_names[N_ROUTES] = {"/v1/embeddings", "/embed", "/health", "/info", "/v1/models",
                                                 "/metrics", "other"};

/* The statuses the server answers with; the last slot counts any other. */
static const int statuses[METRICS_N_STATUS] = {200, 400, 401, 404, 405, 408, 413, 414, 415, 429, 431, 500, 501,
                                               503, 505, 0};
static const double latency_bounds[METRICS_N_LATENCY - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const int batch_bounds[METRICS_N_BATCH - 1] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

void metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void metrics_destroy(serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

static int status_index(int status) {
    for (int i = 0; i < METRICS_N_STATUS - 1; i++)
        if (statuses[i] == status) return i;
    return METRICS_N_STATUS - 1;
}

void metrics_request(serve_metrics *m, serve_route route, int status, double seconds) {
    pthread_mutex_lock(&m->mu);
    m->requests[route][status_index(status)]++;
    if (route == ROUTE_EMBEDDINGS || route == ROUTE_EMBED) {
        int b = 0;
        while (b < METRICS_N_LATENCY - 1 && seconds > latency_bounds[b]) b++;
        m->latency[b]++;
        m->latency_sum += seconds;
        m->latency_count++;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_batch(serve_metrics *m, int64_t texts, int64_t tokens) {
    pthread_mutex_lock(&m->mu);
    int b = 0;
    while (b < METRICS_N_BATCH - 1 && texts > batch_bounds[b]) b++;
    m->batch_texts[b]++;
    m->batch_texts_sum += (uint64_t)texts;
    m->batches++;
    m->texts += (uint64_t)texts;
    m->tokens += (uint64_t)tokens;
    pthread_mutex_unlock(&m->mu);
}

void metrics_write(FILE *f, serve_metrics *m, int queued_requests, int running_requests) {
    pthread_mutex_lock(&m->mu);
    fputs("# HELP moee_requests_total HTTP requests answered, by route and status.\n"
          "# TYPE moee_requests_total counter\n", f);
    for (int r = 0; r < N_ROUTES; r++)
        for (int s = 0; s < METRICS_N_STATUS; s++)
            if (m->requests[r][s])
                fprintf(f, "moee_requests_total{route=\"%s\",status=\"%s%.0d\"} %" PRIu64 "\n", serve_route_names[r],
                        statuses[s] ? "" : "other", statuses[s], m->requests[r][s]);
    fprintf(f, "# HELP moee_texts_total Inputs embedded.\n# TYPE moee_texts_total counter\nmoee_texts_total %" PRIu64 "\n",
            m->texts);
    fprintf(f, "# HELP moee_tokens_total Tokens run through the model, prompts included.\n"
               "# TYPE moee_tokens_total counter\nmoee_tokens_total %" PRIu64 "\n", m->tokens);
    fputs("# HELP moee_batch_texts Inputs per engine call (texts of several requests packed together).\n"
          "# TYPE moee_batch_texts histogram\n", f);
    uint64_t cum = 0;
    for (int b = 0; b < METRICS_N_BATCH; b++) {
        cum += m->batch_texts[b];
        if (b < METRICS_N_BATCH - 1) fprintf(f, "moee_batch_texts_bucket{le=\"%d\"} %" PRIu64 "\n", batch_bounds[b], cum);
        else fprintf(f, "moee_batch_texts_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    fprintf(f, "moee_batch_texts_sum %" PRIu64 "\nmoee_batch_texts_count %" PRIu64 "\n", m->batch_texts_sum, m->batches);
    fputs("# HELP moee_request_duration_seconds Time from an embedding request's arrival to its answer.\n"
          "# TYPE moee_request_duration_seconds histogram\n", f);
    cum = 0;
    for (int b = 0; b < METRICS_N_LATENCY; b++) {
        cum += m->latency[b];
        if (b < METRICS_N_LATENCY - 1)
            fprintf(f, "moee_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", latency_bounds[b], cum);
        else fprintf(f, "moee_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    fprintf(f, "moee_request_duration_seconds_sum %.6f\nmoee_request_duration_seconds_count %" PRIu64 "\n",
            m->latency_sum, m->latency_count);
    pthread_mutex_unlock(&m->mu);
    fprintf(f, "# HELP moee_queue_depth Embedding requests waiting for the engine.\n# TYPE moee_queue_depth gauge\n"
               "moee_queue_depth %d\n", queued_requests);
    fprintf(f, "# HELP moee_requests_running Embedding requests in the engine now.\n# TYPE moee_requests_running gauge\n"
               "moee_requests_running %d\n", running_requests);
}
