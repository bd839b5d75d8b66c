/* manifest.c - manifest JSON codec (json-c) with an embedded SHA-256 checksum. */
#include "agent/format/manifest.h"
#include "agent/format/manifest_internal.h"
#include "agent/format/digest.h"
#include "agent/format/naming.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define CHECKSUM_PREFIX "sha256:"
#define OUTPUT_FLAGS \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

void manifest_init(manifest *m)
{
    memset(m, 0, sizeof(*m));
}

void manifest_clear(manifest *m)
{
    for (size_t i = 0; m->objects != NULL && i < m->nobjects; i++)
        free(m->objects[i].key);
    free(m->objects);
    free(m->index.key);
    free(m->labels);
    memset(m, 0, sizeof(*m));
}


/* o's key and etag in one malloc'ed block. -EINVAL if too long or empty, -ENOMEM. */
static int object_fill(manifest_object *o, const char *key, uint64_t size, const char *etag)
{
    size_t kl = key ? strlen(key) : 0, el = etag ? strlen(etag) : 0;
    if (kl == 0 || kl >= MANIFEST_KEY_MAX || el >= MANIFEST_ETAG_MAX)
        return -EINVAL;
    char *p = malloc(kl + el + 2);
    if (p == NULL)
        return -ENOMEM;
    memcpy(p, key, kl + 1);
    memcpy(p + kl + 1, etag ? etag : "", el + 1);
    o->key = p;
    o->etag = p + kl + 1;
    o->size = size;
    return 0;
}

/* Room for n more objects (grows geometrically). */
static int reserve_objects(manifest *m, size_t n)
{
    if (n > MANIFEST_MAX_OBJECTS || m->nobjects > MANIFEST_MAX_OBJECTS - n)
        return -EINVAL;
    size_t want = m->nobjects + n, cap = m->objects_cap;
    if (want <= cap)
        return 0;
    while (cap < want)
        cap = cap ? cap * 2 : 8;
    manifest_object *p = realloc(m->objects, cap * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    m->objects = p;
    m->objects_cap = cap;
    return 0;
}

int manifest_add_object(manifest *m, const char *key, uint64_t size, const char *etag)
{
    int rc = reserve_objects(m, 1);
    if (rc == 0)
        rc = object_fill(&m->objects[m->nobjects], key, size, etag);
    if (rc == 0)
        m->nobjects++;
    return rc;
}

int manifest_set_index(manifest *m, const char *key, uint64_t size)
{
    manifest_object o;
    int rc = object_fill(&o, key, size, "");
    if (rc != 0)
        return rc;
    free(m->index.key);
    m->index = o;
    return 0;
}

/* "sha256:<hex>" of obj serialised plain (obj must not hold "checksum"). */
static int doc_checksum(json_object *obj, char out[72])
{
    char hex[65];
    size_t len = 0;
    const char *s = json_object_to_json_string_length(obj, HASH_FLAGS, &len);
    if (s == NULL)
        return -ENOMEM;
    int rc = digest_sha256_hex(s, len, hex);
    if (rc == 0)
        snprintf(out, 72, "%s%s", CHECKSUM_PREFIX, hex);
    return rc;
}

static int is_sha256_hex(const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return i == 64;
}

/* ---- building ---- */

void mj_add(json_object *o, const char *k, json_object *v, int *rc)
{
    if (*rc == 0 && v != NULL && json_object_object_add(o, k, v) == 0)
        return;
    json_object_put(v);
    if (*rc == 0)
        *rc = -ENOMEM;
}

void mj_add_str(json_object *o, const char *k, const char *v, int *rc)
{
    mj_add(o, k, json_object_new_string(v), rc);
}

void mj_add_u64(json_object *o, const char *k, uint64_t v, int *rc)
{
    mj_add(o, k, json_object_new_uint64(v), rc);
}

static void add_time(json_object *o, const char *k, time_t t, int *rc)
{
    char iso[21];
    naming_iso8601(t, iso);
    if (iso[0] == '\0' && *rc == 0)
        *rc = -EINVAL;
    mj_add_str(o, k, iso, rc);
}

#define MAX_RECORDS (1ull << 32)

uint64_t manifest_index_bound(uint64_t records)
{
    if (records > MAX_RECORDS)
        return UINT64_MAX;
    /* header + records, and what an LZ4 frame adds to data it cannot compress */
    uint64_t raw = 16 + records * 72;
    return raw + raw / 64 + 1024;
}

/* The parent fields agree with the type. */
static int check_parent(const manifest *m)
{
    if (m->full)
        return m->parent_id[0] == '\0' && m->parent_snap[0] == '\0' ? 0 : -EINVAL;
    return naming_is_backup_id(m->parent_id) && m->parent_snap[0] != '\0' &&
           strcmp(m->parent_id, m->id) != 0 ? 0 : -EINVAL;
}

int manifest_check(const manifest *m)
{
    if (!naming_is_backup_id(m->id) || m->pool[0] == '\0' || m->image[0] == '\0' ||
        m->order < 0 || m->order > 63 || !is_sha256_hex(m->index_sha256) ||
        m->index.key == NULL || m->index.key[0] == '\0' ||
        (m->nobjects > 0 && m->objects == NULL) || m->nobjects > MANIFEST_MAX_OBJECTS ||
        m->created < 0 || m->snap_time < 0 || check_parent(m) != 0 ||
        manifest_labels_check(m) != 0 || manifest_enc_check(m) != 0)
        return -EINVAL;
    if (m->chunk_size == 0 || m->chunk_size > MANIFEST_CHUNK_MAX ||
        m->index_records > m->size || m->index_records > MAX_RECORDS ||
        m->index.size == 0 || m->index.size > manifest_index_bound(m->index_records) +
                                               (m->enc.on ? SEAL_TAG_LEN : 0))
        return -EINVAL;           /* a sealed index: its frame and the GCM tag */
    return 0;
}

int manifest_check_folder(const manifest *m, const char *image_prefix, const char *id,
                          const char *pool, const char *ns, const char *image,
                          const char **why)
{
    char key[MANIFEST_KEY_MAX + 64];
    *why = NULL;
    if (strcmp(m->id, id) != 0)
        *why = "its id is not its folder's";
    else if (strcmp(m->pool, pool) != 0 || strcmp(m->ns, ns) != 0 ||
             strcmp(m->image, image) != 0)
        *why = "its image is not its folder's";
    for (size_t k = 0; *why == NULL && k < m->nobjects; k++) {
        if (naming_data_key(image_prefix, id, (unsigned)k, key, sizeof(key)) != 0 ||
            strcmp(key, m->objects[k].key) != 0)
            *why = "it names a data object outside its folder";
    }
    if (*why == NULL && (naming_index_key(image_prefix, id, key, sizeof(key)) != 0 ||
                         strcmp(key, m->index.key) != 0))
        *why = "it names an index outside its folder";
    return *why == NULL ? 0 : -EINVAL;
}

json_object *manifest_build_doc(const manifest *m, int whole, int *rc)
{
    json_object *doc = json_object_new_object();
    json_object *img = json_object_new_object();
    json_object *snap = json_object_new_object();
    json_object *parent = m->full ? NULL : json_object_new_object();
    json_object *objs = json_object_new_array();
    json_object *idx = json_object_new_object();
    json_object *tot = json_object_new_object();

    if (!doc || !img || !snap || (!m->full && !parent) || !objs || !idx || !tot)
        *rc = -ENOMEM;
    if (*rc == 0) {
        int format = !m->enc.on ? MANIFEST_FORMAT : m->labels != NULL
                     ? MANIFEST_FORMAT_SEALED_LABELS : MANIFEST_FORMAT_SEALED;
        mj_add(doc, "format", json_object_new_int(format), rc);
        mj_add_str(doc, "tool", m->tool, rc);
        mj_add_str(doc, "id", m->id, rc);
        add_time(doc, "created", m->created, rc);

        mj_add_str(img, "pool", m->pool, rc);
        mj_add_str(img, "namespace", m->ns, rc);
        mj_add_str(img, "name", m->image, rc);
        mj_add_str(img, "id", m->image_id, rc);
        mj_add_u64(img, "size", m->size, rc);
        mj_add(img, "order", json_object_new_int(m->order), rc);
        mj_add_u64(img, "features", m->features, rc);
        mj_add_u64(img, "stripe_unit", m->stripe_unit, rc);
        mj_add_u64(img, "stripe_count", m->stripe_count, rc);

        mj_add_str(snap, "name", m->snap_name, rc);
        mj_add_u64(snap, "id", m->snap_id, rc);
        add_time(snap, "timestamp", m->snap_time, rc);

        if (parent != NULL) {
            mj_add_str(parent, "id", m->parent_id, rc);
            mj_add_str(parent, "snapshot", m->parent_snap, rc);
        }
        for (size_t i = 0; i < m->nobjects && *rc == 0; i++) {
            json_object *o = json_object_new_object();
            if (o == NULL) {
                *rc = -ENOMEM;
                break;
            }
            mj_add_str(o, "key", m->objects[i].key, rc);
            mj_add_u64(o, "size", m->objects[i].size, rc);
            mj_add_str(o, "etag", m->objects[i].etag, rc);
            if (*rc != 0 || json_object_array_add(objs, o) != 0) {
                json_object_put(o);
                if (*rc == 0)
                    *rc = -ENOMEM;
            }
        }
        mj_add_str(idx, "key", m->index.key, rc);
        mj_add_u64(idx, "size", m->index.size, rc);
        mj_add_str(idx, "sha256", m->index_sha256, rc);
        mj_add_u64(idx, "records", m->index_records, rc);

        mj_add_u64(tot, "data_bytes", m->data_bytes, rc);
        mj_add_u64(tot, "zero_bytes", m->zero_bytes, rc);
        mj_add_u64(tot, "stored_bytes", m->stored_bytes, rc);
        mj_add_u64(tot, "chunks", m->chunks, rc);
        mj_add_u64(tot, "zero_chunks", m->zero_chunks, rc);
    }
    /* Each add takes its value (or drops it on failure), so nothing leaks past here. */
    mj_add(doc, "image", img, rc);
    mj_add(doc, "snapshot", snap, rc);
    mj_add_str(doc, "type", m->full ? "full" : "incremental", rc);
    if (*rc == 0 && json_object_object_add(doc, "parent", parent) != 0) {
        json_object_put(parent);
        *rc = -ENOMEM;
    } else if (*rc != 0) {
        json_object_put(parent);
    }
    mj_add_u64(doc, "chunk_size", m->chunk_size, rc);
    mj_add_str(doc, "compression", "lz4", rc);
    mj_add(doc, "data_objects", objs, rc);
    mj_add(doc, "index", idx, rc);
    mj_add(doc, "totals", tot, rc);
    manifest_labels_build(doc, m, rc);
    manifest_enc_build(doc, m, whole, rc);
    if (*rc != 0) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

int manifest_to_json(const manifest *m, char **json, size_t *len)
{
    char sum[72];
    int rc = manifest_check(m);
    json_object *doc = NULL;

    *json = NULL;
    *len = 0;
    if (rc != 0)
        return rc;
    doc = manifest_build_doc(m, 1, &rc);
    if (rc == 0)
        rc = doc_checksum(doc, sum);
    if (rc == 0)
        mj_add_str(doc, "checksum", sum, &rc);
    if (rc == 0) {
        size_t n = 0;
        const char *s = json_object_to_json_string_length(doc, OUTPUT_FLAGS, &n);
        char *out = s && n < MANIFEST_MAX_BYTES ? malloc(n + 2) : NULL;
        if (s != NULL && n >= MANIFEST_MAX_BYTES) {
            rc = -EFBIG;                /* the reader would refuse it */
        } else if (out == NULL) {
            rc = -ENOMEM;
        } else {
            memcpy(out, s, n);
            out[n] = '\n';
            out[n + 1] = '\0';
            *json = out;
            *len = n + 1;
        }
    }
    json_object_put(doc);
    return rc;
}

/* ---- parsing: every getter returns 0 or -EINVAL ---- */

int mj_member(json_object *o, const char *k, json_type t, json_object **v)
{
    if (!json_object_object_get_ex(o, k, v) || !json_object_is_type(*v, t))
        return -EINVAL;
    return 0;
}

int mj_str(json_object *o, const char *k, char *dst, size_t dstsz)
{
    json_object *v;
    if (mj_member(o, k, json_type_string, &v) != 0 ||
        (size_t)json_object_get_string_len(v) >= dstsz)
        return -EINVAL;
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return -EINVAL;         /* embedded NUL */
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int mj_u64(json_object *o, const char *k, uint64_t *out)
{
    json_object *v;
    if (mj_member(o, k, json_type_int, &v) != 0)
        return -EINVAL;
    int64_t s = json_object_get_int64(v);
    if (s < 0)
        return -EINVAL;
    *out = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
    return 0;
}

static int get_time(json_object *o, const char *k, time_t *t)
{
    char iso[32];
    if (mj_str(o, k, iso, sizeof(iso)) != 0)
        return -EINVAL;
    return naming_parse_iso8601(iso, t);
}

static int get_int_range(json_object *o, const char *k, int lo, int hi, int *out)
{
    uint64_t v;
    if (mj_u64(o, k, &v) != 0 || v < (uint64_t)lo || v > (uint64_t)hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_objects(json_object *arr, manifest *m)
{
    size_t n = json_object_array_length(arr);
    int rc = reserve_objects(m, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        char key[MANIFEST_KEY_MAX];
        char etag[MANIFEST_ETAG_MAX];
        uint64_t size;
        if (!json_object_is_type(o, json_type_object) ||
            mj_str(o, "key", key, sizeof(key)) != 0 || mj_u64(o, "size", &size) != 0 ||
            mj_str(o, "etag", etag, sizeof(etag)) != 0)
            return -EINVAL;
        rc = manifest_add_object(m, key, size, etag);
    }
    return rc;
}

/* The index member: key, size, sha256, records. */
static int parse_index(json_object *doc, manifest *m)
{
    json_object *idx;
    char key[MANIFEST_KEY_MAX];
    uint64_t size;
    if (mj_member(doc, "index", json_type_object, &idx) ||
        mj_str(idx, "key", key, sizeof(key)) || mj_u64(idx, "size", &size) ||
        mj_str(idx, "sha256", m->index_sha256, sizeof(m->index_sha256)) ||
        !is_sha256_hex(m->index_sha256) || mj_u64(idx, "records", &m->index_records))
        return -EINVAL;
    return manifest_set_index(m, key, size);
}

static int parse_doc(json_object *doc, int format, manifest *m)
{
    json_object *img, *snap, *parent, *objs, *tot;
    char type[16], comp[16];
    int rc = 0;

    if (mj_str(doc, "tool", m->tool, sizeof(m->tool)) ||
        mj_str(doc, "id", m->id, sizeof(m->id)) || !naming_is_backup_id(m->id) ||
        get_time(doc, "created", &m->created))
        return -EINVAL;

    if (mj_member(doc, "image", json_type_object, &img) ||
        mj_str(img, "pool", m->pool, sizeof(m->pool)) || m->pool[0] == '\0' ||
        mj_str(img, "namespace", m->ns, sizeof(m->ns)) ||
        mj_str(img, "name", m->image, sizeof(m->image)) || m->image[0] == '\0' ||
        mj_str(img, "id", m->image_id, sizeof(m->image_id)) ||
        mj_u64(img, "size", &m->size) || get_int_range(img, "order", 0, 63, &m->order) ||
        mj_u64(img, "features", &m->features) ||
        mj_u64(img, "stripe_unit", &m->stripe_unit) ||
        mj_u64(img, "stripe_count", &m->stripe_count))
        return -EINVAL;

    if (mj_member(doc, "snapshot", json_type_object, &snap) ||
        mj_str(snap, "name", m->snap_name, sizeof(m->snap_name)) ||
        mj_u64(snap, "id", &m->snap_id) || get_time(snap, "timestamp", &m->snap_time))
        return -EINVAL;

    if (mj_str(doc, "type", type, sizeof(type)) ||
        !json_object_object_get_ex(doc, "parent", &parent))
        return -EINVAL;
    if (strcmp(type, "full") == 0 && parent == NULL) {
        m->full = 1;
    } else if (strcmp(type, "incremental") == 0 && parent != NULL &&
               json_object_is_type(parent, json_type_object)) {
        m->full = 0;
        if (mj_str(parent, "id", m->parent_id, sizeof(m->parent_id)) ||
            !naming_is_backup_id(m->parent_id) ||
            mj_str(parent, "snapshot", m->parent_snap, sizeof(m->parent_snap)))
            return -EINVAL;
    } else {
        return -EINVAL;
    }

    if (mj_u64(doc, "chunk_size", &m->chunk_size) ||
        mj_str(doc, "compression", comp, sizeof(comp)) || strcmp(comp, "lz4") != 0 ||
        mj_member(doc, "data_objects", json_type_array, &objs))
        return -EINVAL;
    rc = parse_objects(objs, m);
    if (rc != 0)
        return rc;

    rc = parse_index(doc, m);
    if (rc != 0)
        return rc;

    if (mj_member(doc, "totals", json_type_object, &tot) ||
        mj_u64(tot, "data_bytes", &m->data_bytes) ||
        mj_u64(tot, "zero_bytes", &m->zero_bytes) ||
        mj_u64(tot, "stored_bytes", &m->stored_bytes) ||
        mj_u64(tot, "chunks", &m->chunks) || mj_u64(tot, "zero_chunks", &m->zero_chunks) ||
        manifest_labels_parse(doc, format, m) ||
        manifest_enc_parse(doc, format == MANIFEST_FORMAT_SEALED_LABELS
                                    ? MANIFEST_FORMAT_SEALED : format, m))
        return -EINVAL;
    return manifest_check(m);
}

/* The number of JSON objects ('{' outside strings) in json[0..len), counted before
 * parsing: json-c takes about 1 KiB per small object, so the tree of a document with
 * more objects than a manifest may hold is never built. */
static size_t count_objects(const char *json, size_t len)
{
    size_t n = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_str && c == '\\')
            i++;
        else if (c == '"')
            in_str = !in_str;
        else if (!in_str && c == '{')
            n++;
    }
    return n;
}

/* Parse json[0..len) (trailing whitespace allowed) strictly into one object. */
static int parse_text(const char *json, size_t len, json_object **out)
{
    *out = NULL;
    while (len > 0 && (json[len - 1] == ' ' || json[len - 1] == '\n' ||
                       json[len - 1] == '\r' || json[len - 1] == '\t'))
        len--;
    if (len == 0 || len > MANIFEST_MAX_BYTES ||
        count_objects(json, len) > MANIFEST_MAX_OBJECTS + 8)
        return -EINVAL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, json, (int)len);
    int rc = 0;
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object))
        rc = -EINVAL;
    json_tokener_free(tok);
    if (rc != 0) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

int manifest_from_json(const char *json, size_t len, manifest *m)
{
    json_object *doc = NULL, *v;
    char given[80], want[72];
    int64_t format = 0;

    manifest_clear(m);
    int rc = parse_text(json, len, &doc);

    /* format first: a document of another format may hash differently. */
    if (rc == 0 && mj_member(doc, "format", json_type_int, &v) == 0)
        format = json_object_get_int64(v);
    if (rc == 0 && format != MANIFEST_FORMAT && format != MANIFEST_FORMAT_SEALED &&
        format != MANIFEST_FORMAT_SEALED_LABELS)
        rc = -EINVAL;
    if (rc == 0 && mj_str(doc, "checksum", given, sizeof(given)) != 0)
        rc = -EINVAL;
    if (rc == 0) {
        json_object_object_del(doc, "checksum");
        rc = doc_checksum(doc, want);
    }
    if (rc == 0 && (strncmp(given, CHECKSUM_PREFIX, strlen(CHECKSUM_PREFIX)) != 0 ||
                    !is_sha256_hex(given + strlen(CHECKSUM_PREFIX))))
        rc = -EINVAL;
    if (rc == 0 && strcmp(given, want) != 0)
        rc = -EBADMSG;
    if (rc == 0)
        rc = parse_doc(doc, (int)format, m);
    json_object_put(doc);
    if (rc != 0)
        manifest_clear(m);
    return rc;
}
