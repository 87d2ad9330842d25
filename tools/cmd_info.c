/* cmd_info.c: `moee info MODEL.gguf`, what a GGUF file holds: architecture,
 * name, every hyperparameter, which layers are MoE and which dense, the tensors
 * by type with their bytes, and the tokenizer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/types.h"
#include "tokenizer/tokenizer.h"
#include "tools/cmd.h"
#include "tools/convert/recipe.h"
#include "tools/options.h"
#include "weights/gguf.h"

static void print_value(const gguf_kv *kv) {
    const uint8_t *p = kv->data;
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
            uint64_t u64; int64_t i64; double f64; } v;
    switch (kv->type) {
    case GGUF_TYPE_UINT8:   memcpy(&v, p, 1); printf("%u", v.u8); break;
    case GGUF_TYPE_INT8:    memcpy(&v, p, 1); printf("%d", v.i8); break;
    case GGUF_TYPE_UINT16:  memcpy(&v, p, 2); printf("%u", v.u16); break;
    case GGUF_TYPE_INT16:   memcpy(&v, p, 2); printf("%d", v.i16); break;
    case GGUF_TYPE_UINT32:  memcpy(&v, p, 4); printf("%" PRIu32, v.u32); break;
    case GGUF_TYPE_INT32:   memcpy(&v, p, 4); printf("%" PRId32, v.i32); break;
    case GGUF_TYPE_FLOAT32: memcpy(&v, p, 4); printf("%g", v.f32); break;
    case GGUF_TYPE_BOOL:    printf("%s", p[0] ? "true" : "false"); break;
    case GGUF_TYPE_UINT64:  memcpy(&v, p, 8); printf("%" PRIu64, v.u64); break;
    case GGUF_TYPE_INT64:   memcpy(&v, p, 8); printf("%" PRId64, v.i64); break;
    case GGUF_TYPE_FLOAT64: memcpy(&v, p, 8); printf("%g", v.f64); break;
    case GGUF_TYPE_ARRAY:   printf("[array of %" PRIu64 "]", kv->array_len); break;
    default: printf("?"); break;
    }
}

static void print_str_key(const gguf_file *f, const char *label, const char *key) {
    gguf_str s;
    if (gguf_get_str(f, key, &s) == 1) printf("%-14s %.*s\n", label, (int)(s.len > 200 ? 200 : s.len), s.ptr);
    else printf("%-14s (none)\n", label);
}

/* Prints the layers where is_moe == want as ranges "0-3, 7". */
static void print_layer_set(const unsigned char *is_moe, uint32_t n, int want) {
    int any = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (is_moe[i] != want || (i > 0 && is_moe[i - 1] == want)) continue;
        uint32_t j = i;
        while (j + 1 < n && is_moe[j + 1] == want) j++;
        printf("%s%u", any ? ", " : "", i);
        if (j > i) printf("-%u", j);
        any = 1;
    }
    if (!any) printf("none");
}

static void print_tokenizer(const gguf_file *f) {
    gguf_str model;
    if (gguf_get_str(f, "tokenizer.ggml.model", &model) != 1 ||
        (model.len == 4 && !memcmp(model.ptr, "none", 4)) || (model.len == 8 && !memcmp(model.ptr, "no_vocab", 8))) {
        printf("%-14s none\n", "tokenizer");
        return;
    }
    char err[512];
    moee_tokenizer *t = tokenizer_load_gguf(f, err, sizeof err);
    if (!t) {
        printf("%-14s %.*s (moee cannot use it: %s)\n", "tokenizer", (int)(model.len > 64 ? 64 : model.len),
               model.ptr, err);
        return;
    }
    printf("%-14s %.*s, pre %s, %d tokens", "tokenizer", (int)(model.len > 64 ? 64 : model.len), model.ptr,
           tokenizer_pre_name(t), tokenizer_vocab_size(t));
    if (tokenizer_bos_id(t) >= 0) printf(", bos %d", tokenizer_bos_id(t)); else printf(", no bos");
    if (tokenizer_eos_id(t) >= 0) printf(", eos %d", tokenizer_eos_id(t)); else printf(", no eos");
    printf("\n");
    tokenizer_free(t);
}

typedef struct { uint32_t type; uint64_t count, bytes, elements; } type_total;

int cmd_info(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: moee info MODEL.gguf\n"
               "\n"
               "Prints what a GGUF file holds, without running it: the architecture and its\n"
               "hyperparameters (the metadata keys moee reads), which layers are MoE and which\n"
               "dense, the experts (routed, used per token, shared), the tensors counted by\n"
               "weight type (parameters and bytes), and the tokenizer (whether moee can use it,\n"
               "and why not). Works on moee's and llama.cpp's files, and on vocab-only files.\n");
        return 0;
    }
    if (argc < 2) return opt_fail("info", "no file: give MODEL.gguf (see moee info --help)");
    if (argc > 2) return opt_unknown("info", argv[2]);
    if (argv[1][0] == '-' && argv[1][1]) return opt_unknown("info", argv[1]);
    char err[512];
    gguf_file *f = gguf_open(argv[1], err, sizeof err);
    if (!f) { fprintf(stderr, "moee info: %s\n", err); return 1; }

    printf("%-14s %s (%zu bytes, GGUF v%u)\n", "file", argv[1], f->map_size, f->version);
    print_str_key(f, "architecture", "general.architecture");
    print_str_key(f, "name", "general.name");
    uint32_t file_type;
    if (gguf_get_u32(f, "general.file_type", &file_type) == 1) {
        const recipe *r = recipe_by_file_type(file_type);
        printf("%-14s %s (general.file_type %u)\n", "file type", r ? r->name : "not one moee writes", file_type);
    }

    /* every {arch}.* and general.* scalar, in file order */
    gguf_str arch = {"", 0};
    gguf_get_str(f, "general.architecture", &arch);
    printf("hyperparameters:\n");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        int is_arch = arch.len && kv->key.len > arch.len && !memcmp(kv->key.ptr, arch.ptr, arch.len) &&
                      kv->key.ptr[arch.len] == '.';
        int is_general = kv->key.len > 8 && !memcmp(kv->key.ptr, "general.", 8);
        if ((!is_arch && !is_general) || kv->type == GGUF_TYPE_STRING) continue;
        printf("  %-44.*s ", (int)kv->key.len, kv->key.ptr);
        print_value(kv);
        printf("\n");
    }

    /* MoE layers: those with a router (blk.N.ffn_gate_inp.weight) */
    uint32_t n_layers = 0;
    char key[128];
    snprintf(key, sizeof key, "%.*s.block_count", (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    if (gguf_get_u32(f, key, &n_layers) != 1 || n_layers > 100000) n_layers = 0;
    unsigned char *is_moe = calloc(n_layers ? n_layers : 1, 1);
    uint32_t n_moe = 0;
    for (uint32_t i = 0; is_moe && i < n_layers; i++) {
        snprintf(key, sizeof key, "blk.%u.ffn_gate_inp.weight", i);
        is_moe[i] = gguf_find_tensor(f, key) != NULL;
        n_moe += is_moe[i];
    }
    if (is_moe && n_layers) {
        printf("%-14s %u (MoE: ", "layers", n_layers);
        print_layer_set(is_moe, n_layers, 1);
        printf("; dense: ");
        print_layer_set(is_moe, n_layers, 0);
        printf(")\n");
    }
    free(is_moe);
    uint32_t n_exp = 0, n_used = 0, n_shared = 0;
    snprintf(key, sizeof key, "%.*s.expert_count", (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    gguf_get_u32(f, key, &n_exp);
    snprintf(key, sizeof key, "%.*s.expert_used_count", (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    gguf_get_u32(f, key, &n_used);
    int has_shared = 0;
    for (uint64_t i = 0; i < f->n_tensors && !has_shared; i++) {
        const gguf_str *nm = &f->tensors[i].name;
        has_shared = nm->len > 15 && memmem(nm->ptr, nm->len, "_shexp.weight", 13) != NULL;
    }
    snprintf(key, sizeof key, "%.*s.expert_shared_count", (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    if (gguf_get_u32(f, key, &n_shared) != 1) n_shared = has_shared ? 1 : 0;
    if (n_exp) printf("%-14s %u routed, %u used per token, %u shared (%s)\n", "experts", n_exp, n_used, n_shared,
           has_shared ? "one fused shared MLP per MoE layer" : "no shared expert");

    /* tensors by type */
    type_total by_type[16];
    int n_types = 0;
    uint64_t total = 0, elements = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) ne *= t->ne[d];
        int k = 0;
        while (k < n_types && by_type[k].type != t->type) k++;
        if (k == n_types && n_types < 16) by_type[n_types++] = (type_total){t->type, 0, 0, 0};
        if (k < 16) { by_type[k].count++; by_type[k].bytes += t->nbytes; by_type[k].elements += ne; }
        total += t->nbytes;
        elements += ne;
    }
    printf("%-14s %" PRIu64 ", %" PRIu64 " parameters, %" PRIu64 " bytes (%.2f GB)\n", "tensors", f->n_tensors,
           elements, total, (double)total / 1e9);
    for (int k = 0; k < n_types; k++) {
        const moee_type_traits *tt = moee_type(by_type[k].type);
        char unknown[32];
        snprintf(unknown, sizeof unknown, "type %u", by_type[k].type);
        printf("  %-8s %6" PRIu64 " tensors %14" PRIu64 " parameters %14" PRIu64 " bytes\n",
               tt ? tt->name : unknown, by_type[k].count, by_type[k].elements, by_type[k].bytes);
    }
    print_tokenizer(f);
    gguf_close(f);
    return 0;
}
