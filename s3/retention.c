/* retention.c - S3 Object Lock: the bucket's lock configuration, the retention new objects
 * carry, PutObjectRetention and the retention HEAD reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libxml/tree.h>

#include "s3/s3_internal.h"
#include "s3/xml_internal.h"

#define LOCKCONF_MAX (64u << 10)

const char *s3_lock_mode_name(int mode)
{
    switch (mode) {
    case S3_LOCK_GOVERNANCE:
        return "GOVERNANCE";
    case S3_LOCK_COMPLIANCE:
        return "COMPLIANCE";
    default:
        return NULL;
    }
}

void s3_lock_time(time_t t, char out[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
        out[0] = '\0';
}

void s3_client_set_object_lock(s3_client *c, int mode, time_t until)
{
    if (c == NULL)
        return;
    c->lock_mode = s3_lock_mode_name(mode) ? mode : S3_LOCK_NONE;
    c->lock_until = until;
}

/* ObjectLockConfiguration/ObjectLockEnabled == "Enabled"? 1, 0, or -EINVAL (not XML). */
static int lock_enabled(const void *body, size_t len)
{
    xmlDoc *doc = s3_xml_read(body, len);
    if (doc == NULL)
        return -EINVAL;
    xmlNode *root = xmlDocGetRootElement(doc);
    int rc = -EINVAL;
    if (root != NULL && s3_xml_name_is(root, "ObjectLockConfiguration")) {
        char *t = s3_xml_text(s3_xml_child(root, "ObjectLockEnabled"));
        rc = t != NULL && strcmp(t, "Enabled") == 0;
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    return rc;
}

int s3_get_object_lock(s3_client *c, int *enabled, s3_error *err)
{
    s3_buf body = { 0 };

    if (enabled)
        *enabled = 0;
    if (!c || !enabled)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_req_spec spec = {
        .method = "GET", .query = "object-lock", .sink = S3_SINK_BUF, .buf = &body,
        .buf_max = LOCKCONF_MAX,
    };
    int rc = s3_sync_request(c, &spec, err);
    if ((rc == -ENOENT && err && strcmp(err->code, "NoSuchBucket") != 0) ||
        (rc < 0 && err && err->http_status == 501)) {
        /* ObjectLockConfigurationNotFoundError; or a server without Object Lock at all
         * (s3rver: 501 NotImplemented) */
        memset(err, 0, sizeof(*err));
        rc = 0;
    } else if (!rc) {
        int on = lock_enabled(body.data, body.len);
        if (on < 0)
            rc = s3_op_fail(err, -EINVAL, "malformed ObjectLockConfiguration");
        else
            *enabled = on;
    }
    s3_buf_free(&body);
    return rc;
}

int s3_put_retention(s3_client *c, const char *key, int mode, time_t until, s3_error *err)
{
    char date[32], md5[25], xml[256];
    const char *name = s3_lock_mode_name(mode);

    if (!c || !key || !*key || strlen(key) > S3_KEY_MAX || !name || until <= 0)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_lock_time(until, date);
    int len = snprintf(xml, sizeof(xml), "<Retention xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\"><Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate>"
                       "</Retention>", name, date);
    s3_md5_base64(xml, (size_t)len, md5);
    if (!md5[0] || !date[0])
        return s3_op_fail(err, -EIO, "no MD5 digest or date");
    s3_req_spec spec = {
        .method = "PUT", .key = key, .query = "retention", .content_type = "application/xml",
        .content_md5 = md5, .body = xml, .body_len = (size_t)len,
    };
    return s3_sync_request(c, &spec, err);
}

int s3_head_retention(s3_client *c, const char *key, int *mode, time_t *until,
                      s3_error *err)
{
    s3_lock_info li = { S3_LOCK_NONE, 0 };

    if (mode)
        *mode = S3_LOCK_NONE;
    if (until)
        *until = 0;
    if (!c || !key || !*key || strlen(key) > S3_KEY_MAX)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_req_spec spec = { .method = "HEAD", .key = key, .lock_out = &li };
    int rc = s3_sync_request(c, &spec, err);
    if (rc)
        return rc;
    if (mode)
        *mode = li.mode;
    if (until)
        *until = li.until;
    return 0;
}
