/* fuzz_s3xml.c - libFuzzer harness: the S3 XML response parsers (s3/xml.c, xml_list.c).
 * Input: a selector byte, then a response body for: 0 <Error>, 1 InitiateMultipartUpload,
 * 2 CompleteMultipartUpload, 3 ListBucketResult, 4 DeleteResult, 5 ListMultipartUploads,
 * 6 a time value. Round trips: the keys of a listing, put into a DeleteObjects body by
 * the project's writer, read back (libxml2) as the same keys; the entries a listing
 * page yields (s3_xml_list_page_ex, s3_xml_uploads_page_ex), written again
 * percent-encoded (encoding-type=url) with one undecodable entry after them, read back
 * as the same entries and one skip; a time printed back in S3's form parses to the
 * same value. */
#include "fuzz/harness/fuzz_util.h"
#include "s3/s3_internal.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <time.h>

#define MAX_KEYS 1000
#define MAX_ENTRIES 300

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

/* ---- the _ex parsers: entries percent-encoded and read back ---- */

typedef struct ents {
    char *k[MAX_ENTRIES];       /* key */
    char *v[MAX_ENTRIES];       /* upload id, or NULL (object) or "" (prefix) */
    size_t n;
    int more;                   /* more entries than MAX_ENTRIES */
} ents;

static void ents_free(ents *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->k[i]);
        free(e->v[i]);
    }
    e->n = 0;
}

static void ents_add(ents *e, const char *k, const char *v)
{
    FUZZ_CHECK(k != NULL && *k != '\0' && strlen(k) <= S3_KEY_MAX, "entry key empty or long");
    if (e->n == MAX_ENTRIES) {
        e->more = 1;
        return;
    }
    e->k[e->n] = strdup(k);
    e->v[e->n] = v ? strdup(v) : NULL;
    FUZZ_CHECK(e->k[e->n] != NULL && (v == NULL || e->v[e->n] != NULL), "strdup");
    e->n++;
}

static int on_entry(const s3_object_info *o, void *arg)
{
    ents_add(arg, o->key, o->is_prefix ? "" : NULL);
    return 0;
}

static int on_upload_entry(const s3_upload_info *u, void *arg)
{
    FUZZ_CHECK(u->upload_id != NULL && *u->upload_id != '\0', "upload without id");
    ents_add(arg, u->key, u->upload_id);
    return 0;
}

/* Append s to the buffer, percent-encoded except for [A-Za-z0-9._~/-] when enc;
 * otherwise (the ids are not encoded) as it is, ASCII punctuation and blanks as
 * character references, bytes of multi-byte UTF-8 characters unchanged (the parser
 * gave valid UTF-8). */
static void put_text(char **b, size_t *n, size_t *cap, const char *s, int enc)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char t[8];
        size_t k = 1;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("._~/-", c) != NULL || (!enc && c >= 0x80))
            t[0] = (char)c;
        else if (enc)
            t[0] = '%', t[1] = hex[c >> 4], t[2] = hex[c & 15], k = 3;
        else
            k = (size_t)snprintf(t, sizeof(t), "&#%u;", c);
        if (*n + k + 1 > *cap) {
            *cap = (*cap + k + 1) * 2;
            *b = realloc(*b, *cap);
            FUZZ_CHECK(*b != NULL, "realloc");
        }
        memcpy(*b + *n, t, k);
        *n += k;
        (*b)[*n] = '\0';
    }
}

static void put_raw(char **b, size_t *n, size_t *cap, const char *s)
{
    size_t k = strlen(s);
    if (*n + k + 1 > *cap) {
        *cap = (*cap + k + 1) * 2;
        *b = realloc(*b, *cap);
        FUZZ_CHECK(*b != NULL, "realloc");
    }
    memcpy(*b + *n, s, k + 1);
    *n += k;
}

/* The entries as a page of the same kind with encoding-type=url, and after them one
 * entry whose key cannot be decoded ("%zz"). malloc'ed, *len its length. */
static char *rebuild(const ents *e, int uploads, size_t *len)
{
    char *b = NULL;
    size_t n = 0, cap = 0;
    put_raw(&b, &n, &cap, uploads ? "<ListMultipartUploadsResult>" : "<ListBucketResult>");
    put_raw(&b, &n, &cap, "<EncodingType>url</EncodingType>");
    for (size_t i = 0; i <= e->n; i++) {
        const char *k = i < e->n ? e->k[i] : NULL, *v = i < e->n ? e->v[i] : "u";
        int prefix = v != NULL && *v == '\0';
        put_raw(&b, &n, &cap, uploads ? "<Upload><Key>" : prefix ? "<CommonPrefixes><Prefix>"
                                                                 : "<Contents><Key>");
        if (k != NULL)
            put_text(&b, &n, &cap, k, 1);
        else
            put_raw(&b, &n, &cap, "%zz");
        if (uploads) {
            put_raw(&b, &n, &cap, "</Key><UploadId>");
            put_text(&b, &n, &cap, v, 0);
            put_raw(&b, &n, &cap, "</UploadId></Upload>");
        } else {
            put_raw(&b, &n, &cap, prefix ? "</Prefix></CommonPrefixes>" : "</Key></Contents>");
        }
    }
    put_raw(&b, &n, &cap, uploads ? "</ListMultipartUploadsResult>" : "</ListBucketResult>");
    *len = n;
    return b;
}

/* Parse a page of either kind into *e. The parser's return code. */
static int parse_ex(const void *d, size_t n, int uploads, ents *e, s3_list_skip *skip,
                    char **last)
{
    int truncated = 0, cb_rc = 0, rc;
    char *next = NULL, *next_id = NULL;
    memset(e, 0, sizeof(*e));
    if (uploads) {
        rc = s3_xml_uploads_page_ex(d, n, on_upload_entry, e, &truncated, last, &next_id,
                                    &cb_rc, skip);
        free(next_id);
    } else {
        rc = s3_xml_list_page_ex(d, n, on_entry, e, &truncated, &next, &cb_rc, skip, last);
        free(next);
    }
    FUZZ_CHECK(cb_rc == 0, "callback answer");
    return rc;
}

static void list_page_ex(const uint8_t *d, size_t n, int uploads)
{
    ents e, back;
    s3_list_skip skip;
    char *last = NULL, *last2 = NULL;
    if (parse_ex(d, n, uploads, &e, &skip, &last) == 0 && !e.more) {
        for (size_t i = 1; !uploads && i < e.n; i++)
            FUZZ_CHECK(strcmp(e.k[i - 1], e.k[i]) <= 0, "listing entries out of key order");
        /* where v1 goes on from: NextMarker, else the greatest key (a skipped one too) */
        if (!uploads)
            FUZZ_CHECK(e.n == 0 || last != NULL, "no key to go on from");
        size_t blen = 0;
        char *body = rebuild(&e, uploads, &blen);
        int rc = parse_ex(body, blen, uploads, &back, &skip, &last2);
        FUZZ_CHECK(rc == 0, "the rebuilt page fails (%d):\n%s", rc, body);
        FUZZ_CHECK(skip.count == 1, "%zu entries skipped, 1 expected:\n%s", skip.count, body);
        FUZZ_CHECK(back.n == e.n, "%zu entries, %zu read back:\n%s", e.n, back.n, body);
        if (!uploads)
            FUZZ_CHECK(last2 && strcmp(last2, "%zz") >= 0 &&
                       (e.n == 0 || strcmp(last2, e.k[e.n - 1]) >= 0),
                       "the rebuilt page goes on from %s:\n%s", last2 ? last2 : "nowhere", body);
        for (size_t i = 0; i < e.n; i++)
            FUZZ_CHECK(!strcmp(e.k[i], back.k[i]) && (e.v[i] == NULL) == (back.v[i] == NULL) &&
                       (e.v[i] == NULL || !strcmp(e.v[i], back.v[i])),
                       "entry %zu differs after the round trip:\n%s", i, body);
        ents_free(&back);
        free(body);
    }
    ents_free(&e);
    free(last);
    free(last2);
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
        s3_xml_etag_result(d, n, "CompleteMultipartUploadResult", 1, etag, &err);
        s3_xml_etag_result(d, n, "CopyPartResult", 0, etag, &err);
        break;
    case 3:
        list_page(d, n);
        list_page_ex(d, n, 0);
        break;
    case 4:
        if (s3_xml_delete_result(d, n, &nfailed, &err) == 0 && nfailed > 0)
            FUZZ_CHECK(err.http_status == 200, "first failure without status");
        break;
    case 5:
        s3_xml_uploads_page(d, n, on_upload, NULL, &truncated, &nk, &nu, &cb_rc);
        free(nk);
        free(nu);
        list_page_ex(d, n, 1);
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
    s3_xml_silence();       /* as creating a client does */
    return 0;
}
