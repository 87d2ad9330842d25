/* tools_eval_model.c: `moee eval -m MODEL` end to end on a random-weight tiny
 * OLMoE-architecture model made here with `moee synth` (carrying a byte-level
 * copy of the OLMoE tokenizer: tests/data/tokenizer/olmoe-bytes-tokenizer.json, the
 * real pre-tokenizer and normalizer with the merges removed, so it stays small),
 * over small copies of one dataset per task type (tests/data/eval/suite/).
 * Scores are near chance with random weights; what is checked: every (task, kind)
 * result file exists and follows the schema of tools/eval/results.c, the results
 * do not depend on the thread count or the batch size, and the per-task
 * instruction is used. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "tools/cmd.h"
#include "tools/eval/data.h"
#include "tools/eval/tasks.h"
#include "weights/json.h"

#define SUITE "tests/data/eval/suite"

static const char *const tasks[] = {
    "EmotionClassification", "STSBenchmark", "SemEval2016Task3QuestionReranking",
    "SummEval", "TwentyNewsgroupsClustering", "TwitterSemEval2015",
};
static const char *const columns[] = {"hs", "rw", "moee", "moee-sum@0.5", "moee-sum@1"};

static int run(int argc, const char **argv) {
    fflush(stdout);
    return (!strcmp(argv[0], "synth") ? cmd_synth : cmd_eval)(argc, (char **)argv);
}

static json_doc *load(const char *dir, const char *task, const char *column) {
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/%s.%s.json", dir, task, column);
    json_doc *doc = json_parse_file(path, err, sizeof err);
    CHECKF(doc != NULL, "%s", err);
    return doc;
}

static int is_kind(const json_value *v, json_kind k) { return v && v->kind == k; }

/* The schema documented at the top of tools/eval/results.c. */
static void check_schema(const json_value *r, const char *task, const char *column) {
    const char *s;
    size_t len;
    CHECK(json_get_string(json_get(r, "task"), &s, &len) && !strcmp(s, task));
    CHECK(json_get_string(json_get(r, "type"), &s, &len));
    int type = eval_type_from_name(s);
    CHECKF(type == eval_known_type(task), "%s: type %s", task, s);
    if (type < 0) return;
    CHECK(json_get_string(json_get(r, "main_score_name"), &s, &len) && !strcmp(s, eval_main_score_name((eval_type)type)));
    const json_value *scores = json_get(r, "scores"), *main_score = json_get(r, "main_score");
    CHECK(is_kind(scores, JSON_OBJECT));
    static const char *const names[EVAL_TYPE_COUNT][6] = {
        {"cosine_spearman", "cosine_pearson", "euclidean_spearman", "manhattan_spearman"},
        {"cosine_ap", "euclidean_ap", "manhattan_ap", "dot_ap", "max_ap"},
        {"map", "mrr_at_10"},
        {"accuracy", "f1_macro"},
        {"v_measure"},
        {"cosine_spearman"},
    };
    size_t expected = 0;
    while (expected < 6 && names[type][expected]) expected++;
    CHECKF(scores && scores->u.object.count == expected, "%s %s: %zu scores", task, column, scores ? scores->u.object.count : 0);
    for (size_t i = 0; i < expected; i++) {
        const json_value *x = json_get(scores, names[type][i]);
        CHECKF(is_kind(x, JSON_NUMBER) || is_kind(x, JSON_NULL), "%s: score %s", task, names[type][i]);
    }
    double a, b;
    if (json_get_number(main_score, &a)) CHECK(json_get_number(json_get(scores, names[type][0]), &b) && a == b);
    else CHECK(is_kind(main_score, JSON_NULL));
    int sum = !strncmp(column, "moee-sum", 8);
    CHECK(json_get_string(json_get(r, "kind"), &s, &len) && !strncmp(column, s, len) && (sum || len == strlen(column)));
    CHECK(sum ? is_kind(json_get(r, "alpha"), JSON_NUMBER) : is_kind(json_get(r, "alpha"), JSON_NULL));
    CHECK(is_kind(json_get(r, "model"), JSON_STRING) && is_kind(json_get(r, "embeddings"), JSON_NULL));
    CHECK(json_get_string(json_get(r, "prompt"), &s, &len) && !strcmp(s, "none"));
    int standardize = -1;
    CHECK(json_get_bool(json_get(r, "standardize"), &standardize) && standardize == (strcmp(column, "hs") != 0));
    const json_value *d = json_get(r, "dataset");
    long long n_items = 0, n_texts = 0;
    CHECK(is_kind(json_get(d, "path"), JSON_STRING));
    CHECK(json_get_int(json_get(d, "n_items"), &n_items) && n_items > 0);
    CHECK(json_get_int(json_get(d, "n_texts"), &n_texts) && n_texts > 0);
    CHECK(json_get_number(json_get(r, "seconds"), &a) && a >= 0);
    CHECK(json_get_number(json_get(r, "embed_seconds"), &a) && a >= 0);
    CHECK(is_kind(json_get(r, "moee_version"), JSON_STRING));
    if (type == EVAL_CLASSIFICATION) {
        long long e = 0;
        CHECK(json_get_int(json_get(json_get(r, "classification"), "n_experiments"), &e) && e == 10);
        CHECK(json_get_int(json_get(json_get(r, "classification"), "samples_per_label"), &e) && e == 16);
    }
}

/* The "scores" objects of two result files hold the same numbers. */
static int same_scores(const json_value *a, const json_value *b) {
    const json_value *sa = json_get(a, "scores"), *sb = json_get(b, "scores");
    if (!sa || !sb || sa->u.object.count != sb->u.object.count) return 0;
    for (size_t i = 0; i < sa->u.object.count; i++) {
        const json_value *x = &sa->u.object.members[i].value, *y = json_get(sb, sa->u.object.members[i].key);
        if (!y || x->kind != y->kind || (x->kind == JSON_NUMBER && x->u.number != y->u.number)) return 0;
    }
    return 1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int main(void) {
    char root[] = "/tmp/moee-eval-model-XXXXXX";
    if (!mkdtemp(root)) { perror("mkdtemp"); return 1; }
    char model[128], out1[128], out2[128], out3[128];
    snprintf(model, sizeof model, "%s/tiny.gguf", root);
    snprintf(out1, sizeof out1, "%s/out1", root);
    snprintf(out2, sizeof out2, "%s/out2", root);
    snprintf(out3, sizeof out3, "%s/out3", root);
    const char *synth[] = {"synth", "--arch", "olmoe", "--shape", "tiny", "--tokenizer",
                           "tests/data/tokenizer/olmoe-bytes-tokenizer.json", "-o", model};
    CHECK(run(9, synth) == 0);

    /* the small suite, every kind, two alphas, one thread */
    const char *all[] = {"eval", "-m", model, "--data", SUITE, "--output-dir", out1, "--alpha", "0.5,1", "-t", "1", "-q"};
    CHECK(run(12, all) == 0);
    for (size_t t = 0; t < sizeof tasks / sizeof *tasks; t++)
        for (size_t c = 0; c < sizeof columns / sizeof *columns; c++) {
            json_doc *doc = load(out1, tasks[t], columns[c]);
            if (doc) check_schema(json_root(doc), tasks[t], columns[c]);
            json_free(doc);
        }

    /* same scores with two threads and small batches */
    const char *again[] = {"eval", "-m", model, "--data", SUITE, "--task", "STSBenchmark,TwentyNewsgroupsClustering",
                           "--output-dir", out2, "--kind", "hs,moee-sum", "--alpha", "0.5", "-t", "2", "--batch-tokens", "64", "-q"};
    CHECK(run(18, again) == 0);
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 2; c++) {
            const char *task = t ? "TwentyNewsgroupsClustering" : "STSBenchmark", *column = c ? "moee-sum@0.5" : "hs";
            json_doc *a = load(out1, task, column), *b = load(out2, task, column);
            CHECKF(a && b && same_scores(json_root(a), json_root(b)), "%s %s: scores differ between runs", task, column);
            json_free(a); json_free(b);
        }

    /* the e5 instruction of the task, and an explicit one for a single dataset folder */
    const char *instr[] = {"eval", "-m", model, "--data", SUITE "/STSBenchmark", "--output-dir", out3, "--kind", "hs",
                           "--task-instruction", "-t", "1", "-q"};
    CHECK(run(13, instr) == 0);
    json_doc *doc = load(out3, "STSBenchmark", "hs");
    const char *s;
    size_t len;
    CHECK(doc && json_get_string(json_get(json_root(doc), "instruction"), &s, &len) && !strcmp(s, "Retrieve semantically similar text."));
    json_doc *plain = load(out1, "STSBenchmark", "hs");
    CHECK(doc && plain && !same_scores(json_root(doc), json_root(plain)));   /* the instruction changes the vectors */
    json_free(doc); json_free(plain);

    /* errors */
    fprintf(stderr, "(expected errors follow)\n");
    const char *missing[] = {"eval", "-m", "/nonexistent.gguf", "--data", SUITE, "-q"};
    CHECK(run(6, missing) != 0);
    const char *bad_kind[] = {"eval", "-m", model, "--data", SUITE, "--kind", "hs,nope"};
    CHECK(run(7, bad_kind) != 0);
    const char *bad_alpha[] = {"eval", "-m", model, "--data", SUITE, "--alpha", "-1"};
    CHECK(run(7, bad_alpha) != 0);
    const char *one_file[] = {"eval", "-m", model, "--data", SUITE, "--output", out3};
    CHECK(run(7, one_file) != 0);   /* --output takes one task and one kind */
    fprintf(stderr, "(end of expected errors)\n");

    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary("tools_eval_model");
}
