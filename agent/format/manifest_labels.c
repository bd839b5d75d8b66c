/* manifest_labels.c - the labels of a manifest ("labels": {"KEY": "VALUE", ...}): the
 * checks, building and parsing of that member (format 1 may carry it, format 2 never,
 * format 3 always; see manifest.h). */
#include "agent/format/manifest.h"
#include "agent/format/manifest_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int manifest_set_labels(manifest *m, const labels_set *set)
{
    labels_set *copy = NULL;
    if (set != NULL && set->n > 0) {
        copy = malloc(sizeof(*copy));
        if (copy == NULL)
            return -ENOMEM;
        *copy = *set;
    }
    free(m->labels);
    m->labels = copy;
    return 0;
}

/* Labels: valid, each key once, at most LABELS_MAX (none is NULL, never empty). */
int manifest_labels_check(const manifest *m)
{
    const labels_set *l = m->labels;
    if (l == NULL)
        return 0;
    if (l->n == 0 || l->n > LABELS_MAX)
        return -EINVAL;
    for (size_t i = 0; i < l->n; i++) {
        if (!labels_key_ok(l->kv[i].key) || !labels_value_ok(l->kv[i].value))
            return -EINVAL;
        for (size_t k = 0; k < i; k++)
            if (strcmp(l->kv[i].key, l->kv[k].key) == 0)
                return -EINVAL;
    }
    return 0;
}

json_object *manifest_labels_json(const labels_set *set)
{
    int rc = 0;
    json_object *o = json_object_new_object();
    for (size_t i = 0; o != NULL && set != NULL && i < set->n; i++)
        mj_add_str(o, set->kv[i].key, set->kv[i].value, &rc);
    if (rc != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* "labels" when m has labels (in the checksum and, sealed, in the MAC body). */
void manifest_labels_build(json_object *doc, const manifest *m, int *rc)
{
    if (m->labels == NULL || *rc != 0)
        return;
    json_object *o = manifest_labels_json(m->labels);
    if (o == NULL)
        *rc = -ENOMEM;
    mj_add(doc, "labels", o, rc);
}

/* "labels": present exactly when the format says (1: may, 2: never, 3: always), an
 * object of valid, distinct KEY: "VALUE" members. */
int manifest_labels_parse(json_object *doc, int format, manifest *m)
{
    json_object *o;
    if (!json_object_object_get_ex(doc, "labels", &o))
        return format == MANIFEST_FORMAT_SEALED_LABELS ? -EINVAL : 0;
    if (format == MANIFEST_FORMAT_SEALED || !json_object_is_type(o, json_type_object) ||
        json_object_object_length(o) == 0 || json_object_object_length(o) > LABELS_MAX)
        return -EINVAL;
    labels_set set;
    memset(&set, 0, sizeof(set));       /* copied whole by manifest_set_labels */
    json_object_object_foreach(o, key, val) {
        const char *why;
        char kv[LABELS_KEY_MAX + LABELS_VALUE_MAX + 3];
        if (!json_object_is_type(val, json_type_string) ||
            strlen(key) > LABELS_KEY_MAX ||
            (size_t)json_object_get_string_len(val) > LABELS_VALUE_MAX ||
            strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
            return -EINVAL;
        snprintf(kv, sizeof(kv), "%s=%s", key, json_object_get_string(val));
        if (strchr(key, '=') != NULL || labels_add(&set, kv, 1, &why) < 0)
            return -EINVAL;
    }
    return manifest_set_labels(m, &set);
}
