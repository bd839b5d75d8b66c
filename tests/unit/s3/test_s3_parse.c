/* test_s3_parse.c - hostile-answer parsing and the retry schedule of the s3 module (pure). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"
#include "s3/xml_internal.h"

struct seen {
    int n;
    char key[8][64];
    int is_prefix[8];
};

static int seen_cb(const s3_object_info *o, void *arg)
{
    struct seen *s = arg;
    if (s->n < 8) {
        s3_strlcpy(s->key[s->n], o->key, sizeof(s->key[0]));
        s->is_prefix[s->n] = o->is_prefix;
    }
    s->n++;
    return 0;
}

static int seen_upload_cb(const s3_upload_info *u, void *arg)
{
    s3_object_info o = { .key = u->key };
    return seen_cb(&o, arg);
}

static void test_url_decode(void **state)
{
    char *out;
    (void)state;

    assert_int_equal(s3_url_decode("p%2Fa%20b%2Bc%01d%25e~f", 1024, &out), 0);
    assert_string_equal(out, "p/a b+c\001d%e~f");
    free(out);
    assert_int_equal(s3_url_decode("a+b%c3%a9", 1024, &out), 0);   /* AWS: '+' is a space */
    assert_string_equal(out, "a b\xc3\xa9");
    free(out);
    assert_int_equal(s3_url_decode("", 1024, &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(s3_url_decode("a%00b", 1024, &out), -EINVAL);    /* a NUL */
    assert_null(out);
    assert_int_equal(s3_url_decode("a%2", 1024, &out), -EINVAL);      /* cut escape */
    assert_int_equal(s3_url_decode("a%", 1024, &out), -EINVAL);
    assert_int_equal(s3_url_decode("a%zz", 1024, &out), -EINVAL);
    assert_int_equal(s3_url_decode("a%-1", 1024, &out), -EINVAL);
    assert_int_equal(s3_url_decode("abcd", 3, &out), -EINVAL);        /* too long */
    assert_int_equal(s3_url_decode("abc", 3, &out), 0);
    free(out);
}

/* RGW 16 with encoding-type=url: keys encoded (slash too), EncodingType said. */
static void test_list_page_encoded(void **state)
{
    const char page[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"x\">"
        "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p%2Fa%20b%2Bc%01d%25e~f</Key><Size>3</Size></Contents>"
        "<Contents><Key>p%2Fbad%00nul</Key><Size>3</Size></Contents>"
        "<Contents><Key>p%2Fbad%zz</Key><Size>3</Size></Contents>"
        "<Contents><Size>3</Size></Contents>"
        "<CommonPrefixes><Prefix>q%20b%01/</Prefix></CommonPrefixes>"
        "<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>";
    struct seen s = { 0 };
    s3_list_skip skip;
    char *next = NULL, *last = NULL;
    int truncated, cb_rc;
    (void)state;

    assert_int_equal(s3_xml_list_page_ex(page, strlen(page), seen_cb, &s, &truncated, &next,
                                         &cb_rc, &skip, &last), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.key[0], "p/a b+c\001d%e~f");
    assert_string_equal(s.key[1], "q b\001/");
    assert_int_equal(s.is_prefix[1], 1);
    assert_int_equal(skip.count, 3);
    assert_string_equal(skip.first, "p%2Fbad%00nul");
    assert_true(truncated);
    assert_string_equal(next, "tok+/=");    /* the token is not encoded */
    assert_string_equal(last, "q b\001/");
    free(next);
    free(last);
}

/* AWS without encoding-type writes 0x01 as "&#x1;" (not XML 1.0); fakes3 writes the raw
 * byte. Either way the page is read, and only that entry is skipped. */
static void test_list_page_raw_control(void **state)
{
    const char aws[] = "<ListBucketResult><Contents><Key>a&#x1;b</Key></Contents>"
                       "<Contents><Key>ok</Key></Contents><Contents><Key>c&#31;d</Key>"
                       "</Contents><Contents><Key>e&#x9;f&amp;</Key></Contents>"
                       "</ListBucketResult>";
    const char raw[] = "<ListBucketResult><Contents><Key>a\001b</Key></Contents>"
                       "<Contents><Key>ok</Key></Contents></ListBucketResult>";
    struct seen s = { 0 };
    s3_list_skip skip;
    char *next = NULL;
    int truncated, cb_rc;
    (void)state;

    assert_int_equal(s3_xml_list_page_ex(aws, strlen(aws), seen_cb, &s, &truncated, &next,
                                         &cb_rc, &skip, NULL), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.key[0], "e\tf&");
    assert_string_equal(s.key[1], "ok");
    assert_int_equal(skip.count, 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_xml_list_page(raw, strlen(raw), seen_cb, &s, &truncated, &next,
                                      &cb_rc), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.key[0], "ok");
}

/* RGW 16 ListMultipartUploads with encoding-type=url: keys encoded without saying so,
 * NextKeyMarker raw with "&#x01;". Keys decoded, markers from the last entry. */
static void test_uploads_page_rgw(void **state)
{
    const char page[] =
        "<ListMultipartUploadsResult><NextKeyMarker>u/x y+&#x01;z</NextKeyMarker>"
        "<NextUploadIdMarker>2~B</NextUploadIdMarker><IsTruncated>true</IsTruncated>"
        "<Upload><Key>u/a</Key><UploadId>2~A</UploadId></Upload>"
        "<Upload><Key>u%2Fbad%00</Key><UploadId>2~Z</UploadId></Upload>"
        "<Upload><Key>u/x%20y%2B%01z</Key><UploadId>2~B</UploadId>"
        "<Initiated>2026-12-02T16:05:59.408Z</Initiated></Upload>"
        "</ListMultipartUploadsResult>";
    struct seen s = { 0 };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    int truncated, cb_rc;
    (void)state;

    assert_int_equal(s3_xml_uploads_page_ex(page, strlen(page), seen_upload_cb, &s,
                                            &truncated, &nk, &ni, &cb_rc, &skip), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.key[0], "u/a");
    assert_string_equal(s.key[1], "u/x y+\001z");
    assert_int_equal(skip.count, 1);
    assert_true(truncated);
    assert_string_equal(nk, "u/x y+\001z");
    assert_string_equal(ni, "2~B");
    free(nk);
    free(ni);
}

/* An undecodable key on the page's last Upload is skipped like any other, not a failure
 * of the page; the markers come from the last entry reported. */
static void test_uploads_page_last_skipped(void **state)
{
    const char page[] =
        "<ListMultipartUploadsResult><EncodingType>url</EncodingType>"
        "<IsTruncated>true</IsTruncated>"
        "<Upload><Key>u/a%20b</Key><UploadId>2~A</UploadId></Upload>"
        "<Upload><Key>u/%zz</Key><UploadId>2~Z</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    struct seen s = { 0 };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    int truncated, cb_rc;
    (void)state;

    assert_int_equal(s3_xml_uploads_page_ex(page, strlen(page), seen_upload_cb, &s,
                                            &truncated, &nk, &ni, &cb_rc, &skip), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.key[0], "u/a b");
    assert_int_equal(skip.count, 1);
    assert_string_equal(nk, "u/a b");
    assert_string_equal(ni, "2~A");
    free(nk);
    free(ni);
}

/* The bytes fn wrote on stderr (fd 2 into a memfd meanwhile). */
static off_t stderr_of(void (*fn)(void))
{
    int saved = dup(2), fd = memfd_create("stderr", 0);
    assert_true(saved >= 0 && fd >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, 2), 2);
    fn();
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    close(fd);
    return n;
}

/* A body that libxml2 takes for UCS-4 and cannot convert: an encoding error, which
 * libxml2 2.9 reports even under XML_PARSE_NOERROR. */
static void read_odd_encodings(void)
{
    static const char ucs4[] = "<\0\0\0\x06<a>";
    static const char broken[] = "<?xml version=\"1.0\"?><a><b></a>";
    xmlDoc *d = s3_xml_read(ucs4, sizeof(ucs4) - 1);
    if (d)
        xmlFreeDoc(d);
    d = s3_xml_read(broken, sizeof(broken) - 1);
    if (d)
        xmlFreeDoc(d);
    d = xmlReadMemory(ucs4, (int)sizeof(ucs4) - 1, "x.xml", NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (d)
        xmlFreeDoc(d);
}

/* Nothing read from the bucket makes libxml2 print on stderr once s3 is initialised
 * (one error line per failure, the command's own). */
static void test_xml_silent(void **state)
{
    (void)state;
    s3_xml_silence();
    assert_int_equal(stderr_of(read_odd_encodings), 0);
}

static void test_parse_time(void **state)
{
    (void)state;
    assert_int_equal(s3_xml_parse_time("2026-12-02T16:05:59.408Z"), 1796227559);
    assert_int_equal(s3_xml_parse_time("2026-12-02T16:05:59Z"), 1796227559);
    assert_int_equal(s3_xml_parse_time("2026-12-02T-1:05:59.000Z"), 0);   /* negative */
    assert_int_equal(s3_xml_parse_time("2026-12-02T16:-5:59.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-12-02T16:05:-9.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-12-02T 6:05:59.000Z"), 0);   /* blank */
    assert_int_equal(s3_xml_parse_time("2026-12-02T+6:05:59.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-02-30T00:00:00.000Z"), 0);   /* no such day */
    assert_int_equal(s3_xml_parse_time("2026-12-02T24:00:00.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-12-02T23:60:00.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-12-02T23:59:60.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-13-02T00:00:00.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("1969-12-31T23:59:59.000Z"), 0);
    assert_int_equal(s3_xml_parse_time("2026-12-02"), 0);
}

/* Full jitter under a capped exponential bound: 100, 200, ... 3200, then 5000 ms. */
static void test_backoff_bound(void **state)
{
    static const int64_t want[] = { 100, 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
    (void)state;

    for (int a = 0; a < 9; a++)
        assert_int_equal(s3_backoff_bound_ms(S3_BACKOFF_BASE_MS, S3_BACKOFF_CAP_MS, a),
                         want[a]);
    assert_int_equal(s3_backoff_bound_ms(100, 5000, 1000), 5000);   /* no overflow */
    assert_true(S3_BACKOFF_CAP_MS <= 5000);
}

/* The retry time: waits as drawn, the last one shortened to end with the retry time,
 * then no more. With the longest waits, attempts cover 60 s of outage. */
static void test_retry_wait(void **state)
{
    (void)state;
    assert_int_equal(s3_retry_wait_ms(1000, 1000, 60000, 300), 300);
    assert_int_equal(s3_retry_wait_ms(59000, 1000, 60000, 4000), 2000);
    assert_int_equal(s3_retry_wait_ms(61000, 1000, 60000, 10), -1);
    assert_int_equal(s3_retry_wait_ms(70000, 1000, 60000, 10), -1);

    int64_t now = 0, first = 0, last_start = 0;
    int attempts = 1;
    for (;;) {
        int64_t bound = s3_backoff_bound_ms(S3_BACKOFF_BASE_MS, S3_BACKOFF_CAP_MS, attempts);
        int64_t w = s3_retry_wait_ms(now, first, S3_DEFAULT_RETRY_MS, bound);
        if (w < 0)
            break;
        now += w;                  /* a refused connection fails at once */
        last_start = now;
        attempts++;
    }
    assert_int_equal(last_start, S3_DEFAULT_RETRY_MS);   /* an attempt at the end */
    assert_true(attempts > 6 && attempts < 30);
}

static void test_prealloc(void **state)
{
    (void)state;
    assert_int_equal(s3_prealloc_size(-1, 1u << 30), 0);
    assert_int_equal(s3_prealloc_size(0, 1u << 30), 0);
    assert_int_equal(s3_prealloc_size(1000, 1u << 30), 1000);
    assert_int_equal(s3_prealloc_size(943718400, 1u << 30), S3_PREALLOC_MAX);
    assert_int_equal(s3_prealloc_size((int64_t)1 << 40, 1u << 30), 0);   /* over the max */
}

static void test_escape_text(void **state)
{
    char out[32];
    (void)state;
    s3_escape_text("a\001b\033[c\\", out, sizeof(out));
    assert_string_equal(out, "a\\x01b\\x1b[c\\x5c");
    s3_escape_text("\001\001\001\001", out, 10);
    assert_string_equal(out, "\\x01\\x01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_list_page_encoded),
        cmocka_unit_test(test_list_page_raw_control),
        cmocka_unit_test(test_uploads_page_rgw),
        cmocka_unit_test(test_uploads_page_last_skipped),
        cmocka_unit_test(test_xml_silent),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_backoff_bound),
        cmocka_unit_test(test_retry_wait),
        cmocka_unit_test(test_prealloc),
        cmocka_unit_test(test_escape_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
