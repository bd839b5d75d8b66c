/* cmd_list.c - the list and show commands: committed backups and one manifest. */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "agent/index.h"
#include "agent/options.h"
#include "agent/termesc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *entry_json(const cat_entry *e)
{
    const manifest *m = &e->m;
    char name[1600], created[21];
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
    return o;
}

static void print_text(const catalog *c)
{
    printf("%-24s %-20s %-12s %-20s %12s %12s\n", "IMAGE", "BACKUP", "TYPE", "PARENT",
           "SIZE", "STORED");
    for (size_t i = 0; i < c->n; i++) {
        const manifest *m = &c->e[i].m;
        char name[1600], size[32], stored[32];
        naming_spec_str(&c->e[i].spec, name, sizeof(name));
        ag_fmt_size(m->size, size, sizeof(size));
        ag_fmt_size(m->stored_bytes, stored, sizeof(stored));
        printf("%-24s %-20s %-12s %-20s %12s %12s\n", termesc_str(name), termesc_str(m->id),
               m->full ? "full" : "incremental", m->full ? "-" : termesc_str(m->parent_id),
               size, stored);
    }
}

int cmd_list(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, NULL, 0, &pos, &npos) < 0)
        return ctx->exit_code;
    naming_spec spec;
    if (npos > 1 || (npos == 1 && naming_parse_spec(pos[0], 0, &spec) < 0)) {
        ag_fail(ctx, AG_EUSAGE, "usage: list [POOL/IMAGE]");
        return ctx->exit_code;
    }
    catalog c;
    if (catalog_load(ctx, npos == 1 ? &spec : NULL, &c) < 0)
        return ctx->exit_code;
    if (ctx->opts.json) {
        json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < c.n; i++)
            json_object_array_add(arr, entry_json(&c.e[i]));
        json_object_object_add(root, "backups", arr);
        puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    } else {
        print_text(&c);
    }
    catalog_free(&c);
    return ctx->exit_code;
}

static int print_chunks(ag_ctx *ctx, const manifest *m, json_object *root)
{
    s3_buf body = { 0 };
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_get(ctx->s3, m->index.key, 0, 0, 0, &body, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, "reading the chunk index");
    index_reader *r = NULL;
    json_object *arr = root ? json_object_new_array() : NULL;
    if (index_reader_new(body.data, body.len, &r) < 0) {
        s3_buf_free(&body);
        return ag_fail(ctx, AG_EINTEGRITY, "%s: not a valid chunk index", m->index.key);
    }
    if (!root)
        printf("%-16s %-12s %-6s %-6s %-12s %-10s\n", "OFFSET", "LENGTH", "KIND", "PACK",
               "PACK_OFFSET", "STORED");
    index_rec rec;
    while ((rc = index_reader_next(r, &rec)) == 1) {
        const char *kind = rec.flags & INDEX_FLAG_ZERO ? "zero"
                           : rec.flags & INDEX_FLAG_RAW ? "raw" : "lz4";
        if (root) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "offset", json_object_new_int64((int64_t)rec.offset));
            json_object_object_add(o, "length", json_object_new_int64((int64_t)rec.length));
            json_object_object_add(o, "kind", json_object_new_string(kind));
            json_object_object_add(o, "pack", json_object_new_int64(rec.pack));
            json_object_object_add(o, "pack_offset",
                                   json_object_new_int64((int64_t)rec.pack_offset));
            json_object_object_add(o, "stored", json_object_new_int64(rec.stored_length));
            if (!(rec.flags & INDEX_FLAG_ZERO)) {
                char dg[80];
                digest_format(index_rec_digest(&rec), rec.digest, dg);
                json_object_object_add(o, "digest", json_object_new_string(dg));
            }
            json_object_array_add(arr, o);
        } else {
            printf("%-16llu %-12llu %-6s %-6u %-12llu %-10u\n",
                   (unsigned long long)rec.offset, (unsigned long long)rec.length, kind,
                   rec.pack, (unsigned long long)rec.pack_offset, rec.stored_length);
        }
    }
    index_reader_free(r);
    s3_buf_free(&body);
    if (root)
        json_object_object_add(root, "chunks", arr);
    return rc < 0 ? ag_fail(ctx, AG_EINTEGRITY, "%s: damaged chunk index", m->index.key) : 0;
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
        manifest_to_json(&c.e[i].m, &json, &len);
        json_object *root = json_tokener_parse(json);
        free(json);
        if (chunks != NULL)
            print_chunks(ctx, &c.e[i].m, ctx->opts.json ? root : NULL);
        if (ctx->exit_code == AG_OK && (ctx->opts.json || chunks == NULL))
            puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    }
    catalog_free(&c);
    return ctx->exit_code;
}
