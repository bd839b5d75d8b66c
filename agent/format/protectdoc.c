/* protectdoc.c - the protect object's JSON codec (json-c; strict, bounded). */
#include "agent/format/protectdoc.h"
#include "agent/format/naming.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

int protectdoc_reason_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > PROTECTDOC_REASON_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

int protectdoc_to_json(const protectdoc *d, char **json, size_t *len)
{
    char iso[21];
    *json = NULL;
    *len = 0;
    naming_iso8601(d->since, iso);
    if (!naming_is_backup_id(d->backup) || iso[0] == '\0' || !protectdoc_reason_ok(d->reason))
        return -EINVAL;
    json_object *o = json_object_new_object();
    int bad = o == NULL;
    bad = bad || json_object_object_add(o, "format", json_object_new_int(PROTECTDOC_FORMAT));
    bad = bad || json_object_object_add(o, "backup", json_object_new_string(d->backup));
    bad = bad || json_object_object_add(o, "since", json_object_new_string(iso));
    if (d->reason[0] != '\0')
        bad = bad || json_object_object_add(o, "reason", json_object_new_string(d->reason));
    size_t n = 0;
    const char *s = bad ? NULL : json_object_to_json_string_length(
                                     o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                     &n);
    char *out = s != NULL ? malloc(n + 2) : NULL;
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\n';
        out[n + 1] = '\0';
        *json = out;
        *len = n + 1;
    }
    json_object_put(o);
    return out != NULL ? 0 : -ENOMEM;
}

/* A string member of at most max bytes without NUL into dst; 0, 1 absent, -EINVAL. */
static int get_str(json_object *o, const char *k, char *dst, size_t max)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        return 1;
    if (!json_object_is_type(v, json_type_string))
        return -EINVAL;
    size_t n = (size_t)json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    if (n > max || strlen(s) != n)
        return -EINVAL;
    memcpy(dst, s, n + 1);
    return 0;
}

static int parse_obj(json_object *o, protectdoc *d, const char **why)
{
    json_object *v;
    char iso[32];
    if (!json_object_object_get_ex(o, "format", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) != PROTECTDOC_FORMAT)
        *why = "not format 1";
    else if (get_str(o, "backup", d->backup, sizeof(d->backup) - 1) != 0 ||
             !naming_is_backup_id(d->backup))
        *why = "no valid backup id";
    else if (get_str(o, "since", iso, sizeof(iso) - 1) != 0 ||
             naming_parse_iso8601(iso, &d->since) != 0)
        *why = "no valid time";
    else if (get_str(o, "reason", d->reason, PROTECTDOC_REASON_MAX) < 0 ||
             !protectdoc_reason_ok(d->reason))
        *why = "a reason that is not text";
    else
        return 0;
    return -EINVAL;
}

int protectdoc_from_json(const char *json, size_t len, protectdoc *d, const char **why)
{
    memset(d, 0, sizeof(*d));
    *why = "not a JSON object";
    if (len == 0 || len > PROTECTDOC_MAX_BYTES || memchr(json, '\0', len) != NULL)
        return -EINVAL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    size_t end = o != NULL ? json_tokener_get_parse_end(tok) : 0;
    while (end < len && (json[end] == '\n' || json[end] == ' ' || json[end] == '\r'))
        end++;
    int rc = -EINVAL;
    if (o != NULL && end == len && json_object_is_type(o, json_type_object))
        rc = parse_obj(o, d, why);
    json_tokener_free(tok);
    json_object_put(o);
    if (rc != 0) {
        d->since = 0;
        d->reason[0] = '\0';
    }
    return rc;
}
