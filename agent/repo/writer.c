/* writer.c - one backup's objects in the bucket (see writer.h). */
#include "agent/repo/writer.h"

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_open(store *s, ag_ctx *ctx, const char *prefix, const char *id)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    snprintf(s->id, sizeof(s->id), "%s", id);
    if (pack_new(ctx, s->prefix, s->id, &s->pack) < 0)
        return -1;
    if (index_writer_new(&s->idx) < 0)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    return 0;
}

static int add_rec(store *s, const index_rec *r)
{
    if (index_writer_add(s->idx, r) < 0)
        return ag_fail(s->ctx, AG_EFAIL, "chunk index: records out of order at %llu",
                       (unsigned long long)r->offset);
    return 0;
}

static int flush_zero(store *s, manifest *m)
{
    if (s->zlen == 0)
        return 0;
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = s->zoff;
    r.length = s->zlen;
    r.flags = INDEX_FLAG_ZERO;
    m->zero_bytes += s->zlen;
    m->zero_chunks++;
    s->zlen = 0;
    return add_rec(s, &r);
}

int store_zero(store *s, manifest *m, uint64_t off, uint64_t len)
{
    if (s->zlen > 0 && s->zoff + s->zlen == off) {
        s->zlen += len;
        return 0;
    }
    if (flush_zero(s, m) < 0)
        return -1;
    s->zoff = off;
    s->zlen = len;
    return 0;
}

/* Append the record of data run p of the chunk at off, stored from stored. */
static int store_chunk(store *s, manifest *m, uint64_t off, const chunk_piece *p,
                       const void *stored, digest_kind dk)
{
    if (flush_zero(s, m) < 0)
        return -1;
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = off + p->off;
    r.length = p->len;
    r.flags = p->raw ? INDEX_FLAG_RAW : 0;
    r.stored_length = p->raw ? (uint32_t)p->len : p->comp_len;
    index_rec_set_digest(&r, dk, p->digest);
    if (pack_append(s->pack, stored, r.stored_length, &r.pack, &r.pack_offset) < 0)
        return -1;
    if (add_rec(s, &r) < 0)
        return -1;
    m->data_bytes += r.length;
    m->stored_bytes += r.stored_length;
    m->chunks++;
    return 0;
}

int store_pieces(store *s, manifest *m, uint64_t off, const unsigned char *data,
                 const chunk_enc *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const chunk_piece *p = &e->pieces[i];
        int rc = p->zero ? store_zero(s, m, off + p->off, p->len)
                 : store_chunk(s, m, off, p, p->raw ? data + p->off : e->comp + p->comp_off,
                               e->digest);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int put_object(ag_ctx *ctx, const char *key, const void *data, size_t len,
                      const char *type, const char *what)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_put(ctx->s3, key, data, len, type, NULL, &err);
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, what) : 0;
}

static int upload_index(store *s, manifest *m)
{
    const unsigned char *data;
    size_t len;
    if (index_writer_finish(s->idx, &data, &len) < 0)
        return ag_fail(s->ctx, AG_EFAIL, "cannot finish the chunk index");
    naming_index_key(s->prefix, s->id, s->index_key, sizeof(s->index_key));
    if (put_object(s->ctx, s->index_key, data, len, "application/octet-stream",
                   "uploading the chunk index") < 0)
        return -1;
    s->index_uploaded = 1;
    if (manifest_set_index(m, s->index_key, len) != 0)
        return ag_fail(s->ctx, AG_EFAIL, "out of memory");
    digest_sha256_hex(data, len, m->index_sha256);
    m->index_records = index_writer_count(s->idx);
    return 0;
}

static int put_manifest(store *s, manifest *m)
{
    char *json = NULL;
    size_t len = 0;
    m->created = time(NULL);
    if (manifest_to_json(m, &json, &len) < 0)
        return ag_fail(s->ctx, AG_EFAIL, "cannot encode the manifest");
    char key[2048];
    naming_manifest_key(s->prefix, s->id, key, sizeof(key));
    int rc = put_object(s->ctx, key, json, len, "application/json", "writing the manifest");
    free(json);
    if (rc < 0) {
        /* The PUT may have landed before the failure was seen: take it back so that
         * no manifest refers to objects store_abort() is about to delete. */
        s3_error err;
        s3_delete(s->ctx->s3, key, &err);
    }
    return rc;
}

/* The index goes up while the last part does; the manifest only after both. */
int store_commit(store *s, manifest *m)
{
    if (flush_zero(s, m) < 0 || pack_flush(s->pack) < 0 || upload_index(s, m) < 0 ||
        pack_finish(s->pack, m) < 0)
        return -1;
    ag_debug(s->ctx, "data objects and index uploaded");
    if (ag_interrupted)
        return ag_fail(s->ctx, AG_EINTR, "interrupted");
    return put_manifest(s, m);
}

void store_abort(store *s)
{
    pack_abort(s->pack);
    s->pack = NULL;
    if (s->index_uploaded) {
        s3_error err;
        s3_delete(s->ctx->s3, s->index_key, &err);
        s->index_uploaded = 0;
    }
}

void store_free(store *s)
{
    pack_free(s->pack);
    s->pack = NULL;
    index_writer_free(s->idx);
    s->idx = NULL;
}

json_object *store_json(const char *name, const manifest *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "id", json_object_new_string(m->id));
    json_object_object_add(o, "type", json_object_new_string(m->full ? "full" : "incremental"));
    json_object_object_add(o, "parent", m->full ? NULL : json_object_new_string(m->parent_id));
    json_object_object_add(o, "snapshot", json_object_new_string(m->snap_name));
    json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)m->data_bytes));
    json_object_object_add(o, "zero_bytes", json_object_new_int64((int64_t)m->zero_bytes));
    json_object_object_add(o, "stored_bytes", json_object_new_int64((int64_t)m->stored_bytes));
    json_object_object_add(o, "chunks", json_object_new_int64((int64_t)m->chunks));
    return o;
}

void store_print_json(const char *name, const manifest *m)
{
    json_object *o = store_json(name, m);
    puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
    json_object_put(o);
}
