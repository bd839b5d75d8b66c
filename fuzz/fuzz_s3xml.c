/* fuzz_s3xml.c - libFuzzer harness: the S3 XML response parsers (s3/xml.c).
 * Input: a selector byte, then a response body for: 0 <Error>, 1 InitiateMultipartUpload,
 * 2 CompleteMultipartUpload, 3 ListBucketResult, 4 DeleteResult, 5 ListMultipartUploads,
 * 6 a time value. Round trips: the keys of a listing, put into a DeleteObjects body by
 * the project's writer, read back (libxml2) as the same keys; a time printed back in
 * S3's form parses to the same value. */
#include "fuzz/fuzz_util.h"
#include "s3/s3_internal.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <time.h>

#define MAX_KEYS 1000

typedef struct keys {
    char *k[MAX_KEYS];
    size_t n;
} keys;

static int on_object(const s3_object_info *o, void *arg)
{
    keys *ks = arg;
    FUZZ_CHECK(o->key != NULL && o->etag != NULL, "listing entry without key or etag");
    if (!o->is_prefix && ks->n < MAX_KEYS)
        ks->k[ks->n++] = strdup(o->key);
    return 0;
}

static int on_upload(const s3_upload_info *u, void *arg)
{
    FUZZ_CHECK(u->key != NULL && u->upload_id != NULL, "upload entry without key or id");
    (void)arg;
    return 0;
}

/* The <Key> texts of a DeleteObjects body must be keys[0..n), in order. */
static void check_delete_body(const char *body, size_t len, const keys *ks)
{
    xmlDoc *doc = xmlReadMemory(body, (int)len, NULL, NULL, XML_PARSE_NONET);
    FUZZ_CHECK(doc != NULL, "the DeleteObjects body is not XML:\n%.*s", (int)len, body);
    xmlNode *root = xmlDocGetRootElement(doc);
    size_t i = 0;
    for (xmlNode *o = root ? root->children : NULL; o != NULL; o = o->next) {
        if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "Object") != 0)
            continue;
        for (xmlNode *k = o->children; k != NULL; k = k->next) {
            if (k->type != XML_ELEMENT_NODE || strcmp((const char *)k->name, "Key") != 0)
                continue;
            xmlChar *t = xmlNodeGetContent(k);
            FUZZ_CHECK(i < ks->n && t != NULL && strcmp((const char *)t, ks->k[i]) == 0,
                       "key %zu of the DeleteObjects body differs", i);
            xmlFree(t);
            i++;
        }
    }
    FUZZ_CHECK(i == ks->n, "%zu keys in the DeleteObjects body, %zu listed", i, ks->n);
    xmlFreeDoc(doc);
}

static void list_page(const uint8_t *d, size_t n)
{
    keys ks = { .n = 0 };
    int truncated = 0, cb_rc = 0;
    char *next = NULL;
    if (s3_xml_list_page(d, n, on_object, &ks, &truncated, &next, &cb_rc) == 0 && ks.n > 0) {
        size_t blen = 0;
        char *body = s3_xml_delete_body((const char *const *)ks.k, ks.n, &blen);
        if (body != NULL)
            check_delete_body(body, blen, &ks);
        free(body);
    }
    for (size_t i = 0; i < ks.n; i++)
        free(ks.k[i]);
    free(next);
}

static void parse_time(const uint8_t *d, size_t n)
{
    char *s = strndup((const char *)d, n);
    time_t t = s3_xml_parse_time(s);
    struct tm tm;
    char back[64];
    if (t != 0 && gmtime_r(&t, &tm) != NULL && tm.tm_year + 1900 >= 1000 &&
        tm.tm_year + 1900 <= 9999) {
        strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        FUZZ_CHECK(s3_xml_parse_time(back) == t, "'%s' gives %lld, printed back '%s'", s,
                   (long long)t, back);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    char code[64], msg[256], etag[S3_ETAG_MAX], *id = NULL, *nk = NULL, *nu = NULL;
    s3_error err;
    size_t nfailed = 0;
    int truncated = 0, cb_rc = 0;
    memset(&err, 0, sizeof(err));
    switch (data[0] % 7) {
    case 0:
        if (s3_xml_error(d, n, code, sizeof(code), msg, sizeof(msg)) == 1)
            FUZZ_CHECK(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg), "error");
        break;
    case 1:
        if (s3_xml_upload_id(d, n, &id) == 0)
            FUZZ_CHECK(id != NULL, "upload id");
        free(id);
        break;
    case 2:
        s3_xml_complete_result(d, n, etag, &err);
        break;
    case 3:
        list_page(d, n);
        break;
    case 4:
        if (s3_xml_delete_result(d, n, &nfailed, &err) == 0 && nfailed > 0)
            FUZZ_CHECK(err.http_status == 200, "first failure without status");
        break;
    case 5:
        s3_xml_uploads_page(d, n, on_upload, NULL, &truncated, &nk, &nu, &cb_rc);
        free(nk);
        free(nu);
        break;
    default:
        parse_time(d, n);
        break;
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xmlInitParser();
    return 0;
}
