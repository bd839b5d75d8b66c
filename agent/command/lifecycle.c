/* lifecycle.c - the lifecycle command: the bucket rule that aborts multipart uploads a
 * crashed or killed backup left unfinished under our prefix. Rules of other prefixes
 * (other tools, other rbd2s3 prefixes) are kept as they are.
 *
 * prune deletes the objects of a pruned backup itself (multi-object delete, right after
 * the manifest), so no expiry-by-tag rule is needed: the bucket holds no object that a
 * lifecycle rule would have to find.
 *
 * A versioned bucket (every bucket with Object Lock is one) keeps what is deleted as
 * noncurrent versions: those of pruned backups, and those hidden behind the delete
 * markers of someone who deleted with stolen credentials. Our rule then also expires
 * noncurrent versions, NoncurrentDays after they became noncurrent: the configuration's
 * `object lock days` plus a margin of NONCURRENT_MARGIN days (--noncurrent-days
 * overrides), so that a deletion is noticed and undone (restore --as-of) before its
 * versions go, and never while a version is locked (S3 does not expire a locked version
 * anyway). */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/common/termesc.h"

#include <errno.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_ID_PREFIX "rbd2s3-abort-uploads:"
#define DEFAULT_DAYS 2
#define NONCURRENT_MARGIN 7

static const char *child_text(xmlNode *n, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    for (xmlNode *c = n ? n->children : NULL; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name) != 0)
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        snprintf(buf, len, "%s", t ? (const char *)t : "");
        xmlFree(t);
        break;
    }
    return buf;
}

static xmlNode *child(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* The bucket's rules as a document (an empty configuration if it has none). */
static xmlDoc *load_rules(ag_ctx *ctx)
{
    s3_client *s3 = ag_s3(ctx);
    if (s3 == NULL)
        return NULL;
    s3_buf buf;
    memset(&buf, 0, sizeof(buf));
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_get_lifecycle(s3, &buf, &err);
    xmlDoc *doc = NULL;
    if (rc == 0)
        doc = xmlReadMemory((const char *)buf.data, (int)buf.len, "lifecycle.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING);
    else if (rc == -ENOENT)
        doc = xmlReadMemory("<LifecycleConfiguration/>", 25, "empty.xml", NULL, 0);
    else
        ag_fail_s3(ctx, rc, &err, "reading the bucket's lifecycle configuration");
    s3_buf_free(&buf);
    if (doc == NULL && ctx->exit_code == AG_OK)
        ag_fail(ctx, AG_EFAIL, "the bucket's lifecycle configuration is not valid XML");
    return doc;
}

/* Prefix of a rule: <Filter><Prefix>, <Filter><And><Prefix> or the old <Prefix>. */
static const char *rule_prefix(xmlNode *rule, char *buf, size_t len)
{
    xmlNode *f = child(rule, "Filter");
    if (f != NULL && child(f, "And") != NULL)
        f = child(f, "And");
    return child_text(f != NULL ? f : rule, "Prefix", buf, len);
}

static void our_id(const ag_ctx *ctx, char *buf, size_t len)
{
    snprintf(buf, len, RULE_ID_PREFIX "%s/", ctx->opts.prefix);
}

/* noncurrent: NoncurrentVersionExpiration after that many days; 0: none. */
static xmlNode *new_rule(const ag_ctx *ctx, int days, int noncurrent)
{
    char id[1100], prefix[1100], d[16];
    our_id(ctx, id, sizeof(id));
    snprintf(prefix, sizeof(prefix), "%s/", ctx->opts.prefix);
    snprintf(d, sizeof(d), "%d", days);
    xmlNode *r = xmlNewNode(NULL, BAD_CAST "Rule");
    xmlNewTextChild(r, NULL, BAD_CAST "ID", BAD_CAST id);
    xmlNode *f = xmlNewChild(r, NULL, BAD_CAST "Filter", NULL);
    xmlNewTextChild(f, NULL, BAD_CAST "Prefix", BAD_CAST prefix);
    xmlNewTextChild(r, NULL, BAD_CAST "Status", BAD_CAST "Enabled");
    xmlNode *a = xmlNewChild(r, NULL, BAD_CAST "AbortIncompleteMultipartUpload", NULL);
    xmlNewTextChild(a, NULL, BAD_CAST "DaysAfterInitiation", BAD_CAST d);
    if (noncurrent > 0) {
        snprintf(d, sizeof(d), "%d", noncurrent);
        xmlNode *e = xmlNewChild(r, NULL, BAD_CAST "NoncurrentVersionExpiration", NULL);
        xmlNewTextChild(e, NULL, BAD_CAST "NoncurrentDays", BAD_CAST d);
    }
    return r;
}

/* Drop our old rule (same ID) and append the new one; other rules stay untouched. */
static void merge_rule(const ag_ctx *ctx, xmlDoc *doc, int days, int noncurrent)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    char id[1100], have[1100];
    our_id(ctx, id, sizeof(id));
    for (xmlNode *c = root->children, *next; c != NULL; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "Rule") == 0 &&
            strcmp(child_text(c, "ID", have, sizeof(have)), id) == 0) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    xmlAddChild(root, new_rule(ctx, days, noncurrent));
}

static int store_rules(ag_ctx *ctx, xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root->ns == NULL)
        xmlSetNs(root, xmlNewNs(root, BAD_CAST "http://s3.amazonaws.com/doc/2006-03-01/",
                                NULL));
    xmlChar *xml = NULL;
    int len = 0;
    xmlDocDumpMemoryEnc(doc, &xml, &len, "UTF-8");
    if (xml == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_put_lifecycle(ag_s3(ctx), (const char *)xml, (size_t)len, &err);
    xmlFree(xml);
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, "writing the bucket's lifecycle configuration")
                  : 0;
}

static void show_rules(const ag_ctx *ctx, xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    char id[1100], mine[1100], prefix[1100], status[32], days[32], nc[32];
    our_id(ctx, mine, sizeof(mine));
    json_object *arr = ctx->opts.json ? json_object_new_array() : NULL;
    int n = 0;
    for (xmlNode *c = root->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Rule") != 0)
            continue;
        child_text(c, "ID", id, sizeof(id));
        rule_prefix(c, prefix, sizeof(prefix));
        child_text(c, "Status", status, sizeof(status));
        child_text(child(c, "AbortIncompleteMultipartUpload"), "DaysAfterInitiation", days,
                   sizeof(days));
        child_text(child(c, "NoncurrentVersionExpiration"), "NoncurrentDays", nc, sizeof(nc));
        int ours = strcmp(id, mine) == 0;
        n++;
        if (arr == NULL) {
            printf("%-40s prefix '%s' %s%s%s%s%s%s%s\n", termesc_str(id),
                   termesc_str(prefix), termesc_str(status),
                   days[0] ? ", abort unfinished uploads after " : "", termesc_str(days),
                   days[0] ? " days" : "", nc[0] ? ", noncurrent versions expire after " : "",
                   termesc_str(nc), nc[0] ? " days" : "");
            continue;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "prefix", json_object_new_string(prefix));
        json_object_object_add(o, "status", json_object_new_string(status));
        long d = days[0] ? strtol(days, NULL, 10) : -1;
        json_object_object_add(o, "abort_days", d >= 0 ? json_object_new_int((int)d) : NULL);
        d = nc[0] ? strtol(nc, NULL, 10) : -1;
        json_object_object_add(o, "noncurrent_days", d >= 0 ? json_object_new_int((int)d)
                                                            : NULL);
        json_object_object_add(o, "rbd2s3", json_object_new_boolean(ours));
        json_object_array_add(arr, o);
    }
    if (arr != NULL) {
        puts(json_object_to_json_string_ext(arr, AG_JSON_OUT));
        json_object_put(arr);
    } else if (n == 0) {
        puts("no lifecycle rules on the bucket");
    }
}

/* A number of days 1..3650 from option name's value s into *days (def when s is NULL).
 * 0, or -1 with a usage error recorded. */
static int parse_days(ag_ctx *ctx, const char *name, const char *s, long def, long *days)
{
    char *end = NULL;
    *days = s ? strtol(s, &end, 10) : def;
    if (s != NULL && (*end != '\0' || *days < 1 || *days > 3650))
        return ag_fail(ctx, AG_EUSAGE, "--%s: not a number of days from 1 to 3650: '%s'",
                       name, s);
    return 0;
}

/* The NoncurrentDays of our rule: 0 for a bucket that was never versioned; else given
 * (--noncurrent-days, > 0) or `object lock days` + NONCURRENT_MARGIN. -1 on an S3 failure
 * (recorded). */
static int noncurrent_days(ag_ctx *ctx, long given)
{
    int state = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_get_versioning(ag_s3(ctx), &state, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, "reading the bucket's versioning");
    if (state == 0)
        return 0;
    return given > 0 ? (int)given : ctx->opts.object_lock_days + NONCURRENT_MARGIN;
}

int cmd_lifecycle(ag_ctx *ctx, int argc, char **argv)
{
    const char *days_s = NULL, *nc_s = NULL;
    opts_cmd spec[] = { { "abort-days", 1, &days_s }, { "noncurrent-days", 1, &nc_s } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 2, &pos, &npos) < 0)
        return ctx->exit_code;
    int apply = npos == 1 && strcmp(pos[0], "apply") == 0;
    if (npos != 1 || (!apply && strcmp(pos[0], "show") != 0)) {
        ag_fail(ctx, AG_EUSAGE, "usage: lifecycle apply [--abort-days N] "
                "[--noncurrent-days N] | lifecycle show");
        return ctx->exit_code;
    }
    long days, given;
    if (parse_days(ctx, "abort-days", days_s, DEFAULT_DAYS, &days) < 0 ||
        parse_days(ctx, "noncurrent-days", nc_s, 0, &given) < 0)
        return ctx->exit_code;
    xmlDoc *doc = load_rules(ctx);
    if (doc == NULL)
        return ctx->exit_code;
    int noncurrent = apply ? noncurrent_days(ctx, given) : 0;
    if (apply && noncurrent >= 0) {
        merge_rule(ctx, doc, (int)days, noncurrent);
        if (store_rules(ctx, doc) == 0)
            ag_info(ctx, "lifecycle rule " RULE_ID_PREFIX "%s/ applied", ctx->opts.prefix);
    }
    if (ctx->exit_code == AG_OK)
        show_rules(ctx, doc);
    xmlFreeDoc(doc);
    return ctx->exit_code;
}
