/* test_s3_xml.c - the S3 XML codecs: errors, multipart, listings, delete, times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#define T_20130524 ((time_t)1369353600)   /* 2013-05-24T00:00:00Z */

/* ---- XML ---- */

static const char err_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist"
    "</Message><Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9"
    "</RequestId></Error>";

static void test_xml_error(void **state)
{
    char code[64], msg[256];
    (void)state;

    assert_int_equal(s3_xml_error(err_doc, strlen(err_doc), code, sizeof(code), msg,
                                  sizeof(msg)), 1);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The resource you requested does not exist");
    /* truncation */
    assert_int_equal(s3_xml_error(err_doc, strlen(err_doc), code, 5, msg, 4), 1);
    assert_string_equal(code, "NoSu");
    assert_string_equal(msg, "The");
    /* not an error, not XML, empty */
    assert_int_equal(s3_xml_error("<A/>", 4, code, sizeof(code), msg, sizeof(msg)), 0);
    assert_int_equal(s3_xml_error("<Error><Code>x", 14, code, sizeof(code), msg,
                                  sizeof(msg)), 0);
    assert_int_equal(s3_xml_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)), 0);
}

static void test_xml_upload_id(void **state)
{
    const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Bucket>example-bucket</Bucket><Key>example-object</Key>"
        "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
        "</InitiateMultipartUploadResult>";
    char *id = NULL;
    (void)state;

    assert_int_equal(s3_xml_upload_id(doc, strlen(doc), &id), 0);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    assert_int_equal(s3_xml_upload_id(err_doc, strlen(err_doc), &id), -EINVAL);
    assert_null(id);
    assert_int_equal(s3_xml_upload_id("<InitiateMultipartUploadResult/>", 32, &id), -EINVAL);
}

/* A CompleteMultipartUploadResult, as ops.c reads it (an empty ETag allowed). */
static int complete_result(const char *body, size_t len, char *etag, s3_error *e)
{
    return s3_xml_etag_result(body, len, "CompleteMultipartUploadResult", 1, etag, e);
}

static void test_xml_complete_result(void **state)
{
    const char ok[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Location>http://Example-Bucket.s3.amazonaws.com/Example-Object</Location>"
        "<Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>"
        "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
        "</CompleteMultipartUploadResult>";
    const char err200[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>InternalError</Code><Message>We encountered an internal error. "
        "Please try again.</Message></Error>";
    const char nosuch[] = "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>";
    char etag[S3_ETAG_MAX];
    s3_error e;
    (void)state;

    assert_int_equal(complete_result(ok, strlen(ok), etag, &e), 0);
    assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
    /* blanks sent to keep the connection alive come before the document */
    char padded[sizeof(ok) + 8];
    snprintf(padded, sizeof(padded), "  \n \r\n%s", ok);
    assert_int_equal(complete_result(padded, strlen(padded), etag, &e), 0);
    assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
    assert_int_equal(complete_result(err200, strlen(err200), etag, &e), -EIO);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "InternalError");
    assert_true(s3_err_http_retryable(200, e.code));
    assert_int_equal(complete_result(nosuch, strlen(nosuch), etag, &e), -ENOENT);
    assert_int_equal(complete_result("junk", 4, etag, &e), -EINVAL);
    assert_string_equal(e.message, "malformed CompleteMultipartUploadResult");
    /* RGW 16.x: <ETag></ETag> is no error here (ops.c asks the object) */
    const char *empty = "<CompleteMultipartUploadResult><ETag></ETag>"
                        "</CompleteMultipartUploadResult>";
    assert_int_equal(complete_result(empty, strlen(empty), etag, &e), 0);
    assert_string_equal(etag, "");
}

struct seen {
    int n;
    char keys[16][64];
    uint64_t sizes[16];
    char etags[16][64];
    time_t mtimes[16];
    int prefix[16];
    int stop_at;
};

static int collect_cb(const s3_object_info *o, void *arg)
{
    struct seen *s = arg;
    if (s->n >= 16)
        return -1;
    s3_strlcpy(s->keys[s->n], o->key, 64);
    s->sizes[s->n] = o->size;
    s3_strlcpy(s->etags[s->n], o->etag, 64);
    s->mtimes[s->n] = o->last_modified;
    s->prefix[s->n] = o->is_prefix;
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static const char list_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>p/</Prefix><KeyCount>4</KeyCount><MaxKeys>4</MaxKeys>"
    "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>p/a.txt</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>p/c &amp; d</Key><LastModified>2013-05-24T00:00:00Z</LastModified>"
    "<ETag>\"abc-2\"</ETag><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>p/b/</Prefix></CommonPrefixes>"
    "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static void test_xml_list_page(void **state)
{
    struct seen s;
    int truncated = 0, cb_rc = 0;
    char *token = NULL;
    (void)state;

    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_xml_list_page(list_doc, strlen(list_doc), collect_cb, &s, &truncated,
                                      &token, &cb_rc), 0);
    assert_int_equal(cb_rc, 0);
    assert_true(truncated);
    assert_string_equal(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    free(token);
    assert_int_equal(s.n, 4);
    /* contents and prefixes merged in key order */
    assert_string_equal(s.keys[0], "p/a.txt");
    assert_string_equal(s.keys[1], "p/b/");
    assert_string_equal(s.keys[2], "p/c & d");
    assert_string_equal(s.keys[3], "p/d/");
    assert_int_equal(s.sizes[0], 434234);
    assert_string_equal(s.etags[0], "fba9dede5f27731c9771645a39863328");
    assert_int_equal(s.mtimes[0], 1255369830);
    assert_int_equal(s.prefix[0], 0);
    assert_int_equal(s.prefix[1], 1);
    assert_int_equal(s.sizes[1], 0);
    assert_string_equal(s.etags[1], "");
    assert_int_equal(s.mtimes[1], 0);
    assert_string_equal(s.etags[2], "abc-2");
    assert_int_equal(s.mtimes[2], T_20130524);

    /* the callback stops the walk */
    memset(&s, 0, sizeof(s));
    s.stop_at = 2;
    assert_int_equal(s3_xml_list_page(list_doc, strlen(list_doc), collect_cb, &s, &truncated,
                                      &token, &cb_rc), 0);
    assert_int_equal(cb_rc, 42);
    assert_int_equal(s.n, 2);
    free(token);

    /* last page, empty page, malformed */
    const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                        "<Contents><Key>k</Key><Size>7</Size></Contents></ListBucketResult>";
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_xml_list_page(last, strlen(last), collect_cb, &s, &truncated, &token,
                                      &cb_rc), 0);
    assert_false(truncated);
    assert_null(token);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.sizes[0], 7);
    const char empty[] = "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>";
    assert_int_equal(s3_xml_list_page(empty, strlen(empty), collect_cb, &s, &truncated, &token,
                                      &cb_rc), 0);
    const char nokey[] = "<ListBucketResult><Contents><Size>1</Size></Contents>"
                         "</ListBucketResult>";
    int before = s.n;
    assert_int_equal(s3_xml_list_page(nokey, strlen(nokey), collect_cb, &s, &truncated,
                                      &token, &cb_rc), 0);    /* skipped, not fatal */
    assert_int_equal(s.n, before);
    assert_int_equal(s3_xml_list_page(err_doc, strlen(err_doc), collect_cb, &s, &truncated,
                                      &token, &cb_rc), -EINVAL);
}

static void test_xml_complete_body(void **state)
{
    s3_part parts[3] = { { 1, "aaa" }, { 2, "b&b" }, { 5, "ccc" } };
    size_t len = 0;
    char *body;
    (void)state;

    body = s3_xml_complete_body(parts, 3, &len);
    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    assert_string_equal(body,
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><PartNumber>1</PartNumber><ETag>&quot;aaa&quot;</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>&quot;b&amp;b&quot;</ETag></Part>"
        "<Part><PartNumber>5</PartNumber><ETag>&quot;ccc&quot;</ETag></Part>"
        "</CompleteMultipartUpload>");
    free(body);
    parts[2].number = 2;
    assert_null(s3_xml_complete_body(parts, 3, &len));   /* not ascending */
    parts[2].number = 10001;
    assert_null(s3_xml_complete_body(parts, 3, &len));   /* out of range */
    parts[2].number = 3;
    parts[2].etag[0] = '\0';
    assert_null(s3_xml_complete_body(parts, 3, &len));   /* no ETag */
    assert_null(s3_xml_complete_body(parts, 0, &len));
}

/* ---- multi-object delete, ListMultipartUploads ---- */

static void test_md5_base64(void **state)
{
    const char *fox = "The quick brown fox jumps over the lazy dog";
    char out[25];
    (void)state;

    s3_md5_base64("", 0, out);
    assert_string_equal(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
    s3_md5_base64(fox, strlen(fox), out);
    assert_string_equal(out, "nhB9nTcrtoJr2B01QqQZ1g==");   /* 9e107d9d372bb682... */
}

/* The text of the Key elements of a Delete body, as a parser reads them back. */
static int delete_keys_back(const char *body, size_t len, char keys[][64], int max)
{
    xmlDoc *doc = xmlReadMemory(body, (int)len, NULL, NULL, XML_PARSE_NONET);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int n = 0;

    for (xmlNode *o = root ? root->children : NULL; o && n < max; o = o->next) {
        if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "Object"))
            continue;
        xmlChar *t = xmlNodeGetContent(o->children);
        s3_strlcpy(keys[n++], t ? (const char *)t : "", 64);
        xmlFree(t);
    }
    if (doc)
        xmlFreeDoc(doc);
    return n;
}

static void test_xml_delete_body(void **state)
{
    const char *keys[] = { "a&b<c>d\"e'f", "t\tl\nc\r.", "pl ain/\xc3\xa9" };
    char back[3][64];
    size_t len = 0;
    char *body;
    (void)state;

    body = s3_xml_delete_body(keys, 3, &len);
    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    assert_string_equal(body,
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        "<Object><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key></Object>"
        "<Object><Key>t&#9;l&#10;c&#13;.</Key></Object>"
        "<Object><Key>pl ain/\xc3\xa9</Key></Object>"
        "</Delete>");
    /* a parser reads back exactly the keys */
    assert_int_equal(delete_keys_back(body, len, back, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(back[i], keys[i]);
    free(body);

    const char *bad_ctl[] = { "ok", "x\x01y" };
    const char *empty[] = { "" };
    const char *null_key[] = { NULL };
    char long_key[S3_KEY_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    const char *too_long[] = { long_key };
    assert_null(s3_xml_delete_body(bad_ctl, 2, &len));
    assert_null(s3_xml_delete_body(empty, 1, &len));
    assert_null(s3_xml_delete_body(null_key, 1, &len));
    assert_null(s3_xml_delete_body(too_long, 1, &len));
    assert_null(s3_xml_delete_body(keys, 0, &len));
    assert_null(s3_xml_delete_body(keys, 1001, &len));
    assert_null(s3_xml_delete_body(NULL, 1, &len));
}

static void test_xml_delete_result(void **state)
{
    const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Deleted><Key>sample1.txt</Key></Deleted>"
        "<Error><Key>gone.txt</Key><Code>NoSuchKey</Code><Message>x</Message></Error>"
        "<Error><Key>a &amp; b.txt</Key><Code>AccessDenied</Code><Message>Access Denied"
        "</Message></Error>"
        "<Error><Key>c.txt</Key><Code>InternalError</Code><Message>oops</Message></Error>"
        "</DeleteResult>";
    const char quiet[] = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
    const char nomsg[] = "<DeleteResult><Error><Key>k</Key><Code>Busy</Code></Error>"
                         "</DeleteResult>";
    size_t nfailed = 99;
    s3_error e;
    (void)state;

    assert_int_equal(s3_xml_delete_result(doc, strlen(doc), &nfailed, &e), 0);
    assert_int_equal(nfailed, 2);   /* NoSuchKey is a success */
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "AccessDenied");
    assert_string_equal(e.message, "a & b.txt: AccessDenied Access Denied");
    assert_int_equal(s3_xml_delete_result(quiet, strlen(quiet), &nfailed, &e), 0);
    assert_int_equal(nfailed, 0);
    assert_int_equal(s3_xml_delete_result(nomsg, strlen(nomsg), &nfailed, &e), 0);
    assert_int_equal(nfailed, 1);
    assert_string_equal(e.message, "k: Busy");
    assert_int_equal(s3_xml_delete_result(nomsg, strlen(nomsg), &nfailed, NULL), 0);
    assert_int_equal(s3_xml_delete_result(err_doc, strlen(err_doc), &nfailed, &e), -EINVAL);
    assert_int_equal(s3_xml_delete_result("junk", 4, &nfailed, &e), -EINVAL);
}

struct uploads_seen {
    int n;
    char keys[8][64];
    char ids[8][96];
    time_t init[8];
    int stop_at;
};

static int uploads_cb(const s3_upload_info *u, void *arg)
{
    struct uploads_seen *s = arg;
    if (s->n >= 8)
        return -1;
    s3_strlcpy(s->keys[s->n], u->key, 64);
    s3_strlcpy(s->ids[s->n], u->upload_id, 96);
    s->init[s->n] = u->initiated;
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

/* AWS's ListMultipartUploads example, trimmed */
static const char uploads_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
    "<NextKeyMarker>my-movie.m2ts</NextKeyMarker>"
    "<NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>"
    "<MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated>"
    "<Upload><Key>my-divisor</Key>"
    "<UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>"
    "<Initiator><ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5</ID>"
    "<DisplayName>user1</DisplayName></Initiator>"
    "<StorageClass>STANDARD</StorageClass>"
    "<Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
    "<Upload><Key>my-movie &amp; m2ts</Key>"
    "<UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
    "<Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
    "<Upload><Key>my-movie.m2ts</Key>"
    "<UploadId>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</UploadId>"
    "<Initiated>2013-05-24T00:00:00.000Z</Initiated></Upload>"
    "</ListMultipartUploadsResult>";

static void test_xml_uploads_page(void **state)
{
    struct uploads_seen s;
    int truncated = 0, cb_rc = 0;
    char *nk = NULL, *ni = NULL;
    (void)state;

    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_xml_uploads_page(uploads_doc, strlen(uploads_doc), uploads_cb, &s,
                                         &truncated, &nk, &ni, &cb_rc), 0);
    assert_true(truncated);
    assert_int_equal(cb_rc, 0);
    assert_string_equal(nk, "my-movie.m2ts");
    assert_string_equal(ni, "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
    free(nk);
    free(ni);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "my-divisor");
    assert_string_equal(s.ids[0], "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
    assert_int_equal(s.init[0], 1289422113);
    assert_string_equal(s.keys[1], "my-movie & m2ts");
    assert_int_equal(s.init[2], T_20130524);

    /* the callback stops the walk */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    assert_int_equal(s3_xml_uploads_page(uploads_doc, strlen(uploads_doc), uploads_cb, &s,
                                         &truncated, &nk, &ni, &cb_rc), 0);
    assert_int_equal(cb_rc, 7);
    assert_int_equal(s.n, 1);
    free(nk);
    free(ni);

    /* no Next*Marker: go on after the last entry; last page; malformed */
    const char nomark[] =
        "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker/>"
        "<Upload><Key>k1</Key><UploadId>u1</UploadId></Upload>"
        "<Upload><Key>k2</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>";
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_xml_uploads_page(nomark, strlen(nomark), uploads_cb, &s, &truncated,
                                         &nk, &ni, &cb_rc), 0);
    assert_true(truncated);
    assert_string_equal(nk, "k2");
    assert_string_equal(ni, "u2");
    assert_int_equal(s.init[0], 0);
    free(nk);
    free(ni);
    const char last[] = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                        "</ListMultipartUploadsResult>";
    assert_int_equal(s3_xml_uploads_page(last, strlen(last), uploads_cb, &s, &truncated,
                                         &nk, &ni, &cb_rc), 0);
    assert_false(truncated);
    assert_null(nk);
    assert_null(ni);
    const char noid[] = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                        "</ListMultipartUploadsResult>";
    int before = s.n;
    assert_int_equal(s3_xml_uploads_page(noid, strlen(noid), uploads_cb, &s, &truncated,
                                         &nk, &ni, &cb_rc), 0);   /* skipped, not fatal */
    assert_int_equal(s.n, before);
    free(nk);
    free(ni);
    assert_int_equal(s3_xml_uploads_page(list_doc, strlen(list_doc), uploads_cb, &s,
                                         &truncated, &nk, &ni, &cb_rc), -EINVAL);
}

static void test_xml_time(void **state)
{
    (void)state;
    assert_int_equal(s3_xml_parse_time("1970-01-01T00:00:00.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2013-05-24T00:00:00.000Z"), T_20130524);
    assert_int_equal(s3_xml_parse_time("garbage"), 0);
    assert_int_equal(s3_xml_parse_time(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_error),
        cmocka_unit_test(test_xml_upload_id),
        cmocka_unit_test(test_xml_complete_result),
        cmocka_unit_test(test_xml_list_page),
        cmocka_unit_test(test_xml_complete_body),
        cmocka_unit_test(test_md5_base64),
        cmocka_unit_test(test_xml_delete_body),
        cmocka_unit_test(test_xml_delete_result),
        cmocka_unit_test(test_xml_uploads_page),
        cmocka_unit_test(test_xml_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
