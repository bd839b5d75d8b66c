/* xml.c - S3 XML documents by path (libxml2): reading, errors, uploads, deletes; bodies. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/s3_internal.h"
#include "s3/xml_internal.h"

/* No network, no entity substitution, no noise on stderr. */
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

/* What stands in for a character XML 1.0 cannot carry (S3_XML_BAD_CHAR, U+FDD0). */
#define BAD_REF "&#xFDD0;"

/* Can XML 1.0 carry code point v? */
static int xml_char_ok(unsigned long v)
{
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
           (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

/* The length of a character reference at p (up to end) to a code point XML 1.0 cannot
 * carry ("&#x1;", "&#31;"), else 0. */
static size_t bad_ref_len(const char *p, const char *end)
{
    const char *q = p + 2;
    int hex = q < end && (*q == 'x' || *q == 'X');
    unsigned long v = 0;
    size_t nd = 0;

    if (end - p < 4 || p[0] != '&' || p[1] != '#')
        return 0;
    for (q += hex; q < end && nd < 8 && isxdigit((unsigned char)*q); q++, nd++) {
        if (!hex && !isdigit((unsigned char)*q))
            break;
        v = v * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)*q)
                                                  ? *q - '0' : (*q | 0x20) - 'a' + 10);
    }
    if (!nd || q >= end || *q != ';' || xml_char_ok(v))
        return 0;
    return (size_t)(q + 1 - p);
}

/* A copy of body with every control byte and every character reference XML 1.0 cannot
 * carry (AWS writes a key's 0x01 as "&#x1;", RGW writes NextKeyMarker so even with
 * encoding-type=url) replaced by BAD_REF, so that one such key does not make the whole
 * document unreadable. NULL when nothing needs replacing or out of memory (*oom). */
static char *sanitize(const char *p, size_t len, size_t *outlen, int *oom)
{
    const char *end = p + len;
    s3_sb b;
    size_t from = 0;

    *oom = 0;
    s3_sb_init(&b, (size_t)S3_XMLBODY_MAX * 2);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        size_t skip = 0;
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
            skip = 1;
        else if (ch == '&')
            skip = bad_ref_len(p + i, end);
        if (!skip)
            continue;
        s3_sb_add(&b, p + from, i - from);
        s3_sb_adds(&b, BAD_REF);
        i += skip - 1;
        from = i + 1;
    }
    if (!b.p && !b.err)
        return NULL;           /* nothing replaced */
    s3_sb_add(&b, p + from, len - from);
    if (b.err) {
        *oom = 1;
        s3_sb_free(&b);
        return NULL;
    }
    *outlen = b.len;
    return b.p;
}

/* Parse a response body. Leading blanks are skipped: S3 sends them to keep a slow
 * CompleteMultipartUpload connection alive, and libxml2 wants the XML declaration first. */
xmlDoc *s3_xml_read(const void *body, size_t len)
{
    const char *p = body;
    while (p && len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        len--;
    }
    if (!p || !len || len > (size_t)S3_XMLBODY_MAX)
        return NULL;
    size_t clen = 0;
    int oom;
    char *clean = sanitize(p, len, &clen, &oom);
    if (oom || clen > (size_t)INT_MAX)
        return NULL;
    xmlDoc *doc = xmlReadMemory(clean ? clean : p, clean ? (int)clen : (int)len, NULL, NULL,
                                XML_OPTS);
    free(clean);
    return doc;
}

int s3_xml_name_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* The first element child of parent named name (namespace ignored), or NULL. */
xmlNode *s3_xml_child(const xmlNode *parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (s3_xml_name_is(n, name))
            return n;
    return NULL;
}

/* Follow "A/B/C" from the document root (whose name must be A). */
static xmlNode *path(xmlDoc *doc, const char *p)
{
    char part[128];
    xmlNode *n = xmlDocGetRootElement(doc);
    int first = 1;

    while (n && *p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof(part))
            return NULL;
        memcpy(part, p, len);
        part[len] = '\0';
        if (first) {
            if (!s3_xml_name_is(n, part))
                return NULL;
            first = 0;
        } else {
            n = s3_xml_child(n, part);
        }
        p += len + (slash ? 1 : 0);
    }
    return n;
}

/* The text of n, malloc'ed by libxml2 (free with xmlFree), or NULL. */
char *s3_xml_text(const xmlNode *n)
{
    return n ? (char *)xmlNodeGetContent(n) : NULL;
}

static void copy_text(const xmlNode *n, char *dst, size_t dstsz)
{
    char *t = s3_xml_text(n);
    s3_strlcpy(dst, t ? t : "", dstsz);
    if (t)
        xmlFree(t);
}

/* Copy an ETag without its surrounding quotes (and blanks). */
void s3_xml_copy_etag(const char *src, char *dst, size_t dstsz)
{
    if (!src) {
        s3_strlcpy(dst, "", dstsz);
        return;
    }
    while (*src == ' ' || *src == '"')
        src++;
    size_t n = strlen(src);
    while (n && (src[n - 1] == ' ' || src[n - 1] == '"'))
        n--;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int s3_xml_error(const void *body, size_t len, char *code, size_t codesz,
                 char *msg, size_t msgsz)
{
    xmlDoc *doc = s3_xml_read(body, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int found = s3_xml_name_is(root, "Error");

    if (found) {
        copy_text(s3_xml_child(root, "Code"), code, codesz);
        copy_text(s3_xml_child(root, "Message"), msg, msgsz);
    }
    if (doc)
        xmlFreeDoc(doc);
    return found;
}

int s3_xml_upload_id(const void *body, size_t len, char **upload_id)
{
    xmlDoc *doc = s3_xml_read(body, len);
    char *t = NULL;
    int rc = -EINVAL;

    *upload_id = NULL;
    if (doc)
        t = s3_xml_text(path(doc, "InitiateMultipartUploadResult/UploadId"));
    if (t && *t) {
        *upload_id = strdup(t);
        rc = *upload_id ? 0 : -ENOMEM;
    }
    if (t)
        xmlFree(t);
    if (doc)
        xmlFreeDoc(doc);
    return rc;
}

int s3_xml_etag_result(const void *body, size_t len, const char *root_name,
                       int etag_optional, char etag[S3_ETAG_MAX], s3_error *err)
{
    xmlDoc *doc = s3_xml_read(body, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = -EINVAL;

    etag[0] = '\0';
    if (s3_xml_name_is(root, "Error")) {
        s3_error e;
        memset(&e, 0, sizeof(e));
        e.http_status = 200;
        copy_text(s3_xml_child(root, "Code"), e.code, sizeof(e.code));
        if (!e.code[0])
            s3_strlcpy(e.code, "InternalError", sizeof(e.code));
        copy_text(s3_xml_child(root, "Message"), e.message, sizeof(e.message));
        rc = s3_err_from_http(200, e.code);
        if (err)
            *err = e;
    } else if (s3_xml_name_is(root, root_name)) {
        char *t = s3_xml_text(s3_xml_child(root, "ETag"));
        s3_xml_copy_etag(t, etag, S3_ETAG_MAX);
        if (t)
            xmlFree(t);
        rc = etag[0] || etag_optional ? 0 : -EINVAL;
    }
    if (rc == -EINVAL && err) {
        memset(err, 0, sizeof(*err));
        err->http_status = 200;
        snprintf(err->message, sizeof(err->message), "malformed %s", root_name);
    }
    if (doc)
        xmlFreeDoc(doc);
    return rc;
}

/* n decimal digits at s as a number, or -1 (a sign, a blank or a short field). */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

time_t s3_xml_parse_time(const char *s)
{
    struct tm tm;

    if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':')
        return 0;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return 0;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return 0;   /* a day the month does not have (timegm moved it on) */
    return t;
}

/* Append s with the five XML special characters escaped. */
static void add_escaped(s3_sb *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': s3_sb_adds(b, "&amp;"); break;
        case '<': s3_sb_adds(b, "&lt;"); break;
        case '>': s3_sb_adds(b, "&gt;"); break;
        case '"': s3_sb_adds(b, "&quot;"); break;
        case '\'': s3_sb_adds(b, "&apos;"); break;
        default: s3_sb_add(b, s, 1); break;
        }
    }
}

char *s3_xml_complete_body(const s3_part *parts, int nparts, size_t *len)
{
    s3_sb b;

    if (!parts || nparts < 1 || nparts > 10000)
        return NULL;
    for (int i = 0; i < nparts; i++) {
        if (parts[i].number < 1 || parts[i].number > 10000 || !parts[i].etag[0])
            return NULL;
        if (i && parts[i].number <= parts[i - 1].number)
            return NULL;
        if (!memchr(parts[i].etag, '\0', S3_ETAG_MAX))
            return NULL;
    }
    s3_sb_init(&b, (size_t)nparts * (S3_ETAG_MAX * 6 + 64) + 128);
    s3_sb_adds(&b, "<CompleteMultipartUpload "
                   "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 0; i < nparts; i++) {
        s3_sb_addf(&b, "<Part><PartNumber>%d</PartNumber><ETag>&quot;", parts[i].number);
        add_escaped(&b, parts[i].etag);
        s3_sb_adds(&b, "&quot;</ETag></Part>");
    }
    s3_sb_adds(&b, "</CompleteMultipartUpload>");
    if (b.err) {
        s3_sb_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- multi-object delete ---- */

/* Append a key as element text: the five specials as entities; tab, LF and CR as
 * character references (a parser would otherwise normalise them away). -EINVAL for
 * the other control characters, which XML 1.0 cannot carry at all. */
static int add_key_text(s3_sb *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\t' || ch == '\n' || ch == '\r')
            s3_sb_addf(b, "&#%d;", ch);
        else if (ch < 0x20)
            return -EINVAL;
        else if (strchr("&<>\"'", ch))
            add_escaped(b, (char[2]){ (char)ch, '\0' });
        else
            s3_sb_add(b, p, 1);
    }
    return 0;
}

char *s3_xml_delete_body(const char *const *keys, size_t n, size_t *len)
{
    s3_sb b;
    int rc = 0;

    if (!keys || n < 1 || n > 1000)
        return NULL;
    s3_sb_init(&b, n * (S3_KEY_MAX * 6 + 32) + 256);
    s3_sb_adds(&b, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                   "<Quiet>true</Quiet>");
    for (size_t i = 0; i < n && !rc; i++) {
        if (!keys[i] || !*keys[i] || strlen(keys[i]) > S3_KEY_MAX) {
            rc = -EINVAL;
            break;
        }
        s3_sb_adds(&b, "<Object><Key>");
        rc = add_key_text(&b, keys[i]);
        s3_sb_adds(&b, "</Key></Object>");
    }
    s3_sb_adds(&b, "</Delete>");
    if (rc || b.err) {
        s3_sb_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* Describe a DeleteResult <Error> entry in e: "KEY: CODE MESSAGE". */
static void delete_error(const xmlNode *n, s3_error *e)
{
    char key[S3_KEY_MAX + 1], msg[sizeof(e->message)];
    char line[sizeof(key) + sizeof(e->code) + sizeof(msg) + 8];

    memset(e, 0, sizeof(*e));
    e->http_status = 200;
    copy_text(s3_xml_child(n, "Key"), key, sizeof(key));
    copy_text(s3_xml_child(n, "Code"), e->code, sizeof(e->code));
    copy_text(s3_xml_child(n, "Message"), msg, sizeof(msg));
    snprintf(line, sizeof(line), "%s: %s%s%s", key, e->code, msg[0] ? " " : "", msg);
    s3_strlcpy(e->message, line, sizeof(e->message));
}

int s3_xml_delete_result(const void *body, size_t len, size_t *nfailed, s3_error *first)
{
    xmlDoc *doc = s3_xml_read(body, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    size_t failed = 0;

    *nfailed = 0;
    if (!s3_xml_name_is(root, "DeleteResult")) {
        if (doc)
            xmlFreeDoc(doc);
        return -EINVAL;
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        char code[64];
        if (!s3_xml_name_is(n, "Error"))
            continue;
        copy_text(s3_xml_child(n, "Code"), code, sizeof(code));
        if (!strcmp(code, "NoSuchKey"))
            continue;   /* deleting a missing key succeeds in S3 */
        if (!failed++ && first)
            delete_error(n, first);
    }
    *nfailed = failed;
    xmlFreeDoc(doc);
    return 0;
}

/* libxml2's error printer, replaced: every failure is reported by the caller. */
static void silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

void s3_xml_silence(void)
{
    xmlThrDefSetGenericErrorFunc(NULL, silent);
    xmlSetGenericErrorFunc(NULL, silent);
}
