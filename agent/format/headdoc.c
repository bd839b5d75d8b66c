/* headdoc.c - the head object's JSON codec (json-c) and its MAC under the master key. */
#include "agent/format/headdoc.h"
#include "agent/format/manifest_internal.h"
#include "agent/format/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define MAC_PREFIX "hmac-sha256:"
#define BODY_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int copy_field(char *dst, size_t dstsz, const char *src)
{
    int n = snprintf(dst, dstsz, "%s", src);
    return n < 0 || (size_t)n >= dstsz ? -EINVAL : 0;
}

int headdoc_from_manifest(headdoc *h, const manifest *m)
{
    memset(h, 0, sizeof(*h));
    if (!m->enc.on)
        return -EINVAL;
    if (copy_field(h->pool, sizeof(h->pool), m->pool) < 0 ||
        copy_field(h->ns, sizeof(h->ns), m->ns) < 0 ||
        copy_field(h->image, sizeof(h->image), m->image) < 0 ||
        copy_field(h->image_id, sizeof(h->image_id), m->image_id) < 0 ||
        copy_field(h->newest, sizeof(h->newest), m->id) < 0)
        return -EINVAL;
    memcpy(h->newest_mac, m->enc.mac, SEAL_MAC_LEN);
    return 0;
}

static int is_key_id(const char *s)
{
    uint8_t b[(SEAL_KEY_ID_LEN - 1) / 2];
    return digest_unhex(s, b, sizeof(b)) == 0;
}

/* Everything a head needs, the same rules for writing and reading. */
static int check(const headdoc *h)
{
    if (h->pool[0] == '\0' || h->image[0] == '\0' || h->image_id[0] == '\0' ||
        !naming_is_backup_id(h->newest) || !is_key_id(h->key_id))
        return -EINVAL;
    return 0;
}

/* The document without "mac", members in their fixed order. NULL on ENOMEM. */
static json_object *build_body(const headdoc *h)
{
    char mac[2 * SEAL_MAC_LEN + 1];
    json_object *o = json_object_new_object();
    int rc = o != NULL ? 0 : -ENOMEM;
    mj_add(o, "format", json_object_new_int(HEADDOC_FORMAT), &rc);
    digest_hex(h->newest_mac, SEAL_MAC_LEN, mac);
    mj_add_str(o, "pool", h->pool, &rc);
    mj_add_str(o, "namespace", h->ns, &rc);
    mj_add_str(o, "image", h->image, &rc);
    mj_add_str(o, "image_id", h->image_id, &rc);
    mj_add_str(o, "newest", h->newest, &rc);
    mj_add_str(o, "newest_mac", mac, &rc);
    mj_add_str(o, "key_id", h->key_id, &rc);
    if (rc == 0)
        return o;
    json_object_put(o);
    return NULL;
}

/* HMAC of h's body under mk into out. 0, -ENOMEM or -EIO. */
static int body_mac(const headdoc *h, const seal_key *mk, uint8_t out[SEAL_MAC_LEN])
{
    json_object *o = build_body(h);
    if (o == NULL)
        return -ENOMEM;
    size_t len = 0;
    const char *s = json_object_to_json_string_length(o, BODY_FLAGS, &len);
    int rc = s == NULL ? -ENOMEM : seal_mac(mk, s, len, out);
    json_object_put(o);
    return rc;
}

int headdoc_to_json(headdoc *h, const seal_key *mk, char **json, size_t *len)
{
    char hex[2 * SEAL_MAC_LEN + 1], mac[sizeof(MAC_PREFIX) + sizeof(hex)];
    if (!mk->master || copy_field(h->key_id, sizeof(h->key_id), mk->id) < 0 || check(h) < 0)
        return -EINVAL;
    int rc = body_mac(h, mk, h->mac);
    if (rc < 0)
        return rc;
    json_object *o = build_body(h);
    if (o == NULL)
        return -ENOMEM;
    digest_hex(h->mac, SEAL_MAC_LEN, hex);
    snprintf(mac, sizeof(mac), MAC_PREFIX "%s", hex);
    mj_add_str(o, "mac", mac, &rc);
    const char *s = rc == 0 ? json_object_to_json_string_length(o, BODY_FLAGS, len) : NULL;
    *json = s != NULL ? strdup(s) : NULL;
    json_object_put(o);
    return *json != NULL ? 0 : -ENOMEM;
}

static int get_hex(json_object *doc, const char *k, const char *prefix, uint8_t *b, size_t n)
{
    char s[128];
    size_t pl = strlen(prefix);
    if (mj_str(doc, k, s, sizeof(s)) < 0 || strncmp(s, prefix, pl) != 0)
        return -EINVAL;
    return digest_unhex(s + pl, b, n);
}

static int parse_doc(json_object *doc, headdoc *h)
{
    json_object *v;
    if (!json_object_object_get_ex(doc, "format", &v) ||
        !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != HEADDOC_FORMAT ||
        json_object_object_length(doc) != 9)
        return -EINVAL;
    if (mj_str(doc, "pool", h->pool, sizeof(h->pool)) < 0 ||
        mj_str(doc, "namespace", h->ns, sizeof(h->ns)) < 0 ||
        mj_str(doc, "image", h->image, sizeof(h->image)) < 0 ||
        mj_str(doc, "image_id", h->image_id, sizeof(h->image_id)) < 0 ||
        mj_str(doc, "newest", h->newest, sizeof(h->newest)) < 0 ||
        mj_str(doc, "key_id", h->key_id, sizeof(h->key_id)) < 0 ||
        get_hex(doc, "newest_mac", "", h->newest_mac, SEAL_MAC_LEN) < 0 ||
        get_hex(doc, "mac", MAC_PREFIX, h->mac, SEAL_MAC_LEN) < 0)
        return -EINVAL;
    return check(h);
}

int headdoc_from_json(const char *json, size_t len, headdoc *h)
{
    memset(h, 0, sizeof(*h));
    if (len == 0 || len > HEADDOC_MAX_BYTES)
        return -EINVAL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *doc = json_tokener_parse_ex(tok, json, (int)len);
    int rc = doc == NULL || json_tokener_get_error(tok) != json_tokener_success ||
             json_tokener_get_parse_end(tok) != len ||
             !json_object_is_type(doc, json_type_object) ? -EINVAL : 0;
    json_tokener_free(tok);
    if (rc == 0)
        rc = parse_doc(doc, h);
    json_object_put(doc);
    if (rc < 0)
        memset(h, 0, sizeof(*h));
    return rc;
}

int headdoc_mac_ok(const headdoc *h, const seal_key *mk)
{
    if (!mk->master || strcmp(mk->id, h->key_id) != 0)
        return 0;
    json_object *o = build_body(h);
    size_t len = 0;
    const char *s = o != NULL ? json_object_to_json_string_length(o, BODY_FLAGS, &len) : NULL;
    int ok = s != NULL && seal_mac_ok(mk, s, len, h->mac);
    json_object_put(o);
    return ok;
}
