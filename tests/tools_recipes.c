/* tools_recipes.c: `moee convert --type T` against llama-quantize (c392e509).
 *
 * 1. Types: for every model in tests/data/recipes/ (CASE.json: olmoe-kp and
 *    deepseek-kp are the golden quant models with 8 experts; others have 16 or 64
 *    experts, 16 to 28 layers, grouped-query attention, tied embeddings, expert
 *    rows that are not whole 256-blocks), the type the recipe gives each tensor
 *    equals the one llama-quantize gave it (CASE.types, one column per file type).
 * 2. Bytes: deepseek-bytes (a small synth model: 8 experts, rows of 32 and 256)
 *    written as F32, then re-quantized to every file type: every tensor's bytes
 *    hash to what llama-quantize's did (deepseek-bytes.hashes), the tensors come
 *    in llama.cpp's order and general.file_type is the last key, as llama-quantize
 *    writes them.
 * 3. One recipe, three roads: a checkpoint converted straight to a type, and
 *    converted to F32 and then re-quantized, give the same tensors; so do synth.
 * 4. --pure and errors: rows without a fallback, layers outside the model.
 * 5. The golden files themselves (only where /work/shared/golden/quant/models is,
 *    or $MOEE_GOLDEN_QUANT): the HF checkpoints converted to Q4_K_M, Q2_K, Q6_K
 *    reproduce llama-quantize's GGUFs tensor for tensor, and their F32 GGUFs
 *    re-quantized reproduce the files byte for byte.
 *
 * `tools_recipes --hashes DIR` prints deepseek-bytes.hashes from llama-quantize's
 * files DIR/deepseek-bytes.FTYPE.gguf (tests/data/recipes/make_refs.sh). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "kernels/types.h"
#include "test.h"
#include "tools/convert/arch.h"
#include "tools/convert/convert.h"
#include "tools/convert/model_write.h"
#include "tools/convert/recipe.h"
#include "tools/convert/synth.h"
#include "weights/gguf.h"
#include "weights/json.h"

#define DATA "tests/data/recipes"
#define MAX_COLS 24

static const char *const ftypes[] = {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                     "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                     "Q8_0", "F16", "BF16", "F32"};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static char tmp_dir[] = "/tmp/moee_recipes_XXXXXX";

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

static uint64_t fnv1a(const void *data, uint64_t n) {
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (uint64_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void name_of(const gguf_tensor *t, char *out, size_t size) {
    snprintf(out, size, "%.*s", (int)(t->name.len < size - 1 ? t->name.len : size - 1), t->name.ptr);
}

/* ---- a table file: "# comment", a header "tensor COL...", rows "name VALUE..." -------------- */

typedef struct {
    int n_cols;
    char cols[MAX_COLS][16];
    size_t n_rows;
    char (*names)[64];
    char (*cells)[MAX_COLS][24];
} table;

static int read_table(const char *path, table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[2048];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *save, *tok = strtok_r(line, " \n", &save);
        if (!tok) continue;
        if (!strcmp(tok, "tensor") && !t->n_cols) {
            while ((tok = strtok_r(NULL, " \n", &save)) && t->n_cols < MAX_COLS)
                snprintf(t->cols[t->n_cols++], sizeof t->cols[0], "%s", tok);
            continue;
        }
        if (t->n_rows == cap) {
            cap = cap ? 2 * cap : 64;
            t->names = realloc(t->names, cap * sizeof *t->names);
            t->cells = realloc(t->cells, cap * sizeof *t->cells);
        }
        snprintf(t->names[t->n_rows], sizeof t->names[0], "%s", tok);
        for (int c = 0; c < t->n_cols; c++) {
            tok = strtok_r(NULL, " \n", &save);
            snprintf(t->cells[t->n_rows][c], sizeof t->cells[0][0], "%s", tok ? tok : "");
        }
        t->n_rows++;
    }
    fclose(f);
    return 0;
}

static void free_table(table *t) {
    free(t->names);
    free(t->cells);
}

static long find_row(const table *t, const char *name) {
    for (size_t i = 0; i < t->n_rows; i++)
        if (!strcmp(t->names[i], name)) return (long)i;
    return -1;
}

static int find_col(const table *t, const char *col) {
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->cols[c], col)) return c;
    return -1;
}

/* ---- 1. types ----------------------------------------------------------------------- */

static int load_config(const char *json_path, model_config *c) {
    char err[512];
    json_doc *doc = json_parse_file(json_path, err, sizeof err);
    CHECKF(doc != NULL, "%s", err);
    if (!doc) return -1;
    int rc = arch_config_from_hf(json_root(doc), json_path, "case", c, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    json_free(doc);
    return rc;
}

static void test_types_of_case(const char *name) {
    char path[256], err[512];
    model_config *c = calloc(1, sizeof *c);
    tensor_plan *plan = NULL;
    size_t n_plan = 0;
    table want;
    snprintf(path, sizeof path, DATA "/%s.json", name);
    if (load_config(path, c)) { free(c); return; }
    snprintf(path, sizeof path, DATA "/%s.types", name);
    CHECKF(read_table(path, &want) == 0, "cannot read %s", path);
    CHECK(arch_tensor_plan(c, &plan, &n_plan, err, sizeof err) == 0);
    CHECKF(n_plan == want.n_rows, "%s: %zu tensors, llama-quantize %zu", name, n_plan, want.n_rows);
    uint32_t *types = calloc(n_plan ? n_plan : 1, sizeof *types);
    for (int col = 0; col < want.n_cols; col++) {
        const recipe *r = recipe_by_name(want.cols[col]);
        CHECKF(r != NULL, "%s: unknown file type %s", name, want.cols[col]);
        if (!r) continue;
        int rc = model_write_tensor_types(c, plan, n_plan, r, 0, types, NULL, "", NULL, err, sizeof err);
        CHECKF(rc == 0, "%s %s: %s", name, r->name, err);
        if (rc) continue;
        int bad = 0;
        for (size_t i = 0; i < n_plan; i++) {
            long row = find_row(&want, plan[i].name);
            if (row < 0) { CHECKF(0, "%s: llama-quantize has no %s", name, plan[i].name); bad++; continue; }
            const char *expect = want.cells[row][col];
            if (strcasecmp(expect, moee_type(types[i])->name)) {
                if (bad++ < 5)
                    fprintf(stderr, "%s %s: %s is %s, llama-quantize %s\n", name, r->name, plan[i].name,
                            moee_type(types[i])->name, expect);
            }
        }
        CHECKF(bad == 0, "%s %s: %d tensors of another type than llama-quantize's", name, r->name, bad);
    }
    free(types);
    free(plan);
    free_table(&want);
    free(c);
}

static void test_types(void) {
    DIR *d = opendir(DATA);
    CHECK(d != NULL);
    if (!d) return;
    int n_cases = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 6, ".types")) continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len - 6), e->d_name);
        test_types_of_case(name);
        n_cases++;
    }
    closedir(d);
    CHECKF(n_cases >= 7, "only %d cases", n_cases);
}

/* ---- 2. bytes --------------------------------------------------------------------------- */

static int synth_to(const char *config, const char *ftype, int pure, const char *out) {
    char err[512];
    synth_options o = {.config = config, .recipe = recipe_by_name(ftype), .pure = pure, .seed = 1};
    int rc = synth_model(out, &o, NULL, err, sizeof err);
    CHECKF(rc == 0, "synth %s %s: %s", config, ftype, err);
    return rc;
}

static int requantize_to(const char *in, const char *ftype, int pure, const char *out) {
    char err[512];
    convert_options o = {.recipe = recipe_by_name(ftype), .pure = pure};
    int rc = convert_gguf(in, out, &o, err, sizeof err);
    CHECKF(rc == 0, "requantize %s %s: %s", in, ftype, err);
    return rc;
}

static int loader_order_ok(const gguf_file *g) {
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        char a[128], b[128];
        name_of(&g->tensors[i - 1], a, sizeof a);
        name_of(&g->tensors[i], b, sizeof b);
        int la = -1, lb = -1;
        sscanf(a, "blk.%d.", &la);
        sscanf(b, "blk.%d.", &lb);
        if (la > lb || (la == lb && strcmp(a, b) >= 0)) return 0;
    }
    return 1;
}

static void test_bytes(void) {
    table want;
    CHECK(read_table(DATA "/deepseek-bytes.hashes", &want) == 0);
    char *f32 = tmp_path("bytes.f32.gguf"), *out = tmp_path("bytes.out.gguf"), err[512];
    if (synth_to(DATA "/deepseek-bytes.json", "F32", 0, f32)) { free_table(&want); return; }
    for (size_t k = 0; k < N_FTYPES; k++) {
        int col = find_col(&want, ftypes[k]);
        CHECKF(col >= 0, "no hashes for %s", ftypes[k]);
        if (col < 0 || requantize_to(f32, ftypes[k], 0, out)) continue;
        gguf_file *g = gguf_open(out, err, sizeof err);
        CHECKF(g != NULL, "%s", err);
        if (!g) continue;
        CHECKF(g->n_tensors == want.n_rows, "%s: %llu tensors", ftypes[k], (unsigned long long)g->n_tensors);
        int bad = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            char name[128], hash[24];
            name_of(&g->tensors[i], name, sizeof name);
            long row = find_row(&want, name);
            snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv1a(g->tensors[i].data, g->tensors[i].nbytes));
            if (row < 0 || strcmp(want.cells[row][col], hash)) {
                if (bad++ < 5) fprintf(stderr, "%s: %s differs from llama-quantize's (type %s)\n", ftypes[k], name,
                                       moee_type(g->tensors[i].type)->name);
            }
        }
        CHECKF(bad == 0, "%s: %d tensors differ from llama-quantize's", ftypes[k], bad);
        CHECKF(loader_order_ok(g), "%s: tensors not in llama.cpp's loader order", ftypes[k]);
        const gguf_kv *last = &g->kv[g->n_kv - 1];
        CHECK(last->key.len == 17 && !memcmp(last->key.ptr, "general.file_type", 17));
        uint32_t ft;
        CHECK(gguf_get_u32(g, "general.file_type", &ft) == 1 && ft == recipe_by_name(ftypes[k])->file_type);
        gguf_close(g);
    }
    unlink(out);
    unlink(f32);
    free_table(&want);
}

/* ---- 3. three roads to the same tensors ---------------------------------------------------- */

/* Every tensor of a is in b with the same type, shape and bytes (order aside). */
static void same_tensors(const char *pa, const char *pb, const char *what) {
    char err[512];
    gguf_file *a = gguf_open(pa, err, sizeof err), *b = a ? gguf_open(pb, err, sizeof err) : NULL;
    CHECKF(a && b, "%s: %s", what, err);
    if (a && b) {
        CHECKF(a->n_tensors == b->n_tensors, "%s: %llu vs %llu tensors", what, (unsigned long long)a->n_tensors,
               (unsigned long long)b->n_tensors);
        int bad = 0;
        for (uint64_t i = 0; i < a->n_tensors; i++) {
            char name[128];
            name_of(&a->tensors[i], name, sizeof name);
            const gguf_tensor *x = &a->tensors[i], *y = gguf_find_tensor(b, name);
            if (!y || x->type != y->type || x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes)) {
                if (bad++ < 5) fprintf(stderr, "%s: %s differs\n", what, name);
            }
        }
        CHECKF(bad == 0, "%s: %d tensors differ", what, bad);
    }
    if (a) gguf_close(a);
    if (b) gguf_close(b);
}

static void test_roads(void) {
    static const char *const types[] = {"Q4_K_M", "Q2_K", "IQ4_XS", "Q3_K_L"};
    char err[512], *f32 = tmp_path("road.f32.gguf"), *direct = tmp_path("road.direct.gguf"),
         *requant = tmp_path("road.requant.gguf");
    /* a checkpoint (hidden 64: every K type falls back), directly and through F32 */
    convert_options o = {.recipe = recipe_by_name("F32")};
    int rc = convert_hf("tests/data/golden/deepseek-tiny", f32, &o, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    for (size_t k = 0; k < sizeof types / sizeof types[0] && !rc; k++) {
        convert_options q = {.recipe = recipe_by_name(types[k])};
        CHECKF(convert_hf("tests/data/golden/deepseek-tiny", direct, &q, err, sizeof err) == 0, "%s", err);
        if (requantize_to(f32, types[k], 0, requant)) continue;
        same_tensors(direct, requant, types[k]);
    }
    /* synth (rows of 256: K types), directly and through F32; then the Q2_K file
     * re-quantized to Q2_K: tensors whose type stays are copied, not quantized anew */
    if (!synth_to(DATA "/deepseek-bytes.json", "F32", 0, f32) &&
        !synth_to(DATA "/deepseek-bytes.json", "Q2_K", 0, direct) && !requantize_to(f32, "Q2_K", 0, requant)) {
        same_tensors(direct, requant, "synth Q2_K");
        if (!requantize_to(requant, "Q2_K", 0, direct)) same_tensors(direct, requant, "Q2_K again");
    }
    unlink(f32);
    unlink(direct);
    unlink(requant);
}

/* ---- 4. --pure, errors ------------------------------------------------------------------------ */

static void test_pure_and_errors(void) {
    recipe_model m = {.n_layer = 4, .n_expert = 8, .n_gqa = 1, .has_output = 1};
    const recipe *q4_0 = recipe_by_name("q4_0"), *q4_k_m = recipe_by_name("q4_k_M");
    uint32_t type, wanted;
    char err[512];
    CHECK(q4_0 && q4_k_m && recipe_by_name("Q4_K") == q4_k_m && !recipe_by_name("Q4_K_X") &&
          recipe_by_file_type(15) == q4_k_m);
    /* pure: the one type, f16 where rows are not whole blocks */
    CHECK(recipe_tensor_type(q4_0, 1, &m, "blk.0.attn_v.weight", 64, &type, &wanted, err, sizeof err) == 0 &&
          type == MOEE_TYPE_Q4_0);
    CHECK(recipe_tensor_type(q4_0, 1, &m, "output.weight", 80, &type, &wanted, err, sizeof err) == 0 &&
          type == MOEE_TYPE_F16 && wanted == MOEE_TYPE_Q4_0);
    /* the recipe: attn_v of an 8-expert model is Q8_0 */
    CHECK(recipe_tensor_type(q4_0, 0, &m, "blk.0.attn_v.weight", 64, &type, &wanted, err, sizeof err) == 0 &&
          type == MOEE_TYPE_Q8_0);
    /* rows of 80: Q4_0 has no fallback, llama-quantize stops */
    CHECK(recipe_tensor_type(q4_0, 0, &m, "blk.0.attn_q.weight", 80, &type, &wanted, err, sizeof err) == -1 &&
          strstr(err, "blk.0.attn_q.weight") && strstr(err, "--pure"));
    /* a layer outside the model */
    CHECK(recipe_tensor_type(q4_k_m, 0, &m, "blk.4.ffn_down_exps.weight", 256, &type, &wanted, err, sizeof err) == -1 &&
          strstr(err, "blk.4.ffn_down_exps.weight"));
    CHECK(!recipe_quantizable("blk.0.ffn_gate_inp.weight", 2) && !recipe_quantizable("blk.0.attn_norm.weight", 2) &&
          !recipe_quantizable("blk.0.attn_q.bias", 2) && !recipe_quantizable("token_embd.weight", 1) &&
          recipe_quantizable("blk.0.ffn_gate_exps.weight", 3));
    /* re-quantizing something that is not a GGUF model of moee's architectures */
    convert_options o = {.recipe = q4_k_m};
    CHECK(convert_gguf("tests/data/golden/olmoe-tiny/config.json", tmp_path("x.gguf"), &o, err, sizeof err) == -1);
    CHECK(access(tmp_path("x.gguf"), F_OK) != 0);
}

/* ---- 5. the golden files (optional) ---------------------------------------------------------- */

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = getc(fa), cb = getc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_golden(void) {
    const char *dir = getenv("MOEE_GOLDEN_QUANT") ? getenv("MOEE_GOLDEN_QUANT") : "/work/shared/golden/quant/models";
    char path[512];
    snprintf(path, sizeof path, "%s/hf/olmoe-kp/config.json", dir);
    if (access(path, R_OK)) {
        printf("(golden quant models not found at %s: skipped)\n", dir);
        return;
    }
    static const struct { const char *model, *type; } files[] = {
        {"olmoe-kp", "Q4_K_M"}, {"olmoe-kp", "Q2_K"}, {"olmoe-kp", "Q6_K"},
        {"deepseek-kp", "Q4_K_M"}, {"deepseek-kp", "Q2_K"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char hf[512], golden[512], err[512], what[64], *direct = tmp_path("golden.gguf"),
             *f32 = tmp_path("golden.f32.gguf"), *requant = tmp_path("golden.requant.gguf");
        snprintf(hf, sizeof hf, "%s/hf/%s", dir, files[i].model);
        snprintf(golden, sizeof golden, "%s/%s.%s.gguf", dir, files[i].model, files[i].type);
        snprintf(what, sizeof what, "%s %s", files[i].model, files[i].type);
        convert_options o = {.recipe = recipe_by_name(files[i].type)}, of = {.recipe = recipe_by_name("F32")};
        CHECKF(convert_hf(hf, direct, &o, err, sizeof err) == 0, "%s", err);
        same_tensors(golden, direct, what);
        CHECKF(convert_hf(hf, f32, &of, err, sizeof err) == 0, "%s", err);
        if (!requantize_to(f32, files[i].type, 0, requant))
            CHECKF(files_equal(requant, golden), "%s: re-quantized F32 differs from llama-quantize's file", what);
        unlink(direct);
        unlink(f32);
        unlink(requant);
    }
}

/* ---- --hashes: the reference table from llama-quantize's files ---------------------------- */

static int print_hashes(const char *dir) {
    gguf_file *g[N_FTYPES];
    char path[512], err[512];
    for (size_t k = 0; k < N_FTYPES; k++) {
        snprintf(path, sizeof path, "%s/deepseek-bytes.%s.gguf", dir, ftypes[k]);
        if (!(g[k] = gguf_open(path, err, sizeof err))) { fprintf(stderr, "%s\n", err); return 1; }
    }
    printf("# FNV-1a 64 of every tensor's data in llama-quantize's (c392e509) file of deepseek-bytes.json\n"
           "# (moee synth --config deepseek-bytes.json --type f32, seed 1), per file type\ntensor");
    for (size_t k = 0; k < N_FTYPES; k++) printf(" %s", ftypes[k]);
    printf("\n");
    for (uint64_t i = 0; i < g[0]->n_tensors; i++) {
        char name[128];
        name_of(&g[0]->tensors[i], name, sizeof name);
        printf("%s", name);
        for (size_t k = 0; k < N_FTYPES; k++) {
            const gguf_tensor *t = gguf_find_tensor(g[k], name);
            printf(" %016llx", t ? (unsigned long long)fnv1a(t->data, t->nbytes) : 0ULL);
        }
        printf("\n");
    }
    for (size_t k = 0; k < N_FTYPES; k++) gguf_close(g[k]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--hashes")) return print_hashes(argv[2]);
    if (!mkdtemp(tmp_dir)) { perror("mkdtemp"); return 1; }
    test_types();
    test_pure_and_errors();
    test_bytes();
    test_roads();
    test_golden();
    rmdir(tmp_dir);
    return test_summary("tools_recipes");
}
