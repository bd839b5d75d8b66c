/* test_s3_rgw_list.c - test_s3_rgw's listings against the real server: objects by pages,
 * object versions, incomplete multipart uploads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_s3_rgw.h"

/* ---- listing ---- */

struct listing {
    int n;
    int prefixes;
    int sorted;
    char last[256];
};

static int list_cb(const s3_object_info *o, void *arg)
{
    struct listing *l = arg;
    if (l->n && strcmp(l->last, o->key) >= 0)
        l->sorted = 0;
    snprintf(l->last, sizeof(l->last), "%s", o->key);
    l->n++;
    l->prefixes += o->is_prefix;
    return 0;
}

void test_list(void)
{
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 7, 0);
    char key[256], prefix[256];
    struct listing l;
    s3_error e;
    int rc, ok = 1;

    for (int i = 0; i < 25 && ok; i++) {
        snprintf(key, sizeof(key), "%s/list/k%02d", run, i);
        rc = s3_put(c, key, key, strlen(key), NULL, NULL, &e);
        ok = rc == 0;
        CHECK_RC(rc, 0, &e);
    }
    for (int i = 0; i < 2 && ok; i++) {
        snprintf(key, sizeof(key), "%s/list/sub/%d", run, i);
        CHECK_RC(s3_put(c, key, "x", 1, NULL, NULL, &e), 0, &e);
    }
    snprintf(prefix, sizeof(prefix), "%s/list/", run);

    memset(&l, 0, sizeof(l));
    l.sorted = 1;
    rc = s3_list(c, prefix, "/", list_cb, &l, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(l.n == 26 && l.prefixes == 1, "delimited listing: %d entries, %d prefixes",
          l.n, l.prefixes);
    CHECK(l.sorted, "listing not in key order");

    memset(&l, 0, sizeof(l));
    l.sorted = 1;
    rc = s3_list(c, prefix, NULL, list_cb, &l, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(l.n == 27 && l.prefixes == 0, "flat listing: %d entries", l.n);
    CHECK(l.sorted, "listing not in key order");

    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "%s/list/k%02d", run, i);
        s3_delete(c, key, NULL);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof(key), "%s/list/sub/%d", run, i);
        s3_delete(c, key, NULL);
    }
    memset(&l, 0, sizeof(l));
    CHECK_RC(s3_list(c, prefix, NULL, list_cb, &l, &e), 0, &e);
    CHECK(l.n == 0, "%d entries left after delete", l.n);
    s3_client_free(c);
}

/* ---- object versions (a bucket never versioned: one "null" version per key) ---- */

static int version_cb(const s3_version_info *v, void *arg)
{
    int *n = arg;
    *n += !v->is_delete_marker && v->is_latest && !strcmp(v->version_id, "null") &&
          v->size == 3 && v->last_modified > 0;
    return 0;
}

void test_versions(void)
{
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 2, 0);
    char key[256], prefix[256];
    s3_buf b;
    s3_error e;
    int n = 0, enabled = -1, state = -1;

    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "%s/vers/k %d+%%", run, i);   /* encoded in listings */
        CHECK_RC(s3_put(c, key, "abc", 3, NULL, NULL, &e), 0, &e);
    }
    snprintf(prefix, sizeof(prefix), "%s/vers/", run);
    CHECK_RC(s3_list_versions(c, prefix, version_cb, &n, &e), 0, &e);
    CHECK(n == 5, "%d of 5 keys listed (2 a page) with their null version", n);
    CHECK_RC(s3_get_version(c, key, "null", 1, 2, 0, &b, &e), 0, &e);
    CHECK(b.len == 2 && !memcmp(b.data, "bc", 2), "GET ?versionId=null");
    s3_buf_free(&b);
    CHECK_RC(s3_get_object_lock(c, &enabled, &e), 0, &e);
    CHECK_RC(s3_get_versioning(c, &state, &e), 0, &e);
    CHECK(enabled == 0 && state == 0, "lock %d, versioning %d on a plain bucket", enabled,
          state);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "%s/vers/k %d+%%", run, i);
        s3_delete(c, key, NULL);
    }
    s3_client_free(c);
}

/* ---- incomplete multipart uploads ---- */

struct uploads {
    int n;
    char keys[8][256];
    char ids[8][256];
    time_t initiated[8];
    int stop_at;
};

static int uploads_cb(const s3_upload_info *u, void *arg)
{
    struct uploads *l = arg;
    if (l->n < 8) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", u->key);
        snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", u->upload_id);
        l->initiated[l->n] = u->initiated;
    }
    l->n++;
    return l->stop_at && l->n == l->stop_at ? 5 : 0;
}

/* Did the listing report the upload (key, id)? */
static int uploads_has(const struct uploads *l, const char *key, const char *id)
{
    for (int j = 0; j < l->n && j < 8; j++)
        if (!strcmp(l->keys[j], key) && id && !strcmp(l->ids[j], id))
            return 1;
    return 0;
}

void test_list_uploads(void)
{
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 0, 0);
    s3_client *paged = client_for(endpoint, bucket, secret_key, 0, 1, 0);
    char key[4][256], prefix[256];
    char *id[4] = { NULL, NULL, NULL, NULL };
    struct uploads l;
    s3_error e;
    int rc, ok = 1;
    time_t t0 = time(NULL);

    snprintf(prefix, sizeof(prefix), "%s/uploads/", run);
    key_of(key[0], sizeof(key[0]), "uploads/a");
    key_of(key[1], sizeof(key[1]), "uploads/b & c");
    key_of(key[2], sizeof(key[2]), "elsewhere/uploads/d");
    key_of(key[3], sizeof(key[3]), "uploads/a");          /* a second upload of a */
    for (int i = 0; i < 3; i++) {
        rc = s3_mpu_create(c, key[i], &id[i], &e);
        CHECK_RC(rc, 0, &e);
        ok &= rc == 0;
    }
    if (!ok)
        goto out;

    memset(&l, 0, sizeof(l));
    CHECK_RC(s3_list_uploads(c, prefix, uploads_cb, &l, &e), 0, &e);
    CHECK(l.n == 2 && uploads_has(&l, key[0], id[0]) && uploads_has(&l, key[1], id[1]),
          "%d uploads under %s", l.n, prefix);
    CHECK(l.initiated[0] >= t0 - 300 && l.initiated[0] <= time(NULL) + 300,
          "initiated %ld", (long)l.initiated[0]);

    /* pages of one, with two uploads of the same key (upload-id-marker) */
    rc = s3_mpu_create(c, key[3], &id[3], &e);
    CHECK_RC(rc, 0, &e);
    memset(&l, 0, sizeof(l));
    CHECK_RC(s3_list_uploads(paged, prefix, uploads_cb, &l, &e), 0, &e);
    CHECK(l.n == 3 && uploads_has(&l, key[0], id[0]) && uploads_has(&l, key[1], id[1]) &&
          uploads_has(&l, key[3], id[3]), "paged: %d uploads", l.n);
    CHECK(l.n == 3 && !strcmp(l.keys[0], key[0]) && !strcmp(l.keys[1], key[0]) &&
          !strcmp(l.keys[2], key[1]), "paged listing out of order");

    memset(&l, 0, sizeof(l));
    l.stop_at = 2;
    CHECK_RC(s3_list_uploads(paged, prefix, uploads_cb, &l, &e), 5, &e);
    CHECK(l.n == 2, "stopped after %d", l.n);

out:
    for (int i = 0; i < 4; i++)
        if (id[i])
            CHECK_RC(s3_mpu_abort(c, key[i], id[i], &e), 0, &e);
    memset(&l, 0, sizeof(l));
    CHECK_RC(s3_list_uploads(c, prefix, uploads_cb, &l, &e), 0, &e);
    CHECK(l.n == 0, "%d uploads left after abort", l.n);
    for (int i = 0; i < 4; i++)
        free(id[i]);
    s3_client_free(paged);
    s3_client_free(c);
}
