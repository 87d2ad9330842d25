/* cmd_embed.h: the `moee embed` pipeline entered with raw rows computed elsewhere:
 * `moee merge` hands it the rows of all shards, with the shards' own options, so
 * that statistics, kinds, the output and its sidecar come from the very code of a
 * single run (and so are byte-identical to it). */
#ifndef MOEE_CMD_EMBED_H
#define MOEE_CMD_EMBED_H
#include <stdint.h>
#include "tools/embed_job.h"

typedef struct {
    const job_desc *desc;          /* what the shards were: checked against these options and the model */
    int64_t n;                     /* records of the whole input */
    const float *hs, *rw;          /* raw rows [n][desc->hs_dim], [n][desc->rw_dim] */
    char **ids;                    /* [n] id JSON (entries may be NULL), or NULL */
    int64_t tokens, truncated;
    const int64_t *truncated_rows; /* [truncated] record indices, in order */
    const int64_t *truncated_lines;/* [truncated] their input lines */
    double seconds;                /* spent computing them */
} embed_given_rows;

/* argv as `moee embed` takes it (argv[0] the command's name); returns the exit status.
 * The rows stay the caller's. */
int embed_with_rows(int argc, char **argv, const embed_given_rows *given);

#endif
