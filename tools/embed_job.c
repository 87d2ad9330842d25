/* embed_job.c: a range of records computed chunk by chunk through a journal (see embed_job.h). */
#include "tools/embed_job.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "weights/json.h"

#define NO_ID 0xFFFFFFFFu
#define ROWS_FIXED 32          /* first, count, tokens, truncated */

/* ---- descriptions ---------------------------------------------------------------------- */

int job_desc_add(job_desc *d, int check, const char *name, const char *value) {
    job_field *f = check ? d->check : d->info;
    int *n = check ? &d->n_check : &d->n_info;
    if (*n >= JOB_MAX_FIELDS) return -1;
    f[*n].name = strdup(name);
    f[*n].value = strdup(value ? value : "");
    if (!f[*n].name || !f[*n].value) { free(f[*n].name); free(f[*n].value); return -1; }
    (*n)++;
    return 0;
}

int job_desc_add_arg(job_desc *d, const char *arg) {
    char **args = realloc(d->args, (size_t)(d->n_args + 1) * sizeof *args);
    if (!args) return -1;
    d->args = args;
    if (!(args[d->n_args] = strdup(arg))) return -1;
    d->n_args++;
    return 0;
}

const char *job_desc_get(const job_desc *d, const char *name) {
    for (int i = 0; i < d->n_check; i++)
        if (!strcmp(d->check[i].name, name)) return d->check[i].value;
    for (int i = 0; i < d->n_info; i++)
        if (!strcmp(d->info[i].name, name)) return d->info[i].value;
    return NULL;
}

void job_desc_free(job_desc *d) {
    for (int i = 0; i < d->n_check; i++) { free(d->check[i].name); free(d->check[i].value); }
    for (int i = 0; i < d->n_info; i++) { free(d->info[i].name); free(d->info[i].value); }
    for (int i = 0; i < d->n_args; i++) free(d->args[i]);
    free(d->args);
    memset(d, 0, sizeof *d);
}

static int desc_copy(job_desc *to, const job_desc *from) {
    job_desc d = *from;
    d.n_check = d.n_info = d.n_args = 0;
    d.args = NULL;
    for (int i = 0; i < from->n_args; i++)
        if (job_desc_add_arg(&d, from->args[i])) { job_desc_free(&d); return -1; }
    for (int i = 0; i < from->n_check; i++)
        if (job_desc_add(&d, 1, from->check[i].name, from->check[i].value)) { job_desc_free(&d); return -1; }
    for (int i = 0; i < from->n_info; i++)
        if (job_desc_add(&d, 0, from->info[i].name, from->info[i].value)) { job_desc_free(&d); return -1; }
    *to = d;
    return 0;
}

int job_desc_differ(const job_desc *a, const job_desc *b, const char *label_a, const char *label_b,
                    char *msg, size_t msg_size) {
    for (int i = 0; i < a->n_check || i < b->n_check; i++) {
        const job_field *fa = i < a->n_check ? &a->check[i] : NULL, *fb = i < b->n_check ? &b->check[i] : NULL;
        if (fa && fb && !strcmp(fa->name, fb->name) && !strcmp(fa->value, fb->value)) continue;
        const char *name = fa ? fa->name : fb->name;
        const job_field *other = NULL;   /* the same fact on the other side, wherever it is */
        for (int k = 0; k < b->n_check && !other; k++)
            if (!strcmp(b->check[k].name, name)) other = &b->check[k];
        const job_field *mine = fa && !strcmp(fa->name, name) ? fa : NULL;
        if (!mine) for (int k = 0; k < a->n_check && !mine; k++) if (!strcmp(a->check[k].name, name)) mine = &a->check[k];
        snprintf(msg, msg_size, "%s: %s '%s', %s '%s'", name, label_a, mine ? mine->value : "(none)", label_b,
                 other ? other->value : "(none)");
        return 1;
    }
    if (a->is_shard != b->is_shard || a->shard_n != b->shard_n) {
        snprintf(msg, msg_size, "shards: %s %" PRId64 ", %s %" PRId64, label_a, a->is_shard ? a->shard_n : 0,
                 label_b, b->is_shard ? b->shard_n : 0);
        return 1;
    }
    if (a->total != b->total || a->hs_dim != b->hs_dim || a->rw_dim != b->rw_dim) {
        snprintf(msg, msg_size, "records or dimensions: %s %" PRId64 " x (%" PRId64 ", %" PRId64 "), %s %" PRId64
                 " x (%" PRId64 ", %" PRId64 ")", label_a, a->total, a->hs_dim, a->rw_dim, label_b, b->total,
                 b->hs_dim, b->rw_dim);
        return 1;
    }
    return 0;
}

static void write_fields(FILE *f, const job_field *fields, int n) {
    fputc('{', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_write_string(f, fields[i].name, strlen(fields[i].name));
        fputs(": ", f);
        json_write_string(f, fields[i].value, strlen(fields[i].value));
    }
    fputc('}', f);
}

static char *header_json(const job_desc *d, size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f) return NULL;
    fprintf(f, "{\"moee_job\": 1, \"role\": \"%s\", \"check\": ", d->is_shard ? "shard" : "journal");
    write_fields(f, d->check, d->n_check);
    fputs(", \"info\": ", f);
    write_fields(f, d->info, d->n_info);
    fputs(", \"args\": [", f);
    for (int i = 0; i < d->n_args; i++) {
        if (i) fputs(", ", f);
        json_write_string(f, d->args[i], strlen(d->args[i]));
    }
    fputc(']', f);
    fprintf(f, ", \"shard\": [%" PRId64 ", %" PRId64 "], \"records\": [%" PRId64 ", %" PRId64 ", %" PRId64
            "], \"dims\": [%" PRId64 ", %" PRId64 "]}\n", d->is_shard ? d->shard_k : 0, d->is_shard ? d->shard_n : 0,
            d->first, d->end, d->total, d->hs_dim, d->rw_dim);
    if (fclose(f) != 0) { free(text); return NULL; }
    return text;
}

static int read_fields(job_desc *d, int check, const json_value *obj) {
    if (!obj || obj->kind != JSON_OBJECT) return -1;
    for (size_t i = 0; i < obj->u.object.count; i++) {
        const json_member *m = &obj->u.object.members[i];
        if (m->value.kind != JSON_STRING || strlen(m->value.u.string.ptr) != m->value.u.string.len ||
            job_desc_add(d, check, m->key, m->value.u.string.ptr))
            return -1;
    }
    return 0;
}

static int read_args(job_desc *d, const json_value *a) {
    if (!a || a->kind != JSON_ARRAY) return -1;
    for (size_t i = 0; i < a->u.array.count; i++) {
        const json_value *v = json_at(a, i);
        if (v->kind != JSON_STRING || strlen(v->u.string.ptr) != v->u.string.len ||
            job_desc_add_arg(d, v->u.string.ptr))
            return -1;
    }
    return 0;
}

static int get_pair(const json_value *root, const char *key, size_t want, long long *out) {
    const json_value *a = json_get(root, key);
    if (!a || a->kind != JSON_ARRAY || a->u.array.count != want) return -1;
    for (size_t i = 0; i < want; i++)
        if (!json_get_int(json_at(a, i), &out[i]) || out[i] < 0) return -1;
    return 0;
}

/* Parses a HEADER chunk's payload; "not a moee job header" on anything unexpected. */
static int parse_header(const unsigned char *p, uint64_t size, job_desc *d, char *err, size_t err_size) {
    memset(d, 0, sizeof *d);
    char msg[128];
    json_doc *doc = json_parse((const char *)p, (size_t)size, msg, sizeof msg);
    const json_value *root = doc ? json_root(doc) : NULL;
    long long one, shard[2], rec[3], dims[2];
    const char *role;
    size_t role_len;
    int ok = root && json_get_int(json_get(root, "moee_job"), &one) && one == 1 &&
             json_get_string(json_get(root, "role"), &role, &role_len) &&
             !read_fields(d, 1, json_get(root, "check")) && !read_fields(d, 0, json_get(root, "info")) &&
             !read_args(d, json_get(root, "args")) &&
             !get_pair(root, "shard", 2, shard) && !get_pair(root, "records", 3, rec) &&
             !get_pair(root, "dims", 2, dims) && rec[0] <= rec[1] && rec[1] <= rec[2] &&
             dims[0] < (1 << 24) && dims[1] < (1 << 24);
    if (ok) {
        d->is_shard = !strcmp(role, "shard");
        d->shard_k = shard[0];
        d->shard_n = shard[1];
        d->first = rec[0];
        d->end = rec[1];
        d->total = rec[2];
        d->hs_dim = dims[0];
        d->rw_dim = dims[1];
        ok = d->is_shard ? d->shard_k < d->shard_n : !strcmp(role, "journal");
    }
    json_free(doc);
    if (!ok) {
        job_desc_free(d);
        snprintf(err, err_size, "not a moee journal or shard (bad header)");
        return -1;
    }
    return 0;
}

/* ---- rows ------------------------------------------------------------------------------ */

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static int rows_alloc(job_rows *r, const job_desc *d, int with_ids) {
    memset(r, 0, sizeof *r);
    size_t n = (size_t)(d->end - d->first);
    size_t m = n ? n : 1;
    if (d->hs_dim && !(r->hs = malloc(m * (size_t)d->hs_dim * sizeof(float)))) return -1;
    if (d->rw_dim && !(r->rw = malloc(m * (size_t)d->rw_dim * sizeof(float)))) return -1;
    if (with_ids && !(r->ids = calloc(m, sizeof *r->ids))) return -1;
    if (!(r->truncated_rows = malloc(m * sizeof *r->truncated_rows)) ||
        !(r->truncated_lines = calloc(m, sizeof *r->truncated_lines)))
        return -1;
    return 0;
}

void job_rows_free(job_rows *r, int64_t n) {
    if (r->ids)
        for (int64_t i = 0; i < n; i++) free(r->ids[i]);
    free(r->ids);
    free(r->lines);
    free(r->truncated_rows);
    free(r->truncated_lines);
    free(r->hs);
    free(r->rw);
    memset(r, 0, sizeof *r);
}

/* Takes one ROWS chunk that must continue rows (records first + done ...).
 * Returns 0, or -1 with the reason in msg (a chunk that does not fit is damage). */
static int take_rows(const job_desc *d, job_rows *r, const journal_chunk *c, int keep_ids, char *msg, size_t msg_size) {
    const unsigned char *p = c->payload, *end = p + c->size;
    if (c->size < ROWS_FIXED) goto bad;
    uint64_t first = journal_get_u64(p), count = journal_get_u64(p + 8);
    uint64_t tokens = journal_get_u64(p + 16), truncated = journal_get_u64(p + 24);
    if (first != (uint64_t)(d->first + r->done) || count == 0 || count > (uint64_t)(d->end - d->first - r->done) ||
        truncated > count)
        goto bad;
    p += ROWS_FIXED;
    if ((uint64_t)(end - p) / 16 < truncated) goto bad;
    for (uint64_t t = 0; t < truncated; t++, p += 16) {
        uint64_t index = journal_get_u64(p), line = journal_get_u64(p + 8);
        int64_t prev = r->truncated + (int64_t)t > 0 ? r->truncated_rows[r->truncated + (int64_t)t - 1] : -1;
        if (index < first || index >= first + count || (int64_t)index <= prev || line > INT64_MAX) goto bad;
        r->truncated_rows[r->truncated + (int64_t)t] = (int64_t)index;
        r->truncated_lines[r->truncated + (int64_t)t] = (int64_t)line;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 4) goto bad;
        uint32_t len = journal_get_u32(p);
        p += 4;
        if (len == NO_ID) continue;
        if ((uint64_t)(end - p) < len) goto bad;
        if (keep_ids && r->ids) {
            char *id = malloc((size_t)len + 1);
            if (!id) { snprintf(msg, msg_size, "out of memory"); return -1; }
            memcpy(id, p, len);
            id[len] = 0;
            free(r->ids[r->done + (int64_t)i]);
            r->ids[r->done + (int64_t)i] = id;
        }
        p += len;
    }
    uint64_t hs_bytes = count * (uint64_t)d->hs_dim * sizeof(float), rw_bytes = count * (uint64_t)d->rw_dim * sizeof(float);
    if ((uint64_t)(end - p) != hs_bytes + rw_bytes) goto bad;
    if (hs_bytes) memcpy(r->hs + r->done * d->hs_dim, p, (size_t)hs_bytes);
    if (rw_bytes) memcpy(r->rw + r->done * d->rw_dim, p + hs_bytes, (size_t)rw_bytes);
    r->done += (int64_t)count;
    r->tokens += (int64_t)tokens;
    r->truncated += (int64_t)truncated;
    return 0;
bad:
    snprintf(msg, msg_size, "chunk at byte %" PRIu64 " does not fit the job", c->offset);
    return -1;
}

/* Appends records [done, done + count) of the rows (already computed) as one ROWS chunk. */
static int append_rows(embed_job *job, int64_t count, int64_t tokens, int64_t truncated, char *err, size_t err_size) {
    /* the new truncated records are at truncated_rows[r->truncated ...) */
    const job_desc *d = &job->desc;
    job_rows *r = &job->rows;
    unsigned char fixed[ROWS_FIXED];
    journal_put_u64(fixed, (uint64_t)(d->first + r->done));
    journal_put_u64(fixed + 8, (uint64_t)count);
    journal_put_u64(fixed + 16, (uint64_t)tokens);
    journal_put_u64(fixed + 24, (uint64_t)truncated);
    size_t ids_size = 16 * (size_t)truncated + 4 * (size_t)count;
    for (int64_t i = 0; r->ids && i < count; i++)
        if (r->ids[r->done + i]) ids_size += strlen(r->ids[r->done + i]);
    unsigned char *ids = malloc(ids_size), *p = ids;
    if (!ids) { snprintf(err, err_size, "%s: out of memory", job->j.path); return -1; }
    for (int64_t t = r->truncated; t < r->truncated + truncated; t++, p += 16) {
        int64_t index = r->truncated_rows[t];
        r->truncated_lines[t] = r->lines ? r->lines[index - d->first] : 0;
        journal_put_u64(p, (uint64_t)index);
        journal_put_u64(p + 8, (uint64_t)r->truncated_lines[t]);
    }
    for (int64_t i = 0; i < count; i++) {
        const char *id = r->ids ? r->ids[r->done + i] : NULL;
        size_t len = id ? strlen(id) : 0;
        journal_put_u32(p, id ? (uint32_t)len : NO_ID);
        if (len) memcpy(p + 4, id, len);
        p += 4 + len;
    }
    const void *parts[4] = {fixed, ids, r->hs + r->done * d->hs_dim, r->rw + r->done * d->rw_dim};
    size_t sizes[4] = {sizeof fixed, ids_size, (size_t)(count * d->hs_dim) * sizeof(float),
                       (size_t)(count * d->rw_dim) * sizeof(float)};
    int rc = journal_append(&job->j, JOB_CHUNK_ROWS, parts, sizes, 4, err, err_size);
    free(ids);
    return rc;
}

/* ---- a running job ------------------------------------------------------------------------ */

static int write_header(embed_job *job, char *err, size_t err_size) {
    size_t len;
    char *text = header_json(&job->desc, &len);
    if (!text) { snprintf(err, err_size, "%s: out of memory", job->j.path); return -1; }
    const void *parts[1] = {text};
    int rc = journal_append(&job->j, JOB_CHUNK_HEADER, parts, &len, 1, err, err_size);
    free(text);
    return rc;
}

/* Reads an existing journal into job->rows: 0, or -1 for a different job (or an I/O error). */
static int recover(embed_job *job, char *err, size_t err_size) {
    journal_chunk c;
    char why[256];
    int got = journal_read(&job->j, &c, why, sizeof why);
    if (got <= 0) {   /* killed before its header was on disk: an empty journal */
        job->j.end = 0;
        return journal_cut(&job->j, err, err_size) || write_header(job, err, err_size);
    }
    job_desc theirs;
    int bad = c.type != JOB_CHUNK_HEADER || parse_header(c.payload, c.size, &theirs, why, sizeof why);
    journal_chunk_free(&c);
    if (bad) {
        snprintf(err, err_size, "%s: not a moee journal (delete it to start over)", job->j.path);
        return -1;
    }
    char diff[768];
    int differs = job_desc_differ(&theirs, &job->desc, "the journal has", "this run has", diff, sizeof diff) ||
                  (theirs.first != job->desc.first || theirs.end != job->desc.end
                   ? (snprintf(diff, sizeof diff, "records: the journal has %" PRId64 "..%" PRId64 ", this run %"
                               PRId64 "..%" PRId64, theirs.first, theirs.end, job->desc.first, job->desc.end), 1)
                   : 0);
    job_desc_free(&theirs);
    if (differs) {
        snprintf(err, err_size, "%s was made by a different run, so it cannot be resumed: %s "
                 "(run the same command, or delete the journal to start over)", job->j.path, diff);
        return -1;
    }
    int64_t n = job->desc.end - job->desc.first;
    while ((got = journal_read(&job->j, &c, why, sizeof why)) == 1) {
        uint64_t at = c.offset;
        uint32_t type = c.type;
        int fits = type == JOB_CHUNK_ROWS ? !take_rows(&job->desc, &job->rows, &c, 0, why, sizeof why)
                 : type == JOB_CHUNK_END && job->rows.done == n && c.size == 24;
        journal_chunk_free(&c);
        if (!fits) {
            if (type != JOB_CHUNK_ROWS) snprintf(why, sizeof why, "chunk at byte %" PRIu64 " does not fit the job", at);
            job->j.end = at;
            got = -1;
            break;
        }
    }
    if (got < 0) {
        snprintf(job->damage, sizeof job->damage, "%s", why);
        if (journal_cut(&job->j, err, err_size)) return -1;
    }
    job->recovered = job->rows.done;
    return 0;
}

int embed_job_open(embed_job *job, const char *journal_path, const job_desc *desc, int resume,
                   const char *const *ids, const int64_t *lines, char *err, size_t err_size) {
    memset(job, 0, sizeof *job);
    job->j.fd = -1;
    if (!host_is_little_endian()) {
        snprintf(err, err_size, "%s: journals and shards are written on little-endian machines only", journal_path);
        return -1;
    }
    int64_t n = desc->end - desc->first;
    if (desc_copy(&job->desc, desc) || rows_alloc(&job->rows, desc, ids != NULL)) {
        snprintf(err, err_size, "%s: out of memory for %" PRId64 " records", journal_path, n);
        goto fail;
    }
    for (int64_t i = 0; ids && i < n; i++)
        if (ids[i] && !(job->rows.ids[i] = strdup(ids[i]))) {
            snprintf(err, err_size, "%s: out of memory", journal_path);
            goto fail;
        }
    if (lines) {
        if (!(job->rows.lines = malloc((size_t)(n > 0 ? n : 1) * sizeof *lines))) {
            snprintf(err, err_size, "%s: out of memory", journal_path);
            goto fail;
        }
        memcpy(job->rows.lines, lines, (size_t)n * sizeof *lines);
    }
    if (resume) {
        if (journal_open(&job->j, journal_path, 1, err, err_size) == 0) {
            if (recover(job, err, err_size)) goto fail;
            return 0;
        }
        if (errno != ENOENT) goto fail;
    }
    if (journal_create(&job->j, journal_path, err, err_size)) {
        if (errno == EEXIST)
            snprintf(err, err_size, "%s exists: an earlier run of this output was interrupted; add --resume to "
                     "continue it, or delete the journal to start over", journal_path);
        goto fail;
    }
    if (write_header(job, err, err_size)) {
        char ignored[256];
        journal_remove(&job->j, ignored, sizeof ignored);
        goto fail;
    }
    return 0;
fail:
    journal_close(&job->j);
    job_rows_free(&job->rows, n);
    job_desc_free(&job->desc);
    return -1;
}

int embed_job_run(embed_job *job, job_compute_fn compute, void *user, int64_t chunk_tokens, double guess_tokens,
                  char *err, size_t err_size) {
    const job_desc *d = &job->desc;
    job_rows *r = &job->rows;
    int64_t n = d->end - d->first;
    int64_t seen_texts = 0, seen_tokens = 0;
    while (r->done < n) {
        /* about chunk_tokens tokens per chunk, from the tokens per record seen so far */
        double per_record = seen_tokens > 0 ? (double)seen_tokens / (double)seen_texts : guess_tokens;
        int64_t count = (int64_t)((double)chunk_tokens / (per_record > 1 ? per_record : 1));
        if (count < 1) count = 1;
        if (count > 65536) count = 65536;
        if (count > n - r->done) count = n - r->done;
        int64_t tokens = 0, truncated = 0;
        if (compute(user, d->first + r->done, count, r->hs ? r->hs + r->done * d->hs_dim : NULL,
                    r->rw ? r->rw + r->done * d->rw_dim : NULL, &tokens, r->truncated_rows + r->truncated, &truncated,
                    err, err_size))
            return -1;
        if (append_rows(job, count, tokens, truncated, err, err_size)) return -1;
        r->done += count;
        r->tokens += tokens;
        r->truncated += truncated;
        seen_texts += count;
        seen_tokens += tokens;
    }
    return 0;
}

int embed_job_finish_shard(embed_job *job, const char *final_path, char *err, size_t err_size) {
    unsigned char end[24];
    journal_put_u64(end, (uint64_t)job->rows.done);
    journal_put_u64(end + 8, (uint64_t)job->rows.tokens);
    journal_put_u64(end + 16, (uint64_t)job->rows.truncated);
    const void *parts[1] = {end};
    size_t size = sizeof end;
    journal_chunk c;
    char why[256];
    /* an END chunk already there: the run was killed between writing it and the rename */
    uint64_t at = job->j.end;
    int has_end = 0;
    if (at >= JOURNAL_CHUNK_HEADER + size) {
        job->j.end = at - JOURNAL_CHUNK_HEADER - size;
        has_end = journal_read(&job->j, &c, why, sizeof why) == 1 && c.type == JOB_CHUNK_END;
        if (c.payload) journal_chunk_free(&c);
        job->j.end = at;
    }
    if (!has_end && journal_append(&job->j, JOB_CHUNK_END, parts, &size, 1, err, err_size)) return -1;
    struct stat st;
    if (stat(final_path, &st) == 0 && !S_ISREG(st.st_mode)) {   /* never rename over a device */
        snprintf(err, err_size, "%s: not a regular file", final_path);
        return -1;
    }
    if (rename(job->j.path, final_path) != 0) {
        snprintf(err, err_size, "%s: cannot rename to %s: %s", job->j.path, final_path, strerror(errno));
        return -1;
    }
    embed_job_close(job);
    return 0;
}

int embed_job_remove(embed_job *job, char *err, size_t err_size) {
    int64_t n = job->desc.end - job->desc.first;
    int rc = journal_remove(&job->j, err, err_size);
    job_rows_free(&job->rows, n);
    job_desc_free(&job->desc);
    return rc;
}

void embed_job_close(embed_job *job) {
    int64_t n = job->desc.end - job->desc.first;
    journal_close(&job->j);
    job_rows_free(&job->rows, n);
    job_desc_free(&job->desc);
}

/* ---- finished shards ------------------------------------------------------------------------ */

int job_read_shard(const char *path, job_desc *desc, job_rows *rows, char *err, size_t err_size) {
    memset(desc, 0, sizeof *desc);
    memset(rows, 0, sizeof *rows);
    journal j;
    if (journal_open(&j, path, 0, err, err_size)) return -1;
    journal_chunk c;
    char why[256] = "";
    int got = journal_read(&j, &c, why, sizeof why);
    int bad = got != 1 || c.type != JOB_CHUNK_HEADER || parse_header(c.payload, c.size, desc, why, sizeof why);
    if (got == 1) journal_chunk_free(&c);
    if (bad || !desc->is_shard) {
        snprintf(err, err_size, "%s: not a moee shard%s%s", path, why[0] ? ": " : "", why);
        if (!bad) job_desc_free(desc);
        journal_close(&j);
        return -1;
    }
    int64_t n = desc->end - desc->first;
    int ended = 0;
    if (rows_alloc(rows, desc, 1)) {
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    while (!ended && (got = journal_read(&j, &c, why, sizeof why)) == 1) {
        int fits = c.type == JOB_CHUNK_ROWS ? !take_rows(desc, rows, &c, 1, why, sizeof why)
                 : c.type == JOB_CHUNK_END && c.size == 24 && rows->done == n &&
                   journal_get_u64(c.payload) == (uint64_t)n && journal_get_u64(c.payload + 8) == (uint64_t)rows->tokens &&
                   journal_get_u64(c.payload + 16) == (uint64_t)rows->truncated;
        if (!fits && c.type != JOB_CHUNK_ROWS)
            snprintf(why, sizeof why, "chunk at byte %" PRIu64 " does not fit the shard", c.offset);
        ended = fits && c.type == JOB_CHUNK_END;
        journal_chunk_free(&c);
        if (!fits) goto fail;
    }
    if (!ended) {
        if (got == 0) snprintf(why, sizeof why, "it is unfinished (%" PRId64 " of %" PRId64 " records)", rows->done, n);
        goto fail;
    }
    if (journal_read(&j, &c, why, sizeof why) != 0) {
        if (c.payload) journal_chunk_free(&c);
        snprintf(why, sizeof why, "bytes after its end");
        goto fail;
    }
    journal_close(&j);
    /* ids: NULL when no record has one, as embed_input gives them */
    int any = 0;
    for (int64_t i = 0; i < n && !any; i++) any = rows->ids[i] != NULL;
    if (!any) { free(rows->ids); rows->ids = NULL; }
    return 0;
fail:
    snprintf(err, err_size, "%s: damaged shard: %s (run shard %" PRId64 " of %" PRId64 " again)", path, why,
             desc->shard_k, desc->shard_n);
    journal_close(&j);
    job_rows_free(rows, n);
    job_desc_free(desc);
    return -1;
}
