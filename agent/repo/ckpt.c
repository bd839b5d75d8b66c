/* ckpt.c - the checkpoint of a backup under way (see ckpt.h). */
#include "agent/repo/ckpt.h"
#include "agent/repo/keylist.h"

#include <json-c/json.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT 1
#define CKPT_JSON_MAX (16u << 20)    /* an answer larger than this is not ours */
#define CKPT_SEG_MAX (1u << 30)

void ckpt_clear(ckpt *c)
{
    free(c->objs);
    memset(c, 0, sizeof(*c));
}

int ckpt_add_obj(ag_ctx *ctx, ckpt *c, const char *key, uint64_t size, const char *etag)
{
    ckpt_obj *o = realloc(c->objs, (c->nobjs + 1) * sizeof(*o));
    if (o == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    c->objs = o;
    o = &c->objs[c->nobjs++];
    memset(o, 0, sizeof(*o));
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->size = size;
    snprintf(o->etag, sizeof(o->etag), "%s", etag);
    return 0;
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static json_object *to_json(const ckpt *c)
{
    json_object *o = json_object_new_object();
    add_u64(o, "format", CKPT_FORMAT);
    json_object_object_add(o, "id", json_object_new_string(c->id));
    json_object_object_add(o, "snapshot", json_object_new_string(c->snap));
    json_object_object_add(o, "parent", json_object_new_string(c->parent_id));
    json_object_object_add(o, "image_id", json_object_new_string(c->image_id));
    add_u64(o, "position", c->pos);
    add_u64(o, "chunk_size", c->chunk_size);
    add_u64(o, "data_bytes", c->data_bytes);
    add_u64(o, "zero_bytes", c->zero_bytes);
    add_u64(o, "stored_bytes", c->stored_bytes);
    add_u64(o, "chunks", c->chunks);
    add_u64(o, "zero_chunks", c->zero_chunks);
    add_u64(o, "segments", (uint64_t)c->nsegs);
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < c->nobjs; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "key", json_object_new_string(c->objs[i].key));
        add_u64(e, "size", c->objs[i].size);
        json_object_object_add(e, "etag", json_object_new_string(c->objs[i].etag));
        json_object_array_add(a, e);
    }
    json_object_object_add(o, "objects", a);
    return o;
}

static int put(ag_ctx *ctx, const char *key, const void *data, size_t len, const char *type)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_put(ag_s3(ctx), key, data, len, type, NULL, &err);
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, "writing a checkpoint") : 0;
}

int ckpt_save(ag_ctx *ctx, const char *image_prefix, ckpt *c, const unsigned char *seg,
              size_t len)
{
    char key[2048];
    if (naming_checkpoint_key(image_prefix, c->id, c->nsegs, key, sizeof(key)) < 0)
        return ag_fail(ctx, AG_EFAIL, "checkpoint key too long");
    if (put(ctx, key, seg, len, "application/octet-stream") < 0)
        return -1;
    c->nsegs++;
    json_object *o = to_json(c);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    naming_checkpoint_key(image_prefix, c->id, -1, key, sizeof(key));
    int rc = put(ctx, key, s, strlen(s), "application/json");
    json_object_put(o);
    return rc;
}

/* ---- reading: the answers are untrusted ---- */

static int get_u64(json_object *o, const char *k, uint64_t *v)
{
    json_object *x;
    if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_int) ||
        json_object_get_int64(x) < 0)
        return -1;
    *v = (uint64_t)json_object_get_int64(x);
    return 0;
}

static int get_str(json_object *o, const char *k, char *out, size_t outsz)
{
    json_object *x;
    if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_string) ||
        (size_t)json_object_get_string_len(x) >= outsz)
        return -1;
    snprintf(out, outsz, "%s", json_object_get_string(x));
    return 0;
}

static int parse_objs(ag_ctx *ctx, json_object *o, ckpt *c)
{
    json_object *a;
    if (!json_object_object_get_ex(o, "objects", &a) || !json_object_is_type(a, json_type_array))
        return -1;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        char key[1024], etag[S3_ETAG_MAX];
        uint64_t size;
        if (!json_object_is_type(e, json_type_object) || get_str(e, "key", key, sizeof(key)) ||
            get_u64(e, "size", &size) || get_str(e, "etag", etag, sizeof(etag)) ||
            ckpt_add_obj(ctx, c, key, size, etag) < 0)
            return -1;
    }
    return 0;
}

static int parse(ag_ctx *ctx, const char *json, size_t len, ckpt *c)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = tok != NULL ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    uint64_t fmt = 0, segs = 0;
    int rc = o == NULL || !json_object_is_type(o, json_type_object) ||
             get_u64(o, "format", &fmt) || fmt != CKPT_FORMAT ||
             get_str(o, "id", c->id, sizeof(c->id)) ||
             get_str(o, "snapshot", c->snap, sizeof(c->snap)) ||
             get_str(o, "parent", c->parent_id, sizeof(c->parent_id)) ||
             get_str(o, "image_id", c->image_id, sizeof(c->image_id)) ||
             get_u64(o, "position", &c->pos) || get_u64(o, "chunk_size", &c->chunk_size) ||
             get_u64(o, "data_bytes", &c->data_bytes) ||
             get_u64(o, "zero_bytes", &c->zero_bytes) ||
             get_u64(o, "stored_bytes", &c->stored_bytes) ||
             get_u64(o, "chunks", &c->chunks) || get_u64(o, "zero_chunks", &c->zero_chunks) ||
             get_u64(o, "segments", &segs) || segs > 1000000 || parse_objs(ctx, o, c)
             ? -1 : 0;
    c->nsegs = (int)segs;
    json_object_put(o);
    if (tok != NULL)
        json_tokener_free(tok);
    return rc;
}

/* keylist_list filter: the checkpoint.json files of the image's backup folders. */
static int is_ckpt_json(const s3_object_info *obj, void *arg)
{
    (void)arg;
    const char *leaf = strrchr(obj->key, '/');
    return leaf != NULL && strcmp(leaf, "/checkpoint.json") == 0;
}

/* The backup id of a checkpoint.json key into id. */
static void id_of_key(const char *key, char id[NAMING_ID_LEN])
{
    const char *end = strrchr(key, '/'), *start = end;
    while (start > key && start[-1] != '/')
        start--;
    size_t n = (size_t)(end - start) < NAMING_ID_LEN - 1 ? (size_t)(end - start)
                                                          : NAMING_ID_LEN - 1;
    memcpy(id, start, n);
    id[n] = '\0';
}

/* Does key lie in the folder of backup id (a valid backup id)? */
static int in_its_folder(const char *key, const char *id)
{
    char folder_id[NAMING_ID_LEN];
    id_of_key(key, folder_id);
    return naming_is_backup_id(id) && strcmp(folder_id, id) == 0;
}

int ckpt_find(ag_ctx *ctx, const char *image_prefix, ckpt *c, char bad[NAMING_ID_LEN])
{
    keylist l;
    memset(&l, 0, sizeof(l));
    memset(c, 0, sizeof(*c));
    bad[0] = '\0';
    if (keylist_list(ctx, image_prefix, is_ckpt_json, NULL, &l, "listing checkpoints") < 0) {
        keylist_free(&l);
        return -1;
    }
    size_t best = l.n;
    for (size_t i = 0; i < l.n; i++)
        if (best == l.n || l.mtimes[i] > l.mtimes[best])
            best = i;
    int rc = 0;
    if (best < l.n) {
        s3_buf b;
        s3_error err;
        memset(&err, 0, sizeof(err));
        int grc = s3_get(ag_s3(ctx), l.keys[best], 0, 0, CKPT_JSON_MAX, &b, &err);
        if (grc < 0 && grc != -ENOENT) {
            rc = ag_fail_s3(ctx, grc, &err, "reading a checkpoint");
        } else if (grc == 0 && parse(ctx, (const char *)b.data, b.len, c) == 0 &&
                   in_its_folder(l.keys[best], c->id)) {
            c->written = l.mtimes[best];
            rc = 1;
        } else {
            ckpt_clear(c);
            id_of_key(l.keys[best], bad);
        }
        if (grc == 0)
            s3_buf_free(&b);
    }
    keylist_free(&l);
    return rc;
}

int ckpt_check(ag_ctx *ctx, const char *image_prefix, const ckpt *c, char *why, size_t whysz)
{
    for (size_t i = 0; i < c->nobjs; i++) {
        char want[1024];
        if (naming_data_key(image_prefix, c->id, (unsigned)i, want, sizeof(want)) < 0 ||
            strcmp(want, c->objs[i].key) != 0) {
            snprintf(why, whysz, "it lists %s as data object %zu", c->objs[i].key, i);
            return 0;
        }
        uint64_t size = 0;
        char etag[S3_ETAG_MAX] = "";
        s3_error err;
        memset(&err, 0, sizeof(err));
        int rc = s3_head(ag_s3(ctx), c->objs[i].key, &size, etag, &err);
        if (rc == -ENOENT) {
            snprintf(why, whysz, "its data object %s is gone", c->objs[i].key);
            return 0;
        }
        if (rc < 0)
            return ag_fail_s3(ctx, rc, &err, "checking a checkpoint's data object");
        if (size != c->objs[i].size || strcmp(etag, c->objs[i].etag) != 0) {
            snprintf(why, whysz, "its data object %s differs", c->objs[i].key);
            return 0;
        }
    }
    return 1;
}

/* Call fn on every record of one segment frame. */
static int seg_records(ag_ctx *ctx, const s3_buf *b, int (*fn)(void *, const index_rec *),
                       void *arg)
{
    index_reader *r = NULL;
    if (index_reader_new(b->data, b->len, &r) < 0)
        return ag_fail(ctx, AG_EFAIL, "a checkpoint segment is damaged");
    index_rec rec;
    int rc;
    while ((rc = index_reader_next(r, &rec)) == 1)
        if (fn(arg, &rec) < 0) {
            index_reader_free(r);
            return -1;
        }
    index_reader_free(r);
    return rc < 0 ? ag_fail(ctx, AG_EFAIL, "a checkpoint segment is damaged") : 0;
}

int ckpt_records(ag_ctx *ctx, const char *image_prefix, const ckpt *c,
                 int (*fn)(void *arg, const index_rec *r), void *arg)
{
    for (int k = 0; k < c->nsegs; k++) {
        char key[2048];
        if (naming_checkpoint_key(image_prefix, c->id, k, key, sizeof(key)) < 0)
            return ag_fail(ctx, AG_EFAIL, "checkpoint key too long");
        s3_buf b;
        s3_error err;
        memset(&err, 0, sizeof(err));
        int rc = s3_get(ag_s3(ctx), key, 0, 0, CKPT_SEG_MAX, &b, &err);
        if (rc < 0)
            return ag_fail_s3(ctx, rc, &err, "reading a checkpoint segment");
        rc = seg_records(ctx, &b, fn, arg);
        s3_buf_free(&b);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Abort the unfinished uploads of the folder (s3_list_uploads callback). */
static int abort_one(const s3_upload_info *u, void *arg)
{
    ag_ctx *ctx = arg;
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (s3_mpu_abort(ag_s3(ctx), u->key, u->upload_id, &err) < 0)
        ag_warn("cannot abort the unfinished upload of %s", u->key);
    return 0;
}

void ckpt_abort_uploads(ag_ctx *ctx, const char *folder)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (s3_list_uploads(ag_s3(ctx), folder, abort_one, ctx, &err) < 0)
        ag_warn("cannot list the unfinished uploads of %s", folder);
}

static void drop_folder(ag_ctx *ctx, const char *folder)
{
    keylist l;
    memset(&l, 0, sizeof(l));
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (keylist_list(ctx, folder, NULL, NULL, &l, "listing a checkpoint's folder") == 0)
        for (size_t i = 0; i < l.n; i++)
            s3_delete(ag_s3(ctx), l.keys[i], &err);
    keylist_free(&l);
    ckpt_abort_uploads(ctx, folder);
}

void ckpt_drop(ag_ctx *ctx, const char *image_prefix, const char *id, int nsegs, int whole)
{
    char key[2048];
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (whole) {
        snprintf(key, sizeof(key), "%s%s/", image_prefix, id);
        drop_folder(ctx, key);
        return;
    }
    for (int k = -1; k < nsegs; k++)
        if (naming_checkpoint_key(image_prefix, id, k, key, sizeof(key)) == 0 &&
            s3_delete(ag_s3(ctx), key, &err) < 0)
            ag_warn("cannot delete %s", key);
}
