/* tools_eval_cli.c: `moee eval --embeddings` end to end. The fixture's cases
 * (tests/data/eval/metrics.jsonl) are written as dataset folders in the JSONL
 * layout, with an embeddings file whose texts are names like "a17"; each folder is
 * run through cmd_eval and the result JSON must hold scipy / scikit-learn's values
 * (1e-9; logistic regression within two test items). Also: a clustering folder of
 * well separated blobs (V-measure 1), a suite run over a folder of folders, and
 * the errors (uncovered text, malformed line, bad options) leave no result file. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "tools/cmd.h"
#include "tools/eval/jsonl.h"

static char root[64];

static FILE *open_in(const char *dir, const char *file, const char *mode) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, mode);
    if (!f) { perror(path); exit(1); }
    return f;
}

static char *make_dir(const char *name) {
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", root, name);
    mkdir(path, 0777);
    return path;
}

static void write_vector(FILE *f, const char *text, const json_value *v) {
    fprintf(f, "{\"text\": \"%s\", \"embedding\": [", text);
    for (size_t j = 0; j < v->u.array.count; j++) fprintf(f, "%s%.17g", j ? ", " : "", v->u.array.items[j].u.number);
    fputs("]}\n", f);
}

static int run(int argc, const char **argv) {
    fflush(stdout);
    return cmd_eval(argc, (char **)argv);
}

/* Runs `eval --data DIR --type TYPE --embeddings EMB --output OUT [extra]` and
 * returns the parsed result (NULL on failure). */
static json_doc *eval_folder(const char *dir, const char *type, const char *emb, const char *extra1, const char *extra2) {
    char out[600];
    snprintf(out, sizeof out, "%s/result.json", dir);
    const char *argv[16] = {"eval", "--data", dir, "--type", type, "--embeddings", emb, "--output", out, "-q"};
    int argc = 10;
    if (extra1) argv[argc++] = extra1;
    if (extra2) argv[argc++] = extra2;
    int rc = run(argc, argv);
    CHECKF(rc == 0, "moee eval on %s returned %d", dir, rc);
    if (rc) return NULL;
    char err[512];
    json_doc *doc = json_parse_file(out, err, sizeof err);
    CHECKF(doc != NULL, "%s", err);
    return doc;
}

static double score(const json_doc *doc, const char *name) {
    double x = NAN;
    if (doc) json_get_number(json_get(json_get(json_root(doc), "scores"), name), &x);
    return x;
}

static double expected(const json_value *task, const char *name) {
    double x = NAN;
    json_get_number(json_get(json_get(task, "expected"), name), &x);
    return x;
}

static void pairs_case(const json_value *t, int seed, int sts) {
    char name[64];
    snprintf(name, sizeof name, "%s-%d", sts ? "sts" : "pair", seed);
    char *dir = make_dir(name);
    FILE *data = open_in(dir, "test.jsonl", "w"), *emb = open_in(dir, "emb.jsonl", "w");
    const json_value *e1 = json_get(t, "emb1"), *e2 = json_get(t, "emb2"), *y = json_get(t, sts ? "gold" : "labels");
    for (size_t i = 0; i < e1->u.array.count; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "a%zu", i);
        snprintf(b, sizeof b, "b%zu", i);
        if (sts) fprintf(data, "{\"sentence1\": \"%s\", \"sentence2\": \"%s\", \"score\": %.17g}\n", a, b, json_at(y, i)->u.number);
        else fprintf(data, "{\"sentence1\": \"%s\", \"sentence2\": \"%s\", \"label\": %d}\n", a, b, (int)json_at(y, i)->u.number);
        write_vector(emb, a, json_at(e1, i));
        write_vector(emb, b, json_at(e2, i));
    }
    fclose(data); fclose(emb);
    char emb_path[600];
    snprintf(emb_path, sizeof emb_path, "%s/emb.jsonl", dir);
    json_doc *doc = eval_folder(dir, sts ? "STS" : "PairClassification", emb_path, NULL, NULL);
    static const char *const sts_names[] = {"cosine_spearman", "cosine_pearson", "euclidean_spearman", "manhattan_spearman"};
    static const char *const pair_names[] = {"cosine_ap", "euclidean_ap", "manhattan_ap", "dot_ap"};
    for (int k = 0; k < 4; k++) {
        const char *n = sts ? sts_names[k] : pair_names[k];
        CHECKF(fabs(score(doc, n) - expected(t, n)) <= 1e-9, "seed %d %s: %.12f vs %.12f", seed, n, score(doc, n), expected(t, n));
    }
    if (doc) {
        double main_score = NAN;
        json_get_number(json_get(json_root(doc), "main_score"), &main_score);
        CHECK_NEAR(main_score, expected(t, sts ? "cosine_spearman" : "cosine_ap"), 1e-9);
        if (!sts) {
            double best = fmax(fmax(expected(t, "cosine_ap"), expected(t, "euclidean_ap")), fmax(expected(t, "manhattan_ap"), expected(t, "dot_ap")));
            CHECK_NEAR(score(doc, "max_ap"), best, 1e-9);
        }
    }
    json_free(doc);
    free(dir);
}

static void rerank_case(const json_value *t, int seed) {
    char name[64];
    snprintf(name, sizeof name, "rerank-%d", seed);
    char *dir = make_dir(name);
    FILE *data = open_in(dir, "test.jsonl", "w"), *emb = open_in(dir, "emb.jsonl", "w");
    const json_value *qs = json_get(t, "queries");
    for (size_t q = 0; q < qs->u.array.count; q++) {
        const json_value *item = json_at(qs, q);
        char text[48];
        snprintf(text, sizeof text, "q%zu", q);
        write_vector(emb, text, json_get(item, "query"));
        fprintf(data, "{\"query\": \"q%zu\"", q);
        for (int pos = 1; pos >= 0; pos--) {
            const json_value *c = json_get(item, pos ? "positive" : "negative");
            fprintf(data, ", \"%s\": [", pos ? "positive" : "negative");
            for (size_t j = 0; j < c->u.array.count; j++) {
                snprintf(text, sizeof text, "%c%zu-%zu", pos ? 'p' : 'n', q, j);
                fprintf(data, "%s\"%s\"", j ? ", " : "", text);
                write_vector(emb, text, json_at(c, j));
            }
            fputc(']', data);
        }
        fputs("}\n", data);
    }
    fclose(data); fclose(emb);
    char emb_path[600];
    snprintf(emb_path, sizeof emb_path, "%s/emb.jsonl", dir);
    json_doc *doc = eval_folder(dir, "Reranking", emb_path, NULL, NULL);
    CHECK_NEAR(score(doc, "map"), expected(t, "map"), 1e-9);
    CHECK_NEAR(score(doc, "mrr_at_10"), expected(t, "mrr_at_10"), 1e-9);
    json_free(doc);
    free(dir);
}

static void summarization_case(const json_value *t, int seed) {
    char name[64];
    snprintf(name, sizeof name, "summ-%d", seed);
    char *dir = make_dir(name);
    FILE *data = open_in(dir, "test.jsonl", "w"), *emb = open_in(dir, "emb.jsonl", "w");
    const json_value *texts = json_get(t, "texts");
    for (size_t k = 0; k < texts->u.array.count; k++) {
        const json_value *item = json_at(texts, k);
        char text[48];
        fputs("{", data);
        for (int human = 1; human >= 0; human--) {
            const json_value *c = json_get(item, human ? "human" : "machine");
            fprintf(data, "%s\"%s\": [", human ? "" : ", ", human ? "human_summaries" : "machine_summaries");
            for (size_t j = 0; j < c->u.array.count; j++) {
                snprintf(text, sizeof text, "%c%zu-%zu", human ? 'h' : 'm', k, j);
                fprintf(data, "%s\"%s\"", j ? ", " : "", text);
                write_vector(emb, text, json_at(c, j));
            }
            fputc(']', data);
        }
        const json_value *rel = json_get(item, "relevance");
        fputs(", \"relevance\": [", data);
        for (size_t j = 0; j < rel->u.array.count; j++) fprintf(data, "%s%.17g", j ? ", " : "", json_at(rel, j)->u.number);
        fputs("]}\n", data);
    }
    fclose(data); fclose(emb);
    char emb_path[600];
    snprintf(emb_path, sizeof emb_path, "%s/emb.jsonl", dir);
    json_doc *doc = eval_folder(dir, "Summarization", emb_path, NULL, NULL);
    CHECK_NEAR(score(doc, "cosine_spearman"), expected(t, "cosine_spearman"), 1e-9);
    json_free(doc);
    free(dir);
}

static void classification_case(const json_value *t, int seed) {
    char name[64];
    snprintf(name, sizeof name, "class-%d", seed);
    char *dir = make_dir(name);
    FILE *emb = open_in(dir, "emb.jsonl", "w");
    for (int test = 0; test < 2; test++) {
        FILE *data = open_in(dir, test ? "test.jsonl" : "train.jsonl", "w");
        const json_value *x = json_get(t, test ? "test" : "train"), *y = json_get(t, test ? "test_labels" : "train_labels");
        for (size_t i = 0; i < x->u.array.count; i++) {
            char text[32];
            snprintf(text, sizeof text, "%s%zu", test ? "te" : "tr", i);
            fprintf(data, "{\"text\": \"%s\", \"label\": %d}\n", text, (int)json_at(y, i)->u.number);
            write_vector(emb, text, json_at(x, i));
        }
        fclose(data);
    }
    fclose(emb);
    char emb_path[600];
    snprintf(emb_path, sizeof emb_path, "%s/emb.jsonl", dir);
    json_doc *doc = eval_folder(dir, "Classification", emb_path, "--samples-per-label", "all");
    double want = NAN;
    json_get_number(json_get(json_get(json_get(t, "expected"), "max_iter_100"), "accuracy"), &want);
    size_t n_test = json_get(t, "test")->u.array.count;
    CHECKF(fabs(score(doc, "accuracy") - want) * (double)n_test <= 2 + 1e-9, "seed %d: accuracy %.4f vs %.4f", seed, score(doc, "accuracy"), want);
    json_free(doc);
    free(dir);
}

/* Well separated blobs: k-means recovers the labels, V-measure 1. */
static void clustering_case(void) {
    char *dir = make_dir("TwentyNewsgroupsClustering");
    FILE *data = open_in(dir, "test.jsonl", "w"), *emb = open_in(root, "blobs.jsonl", "w");
    for (int set = 0; set < 3; set++) {
        int k = 2 + set, per = 10;
        fputs("{\"sentences\": [", data);
        for (int i = 0; i < k * per; i++) fprintf(data, "%s\"s%d-%d\"", i ? ", " : "", set, i);
        fputs("], \"labels\": [", data);
        for (int i = 0; i < k * per; i++) fprintf(data, "%s\"topic%d\"", i ? ", " : "", i % k);
        fputs("]}\n", data);
        for (int i = 0; i < k * per; i++) {
            fprintf(emb, "{\"text\": \"s%d-%d\", \"embedding\": [", set, i);
            for (int j = 0; j < 6; j++) fprintf(emb, "%s%g", j ? ", " : "", 10.0 * (j == i % k) + 0.01 * ((i * 7 + j * 3) % 11));
            fputs("]}\n", emb);
        }
    }
    fclose(data); fclose(emb);
    char emb_path[600];
    snprintf(emb_path, sizeof emb_path, "%s/blobs.jsonl", root);
    json_doc *doc = eval_folder(dir, "Clustering", emb_path, NULL, NULL);
    CHECK_NEAR(score(doc, "v_measure"), 1.0, 1e-12);
    json_free(doc);
    /* the suite: a folder of dataset folders, type from the known MTEB name */
    char suite[600], out_dir[600];
    snprintf(suite, sizeof suite, "%s/suite", root);
    mkdir(suite, 0777);
    char moved[700];
    snprintf(moved, sizeof moved, "%s/TwentyNewsgroupsClustering", suite);
    CHECK(rename(dir, moved) == 0);
    snprintf(out_dir, sizeof out_dir, "%s/out", root);
    const char *argv[] = {"eval", "--data", suite, "--embeddings", emb_path, "--output-dir", out_dir, "-q"};
    CHECK(run(8, argv) == 0);
    char result[800], err[256];
    snprintf(result, sizeof result, "%s/TwentyNewsgroupsClustering.json", out_dir);
    doc = json_parse_file(result, err, sizeof err);
    CHECKF(doc != NULL, "%s", err);
    const char *type = NULL;
    size_t len;
    CHECK(doc && json_get_string(json_get(json_root(doc), "type"), &type, &len) && !strcmp(type, "Clustering"));
    CHECK_NEAR(score(doc, "v_measure"), 1.0, 1e-12);
    json_free(doc);
    free(dir);
}

static void errors(void) {
    char *dir = make_dir("errors");
    FILE *data = open_in(dir, "test.jsonl", "w"), *emb = open_in(dir, "emb.jsonl", "w");
    fputs("{\"sentence1\": \"x\", \"sentence2\": \"y\", \"score\": 1}\n{\"sentence1\": \"x\", \"sentence2\": \"z\", \"score\": 2}\n", data);
    fputs("{\"text\": \"x\", \"embedding\": [1, 0]}\n{\"text\": \"y\", \"embedding\": [0, 1]}\n", emb);   /* no "z" */
    fclose(data); fclose(emb);
    char out[600], emb_path[600], result[600];
    snprintf(out, sizeof out, "%s/result.json", dir);
    snprintf(emb_path, sizeof emb_path, "%s/emb.jsonl", dir);
    const char *argv[] = {"eval", "--data", dir, "--type", "STS", "--embeddings", emb_path, "--output", out, "-q"};
    fprintf(stderr, "(expected errors follow)\n");
    CHECK(run(10, argv) != 0);
    CHECK(access(out, F_OK) != 0);
    /* malformed line */
    emb = open_in(dir, "emb.jsonl", "a");
    fputs("{\"text\": \"z\", \"embedding\": [1, 2,]}\n", emb);
    fclose(emb);
    CHECK(run(10, argv) != 0);
    CHECK(access(out, F_OK) != 0);
    /* wrong dimension */
    emb = open_in(dir, "emb.jsonl", "w");
    fputs("{\"text\": \"x\", \"embedding\": [1, 0]}\n{\"text\": \"y\", \"embedding\": [0, 1]}\n{\"text\": \"z\", \"embedding\": [1]}\n", emb);
    fclose(emb);
    CHECK(run(10, argv) != 0);
    /* malformed dataset line */
    data = open_in(dir, "test.jsonl", "w");
    fputs("{\"sentence1\": \"x\", \"sentence2\": 3, \"score\": 1}\n", data);
    fclose(data);
    CHECK(run(10, argv) != 0);
    CHECK(access(out, F_OK) != 0);
    /* bad options */
    const char *bad1[] = {"eval", "--data", dir, "--type", "Nope", "--embeddings", emb_path};
    CHECK(run(7, bad1) != 0);
    const char *bad2[] = {"eval", "--data", dir, "--type", "STS"};
    CHECK(run(5, bad2) != 0);
    const char *bad3[] = {"eval", "--data", dir, "--type", "Classification", "--embeddings", emb_path, "--samples-per-label", "0"};
    CHECK(run(9, bad3) != 0);
    snprintf(result, sizeof result, "%s/missing", root);
    const char *bad4[] = {"eval", "--data", result, "--embeddings", emb_path};
    CHECK(run(5, bad4) != 0);
    fprintf(stderr, "(end of expected errors)\n");
    free(dir);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/moee-eval-XXXXXX");
    if (!mkdtemp(root)) { perror("mkdtemp"); return 1; }
    eval_jsonl r;
    char err[512];
    const json_value *v;
    int rc, cases = 0;
    if (eval_jsonl_open(&r, "tests/data/eval/metrics.jsonl", err, sizeof err)) { fprintf(stderr, "%s\n", err); CHECK(0); }
    else {
        while ((rc = eval_jsonl_next(&r, &v, err, sizeof err)) == 1) {
            long long seed = 0;
            json_get_int(json_get(v, "seed"), &seed);
            pairs_case(json_get(v, "sts"), (int)seed, 1);
            pairs_case(json_get(v, "pair"), (int)seed, 0);
            rerank_case(json_get(v, "rerank"), (int)seed);
            summarization_case(json_get(v, "summarization"), (int)seed);
            classification_case(json_get(v, "classification"), (int)seed);
            cases++;
        }
        CHECK(rc == 0 && cases == 8);
        eval_jsonl_close(&r);
    }
    clustering_case();
    errors();
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary("tools_eval_cli");
}
