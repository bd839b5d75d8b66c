/* writer.c - one backup's objects in the bucket (see writer.h). */
#include "agent/repo/writer.h"
#include "agent/repo/trust/head.h"

#include "agent/format/index.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/repo/idxstream.h"
#include "agent/repo/pack.h"
#include "agent/repo/ckpt.h"

#include <json-c/json.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct writer {
    ag_ctx *ctx;
    char prefix[2048];        /* the image's key prefix */
    char id[NAMING_ID_LEN];
    pack_writer *pack;        /* the data objects */
    index_writer *idx;        /* its frame goes to up as it is made */
    idxstream_upload *up;     /* the index object being uploaded */
    char index_key[1024];
    uint64_t zoff, zlen;      /* the zero range not yet recorded */
    seal_key *dk;             /* an encrypted backup's data key (owned), else NULL */
    index_writer *seg;        /* records since the last checkpoint; NULL: no checkpoints */
    ckpt ck;                  /* the last checkpoint written (or resumed) */
};

/* A new data key into w when the repository encrypts. 0 or -1 (error recorded). */
static int new_data_key(writer *w)
{
    if (enckeys_ready(w->ctx) < 0)
        return -1;
    if (!enckeys_encrypts(w->ctx))
        return 0;
    if ((w->dk = calloc(1, sizeof(*w->dk))) == NULL)
        return ag_fail(w->ctx, AG_EFAIL, "out of memory");
    if (seal_data_new(w->dk) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "cannot make a data key (OpenSSL)");
    return 0;
}

int writer_open(ag_ctx *ctx, const char *prefix, const char *id, writer **out)
{
    writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    w->ctx = ctx;
    snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
    snprintf(w->id, sizeof(w->id), "%s", id);
    if (pack_new(ctx, w->prefix, w->id, &w->pack) < 0) {
        writer_free(w);
        return -1;
    }
    naming_index_key(w->prefix, w->id, w->index_key, sizeof(w->index_key));
    if (new_data_key(w) < 0 || idxstream_upload_new(ctx, w->index_key, w->dk, &w->up) < 0) {
        writer_free(w);
        return -1;
    }
    if (index_writer_new_sink(idxstream_upload_sink, w->up, &w->idx) < 0) {
        writer_free(w);
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    }
    *out = w;
    return 0;
}

const seal_key *writer_data_key(const writer *w)
{
    return w->dk;
}

static int add_rec(writer *w, const index_rec *r)
{
    int rc = index_writer_add(w->idx, r);
    if (rc == 0 && w->seg != NULL)
        rc = index_writer_add(w->seg, r);
    if (rc == -EINVAL)
        return ag_fail(w->ctx, AG_EFAIL, "chunk index: records out of order at %llu",
                       (unsigned long long)r->offset);
    if (rc < 0)     /* the upload's error is recorded first */
        return ag_fail(w->ctx, AG_EFAIL, "cannot write the chunk index");
    return 0;
}

static int flush_zero(writer *w, manifest *m)
{
    if (w->zlen == 0)
        return 0;
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = w->zoff;
    r.length = w->zlen;
    r.flags = INDEX_FLAG_ZERO;
    m->zero_bytes += w->zlen;
    m->zero_chunks++;
    w->zlen = 0;
    return add_rec(w, &r);
}

int writer_zero(writer *w, manifest *m, uint64_t off, uint64_t len)
{
    if (w->zlen > 0 && w->zoff + w->zlen == off) {
        w->zlen += len;
        return 0;
    }
    if (flush_zero(w, m) < 0)
        return -1;
    w->zoff = off;
    w->zlen = len;
    return 0;
}

/* A record being sealed into its place in a data object (pack_append_fill). */
typedef struct seal_job {
    writer *w;
    const manifest *m;
    index_rec *r;
    const void *plain;        /* its stored form, r->stored_length - SEAL_TAG_LEN bytes */
} seal_job;

static int seal_fill(void *arg, uint32_t obj, uint64_t off, unsigned char *dst, size_t len)
{
    seal_job *j = arg;
    chunk_owner o = { j->w->dk, j->w->id, j->m->image_id };
    seal_place place;
    j->r->obj = obj;
    j->r->obj_offset = off;
    chunk_place(&o, j->r, &place);
    if (seal_chunk(j->w->dk, &place, j->plain, len - SEAL_TAG_LEN, dst) < 0)
        return ag_fail(j->w->ctx, AG_EFAIL, "cannot seal a chunk (OpenSSL)");
    return 0;
}

/* Store the stored form of record r: as is, or sealed at its place when the backup is
 * encrypted (r's flags and stored_length then say so). */
static int store_rec(writer *w, const manifest *m, index_rec *r, const void *stored)
{
    if (w->dk == NULL)
        return pack_append(w->pack, stored, r->stored_length, &r->obj, &r->obj_offset);
    r->flags |= INDEX_FLAG_SEALED;
    r->stored_length += SEAL_TAG_LEN;
    seal_job j = { w, m, r, stored };
    return pack_append_fill(w->pack, r->stored_length, seal_fill, &j, &r->obj,
                            &r->obj_offset);
}

/* Append the record of data run p of the chunk at off, stored from stored. */
static int add_chunk(writer *w, manifest *m, uint64_t off, const chunk_piece *p,
                     const void *stored, digest_kind dk)
{
    if (flush_zero(w, m) < 0)
        return -1;
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = off + p->off;
    r.length = p->len;
    r.flags = p->raw ? INDEX_FLAG_RAW : 0;
    r.stored_length = p->raw ? (uint32_t)p->len : p->comp_len;
    index_rec_set_digest(&r, dk, p->digest);
    if (store_rec(w, m, &r, stored) < 0)
        return -1;
    if (add_rec(w, &r) < 0)
        return -1;
    m->data_bytes += r.length;
    m->stored_bytes += r.stored_length;
    m->chunks++;
    return 0;
}

int writer_pieces(writer *w, manifest *m, uint64_t off, const unsigned char *data,
                  const chunk_enc *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const chunk_piece *p = &e->pieces[i];
        int rc = p->zero ? writer_zero(w, m, off + p->off, p->len)
                 : add_chunk(w, m, off, p, p->raw ? data + p->off : e->comp + p->comp_off,
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

/* The end of the index object (sealed when the backup is encrypted); its parts went up
 * as the records were made. The manifest's size and SHA-256 are of the object as stored. */
static int upload_index(writer *w, manifest *m)
{
    const unsigned char *data;
    size_t len;
    uint64_t size;
    if (index_writer_finish(w->idx, &data, &len) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "cannot finish the chunk index");
    uint64_t records = index_writer_count(w->idx);
    if (idxstream_upload_finish(w->up, w->id, m->image_id, records, &size, m->index_sha256) < 0)
        return -1;
    if (manifest_set_index(m, w->index_key, size) != 0)
        return ag_fail(w->ctx, AG_EFAIL, "out of memory");
    m->index_records = records;
    return 0;
}

static int put_manifest(writer *w, manifest *m)
{
    char *json = NULL;
    size_t len = 0;
    m->created = time(NULL);
    if (w->dk != NULL && enckeys_seal_manifest(w->ctx, w->dk, m) < 0)
        return -1;
    if (manifest_to_json(m, &json, &len) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "cannot encode the manifest");
    char key[2048];
    naming_manifest_key(w->prefix, w->id, key, sizeof(key));
    int rc = put_object(w->ctx, key, json, len, "application/json", "writing the manifest");
    free(json);
    if (rc < 0) {
        /* The PUT may have landed before the failure was seen: take it back so that
         * no manifest refers to objects writer_abort() is about to delete. */
        s3_error err;
        s3_delete(w->ctx->s3, key, &err);
    }
    return rc;
}

/* The index goes up while the last part does; the manifest only after both. */
int writer_commit(writer *w, manifest *m)
{
    if (flush_zero(w, m) < 0 || pack_flush(w->pack) < 0 || upload_index(w, m) < 0 ||
        pack_finish(w->pack, m) < 0)
        return -1;
    ag_debug(w->ctx, "data objects and index uploaded");
    if (ag_interrupted)
        return ag_fail(w->ctx, AG_EINTR, "interrupted");
    if (put_manifest(w, m) < 0)
        return -1;
    if (m->enc.on)
        head_put(w->ctx, m);       /* a failure is a warning: the backup exists */
    return 0;
}

int writer_busy(const writer *w)
{
    return pack_busy(w->pack);
}

int writer_poll(writer *w, int timeout_ms)
{
    return pack_poll(w->pack, timeout_ms);
}

void writer_abort(writer *w)
{
    if (w == NULL)
        return;
    pack_abort(w->pack);
    w->pack = NULL;
    idxstream_upload_abort(w->up);
}

void writer_free(writer *w)
{
    if (w == NULL)
        return;
    pack_free(w->pack);
    index_writer_free(w->idx);
    index_writer_free(w->seg);
    ckpt_clear(&w->ck);
    idxstream_upload_free(w->up);
    if (w->dk != NULL)
        seal_key_wipe(w->dk);
    free(w->dk);
    free(w);
}

json_object *writer_json(const char *name, const manifest *m)
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

void writer_print_json(const char *name, const manifest *m)
{
    json_object *o = writer_json(name, m);
    puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
    json_object_put(o);
}

/* ---- checkpoints (agent/repo/ckpt.h) ---- */

int writer_checkpoint_begin(writer *w, const manifest *m)
{
    if (w->dk != NULL)
        return 0;                 /* an encrypted backup keeps no checkpoint (yet) */
    if (w->seg == NULL && index_writer_new(&w->seg) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "out of memory");
    ckpt *c = &w->ck;
    snprintf(c->id, sizeof(c->id), "%s", w->id);
    snprintf(c->snap, sizeof(c->snap), "%s", m->snap_name);
    snprintf(c->parent_id, sizeof(c->parent_id), "%s", m->full ? "" : m->parent_id);
    snprintf(c->image_id, sizeof(c->image_id), "%s", m->image_id);
    c->chunk_size = m->chunk_size;
    return 0;
}

static int note_obj(void *arg, const char *key, uint64_t size, const char *etag)
{
    writer *w = arg;
    return ckpt_add_obj(w->ctx, &w->ck, key, size, etag);
}

int writer_checkpoint(writer *w, manifest *m, uint64_t pos)
{
    if (w->seg == NULL)
        return 0;
    const unsigned char *data;
    size_t len;
    if (flush_zero(w, m) < 0 || pack_close(w->pack) < 0)
        return -1;
    if (index_writer_finish(w->seg, &data, &len) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "cannot finish a checkpoint segment");
    ckpt *c = &w->ck;
    c->pos = pos;
    c->data_bytes = m->data_bytes;
    c->zero_bytes = m->zero_bytes;
    c->stored_bytes = m->stored_bytes;
    c->chunks = m->chunks;
    c->zero_chunks = m->zero_chunks;
    free(c->objs);
    c->objs = NULL;
    c->nobjs = 0;
    if (pack_each_done(w->pack, note_obj, w) < 0 ||
        ckpt_save(w->ctx, w->prefix, c, data, len) < 0)
        return -1;
    index_writer_free(w->seg);
    w->seg = NULL;
    if (index_writer_new(&w->seg) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "out of memory");
    ag_debug(w->ctx, "checkpoint %d at %llu", c->nsegs, (unsigned long long)pos);
    return 0;
}

static int refeed(void *arg, const index_rec *r)
{
    writer *w = arg;
    if (r->offset + r->length > w->ck.pos || r->offset + r->length < r->offset)
        return ag_fail(w->ctx, AG_EFAIL, "checkpoint: a record past its position at %llu",
                       (unsigned long long)r->offset);
    if (index_writer_add(w->idx, r) < 0)
        return ag_fail(w->ctx, AG_EFAIL, "checkpoint: records out of order at %llu",
                       (unsigned long long)r->offset);
    return 0;
}

int writer_resume(writer *w, manifest *m, const ckpt *c)
{
    w->ck.pos = c->pos;
    for (size_t i = 0; i < c->nobjs; i++)
        if (pack_adopt(w->pack, c->objs[i].size, c->objs[i].etag) < 0)
            return -1;
    if (ckpt_records(w->ctx, w->prefix, c, refeed, w) < 0)
        return -1;
    w->ck.nsegs = c->nsegs;
    m->data_bytes = c->data_bytes;
    m->zero_bytes = c->zero_bytes;
    m->stored_bytes = c->stored_bytes;
    m->chunks = c->chunks;
    m->zero_chunks = c->zero_chunks;
    return 0;
}

int writer_checkpointed(const writer *w)
{
    return w != NULL && w->seg != NULL && w->ck.nsegs > 0;
}

void writer_suspend(writer *w)
{
    if (w == NULL)
        return;
    pack_suspend(w->pack);
    w->pack = NULL;
    idxstream_upload_abort(w->up);     /* a resumed run uploads the index anew */
}

void writer_checkpoint_drop(writer *w)
{
    if (w->ck.nsegs > 0)
        ckpt_drop(w->ctx, w->prefix, w->id, w->ck.nsegs, 0);
}
