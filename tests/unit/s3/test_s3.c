/* test_s3.c - unit tests of the s3 module's pure parts: SigV4, URI encoding, XML, errors. */
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

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T_20130524 ((time_t)1369353600)   /* 2013-05-24T00:00:00Z */
#define CRED "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request,"

static s3_sigv4_req example(const char *method, const char *path, const char *query,
                            const char *const *headers, const char *sha)
{
    s3_sigv4_req r = {
        .method = method, .host = "examplebucket.s3.amazonaws.com", .path = path,
        .query = query, .headers = headers, .payload_sha256 = sha, .region = "us-east-1",
        .service = "s3", .access_key = AK, .secret_key = SK, .now = T_20130524,
    };
    return r;
}

/* ---- SigV4: the published examples of "Authenticating Requests (AWS Signature V4)" ---- */

static void test_sigv4_get_object(void **state)
{
    const char *h[] = { "Range: bytes=0-9", NULL };
    s3_sigv4_req r = example("GET", "/test.txt", "", h, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(date, "20130524T000000Z");
    assert_string_equal(auth, CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                        "Signature=f0e8bdb87c964420e857bd35b5d6ed31"
                        "0bd44f0170aba48dd91039c6036bdb41");
}

static void test_sigv4_put_object(void **state)
{
    const char *body = "Welcome to Amazon S3.";
    const char *h[] = {
        "Date: Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class: REDUCED_REDUNDANCY", NULL
    };
    char sha[65], auth[512], date[17];
    (void)state;

    s3_sha256_hex(body, strlen(body), sha);
    assert_string_equal(sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    s3_sigv4_req r = example("PUT", "/test%24file.text", NULL, h, sha);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                        "x-amz-storage-class,"
                        "Signature=98ad721746da40c64f1a55b78f14c238"
                        "d841ea1380cd77a1b5971af0ece108bd");
}

static void test_sigv4_lifecycle(void **state)
{
    s3_sigv4_req r = example("GET", "/", "lifecycle", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                        "Signature=fea454ca298b7da1c68078a5d1bdbfbb"
                        "e0d65c699e0f91ac7a200a0136783543");
}

static void test_sigv4_list_objects_sorts_query(void **state)
{
    /* the published query is max-keys=2&prefix=J; given unsorted, the signer sorts it */
    s3_sigv4_req r = example("GET", "/", "prefix=J&max-keys=2", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                        "Signature=34b48302e7b5fa45bde8084f4b7868a8"
                        "6f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_sigv4_header_normalisation(void **state)
{
    /* case, blanks, and the signer-owned headers given by the caller change nothing */
    const char *h[] = {
        "RANGE :   bytes=0-9  ", "X-Amz-Date: 19990101T000000Z", "host: evil.example", NULL
    };
    s3_sigv4_req r = example("GET", "/test.txt", "", h, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_non_null(strstr(auth, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48d"));
}

static void test_sigv4_errors(void **state)
{
    const char *dup[] = { "range: bytes=0-1", "Range: bytes=0-2", NULL };
    const char *bad[] = { "no colon here", NULL };
    s3_sigv4_req r = example("GET", "/test.txt", "", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, 40, date), -ENOSPC);
    assert_int_equal(s3_sigv4_sign(NULL, auth, sizeof(auth), date), -EINVAL);
    r.secret_key = NULL;
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "test.txt", "", NULL, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "/test.txt", "", dup, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "/test.txt", "", bad, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
}

static void test_sigv4_time_and_secret_matter(void **state)
{
    s3_sigv4_req r = example("GET", "/test.txt", "", NULL, EMPTY_SHA);
    char a1[512], a2[512], a3[512], d1[17], d2[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, a1, sizeof(a1), d1), 0);
    r.now += 1;
    assert_int_equal(s3_sigv4_sign(&r, a2, sizeof(a2), d2), 0);
    assert_string_equal(d2, "20130524T000001Z");
    assert_string_not_equal(a1, a2);
    r.now -= 1;
    r.secret_key = "another";
    assert_int_equal(s3_sigv4_sign(&r, a3, sizeof(a3), d1), 0);
    assert_string_not_equal(a1, a3);
    assert_null(strstr(a1, SK));
}

static void test_sha256(void **state)
{
    char out[65];
    (void)state;
    s3_sha256_hex("", 0, out);
    assert_string_equal(out, EMPTY_SHA);
    s3_sha256_hex(NULL, 0, out);
    assert_string_equal(out, EMPTY_SHA);
    s3_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- URI encoding ---- */

static void test_uri_encode(void **state)
{
    char out[128];
    (void)state;

    assert_int_equal(s3_uri_encode("a b/c~d_e.f-G9", 1, out, sizeof(out)), 16);
    assert_string_equal(out, "a%20b/c~d_e.f-G9");
    s3_uri_encode("a b/c", 0, out, sizeof(out));
    assert_string_equal(out, "a%20b%2Fc");
    s3_uri_encode("$+*=&?%\xc3\xa9", 1, out, sizeof(out));
    assert_string_equal(out, "%24%2B%2A%3D%26%3F%25%C3%A9");
    s3_uri_encode("", 1, out, sizeof(out));
    assert_string_equal(out, "");
    /* like snprintf: the length needed, a NUL-terminated prefix without a cut escape */
    assert_int_equal(s3_uri_encode("ab cd", 0, out, 4), 7);
    assert_string_equal(out, "ab");
    assert_int_equal(s3_uri_encode("abc", 0, NULL, 0), 3);
}

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

    assert_int_equal(s3_xml_complete_result(ok, strlen(ok), etag, &e), 0);
    assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
    /* blanks sent to keep the connection alive come before the document */
    char padded[sizeof(ok) + 8];
    snprintf(padded, sizeof(padded), "  \n \r\n%s", ok);
    assert_int_equal(s3_xml_complete_result(padded, strlen(padded), etag, &e), 0);
    assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
    assert_int_equal(s3_xml_complete_result(err200, strlen(err200), etag, &e), -EIO);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "InternalError");
    assert_true(s3_err_http_retryable(200, e.code));
    assert_int_equal(s3_xml_complete_result(nosuch, strlen(nosuch), etag, &e), -ENOENT);
    assert_int_equal(s3_xml_complete_result("junk", 4, etag, &e), -EINVAL);
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

/* ---- error mapping ---- */

static void test_error_mapping(void **state)
{
    (void)state;
    assert_int_equal(s3_err_from_http(404, "NoSuchKey"), -ENOENT);
    assert_int_equal(s3_err_from_http(404, "NoSuchUpload"), -ENOENT);
    assert_int_equal(s3_err_from_http(404, ""), -ENOENT);
    assert_int_equal(s3_err_from_http(404, "NoSuchBucket"), -ENXIO);
    assert_int_equal(s3_err_from_http(404, "NoSuchLifecycleConfiguration"), -ENOENT);
    assert_int_equal(s3_err_from_http(403, "AccessDenied"), -EACCES);
    assert_int_equal(s3_err_from_http(403, "InvalidAccessKeyId"), -EACCES);
    assert_int_equal(s3_err_from_http(403, "SignatureDoesNotMatch"), -EACCES);
    assert_int_equal(s3_err_from_http(403, NULL), -EACCES);
    assert_int_equal(s3_err_from_http(400, "InvalidArgument"), -EINVAL);
    assert_int_equal(s3_err_from_http(400, "EntityTooSmall"), -EINVAL);
    assert_int_equal(s3_err_from_http(409, "BucketNotEmpty"), -EIO);
    assert_int_equal(s3_err_from_http(500, "InternalError"), -EIO);
    assert_int_equal(s3_err_from_http(503, "SlowDown"), -EIO);
    assert_int_equal(s3_err_from_http(200, ""), 0);
    assert_int_equal(s3_err_from_http(200, "InternalError"), -EIO);

    assert_true(s3_err_http_retryable(500, "InternalError"));
    assert_true(s3_err_http_retryable(503, "SlowDown"));
    assert_true(s3_err_http_retryable(502, ""));
    assert_true(s3_err_http_retryable(429, ""));
    assert_true(s3_err_http_retryable(400, "RequestTimeout"));
    assert_true(s3_err_http_retryable(200, "SlowDown"));
    assert_false(s3_err_http_retryable(501, "NotImplemented"));
    assert_false(s3_err_http_retryable(404, "NoSuchKey"));
    assert_false(s3_err_http_retryable(403, "AccessDenied"));
    assert_false(s3_err_http_retryable(400, "InvalidArgument"));
    assert_false(s3_err_http_retryable(409, ""));

    assert_int_equal(s3_err_from_curl(CURLE_COULDNT_CONNECT), -EHOSTUNREACH);
    assert_int_equal(s3_err_from_curl(CURLE_COULDNT_RESOLVE_HOST), -EHOSTUNREACH);
    assert_int_equal(s3_err_from_curl(CURLE_OPERATION_TIMEDOUT), -ETIMEDOUT);
    assert_int_equal(s3_err_from_curl(CURLE_PARTIAL_FILE), -EIO);
    assert_int_equal(s3_err_from_curl(CURLE_PEER_FAILED_VERIFICATION), -EIO);
    assert_int_equal(s3_err_from_curl(CURLE_OUT_OF_MEMORY), -ENOMEM);
    assert_true(s3_err_curl_retryable(CURLE_COULDNT_CONNECT));
    assert_true(s3_err_curl_retryable(CURLE_RECV_ERROR));
    assert_true(s3_err_curl_retryable(CURLE_SEND_ERROR));
    assert_true(s3_err_curl_retryable(CURLE_PARTIAL_FILE));
    assert_true(s3_err_curl_retryable(CURLE_GOT_NOTHING));
    assert_true(s3_err_curl_retryable(CURLE_OPERATION_TIMEDOUT));
    assert_false(s3_err_curl_retryable(CURLE_PEER_FAILED_VERIFICATION));
    assert_false(s3_err_curl_retryable(CURLE_URL_MALFORMAT));
}

static void test_strerror(void **state)
{
    s3_error e;
    (void)state;
    memset(&e, 0, sizeof(e));
    assert_string_equal(s3_strerror(-ENOENT, NULL), "no such object");
    assert_string_equal(s3_strerror(-ENOENT, &e), "no such object");
    e.http_status = 404;
    s3_strlcpy(e.code, "NoSuchKey", sizeof(e.code));
    s3_strlcpy(e.message, "The specified key does not exist.", sizeof(e.message));
    assert_string_equal(s3_strerror(-ENOENT, &e),
                        "no such object: NoSuchKey (HTTP 404): The specified key does not exist.");
    memset(&e, 0, sizeof(e));
    s3_strlcpy(e.message, "Failed to connect", sizeof(e.message));
    assert_string_equal(s3_strerror(-EHOSTUNREACH, &e), "endpoint unreachable: Failed to connect");
    assert_non_null(s3_strerror(-12345, NULL));
}

/* ---- redaction, client configuration ---- */

static void test_redact(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK",
        .secret_key = "s3cr3t-Value-XYZ", .session_token = "tok-ABCDEFGH",
    };
    s3_client *c = NULL;
    (void)state;

    assert_string_equal(s3_redact("GET /b/k HTTP/1.1"), "GET /b/k HTTP/1.1");
    assert_null(s3_redact(NULL));
    assert_string_equal(s3_redact("Authorization: AWS4-HMAC-SHA256 Credential=x"),
                        "[redacted]");
    assert_string_equal(s3_redact("authorization: whatever"), "[redacted]");
    assert_string_equal(s3_redact("...,Signature=abcdef"), "[redacted]");
    assert_string_equal(s3_redact("x-amz-security-token: abc"), "[redacted]");
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "key is s3cr3t-Value-XYZ!");
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "[redacted]");
    assert_string_equal(s3_redact("t=tok-ABCDEFGH"), "[redacted]");
    s3_client_free(c);
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "key is s3cr3t-Value-XYZ!");
}

static void test_client_config(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:8000/", .bucket = "my bucket", .access_key = "AK",
        .secret_key = "SK",
    };
    s3_client *c = NULL;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "127.0.0.1:8000");
    assert_string_equal(c->origin, "http://127.0.0.1:8000");
    assert_string_equal(c->base_path, "");
    assert_string_equal(c->bucket_enc, "my%20bucket");
    assert_string_equal(c->cfg.region, "us-east-1");
    assert_int_equal(c->cfg.max_retries, S3_DEFAULT_RETRIES);
    assert_int_equal(c->cfg.retry_time_ms, 60000);
    assert_int_equal(c->cfg.deadline_ms, 120000);
    assert_int_equal(c->cfg.max_conns, 8);
    assert_int_equal(c->cfg.list_max_keys, 1000);
    assert_int_equal(s3_async_pending(c), 0);
    assert_int_equal(s3_async_run(c, 0), 0);
    assert_int_equal(s3_async_drain(c), 0);
    s3_client_free(c);

    cfg.endpoint = "https://s3.example.com:443/prefix//";
    cfg.max_retries = -1;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "s3.example.com");
    assert_string_equal(c->origin, "https://s3.example.com:443");
    assert_string_equal(c->base_path, "/prefix");
    assert_int_equal(c->cfg.max_retries, 0);
    s3_client_free(c);

    cfg.endpoint = "http://[::1]:80";
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "[::1]");
    s3_client_free(c);

    cfg.endpoint = "ftp://host";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    assert_null(c);
    cfg.endpoint = "http://";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.endpoint = "http://user@host";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.endpoint = "http://h";
    cfg.secret_key = "";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.secret_key = "SK";
    cfg.bucket = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    assert_int_equal(s3_client_new(NULL, &c), -EINVAL);
}

static void test_backoff(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK", .secret_key = "SK",
    };
    s3_client *c = NULL;
    int max_seen[8] = { 0 };
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 2000; i++) {
        for (int a = 1; a < 8; a++) {
            int d = s3_engine_backoff_ms(c, a);
            int ceil_ms = 100 << (a - 1);
            if (ceil_ms > 5000)
                ceil_ms = 5000;
            assert_in_range(d, 0, ceil_ms);
            if (d > max_seen[a])
                max_seen[a] = d;
        }
    }
    /* full jitter spreads over the whole window */
    assert_true(max_seen[1] > 80);
    assert_true(max_seen[7] > 4000);
    s3_client_free(c);
}

static void test_bad_arguments(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK", .secret_key = "SK",
    };
    s3_client *c = NULL;
    s3_error e;
    s3_buf b;
    char *id;
    char buf[4];
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_put(c, "", "x", 1, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_put(c, NULL, "x", 1, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_get(c, "k", UINT64_MAX, 2, 0, &b, &e), -EINVAL);
    assert_int_equal(s3_head(NULL, "k", NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_create(c, "k", NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_complete(c, "k", "id", NULL, 0, NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_abort(c, "k", "", &e), -EINVAL);
    assert_int_equal(s3_list(c, "p", NULL, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_async_upload_part(c, "k", "id", 0, "x", 1, NULL, NULL), -EINVAL);
    assert_int_equal(s3_async_get_range(c, "k", 0, 8, buf, sizeof(buf), NULL, NULL), -EINVAL);
    const char *keys[] = { "a", "" };
    size_t nfailed = 0;
    assert_int_equal(s3_delete_many(c, keys, 0, &nfailed, &e), -EINVAL);
    assert_int_equal(s3_delete_many(c, keys, 1001, &nfailed, &e), -EINVAL);
    assert_int_equal(s3_delete_many(c, keys, 2, &nfailed, &e), -EINVAL);   /* empty key */
    assert_int_equal(nfailed, 2);
    assert_int_equal(s3_delete_many(c, NULL, 1, NULL, &e), -EINVAL);
    assert_int_equal(s3_get_lifecycle(c, NULL, &e), -EINVAL);
    assert_int_equal(s3_put_lifecycle(c, "", 0, &e), -EINVAL);
    assert_int_equal(s3_delete_lifecycle(NULL, &e), -EINVAL);
    assert_int_equal(s3_list_uploads(c, "p", NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_async_pending(c), 0);
    (void)id;
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_get_object),
        cmocka_unit_test(test_sigv4_put_object),
        cmocka_unit_test(test_sigv4_lifecycle),
        cmocka_unit_test(test_sigv4_list_objects_sorts_query),
        cmocka_unit_test(test_sigv4_header_normalisation),
        cmocka_unit_test(test_sigv4_errors),
        cmocka_unit_test(test_sigv4_time_and_secret_matter),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_uri_encode),
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
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_client_config),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
