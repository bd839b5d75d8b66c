/* list.c - the list and show commands: committed backups (their labels and protection;
 * filtered by --label) and one manifest. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/repo/catalog.h"
#include "agent/repo/asof.h"
#include "agent/repo/protect.h"
#include "agent/format/index.h"
#include "agent/config/options.h"
#include "agent/common/termesc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void protect_json(json_object *o, const protect_state *st)
{
    char since[21];
    json_object_object_add(o, "protected", json_object_new_boolean(st->on));
    if (!st->on)
        return;
    if (st->doc.since != 0) {
        naming_iso8601(st->doc.since, since);
        json_object_object_add(o, "protected_since", json_object_new_string(since));
    }
    if (st->doc.reason[0] != '\0')
        json_object_object_add(o, "protect_reason", json_object_new_string(st->doc.reason));
    if (st->unreadable)
        json_object_object_add(o, "protect_unreadable", json_object_new_boolean(1));
}

static json_object *entry_json(const cat_entry *e, const protect_state *st)
{
    const manifest *m = &e->m;
    char name[NAMING_SPEC_MAX], created[21];
    naming_spec_str(&e->spec, name, sizeof(name));
    naming_iso8601(m->created, created);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "pool", json_object_new_string(m->pool));
    json_object_object_add(o, "namespace", json_object_new_string(m->ns));
    json_object_object_add(o, "name", json_object_new_string(m->image));
    json_object_object_add(o, "id", json_object_new_string(m->id));
    json_object_object_add(o, "type", json_object_new_string(m->full ? "full"
                                                                      : "incremental"));
    json_object_object_add(o, "parent", m->full ? NULL : json_object_new_string(m->parent_id));
    json_object_object_add(o, "snapshot", json_object_new_string(m->snap_name));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)m->size));
    json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)m->data_bytes));
    json_object_object_add(o, "stored_bytes", json_object_new_int64((int64_t)m->stored_bytes));
    json_object_object_add(o, "created", json_object_new_string(created));
    json_object_object_add(o, "damaged", json_object_new_boolean(0));
    json_object_object_add(o, "encrypted", json_object_new_boolean(m->enc.on));
    if (m->enc.on)
        json_object_object_add(o, "key_id", json_object_new_string(m->enc.key_id));
    json_object_object_add(o, "labels", manifest_labels_json(m->labels));
    protect_json(o, st);
    return o;
}

static json_object *bad_json(const cat_bad *b)
{
    char name[NAMING_SPEC_MAX];
    naming_spec_str(&b->spec, name, sizeof(name));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "pool", json_object_new_string(b->spec.pool));
    json_object_object_add(o, "namespace", json_object_new_string(b->spec.ns));
    json_object_object_add(o, "name", json_object_new_string(b->spec.image));
    json_object_object_add(o, "id", json_object_new_string(b->id));
    json_object_object_add(o, "damaged", json_object_new_boolean(1));
    json_object_object_add(o, "manifest", json_object_new_string(b->key));
    json_object_object_add(o, "reason", json_object_new_string(b->why));
    return o;
}

/* One row of list: a backup (bad < 0) or a damaged manifest. */
typedef struct list_row {
    const naming_spec *spec;
    const char *id;
    long e, bad;
} list_row;

static int cmp_row(const void *a, const void *b)
{
    const list_row *x = a, *y = b;
    int c = strcmp(x->spec->pool, y->spec->pool);
    if (c == 0)
        c = strcmp(x->spec->ns, y->spec->ns);
    if (c == 0)
        c = strcmp(x->spec->image, y->spec->image);
    return c != 0 ? c : strcmp(x->id, y->id);
}

/* Backups carrying every label of filter and damaged manifests (whose labels are not
 * known) together, by image then id (malloc'ed; *nrows of them). */
static list_row *list_rows(const catalog *c, const labels_set *filter, size_t *nrows)
{
    list_row *r = calloc(c->n + c->bad + 1, sizeof(*r));
    size_t n = 0;
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (labels_match(c->e[i].m.labels, filter))
            r[n++] = (list_row){ &c->e[i].spec, c->e[i].id, (long)i, -1 };
    for (size_t b = 0; b < c->bad; b++)
        r[n++] = (list_row){ &c->badv[b].spec, c->badv[b].id, -1, (long)b };
    qsort(r, n, sizeof(*r), cmp_row);
    *nrows = n;
    return r;
}

/* "  protected since ...  labels k=v,..." after a backup's row ("" when neither). */
static void row_tail(const manifest *m, const protect_state *st, char *out, size_t outsz)
{
    char prot[512] = "", lab[LABELS_MAX * (LABELS_KEY_MAX + LABELS_VALUE_MAX + 2) + 1];
    if (st->on)
        protect_describe(st, prot, sizeof(prot));
    labels_str(m->labels, lab, sizeof(lab));
    snprintf(out, outsz, "%s%s%s%s", st->on ? "  " : "", prot, lab[0] ? "  labels " : "",
             lab);
}

static void print_text(const catalog *c, const list_row *rows, size_t nrows,
                       const protect_state *prot)
{
    printf("%-24s %-20s %-12s %-20s %12s %12s\n", "IMAGE", "BACKUP", "TYPE", "PARENT",
           "SIZE", "STORED");
    for (size_t k = 0; k < nrows; k++) {
        char name[NAMING_SPEC_MAX], size[32], stored[32], tail[4096];
        naming_spec_str(rows[k].spec, name, sizeof(name));
        if (rows[k].e < 0) {
            const cat_bad *b = &c->badv[rows[k].bad];
            printf("%-24s %-20s %-12s %-20s %12s %12s  manifest %s: %s\n",
                   termesc_str(name), termesc_str(b->id), "DAMAGED", "-", "-", "-",
                   termesc_str(b->key), termesc_str(b->why));
            continue;
        }
        const manifest *m = &c->e[rows[k].e].m;
        ag_fmt_size(m->size, size, sizeof(size));
        ag_fmt_size(m->stored_bytes, stored, sizeof(stored));
        row_tail(m, &prot[rows[k].e], tail, sizeof(tail));
        printf("%-24s %-20s %-12s %-20s %12s %12s%s%s%s\n", termesc_str(name),
               termesc_str(m->id), m->full ? "full" : "incremental",
               m->full ? "-" : termesc_str(m->parent_id), size, stored,
               m->enc.on ? "  encrypted, key " : "", m->enc.on ? m->enc.key_id : "",
               termesc_str(tail));
    }
}

int cmd_list(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    const char *as_of = NULL, *label = NULL, *bad, *why;
    opts_cmd opt[] = { { "as-of", 1, &as_of }, { "label", 1, &label } };
    if (opts_parse_command(ctx, argc, argv, opt, 2, &pos, &npos) < 0)
        return ctx->exit_code;
    labels_set filter = { 0 };
    if (labels_collect(argc, argv, "label", 0, &filter, &bad, &why) < 0) {
        ag_fail(ctx, AG_EUSAGE, "--label '%s': %s", bad, why);
        return ctx->exit_code;
    }
    naming_spec spec;
    if (npos > 1 || (npos == 1 && naming_parse_spec(pos[0], 0, &spec) < 0)) {
        ag_fail(ctx, AG_EUSAGE, "usage: list [--as-of TIME] [--label KEY=VALUE]... "
                "[POOL/IMAGE]");
        return ctx->exit_code;
    }
    catalog c;
    protect_state *prot = NULL;
    if (asof_open_spec(ctx, as_of, npos == 1 ? &spec : NULL) < 0 ||
        catalog_load(ctx, npos == 1 ? &spec : NULL, &c) < 0) {
        asof_close(ctx);
        return ctx->exit_code;
    }
    size_t nrows = 0;
    list_row *rows = protect_load(ctx, &c, npos == 1 ? &spec : NULL, &prot) < 0 ? NULL
                     : list_rows(&c, &filter, &nrows);
    if (rows == NULL) {
        if (ctx->exit_code == AG_OK)
            ag_fail(ctx, AG_EFAIL, "out of memory");
    } else if (ctx->opts.json) {
        json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();
        for (size_t k = 0; k < nrows; k++)
            json_object_array_add(arr, rows[k].e >= 0
                                           ? entry_json(&c.e[rows[k].e], &prot[rows[k].e])
                                           : bad_json(&c.badv[rows[k].bad]));
        json_object_object_add(root, "backups", arr);
        puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    } else {
        print_text(&c, rows, nrows, prot);
    }
    free(rows);
    free(prot);
    catalog_free(&c);
    asof_close(ctx);
    return ctx->exit_code;
}

static const char *chunk_kind(const index_rec *rec)
{
    return rec->flags & INDEX_FLAG_ZERO ? "zero" : rec->flags & INDEX_FLAG_RAW ? "raw" : "lz4";
}

static json_object *chunk_json(const index_rec *rec)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "offset", json_object_new_int64((int64_t)rec->offset));
    json_object_object_add(o, "length", json_object_new_int64((int64_t)rec->length));
    json_object_object_add(o, "kind", json_object_new_string(chunk_kind(rec)));
    json_object_object_add(o, "pack", json_object_new_int64(rec->obj));
    json_object_object_add(o, "pack_offset", json_object_new_int64((int64_t)rec->obj_offset));
    json_object_object_add(o, "stored", json_object_new_int64(rec->stored_length));
    if (rec->flags & INDEX_FLAG_SEALED)
        json_object_object_add(o, "sealed", json_object_new_boolean(1));
    if (!(rec->flags & INDEX_FLAG_ZERO)) {
        char dg[80];
        digest_format(index_rec_digest(rec), rec->digest, dg);
        json_object_object_add(o, "digest", json_object_new_string(dg));
    }
    return o;
}

/* The chunk records of m as the catalog loads them (at the declared size, with the
 * manifest's SHA-256 and record count), as a table, or into root's "chunks". 0, or -1
 * with the error recorded in ctx and nothing printed. */
static int print_chunks(ag_ctx *ctx, const cat_entry *e, json_object *root)
{
    index_rec *recs = NULL;
    size_t n = 0;
    const manifest *m = &e->m;
    if (catalog_load_index(ctx, m, e->dk, &recs, &n) < 0)
        return -1;
    json_object *arr = root ? json_object_new_array() : NULL;
    if (!root)
        printf("%-16s %-12s %-6s %-6s %-12s %-10s\n", "OFFSET", "LENGTH", "KIND", "PACK",
               "PACK_OFFSET", "STORED");
    for (size_t k = 0; k < n; k++) {
        const index_rec *rec = &recs[k];
        if (root)
            json_object_array_add(arr, chunk_json(rec));
        else
            printf("%-16llu %-12llu %-6s %-6u %-12llu %-10u\n",
                   (unsigned long long)rec->offset, (unsigned long long)rec->length,
                   chunk_kind(rec), rec->obj, (unsigned long long)rec->obj_offset,
                   rec->stored_length);
    }
    if (root)
        json_object_object_add(root, "chunks", arr);
    free(recs);
    return 0;
}

int cmd_show(ag_ctx *ctx, int argc, char **argv)
{
    const char *chunks = NULL;
    opts_cmd spec_opts[] = { { "chunks", 0, &chunks } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec_opts, 1, &pos, &npos) < 0)
        return ctx->exit_code;
    naming_spec spec;
    if (npos != 1 || naming_parse_spec(pos[0], 1, &spec) < 0) {
        ag_fail(ctx, AG_EUSAGE, "usage: show POOL/IMAGE[@BACKUP] [--chunks]");
        return ctx->exit_code;
    }
    catalog c;
    if (catalog_load(ctx, &spec, &c) < 0)
        return ctx->exit_code;
    long i = catalog_find(ctx, &c, &spec, spec.at);
    if (i >= 0) {
        char *json = NULL;
        size_t len = 0;
        json_object *root = NULL;
        if (manifest_to_json(&c.e[i].m, &json, &len) == 0)
            root = json_tokener_parse(json);
        free(json);
        char name[NAMING_SPEC_MAX];
        naming_spec_str(&spec, name, sizeof(name));
        if (root == NULL)
            ag_fail(ctx, AG_EINTEGRITY, "%s@%s: the manifest cannot be shown", name,
                    c.e[i].id);
        else if (chunks != NULL)
            print_chunks(ctx, &c.e[i], ctx->opts.json ? root : NULL);
        if (ctx->exit_code == AG_OK && (ctx->opts.json || chunks == NULL))
            puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    }
    catalog_free(&c);
    return ctx->exit_code;
}
