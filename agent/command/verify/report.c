/* report.c - verify's report: one line per backup in scope (or JSON), sorted by image
 * and id, with the damage found in its own objects and through its chain. */
#include "agent/command/verify/verify.h"
#include "agent/common/termesc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line of the report: a backup (e >= 0) or a manifest that does not verify (bad >= 0). */
typedef struct verify_row {
    long e;
    long bad;
    const naming_spec *spec;
    const char *id;
} verify_row;

/* The row of catalog entry e, or of damaged manifest bad. */
static verify_row make_row(const catalog *c, long e, long bad)
{
    if (e >= 0)
        return (verify_row){ e, -1, &c->e[e].spec, c->e[e].id };
    return (verify_row){ -1, bad, &c->badv[bad].spec, c->badv[bad].id };
}

/* By image name ("pool/ns/image" as printed), then id. */
static int cmp_row(const void *a, const void *b)
{
    const verify_row *x = a, *y = b;
    char na[NAMING_SPEC_MAX], nb[NAMING_SPEC_MAX];
    naming_spec_str(x->spec, na, sizeof(na));
    naming_spec_str(y->spec, nb, sizeof(nb));
    int c = strcmp(na, nb);
    return c != 0 ? c : strcmp(x->id, y->id);
}

/* The damage text of a row (malloc'ed), or NULL when it is fine. */
static char *row_damage(const verify_job *v, const verify_row *r)
{
    if (r->bad >= 0)
        return verify_fmt("manifest %s: %s, not a backup", v->cat.badv[r->bad].key,
                          v->cat.badv[r->bad].why);
    const char *own = v->own[r->e], *via = v->chain[r->e];
    if (own != NULL && via != NULL)
        return verify_fmt("%s; %s", own, via);
    if (own != NULL || via != NULL)
        return strdup(own != NULL ? own : via);
    return NULL;
}

static const char *src_word(int s)
{
    return s == SRC_SAME ? "identical" : s == SRC_GONE ? "skipped (snapshot gone)" : NULL;
}

static json_object *row_json(const verify_job *v, const verify_row *r, const char *damage)
{
    char name[NAMING_SPEC_MAX];
    naming_spec_str(r->spec, name, sizeof(name));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "id", json_object_new_string(r->id));
    const manifest *m = r->e >= 0 ? &v->cat.e[r->e].m : NULL;
    json_object_object_add(o, "type", m == NULL ? NULL : json_object_new_string(
                               m->full ? "full" : "incremental"));
    json_object_object_add(o, "status", json_object_new_string(damage ? "damaged" : "ok"));
    json_object_object_add(o, "reason", damage ? json_object_new_string(damage) : NULL);
    if (v->source) {
        const char *w = r->e >= 0 ? src_word(v->src[r->e]) : NULL;
        json_object_object_add(o, "source", w ? json_object_new_string(w) : NULL);
    }
    if (v->sample_ppm > 0) {
        uint64_t b = r->e >= 0 && v->sampled != NULL ? v->sampled[r->e] : 0;
        json_object_object_add(o, "sampled_bytes", b ? json_object_new_int64((int64_t)b)
                                                     : NULL);
    }
    if (v->locked) {
        char until[21];
        time_t t = r->e >= 0 ? v->protected_until[r->e] : 0;
        naming_iso8601(t, until);
        json_object_object_add(o, "protected_until", t ? json_object_new_string(until) : NULL);
    }
    return o;
}

/* " in a sample of SIZE" into buf for entry e compared in a sample, else "". */
static const char *sample_words(const verify_job *v, long e, char *buf, size_t len)
{
    char size[32];
    buf[0] = '\0';
    if (v->sampled != NULL && e >= 0 && v->sampled[e] != 0) {
        ag_fmt_size(v->sampled[e], size, sizeof(size));
        snprintf(buf, len, " in a sample of %s", size);
    }
    return buf;
}

/* The text line of row r. */
static void print_row(const verify_job *v, const verify_row *r, const char *damage)
{
    char name[NAMING_SPEC_MAX];
    naming_spec_str(r->spec, name, sizeof(name));
    const char *w = r->e >= 0 ? src_word(v->src[r->e]) : NULL;
    char lock[64] = "", sample[64];
    time_t t = v->locked && r->e >= 0 ? v->protected_until[r->e] : 0;
    if (t != 0) {
        char until[21];
        naming_iso8601(t, until);
        snprintf(lock, sizeof(lock), "; protected until %s", until);
    } else if (v->locked) {
        snprintf(lock, sizeof(lock), "; unprotected");
    }
    if (damage != NULL)
        printf("%s@%s: DAMAGED: %s%s\n", termesc_str(name), termesc_str(r->id),
               termesc_str(damage), lock);
    else if (w != NULL)
        printf("%s@%s: ok; source: %s%s%s\n", termesc_str(name), termesc_str(r->id), w,
               sample_words(v, r->e, sample, sizeof(sample)), lock);
    else
        printf("%s@%s: ok%s\n", termesc_str(name), termesc_str(r->id), lock);
}

long verify_report(verify_job *v)
{
    size_t n = 0;
    verify_row *rows = calloc(v->cat.n + v->cat.bad + 1, sizeof(*rows));
    if (rows == NULL)
        return ag_fail(v->ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < v->cat.n; i++)
        if (v->in_scope[i])
            rows[n++] = make_row(&v->cat, (long)i, -1);
    for (size_t b = 0; b < v->cat.bad; b++)
        if (v->bad_in_scope[b])
            rows[n++] = make_row(&v->cat, -1, (long)b);
    qsort(rows, n, sizeof(*rows), cmp_row);
    json_object *root = NULL, *arr = NULL;
    if (v->ctx->opts.json) {
        root = json_object_new_object();
        arr = json_object_new_array();
    }
    long damaged = 0;
    for (size_t k = 0; k < n; k++) {
        char *damage = row_damage(v, &rows[k]);
        damaged += damage != NULL;
        if (arr != NULL) {
            json_object_array_add(arr, row_json(v, &rows[k], damage));
        } else {
            print_row(v, &rows[k], damage);
        }
        free(damage);
    }
    if (root != NULL) {
        json_object_object_add(root, "deep", json_object_new_boolean(v->deep));
        json_object_object_add(root, "source", json_object_new_boolean(v->source));
        if (v->sample_ppm > 0)
            json_object_object_add(root, "sample_seed", json_object_new_uint64(v->seed));
        json_object_object_add(root, "checked", json_object_new_int64((int64_t)n));
        json_object_object_add(root, "damaged", json_object_new_int64(damaged));
        json_object_object_add(root, "backups", arr);
        puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    }
    fflush(stdout);
    free(rows);
    if (damaged > 0)
        ag_fail(v->ctx, AG_EINTEGRITY, "%ld of %zu backups damaged", damaged, n);
    return damaged;
}

