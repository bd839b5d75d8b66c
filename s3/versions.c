/* versions.c - object versions: ListObjectVersions, reads of a version, versioning. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/s3_internal.h"
#include "s3/xml_internal.h"

#define VERSION_ID_MAX 1024
#define VERSIONS_EMPTY_RUN_MAX 100   /* truncated pages in a row without a single entry */
#define CONFIG_MAX (64u << 10)       /* an Object Lock or versioning document */

/* ---- one ListVersionsResult page ---- */

static void skip_note(s3_list_skip *skip, const xmlNode *n)
{
    char *raw = s3_xml_text(s3_xml_child(n, "Key"));
    if (skip && !skip->count++)
        s3_escape_text(raw ? raw : "(no key)", skip->first, sizeof(skip->first));
    if (raw)
        xmlFree(raw);
}

/* Report one Version or DeleteMarker element. 1 (reported: the callback's answer in
 * *cb_rc, the entry's key and id in *key and *id, malloc'ed), 0 (skipped), -ENOMEM. */
static int emit_version(const xmlNode *n, int enc, s3_version_cb cb, void *arg, int *cb_rc,
                        s3_list_skip *skip, char **key, char **id)
{
    s3_version_info v = { .is_delete_marker = s3_xml_name_is(n, "DeleteMarker") };
    char etag[S3_ETAG_MAX] = "";
    char *latest = s3_xml_text(s3_xml_child(n, "IsLatest"));
    char *lm = s3_xml_text(s3_xml_child(n, "LastModified"));
    char *size = s3_xml_text(s3_xml_child(n, "Size"));
    char *tag = s3_xml_text(s3_xml_child(n, "ETag"));
    int rc = s3_xml_key(s3_xml_child(n, "Key"), enc, S3_KEY_MAX, key);

    if (!rc)
        rc = s3_xml_key(s3_xml_child(n, "VersionId"), 0, VERSION_ID_MAX, id);
    if (rc == -EINVAL)
        skip_note(skip, n);
    if (!rc) {
        v.key = *key;
        v.version_id = *id;
        v.is_latest = latest && !strcmp(latest, "true");
        v.last_modified = s3_xml_parse_time(lm);
        v.size = size && !v.is_delete_marker ? strtoull(size, NULL, 10) : 0;
        s3_xml_copy_etag(v.is_delete_marker ? NULL : tag, etag, sizeof(etag));
        v.etag = etag;
        *cb_rc = cb(&v, arg);
    }
    if (latest)
        xmlFree(latest);
    if (lm)
        xmlFree(lm);
    if (size)
        xmlFree(size);
    if (tag)
        xmlFree(tag);
    return rc == -EINVAL ? 0 : rc ? rc : 1;
}

/* The markers of the next page when no entry was reported: the page's own, or none. */
static int page_markers(const xmlNode *root, int enc, char **next_key, char **next_id)
{
    int rc = s3_xml_key(s3_xml_child(root, "NextKeyMarker"), enc, S3_KEY_MAX, next_key);
    if (rc == -EINVAL)
        rc = 0;
    if (!rc && *next_key) {
        rc = s3_xml_key(s3_xml_child(root, "NextVersionIdMarker"), 0, VERSION_ID_MAX, next_id);
        if (rc == -EINVAL)
            rc = 0;
    }
    return rc;
}

int s3_xml_versions_page(const void *body, size_t len, s3_version_cb cb, void *arg,
                         int *truncated, char **next_key, char **next_id, int *cb_rc,
                         s3_list_skip *skip)
{
    xmlDoc *doc = s3_xml_read(body, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0, enc;
    char *t;

    *truncated = *cb_rc = 0;
    *next_key = *next_id = NULL;
    if (skip)
        memset(skip, 0, sizeof(*skip));
    if (!s3_xml_name_is(root, "ListVersionsResult")) {
        rc = -EINVAL;
        goto out;
    }
    enc = s3_xml_url_encoded(root);
    t = s3_xml_text(s3_xml_child(root, "IsTruncated"));
    *truncated = t && !strcmp(t, "true");
    if (t)
        xmlFree(t);
    /* go on after the last entry reported (its key decoded, as the request's marker) */
    for (xmlNode *n = root->children; n && !*cb_rc && rc >= 0; n = n->next) {
        char *k = NULL, *id = NULL;
        if (!s3_xml_name_is(n, "Version") && !s3_xml_name_is(n, "DeleteMarker"))
            continue;
        rc = emit_version(n, enc, cb, arg, cb_rc, skip, &k, &id);
        if (rc == 1) {
            free(*next_key);
            free(*next_id);
            *next_key = k;
            *next_id = id;
        } else {
            free(k);
            free(id);
        }
    }
    if (rc >= 0)
        rc = *next_key ? 0 : page_markers(root, enc, next_key, next_id);
out:
    if (doc)
        xmlFreeDoc(doc);
    if (rc) {
        free(*next_key);
        free(*next_id);
        *next_key = *next_id = NULL;
    }
    return rc;
}

/* ---- ListObjectVersions ---- */

/* Does a truncated page move the listing on? The next markers must exist, differ from
 * the ones that fetched it and not go back in key order; pages without entries must not
 * go on and on. */
static int versions_advance(const char *key, const char *id, const char *nk, const char *ni,
                            int had_entries, int *empty_run)
{
    *empty_run = had_entries ? 0 : *empty_run + 1;
    if (!nk || *empty_run > VERSIONS_EMPTY_RUN_MAX)
        return 0;
    if (!key)
        return 1;
    int cmp = strcmp(nk, key);
    return cmp > 0 || (cmp == 0 && strcmp(ni ? ni : "", id ? id : ""));
}

typedef struct versions_walk {
    const char *prefix;
    char *key, *id;            /* markers of the next page */
    int empty_run, truncated, cb_rc;
    size_t seen;               /* entries reported so far */
    s3_version_cb cb;
    void *arg;
} versions_walk;

static int count_cb(const s3_version_info *v, void *arg)
{
    versions_walk *w = arg;
    w->seen++;
    return w->cb(v, w->arg);
}

static int versions_page(s3_client *c, versions_walk *w, s3_error *err)
{
    s3_buf page = { 0 };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    size_t before = w->seen;
    int rc = s3_marker_page(c, "versions&max-keys", w->prefix, w->key, "version-id-marker",
                            w->id, &page, err);
    if (!rc) {
        rc = s3_xml_versions_page(page.data, page.len, count_cb, w, &w->truncated, &nk, &ni,
                                  &w->cb_rc, &skip);
        if (rc)
            s3_op_fail(err, rc, "malformed ListVersionsResult");
        else if (w->truncated && !w->cb_rc &&
                 !versions_advance(w->key, w->id, nk, ni, w->seen > before || skip.count,
                                   &w->empty_run))
            rc = s3_op_fail(err, -EINVAL, "the endpoint's version listing does not advance "
                            "(a truncated page repeats or goes back)");
        if (!rc)
            s3_warn_skipped(c, "listing the object versions", &skip);
    }
    s3_buf_free(&page);
    free(w->key);
    free(w->id);
    w->key = nk;
    w->id = ni;
    return rc;
}

int s3_list_versions(s3_client *c, const char *prefix, s3_version_cb cb, void *arg,
                     s3_error *err)
{
    versions_walk w = { .prefix = prefix, .truncated = 1, .cb = cb, .arg = arg };
    int rc = 0;

    if (!c || !cb)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    if (err)
        memset(err, 0, sizeof(*err));
    while (!rc && !w.cb_rc && w.truncated)
        rc = versions_page(c, &w, err);
    free(w.key);
    free(w.id);
    return rc ? rc : w.cb_rc;
}

/* ---- reads of one version ---- */

/* "versionId=<id encoded>" malloc'ed into *q, or NULL for the latest. 0, -EINVAL (an
 * empty or too long id) or -ENOMEM. */
static int version_query(const char *version_id, char **q)
{
    *q = NULL;
    if (!version_id)
        return 0;
    if (!*version_id || strlen(version_id) > VERSION_ID_MAX)
        return -EINVAL;
    char *enc = s3_query_enc(version_id);
    size_t n = enc ? strlen(enc) + sizeof("versionId=") : 0;
    *q = enc ? malloc(n) : NULL;
    if (*q)
        snprintf(*q, n, "versionId=%s", enc);
    free(enc);
    return *q ? 0 : -ENOMEM;
}

int s3_get_version(s3_client *c, const char *key, const char *version_id, uint64_t off,
                   uint64_t len, size_t max_size, s3_buf *out, s3_error *err)
{
    char *q;
    int rc = version_query(version_id, &q);
    if (out)
        memset(out, 0, sizeof(*out));
    if (rc)
        return s3_op_fail(err, rc, "invalid version id");
    rc = s3_op_get(c, key, q, off, len, max_size, out, err);
    free(q);
    return rc;
}

int s3_head_version(s3_client *c, const char *key, const char *version_id, uint64_t *size,
                    char etag[S3_ETAG_MAX], time_t *retain_until, s3_error *err)
{
    char *q;
    int rc = version_query(version_id, &q);
    if (rc)
        return s3_op_fail(err, rc, "invalid version id");
    rc = s3_op_head(c, key, q, size, etag, retain_until, err);
    free(q);
    return rc;
}

int s3_async_get_range_version(s3_client *c, const char *key, const char *version_id,
                               uint64_t off, uint64_t len, void *dst, size_t cap,
                               s3_done_cb done, void *arg)
{
    char *q;
    int rc = version_query(version_id, &q);
    if (!rc)
        rc = s3_op_get_range(c, key, q, off, len, dst, cap, done, arg);
    free(q);   /* the engine copied it */
    return rc;
}

/* ---- bucket configuration: versioning ---- */

/* GET ?sub into a parsed document rooted at root_name: *doc (xmlFreeDoc) or rc. */
static int get_config(s3_client *c, const char *sub, const char *root_name, xmlDoc **doc,
                      s3_error *err)
{
    s3_buf body = { 0 };
    s3_req_spec spec = {
        .method = "GET", .query = sub, .sink = S3_SINK_BUF, .buf = &body,
        .buf_max = CONFIG_MAX,
    };
    int rc = s3_sync_request(c, &spec, err);

    *doc = NULL;
    if (!rc) {
        *doc = s3_xml_read(body.data, body.len);
        if (!*doc || !s3_xml_name_is(xmlDocGetRootElement(*doc), root_name)) {
            if (*doc)
                xmlFreeDoc(*doc);
            *doc = NULL;
            rc = s3_op_fail(err, -EINVAL, "malformed bucket configuration");
        }
    }
    s3_buf_free(&body);
    return rc;
}

/* 1 if the text of n's child name equals want. */
static int text_is(const xmlNode *n, const char *name, const char *want)
{
    char *t = s3_xml_text(s3_xml_child(n, name));
    int yes = t && !strcmp(t, want);
    if (t)
        xmlFree(t);
    return yes;
}

int s3_get_versioning(s3_client *c, int *state, s3_error *err)
{
    xmlDoc *doc;
    int rc;

    *state = 0;
    if (!c)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    rc = get_config(c, "versioning", "VersioningConfiguration", &doc, err);
    if (rc)
        return rc;
    xmlNode *root = xmlDocGetRootElement(doc);
    *state = text_is(root, "Status", "Enabled") ? 1 : text_is(root, "Status", "Suspended") ? 2
                                                                                          : 0;
    xmlFreeDoc(doc);
    return 0;
}
