/* test_s3_bucket.c - listings and bucket subresources against tests/fakes3/fakes3.py. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "tests/unit/s3/fakes3_client.h"

struct listing {
    int n;
    char keys[32][64];
    int prefix[32];
    int stop_at;
};

static int list_cb(const s3_object_info *o, void *arg)
{
    struct listing *l = arg;
    if (l->n >= 32)
        return -1;
    s3_strlcpy(l->keys[l->n], o->key, 64);
    l->prefix[l->n] = o->is_prefix;
    l->n++;
    return l->stop_at && l->n == l->stop_at ? 77 : 0;
}

/* A client listing 3 keys a page, and the keys list/k00..k09, list/sub/x, list/sub/y and
 * other in the bucket. */
static s3_client *list_client(void)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 3,
    };
    s3_client *c = NULL;
    s3_error e;
    char key[32];

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "list/k%02d", i);
        assert_int_equal(s3_put(c, key, key, strlen(key), NULL, NULL, &e), 0);
    }
    assert_int_equal(s3_put(c, "list/sub/x", "x", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "list/sub/y", "y", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "other", "o", 1, NULL, NULL, &e), 0);
    return c;
}

static void test_list_pages(void **state)
{
    s3_client *c = list_client();
    struct listing l;
    struct logrec log[64];
    s3_error e;
    (void)state;

    set_rules("");

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", "/", list_cb, &l, &e), 0);
    assert_int_equal(l.n, 11);
    assert_string_equal(l.keys[0], "list/k00");
    assert_string_equal(l.keys[9], "list/k09");
    assert_string_equal(l.keys[10], "list/sub/");
    assert_int_equal(l.prefix[10], 1);
    int n = get_log(log, 64);
    assert_int_equal(count_log(log, n, "GET", "list-type=2"), 4);     /* 3+3+3+2 */
    assert_int_equal(count_log(log, n, "GET", "continuation-token="), 3);

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 12);
    assert_string_equal(l.keys[11], "list/sub/y");

    memset(&l, 0, sizeof(l));
    l.stop_at = 5;
    assert_int_equal(s3_list(c, NULL, NULL, list_cb, &l, &e), 77);
    assert_int_equal(l.n, 5);

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "nothing/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 0);
    s3_client_free(c);
}

/* A server without ListObjectsV2 (fakes3's no-v2 mode `mode`: 501, 400 NotImplemented, or
 * v1 documents to v2 requests) is listed with ListObjects v1 (marker = the last key),
 * pages and prefixes as with v2; a v1 page that repeats is refused as with v2. */
static void list_v1_case(const char *mode)
{
    struct listing l;
    struct logrec log[64];
    s3_error e;

    fake_reset(NULL);
    s3_client *c = list_client();
    ctl("POST", "/_ctl/nov2", mode, NULL);
    set_rules("");
    assert_int_equal(s3_bucket_check(c, &e), 0);

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", "/", list_cb, &l, &e), 0);
    assert_int_equal(l.n, 11);
    assert_string_equal(l.keys[0], "list/k00");
    assert_string_equal(l.keys[9], "list/k09");
    assert_string_equal(l.keys[10], "list/sub/");
    assert_int_equal(l.prefix[10], 1);
    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 12);
    assert_string_equal(l.keys[11], "list/sub/y");
    int n = get_log(log, 64);
    assert_int_equal(count_log(log, n, "GET", "marker=list%2Fk0"), 6);   /* 2 listings */
    assert_int_equal(count_log(log, n, "GET", "continuation-token="), 0);

    set_rules("GET * max-keys=3 all stuck\n");
    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", NULL, list_cb, &l, &e), -EINVAL);
    assert_non_null(strstr(e.message, "does not advance"));
    assert_true(get_log(log, 64) <= 2);
    s3_client_free(c);
}

static void test_list_v1(void **state)
{
    (void)state;
    list_v1_case("501");
    list_v1_case("400");
    list_v1_case("ignore");
}

/* ListObjects (v1) goes on from the page's last key even when that entry was skipped
 * (fakes3's rawkeys: "raw/b%zz1" and "raw/b%zz2" come undecodable), or from NextMarker
 * (with a delimiter): no skipped entry is fetched twice, and a page of skipped entries
 * only is no dead end. */
static void test_list_v1_skipped_last(void **state)
{
    static const char *const keys[] = { "raw/a1", "raw/b%zz1", "raw/b%zz2", "raw/c1" };
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 2,
    };
    struct logrec log[64];
    struct listing l;
    s3_client *c = NULL;
    s3_error e;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s3_put(c, keys[i], "x", 1, NULL, NULL, &e), 0);
    ctl("POST", "/_ctl/nov2", "501", NULL);
    for (int delim = 0; delim < 2; delim++) {
        set_rules("GET * max-keys all rawkeys\n");
        memset(&l, 0, sizeof(l));
        assert_int_equal(s3_list(c, "raw/", delim ? "/" : NULL, list_cb, &l, &e), 0);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.keys[0], "raw/a1");
        assert_string_equal(l.keys[1], "raw/c1");
        int n = get_log(log, 64);
        assert_int_equal(count_log(log, n, "GET", "marker=raw%2Fb%25zz1"), 1);
        assert_int_equal(count_log(log, n, "GET", "max-keys"), delim ? 2 : 3);   /* +501 */
    }
    s3_client_free(c);
}

static void part_cb(const s3_result *res, void *arg)
{
    s3_part *p = arg;
    if (res->rc == 0 && res->etag)
        s3_strlcpy(p->etag, res->etag, sizeof(p->etag));
}

/* addressing = virtual against fakes3 at localhost: every request goes to
 * bkt.localhost:PORT (curl resolves *.localhost to loopback) with the bucket out of the
 * path, and the fake's signature check (of that Host and path) passes. */
static void test_virtual_hosted(void **state)
{
    char ep[80], *id = NULL;
    const char *port = strrchr(endpoint, ':');
    struct logrec log[64];
    struct listing l;
    s3_part part = { .number = 1 };
    s3_buf body = { 0 };
    s3_error e;
    (void)state;

    assert_non_null(port);
    snprintf(ep, sizeof(ep), "http://localhost%s", port);
    s3_config cfg = {
        .endpoint = ep, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 2, .addressing = S3_ADDR_VIRTUAL,
    };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    set_rules("");
    assert_int_equal(s3_bucket_check(c, &e), 0);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "v/k%d", i);
        assert_int_equal(s3_put(c, key, "x", 1, NULL, NULL, &e), 0);
    }
    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "v/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(s3_mpu_create(c, "v/mpu", &id, &e), 0);
    assert_int_equal(s3_async_upload_part(c, "v/mpu", id, 1, "hello", 5, part_cb, &part), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(s3_mpu_complete(c, "v/mpu", id, &part, 1, NULL, &e), 0);
    free(id);
    assert_int_equal(s3_get(c, "v/k1", 0, 0, 0, &body, &e), 0);
    assert_int_equal(body.len, 1);
    s3_buf_free(&body);
    int n = get_log(log, 64);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        assert_string_equal(log[i].auth, "ok");
        assert_int_not_equal(strncmp(log[i].path, "/" BUCKET, strlen("/" BUCKET)), 0);
    }
    s3_client_free(c);
}

/* ---- bucket subresources: multi-object delete, lifecycle, upload listing ---- */

static void test_delete_many(void **state)
{
    s3_client *c = client();
    const char *keys[] = { "dm/a&b", "dm/c<d>'e\"", "dm/missing" };
    const char *some_locked[] = { "dm/x", "dm/locked1", "dm/y", "dm/locked2" };
    struct logrec log[16];
    size_t nfailed = 99;
    s3_error e;
    (void)state;

    assert_int_equal(s3_put(c, keys[0], "a", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, keys[1], "b", 1, NULL, NULL, &e), 0);
    /* the fake checks Content-MD5 and the signature; a 503 and an <Error> in a 200 retry */
    set_rules("POST /bkt delete 1 status 503 SlowDown\n"
              "POST /bkt delete 2 error200 InternalError\n");
    assert_int_equal(s3_delete_many(c, keys, 3, &nfailed, &e), 0);
    assert_int_equal(nfailed, 0);
    int n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "POST", "delete"), 3);
    assert_int_equal(s3_head(c, keys[0], NULL, NULL, &e), -ENOENT);
    assert_int_equal(s3_head(c, keys[1], NULL, NULL, &e), -ENOENT);

    /* keys the server refuses: counted, the first one described */
    set_rules("");
    assert_int_equal(s3_put(c, "dm/y", "y", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_delete_many(c, some_locked, 4, &nfailed, &e), -EIO);
    assert_int_equal(nfailed, 2);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "AccessDenied");
    assert_string_equal(e.message, "dm/locked1: AccessDenied Access Denied");
    assert_int_equal(s3_head(c, "dm/y", NULL, NULL, &e), -ENOENT);

    /* a refused request: nothing known deleted */
    set_rules("POST /bkt delete all status 403 AccessDenied\n");
    assert_int_equal(s3_delete_many(c, keys, 3, &nfailed, &e), -EACCES);
    assert_int_equal(nfailed, 3);
    s3_client_free(c);
}

static void test_lifecycle(void **state)
{
    s3_client *c = client();
    const char doc[] = "<LifecycleConfiguration><Rule><ID>r1</ID><Filter><Prefix>p/</Prefix>"
                       "</Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload>"
                       "<DaysAfterInitiation>1</DaysAfterInitiation>"
                       "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>";
    s3_buf b;
    s3_error e;
    (void)state;

    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENOENT);
    assert_string_equal(e.code, "NoSuchLifecycleConfiguration");
    assert_null(b.data);
    assert_int_equal(s3_put_lifecycle(c, doc, strlen(doc), &e), 0);   /* MD5 checked */
    assert_int_equal(s3_get_lifecycle(c, &b, &e), 0);
    assert_int_equal(b.len, strlen(doc));
    assert_memory_equal(b.data, doc, b.len);
    s3_buf_free(&b);
    assert_int_equal(s3_put_lifecycle(c, "<Life", 5, &e), -EINVAL);
    assert_string_equal(e.code, "MalformedXML");
    assert_int_equal(s3_delete_lifecycle(c, &e), 0);
    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENOENT);
    assert_int_equal(s3_delete_lifecycle(c, &e), 0);
    s3_client_free(c);

    s3_config cfg = { .endpoint = endpoint, .bucket = "nobkt", .access_key = AK,
                      .secret_key = SK };
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENXIO);
    s3_client_free(c);
}

struct upload_seen {
    int n;
    char keys[16][32];
    char ids[16][40];
    int stop_at;
};

static int upload_cb(const s3_upload_info *u, void *arg)
{
    struct upload_seen *s = arg;
    if (s->n >= 16)
        return -1;
    s3_strlcpy(s->keys[s->n], u->key, sizeof(s->keys[0]));
    s3_strlcpy(s->ids[s->n], u->upload_id, sizeof(s->ids[0]));
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 9 : 0;
}

static void test_list_uploads_pages(void **state)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 2,
    };
    static const char *const keys[] = { "up/a", "up/b & c", "up/a", "up/d", "up/a", "x/e" };
    char *ids[6] = { NULL };
    struct upload_seen s;
    struct logrec log[32];
    s3_client *c = NULL;
    s3_error e;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(s3_mpu_create(c, keys[i], &ids[i], &e), 0);
    set_rules("");
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_list_uploads(c, "up/", upload_cb, &s, &e), 0);
    assert_int_equal(s.n, 5);      /* three of up/a across pages (upload-id-marker) */
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (int j = 0; j < s.n; j++)
            found += !strcmp(s.keys[j], keys[i]) && !strcmp(s.ids[j], ids[i]);
        assert_int_equal(found, 1);
    }
    int n = get_log(log, 32);
    assert_int_equal(count_log(log, n, "GET", "uploads"), 3);    /* 2+2+1 */
    assert_int_equal(count_log(log, n, "GET", "upload-id-marker="), 2);

    memset(&s, 0, sizeof(s));
    s.stop_at = 3;
    assert_int_equal(s3_list_uploads(c, NULL, upload_cb, &s, &e), 9);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(s3_mpu_abort(c, keys[i], ids[i], &e), 0);
        free(ids[i]);
    }
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_list_uploads(c, "", upload_cb, &s, &e), 0);
    assert_int_equal(s.n, 0);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_list_pages, fake_reset),
        cmocka_unit_test_setup(test_list_v1, fake_reset),
        cmocka_unit_test_setup(test_list_v1_skipped_last, fake_reset),
        cmocka_unit_test_setup(test_virtual_hosted, fake_reset),
        cmocka_unit_test_setup(test_delete_many, fake_reset),
        cmocka_unit_test_setup(test_lifecycle, fake_reset),
        cmocka_unit_test_setup(test_list_uploads_pages, fake_reset),
    };
    return FAKE_MAIN("test_s3_bucket", tests);   /* a failure, never a skip */
}
