/* source.c - the source spec of an instant restore's migration: a raw image on an http
 * stream served by rbd2s3 on loopback; built for prepare, recognised for --resume. */
#include "agent/command/instant/instant.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_HEAD "http://" INSTANT_HOST ":"

int instant_spec_build(const instant_job *j, unsigned port, char *out, size_t n)
{
    char path[4 * NAMING_SPEC_MAX], url[4 * NAMING_SPEC_MAX + 64];
    if (serve_point_path(&j->spec, j->id, path, sizeof(path)) >= sizeof(path))
        return -1;
    snprintf(url, sizeof(url), URL_HEAD "%u%s", port, path);
    json_object *stream = json_object_new_object();
    json_object_object_add(stream, "type", json_object_new_string("http"));
    json_object_object_add(stream, "url", json_object_new_string(url));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("raw"));
    json_object_object_add(o, "stream", stream);
    int w = snprintf(out, n, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The string member key of o, or NULL. */
static const char *member(json_object *o, const char *key)
{
    json_object *v;
    if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v,
                                                                              json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The url of a raw source on an http stream, or NULL. */
static const char *http_url(json_object *o)
{
    json_object *stream = NULL;
    const char *type = member(o, "type");
    if (type == NULL || strcmp(type, "raw") != 0 ||
        !json_object_object_get_ex(o, "stream", &stream))
        return NULL;
    type = member(stream, "type");
    return type != NULL && strcmp(type, "http") == 0 ? member(stream, "url") : NULL;
}

/* url is http://127.0.0.1:PORT/...@ID.raw of the job's image: 1 with *port and id. */
static int url_ours(const instant_job *j, const char *url, unsigned *port, char *id)
{
    if (strncmp(url, URL_HEAD, strlen(URL_HEAD)) != 0)
        return 0;
    const char *p = url + strlen(URL_HEAD);
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || *p < '0' || *p > '9' || v == 0 || v > 65535 || *end != '/')
        return 0;
    const char *path = end, *at = strrchr(path, '@');
    size_t plen = strlen(path);
    if (at == NULL || plen < 5 || strcmp(path + plen - 4, ".raw") != 0)
        return 0;
    size_t idlen = (size_t)(path + plen - 4 - (at + 1));
    char cand[NAMING_MAX], want[4 * NAMING_SPEC_MAX];
    if (idlen == 0 || idlen >= sizeof(cand))
        return 0;
    memcpy(cand, at + 1, idlen);
    cand[idlen] = '\0';
    if (!naming_is_backup_id(cand) || (j->spec.at[0] != '\0' && strcmp(j->spec.at, cand) != 0))
        return 0;
    if (serve_point_path(&j->spec, cand, want, sizeof(want)) >= sizeof(want) ||
        strcmp(want, path) != 0)
        return 0;
    *port = (unsigned)v;
    memcpy(id, cand, idlen + 1);
    return 1;
}

int instant_spec_ours(const instant_job *j, const char *spec, unsigned *port, char *id)
{
    json_object *o = json_tokener_parse(spec);
    const char *url = o != NULL ? http_url(o) : NULL;
    int ours = url != NULL && url_ours(j, url, port, id);
    json_object_put(o);
    return ours;
}
