/* load_json.c: a tokenizer from Hugging Face's tokenizer.json (+ optionally
 * tokenizer_config.json).
 *
 * Only what the three supported families use is accepted: model BPE without byte
 * fallback; normalizer NFC or none; one of three pre-tokenizer layouts, which also
 * decides the family (decisions in tokenizer.h's header comment):
 *   ByteLevel(use_regex=true)                       -> olmo
 *   Sequence[Split(qwen2 regex), ByteLevel]         -> qwen2
 *   Sequence[5 x Split(deepseek regexes), Digits, ByteLevel] -> deepseek-llm
 * Anything else is an error naming what was found, never a silent approximation. */
#include "weights/file.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_internal.h"
#include "weights/json.h"

static const char qwen2_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int string_is(const json_value *v, const char *s) {
    const char *p;
    size_t n;
    return json_get_string(v, &p, &n) && n == strlen(s) && !memcmp(p, s, n);
}

static int bool_or(const json_value *v, int dflt) {
    int b;
    return json_get_bool(v, &b) ? b : dflt;
}

static int is_byte_level(const json_value *p, int use_regex) {
    return string_is(json_get(p, "type"), "ByteLevel") && !bool_or(json_get(p, "add_prefix_space"), 0) &&
           bool_or(json_get(p, "use_regex"), 1) == use_regex;
}

/* A Split(Isolated, not inverted) whose regex is exactly `regex` (or, if regex is
 * NULL, DeepSeek's letter class). */
static int is_split(const json_value *p, const char *regex) {
    const char *r;
    size_t n;
    if (!string_is(json_get(p, "type"), "Split") || !string_is(json_get(p, "behavior"), "Isolated") ||
        bool_or(json_get(p, "invert"), 0) ||
        !json_get_string(json_get(json_get(p, "pattern"), "Regex"), &r, &n)) return 0;
    if (!regex) return deepseek_letter_regex_ok(r, n);
    return n == strlen(regex) && !memcmp(r, regex, n);
}

/* The family from the pre_tokenizer, or -1. */
static int detect_family(const json_value *pre) {
    if (is_byte_level(pre, 1)) return FAMILY_OLMO;
    if (!string_is(json_get(pre, "type"), "Sequence")) return -1;
    const json_value *list = json_get(pre, "pretokenizers");
    if (!list || list->kind != JSON_ARRAY) return -1;
    size_t n = list->u.array.count;
    if (n == 2 && is_split(json_at(list, 0), qwen2_regex) && is_byte_level(json_at(list, 1), 0))
        return FAMILY_QWEN2;
    if (n == 7) {
        for (int k = 0; k < 5; k++)
            if (!is_split(json_at(list, k), deepseek_split_regex[k])) return -1;
        const json_value *digits = json_at(list, 5);
        if (!string_is(json_get(digits, "type"), "Digits") ||
            !bool_or(json_get(digits, "individual_digits"), 0)) return -1;
        if (!is_byte_level(json_at(list, 6), 0)) return -1;
        return FAMILY_DEEPSEEK;
    }
    return -1;
}

/* 1 for NFC, 0 for none, -1 for anything else. */
static int detect_nfc(const json_value *norm) {
    if (!norm || norm->kind == JSON_NULL) return 0;
    if (string_is(json_get(norm, "type"), "NFC")) return 1;
    if (!string_is(json_get(norm, "type"), "Sequence")) return -1;
    const json_value *list = json_get(norm, "normalizers");
    if (!list || list->kind != JSON_ARRAY || list->u.array.count > 1) return -1;
    if (list->u.array.count == 0) return 0;
    return string_is(json_get(json_at(list, 0), "type"), "NFC") ? 1 : -1;
}

/* Sets the bos/eos/pad defaults of the family from the token strings. */
static void family_defaults(moee_tokenizer *t) {
    static const char *const names[3][3] = {
        /* bos, eos, pad */
        {NULL, "<|endoftext|>", "<|padding|>"},
        {NULL, "<|endoftext|>", "<|endoftext|>"},
        {"<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
         "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
         "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"},
    };
    const char *const *n = names[t->family];
    t->bos = n[0] ? tokenizer_find_token(t, n[0], strlen(n[0])) : -1;
    t->eos = tokenizer_find_token(t, n[1], strlen(n[1]));
    t->pad = tokenizer_find_token(t, n[2], strlen(n[2]));
    t->add_bos = t->family == FAMILY_DEEPSEEK && t->bos >= 0;
    t->add_eos = 0;
}

/* tokenizer_config.json's "bos_token" etc.: a string, {"content": ...} or null. */
static int config_token(moee_tokenizer *t, const json_value *root, const char *key, int32_t *id,
                        const char *path, char *err, size_t err_size) {
    const json_value *v = json_get(root, key);
    if (!v) return 0;
    if (v->kind == JSON_NULL) { *id = -1; return 0; }
    if (v->kind == JSON_OBJECT) v = json_get(v, "content");
    const char *s;
    size_t n;
    if (!json_get_string(v, &s, &n)) {
        snprintf(err, err_size, "%s: %s must be a string, an object with \"content\", or null", path, key);
        return -1;
    }
    *id = tokenizer_find_token(t, s, n);
    if (*id < 0) {
        snprintf(err, err_size, "%s: %s '%.*s' is not a token of the tokenizer", path, key,
                 (int)(n > 60 ? 60 : n), s);
        return -1;
    }
    return 0;
}

static int apply_config(moee_tokenizer *t, const char *path, char *err, size_t err_size) {
    json_doc *doc = json_parse_file(path, err, err_size);
    if (!doc) return -1;
    const json_value *root = json_root(doc);
    int rc = -1;
    if (root->kind != JSON_OBJECT) {
        snprintf(err, err_size, "%s: not a JSON object", path);
        goto done;
    }
    if (config_token(t, root, "bos_token", &t->bos, path, err, err_size) ||
        config_token(t, root, "eos_token", &t->eos, path, err, err_size) ||
        config_token(t, root, "pad_token", &t->pad, path, err, err_size)) goto done;
    t->add_bos = bool_or(json_get(root, "add_bos_token"), t->add_bos);
    t->add_eos = bool_or(json_get(root, "add_eos_token"), t->add_eos);
    if ((t->add_bos && t->bos < 0) || (t->add_eos && t->eos < 0)) {
        snprintf(err, err_size, "%s: add_%s_token is set but there is no %s token", path,
                 t->add_bos && t->bos < 0 ? "bos" : "eos", t->add_bos && t->bos < 0 ? "bos" : "eos");
        goto done;
    }
    rc = 0;
done:
    json_free(doc);
    return rc;
}

/* Splits a merge "left right" (the byte-level alphabet has no space, so the one
 * space separates) or ["left", "right"]. */
static int parse_merge(const json_value *v, merge_entry *m) {
    const char *s;
    size_t n;
    if (json_get_string(v, &s, &n)) {
        const char *space = memchr(s, ' ', n);
        if (!space || space == s || space == s + n - 1 || memchr(space + 1, ' ', (size_t)(s + n - space - 1)))
            return -1;
        *m = (merge_entry){s, (size_t)(space - s), space + 1, (size_t)(s + n - space - 1)};
        return 0;
    }
    if (v->kind == JSON_ARRAY && v->u.array.count == 2 &&
        json_get_string(json_at(v, 0), &m->left, &m->left_len) &&
        json_get_string(json_at(v, 1), &m->right, &m->right_len) && m->left_len && m->right_len)
        return 0;
    return -1;
}

static moee_tokenizer *tokenizer_load_json_unchecked(const char *tokenizer_json, const char *tokenizer_config,
                                                     char *err, size_t err_size) {
    const char *path = tokenizer_json;
    moee_tokenizer *t = NULL;
    token_entry *tokens = NULL;
    merge_entry *merges = NULL;
    json_doc *doc = json_parse_file(path, err, err_size);
    if (!doc) return NULL;
    const json_value *root = json_root(doc);
    const json_value *model = json_get(root, "model");
    const json_value *vocab = json_get(model, "vocab");
    const json_value *merge_list = json_get(model, "merges");
    const json_value *added = json_get(root, "added_tokens");

    if (!model || (json_get(model, "type") && !string_is(json_get(model, "type"), "BPE")) ||
        !vocab || vocab->kind != JSON_OBJECT || !merge_list || merge_list->kind != JSON_ARRAY) {
        snprintf(err, err_size, "%s: not a BPE tokenizer.json (model.type BPE with vocab and merges expected)", path);
        goto fail;
    }
    if (bool_or(json_get(model, "byte_fallback"), 0)) {
        snprintf(err, err_size, "%s: BPE byte_fallback is not supported", path);
        goto fail;
    }
    if (added && added->kind != JSON_ARRAY) {
        snprintf(err, err_size, "%s: added_tokens is not an array", path);
        goto fail;
    }
    int family = detect_family(json_get(root, "pre_tokenizer"));
    if (family < 0) {
        snprintf(err, err_size, "%s: unsupported pre_tokenizer (supported: the olmo, qwen2 and "
                 "deepseek-llm layouts)", path);
        goto fail;
    }
    int nfc = detect_nfc(json_get(root, "normalizer"));
    if (nfc < 0) {
        snprintf(err, err_size, "%s: unsupported normalizer (supported: NFC or none)", path);
        goto fail;
    }
    const json_value *decoder = json_get(root, "decoder");
    if (decoder && decoder->kind != JSON_NULL && !string_is(json_get(decoder, "type"), "ByteLevel")) {
        snprintf(err, err_size, "%s: unsupported decoder (ByteLevel expected)", path);
        goto fail;
    }

    /* The id space: every vocab id and added-token id. A real tokenizer.json
     * numbers its entries 0 .. n-1 (added tokens may repeat vocab entries), so an
     * id must be below the number of entries the file holds: the tables below are
     * sized by what is present, never by a number written in the file (an id of
     * 2^30 in a 6 KB file would otherwise cost gigabytes). */
    long long max_id = -1, id;
    size_t n_added = added ? added->u.array.count : 0;
    size_t n_entries = vocab->u.object.count + n_added;
    for (size_t i = 0; i < vocab->u.object.count; i++) {
        if (!json_get_int(&vocab->u.object.members[i].value, &id) || id < 0 || (unsigned long long)id >= n_entries ||
            id >= (1LL << 30)) {
            snprintf(err, err_size, "%s: vocab entry %zu has a bad id (ids are 0 .. %zu, the number of entries)",
                     path, i, n_entries - 1);
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    for (size_t i = 0; i < n_added; i++) {
        if (!json_get_int(json_get(json_at(added, i), "id"), &id) || id < 0 || (unsigned long long)id >= n_entries ||
            id >= (1LL << 30)) {
            snprintf(err, err_size, "%s: added_tokens[%zu] has a bad id (ids are 0 .. %zu, the number of entries)",
                     path, i, n_entries - 1);
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    int32_t n = (int32_t)(max_id + 1);
    size_t n_merges = merge_list->u.array.count;
    tokens = calloc((size_t)n + 1, sizeof *tokens);
    merges = calloc(n_merges + 1, sizeof *merges);
    if (!tokens || !merges) {
        snprintf(err, err_size, "%s: out of memory", path);
        goto fail;
    }
    for (int32_t i = 0; i < n; i++) tokens[i] = (token_entry){"", 0, TOKEN_UNUSED, 0};
    for (size_t i = 0; i < vocab->u.object.count; i++) {
        const json_member *m = &vocab->u.object.members[i];
        json_get_int(&m->value, &id);
        if (tokens[id].type != TOKEN_UNUSED) {
            snprintf(err, err_size, "%s: vocab id %lld is used twice", path, id);
            goto fail;
        }
        tokens[id] = (token_entry){m->key, m->key_len, TOKEN_NORMAL, 0};
    }
    for (size_t i = 0; i < n_added; i++) {
        const json_value *a = json_at(added, i);
        const char *content;
        size_t len;
        json_get_int(json_get(a, "id"), &id);
        if (!json_get_string(json_get(a, "content"), &content, &len) || !len) {
            snprintf(err, err_size, "%s: added_tokens[%zu] has no content", path, i);
            goto fail;
        }
        if (bool_or(json_get(a, "lstrip"), 0) || bool_or(json_get(a, "rstrip"), 0) ||
            bool_or(json_get(a, "single_word"), 0)) {
            snprintf(err, err_size, "%s: added_tokens[%zu]: lstrip/rstrip/single_word are not supported", path, i);
            goto fail;
        }
        int special = bool_or(json_get(a, "special"), 0);
        /* HF's default: special tokens are not normalized, the others are. */
        int normalized = bool_or(json_get(a, "normalized"), !special);
        tokens[id] = (token_entry){content, len, special ? TOKEN_CONTROL : TOKEN_USER_DEFINED, normalized};
    }
    for (size_t i = 0; i < n_merges; i++) {
        if (parse_merge(json_at(merge_list, i), &merges[i])) {
            snprintf(err, err_size, "%s: merges[%zu] is not \"left right\" or [left, right]", path, i);
            goto fail;
        }
    }
    if (n_merges > INT32_MAX) {
        snprintf(err, err_size, "%s: too many merges", path);
        goto fail;
    }
    t = tokenizer_build((tokenizer_family)family, tokens, n, merges, (int32_t)n_merges, path, err, err_size);
    if (!t) goto fail;
    t->nfc = nfc;
    family_defaults(t);
    if (tokenizer_config && apply_config(t, tokenizer_config, err, err_size)) goto fail;
    free(tokens);
    free(merges);
    json_free(doc);
    return t;
fail:
    tokenizer_free(t);
    free(tokens);
    free(merges);
    json_free(doc);
    return NULL;
}

/* The public entry point: every error it returns is one printable line. */
moee_tokenizer *tokenizer_load_json(const char *tokenizer_json, const char *tokenizer_config,
                                    char *err, size_t err_size) {
    moee_tokenizer *r = tokenizer_load_json_unchecked(tokenizer_json, tokenizer_config, err, err_size);
    if (!r) moee_err_oneline(err);
    return r;
}
