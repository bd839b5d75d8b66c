/* manifest_fixture.h - what the manifest codec tests share: a filled manifest, a deep
 * comparison, and re-serialisation of a mutated document with a fresh checksum. */
#ifndef RBD2S3_TEST_MANIFEST_FIXTURE_H
#define RBD2S3_TEST_MANIFEST_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "agent/format/manifest.h"
#include "agent/format/naming.h"

static void fill_manifest(manifest *m, int full)
{
    manifest_init(m);
    snprintf(m->id, sizeof(m->id), "%s", full ? "20261121T083000Z" : "20261122T083000Z-1");
    m->created = 1795249805;
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 0.1.0");
    snprintf(m->pool, sizeof(m->pool), "rbd");
    snprintf(m->ns, sizeof(m->ns), "%s", full ? "" : "tenant \"a\"/\\b");
    snprintf(m->image, sizeof(m->image), "vm1 \xc3\xa9\x01%%");
    snprintf(m->image_id, sizeof(m->image_id), "10a2b3");
    m->size = 1ULL << 44;
    m->order = 22;
    m->features = 61;
    m->stripe_unit = 4194304;
    m->stripe_count = 1;
    snprintf(m->snap_name, sizeof(m->snap_name), "rbd2s3-%s", m->id);
    m->snap_id = UINT64_MAX - 1;
    m->snap_time = 1795249800;
    m->full = full;
    if (!full) {
        snprintf(m->parent_id, sizeof(m->parent_id), "20261121T083000Z");
        snprintf(m->parent_snap, sizeof(m->parent_snap), "rbd2s3-20261121T083000Z");
    }
    m->chunk_size = 1048576;
    for (unsigned i = 0; i < 5; i++) {
        char key[128], etag[64];
        snprintf(key, sizeof(key), "backups/rbd/vm1/%s/data.%u", m->id, i);
        snprintf(etag, sizeof(etag), "\"0123456789abcdef0123456789abcdef-%u\"", i + 1);
        assert_int_equal(manifest_add_object(m, key, (1ULL << 33) + i, etag), 0);
    }
    char ikey[128];
    snprintf(ikey, sizeof(ikey), "backups/rbd/vm1/%s/index", m->id);
    assert_int_equal(manifest_set_index(m, ikey, 456), 0);
    memset(m->index_sha256, 'e', 64);
    m->index_sha256[0] = '0';
    m->index_records = 789;
    m->data_bytes = INT64_MAX;
    m->zero_bytes = (uint64_t)INT64_MAX + 1;
    m->stored_bytes = UINT64_MAX;
    m->chunks = 9007199254740993ULL;   /* 2^53 + 1: not exact in a double */
    m->zero_chunks = 0;
}

static void assert_manifest_equal(const manifest *a, const manifest *b)
{
    assert_string_equal(a->id, b->id);
    assert_true(a->created == b->created);
    assert_string_equal(a->tool, b->tool);
    assert_string_equal(a->pool, b->pool);
    assert_string_equal(a->ns, b->ns);
    assert_string_equal(a->image, b->image);
    assert_string_equal(a->image_id, b->image_id);
    assert_true(a->size == b->size);
    assert_int_equal(a->order, b->order);
    assert_true(a->features == b->features);
    assert_true(a->stripe_unit == b->stripe_unit);
    assert_true(a->stripe_count == b->stripe_count);
    assert_string_equal(a->snap_name, b->snap_name);
    assert_true(a->snap_id == b->snap_id);
    assert_true(a->snap_time == b->snap_time);
    assert_int_equal(a->full, b->full);
    assert_string_equal(a->parent_id, b->parent_id);
    assert_string_equal(a->parent_snap, b->parent_snap);
    assert_true(a->chunk_size == b->chunk_size);
    assert_int_equal(a->nobjects, b->nobjects);
    for (size_t i = 0; i < a->nobjects; i++) {
        assert_string_equal(a->objects[i].key, b->objects[i].key);
        assert_true(a->objects[i].size == b->objects[i].size);
        assert_string_equal(a->objects[i].etag, b->objects[i].etag);
    }
    assert_string_equal(a->index.key, b->index.key);
    assert_true(a->index.size == b->index.size);
    assert_string_equal(a->index_sha256, b->index_sha256);
    assert_true(a->index_records == b->index_records);
    assert_true(a->data_bytes == b->data_bytes);
    assert_true(a->zero_bytes == b->zero_bytes);
    assert_true(a->stored_bytes == b->stored_bytes);
    assert_true(a->chunks == b->chunks);
    assert_true(a->zero_chunks == b->zero_chunks);
}

/* Re-serialise json after mutate(), with a fresh checksum computed the way manifest.c
 * does (plain json-c serialisation without "checksum"). */
static char *reseal(const char *json, void (*mutate)(json_object *doc))
{
    json_object *doc = json_tokener_parse(json);
    assert_non_null(doc);
    mutate(doc);
    json_object_object_del(doc, "checksum");
    size_t n;
    const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &n);
    unsigned char md[32];
    unsigned int mdlen;
    assert_true(EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL));
    char sum[80] = "sha256:";
    for (int i = 0; i < 32; i++)
        snprintf(sum + 7 + 2 * i, 3, "%02x", md[i]);
    json_object_object_add(doc, "checksum", json_object_new_string(sum));
    char *out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    assert_non_null(out);
    json_object_put(doc);
    return out;
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, k, &v));
    return v;
}

static void mut_none(json_object *d) { (void)d; }

#endif
