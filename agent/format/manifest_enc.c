/* manifest_enc.c - the encryption members of a format 2 manifest ("encryption", "key",
 * "mac"), their rules, and the bytes its MAC covers (see manifest.h). */
#include "agent/format/manifest.h"
#include "agent/format/manifest_internal.h"
#include "agent/format/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIPHER "aes-256-gcm"
#define MAC_PREFIX "hmac-sha256:"
#define KDF_N_MIN (1ull << 10)
#define KDF_N_MAX (1ull << 22)

static int is_hex_id(const char *s)
{
    uint8_t b[(SEAL_KEY_ID_LEN - 1) / 2];
    return strlen(s) == SEAL_KEY_ID_LEN - 1 && digest_unhex(s, b, sizeof(b)) == 0;
}

static int kdf_ok(const seal_kdf *k)
{
    return k->n >= KDF_N_MIN && k->n <= KDF_N_MAX && (k->n & (k->n - 1)) == 0 &&
           k->r >= 1 && k->r <= 32 && k->p >= 1 && k->p <= 16;
}

int manifest_enc_check(const manifest *m)
{
    const manifest_enc *e = &m->enc;
    if (!e->on)
        return e->has_kdf || e->has_parent_mac || e->key_id[0] != '\0' ? -EINVAL : 0;
    if (!is_hex_id(e->key_id) || (e->has_kdf && !kdf_ok(&e->kdf)) ||
        e->has_parent_mac == m->full)
        return -EINVAL;
    return 0;
}

/* The hex of b[0..n) as a new json string (NULL on ENOMEM). */
static json_object *hex_string(const uint8_t *b, size_t n)
{
    char hex[2 * SEAL_WRAPPED_LEN + 1];
    digest_hex(b, n, hex);
    return json_object_new_string(hex);
}

static json_object *build_kdf(const seal_kdf *k, int *rc)
{
    json_object *o = json_object_new_object();
    if (o == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    mj_add_str(o, "alg", "scrypt", rc);
    mj_add(o, "salt", hex_string(k->salt, SEAL_SALT_LEN), rc);
    mj_add_u64(o, "n", k->n, rc);
    mj_add_u64(o, "r", k->r, rc);
    mj_add_u64(o, "p", k->p, rc);
    return o;
}

/* Add o as k, also when o is NULL (json null) on purpose. */
static void add_nullable(json_object *doc, const char *k, json_object *o, int want, int *rc)
{
    if (want && o == NULL && *rc == 0)
        *rc = -ENOMEM;
    if (*rc == 0 && json_object_object_add(doc, k, o) == 0)
        return;
    json_object_put(o);
}

static void add_encryption(json_object *doc, const manifest_enc *e, int *rc)
{
    json_object *o = json_object_new_object();
    if (o == NULL && *rc == 0)
        *rc = -ENOMEM;
    if (o != NULL) {
        mj_add_str(o, "cipher", CIPHER, rc);
        json_object *pm = e->has_parent_mac ? hex_string(e->parent_mac, SEAL_MAC_LEN) : NULL;
        add_nullable(o, "parent_mac", pm, e->has_parent_mac, rc);
    }
    mj_add(doc, "encryption", o, rc);
}

static void add_key(json_object *doc, const manifest_enc *e, int *rc)
{
    json_object *o = json_object_new_object();
    if (o == NULL && *rc == 0)
        *rc = -ENOMEM;
    if (o != NULL) {
        mj_add_str(o, "id", e->key_id, rc);
        json_object *kdf = e->has_kdf ? build_kdf(&e->kdf, rc) : NULL;
        add_nullable(o, "kdf", kdf, e->has_kdf, rc);
        mj_add(o, "wrapped", hex_string(e->wrapped, SEAL_WRAPPED_LEN), rc);
    }
    mj_add(doc, "key", o, rc);
}

void manifest_enc_build(json_object *doc, const manifest *m, int whole, int *rc)
{
    if (!m->enc.on)
        return;
    add_encryption(doc, &m->enc, rc);
    if (!whole)
        return;
    add_key(doc, &m->enc, rc);
    char mac[sizeof(MAC_PREFIX) + 2 * SEAL_MAC_LEN];
    char hex[2 * SEAL_MAC_LEN + 1];
    digest_hex(m->enc.mac, SEAL_MAC_LEN, hex);
    snprintf(mac, sizeof(mac), "%s%s", MAC_PREFIX, hex);
    mj_add_str(doc, "mac", mac, rc);
}

/* A string member of exactly 2n hex digits into b[0..n). */
static int get_hex(json_object *o, const char *k, uint8_t *b, size_t n)
{
    char hex[2 * SEAL_WRAPPED_LEN + 2];
    if (2 * n + 1 > sizeof(hex) || mj_str(o, k, hex, sizeof(hex)) != 0)
        return -EINVAL;
    return digest_unhex(hex, b, n);
}

static int parse_kdf(json_object *o, seal_kdf *k)
{
    char alg[16];
    uint64_t r, p;
    if (mj_str(o, "alg", alg, sizeof(alg)) || strcmp(alg, "scrypt") != 0 ||
        get_hex(o, "salt", k->salt, SEAL_SALT_LEN) || mj_u64(o, "n", &k->n) ||
        mj_u64(o, "r", &r) || mj_u64(o, "p", &p) || r > 32 || p > 16)
        return -EINVAL;
    k->r = (uint32_t)r;
    k->p = (uint32_t)p;
    return kdf_ok(k) ? 0 : -EINVAL;
}

/* A member that is either null or an object: *v NULL for null. */
static int get_null_or(json_object *o, const char *k, json_type t, json_object **v)
{
    if (!json_object_object_get_ex(o, k, v))
        return -EINVAL;
    return *v == NULL || json_object_is_type(*v, t) ? 0 : -EINVAL;
}

static int parse_encryption(json_object *doc, manifest_enc *e)
{
    json_object *o, *pm;
    char cipher[16];
    if (mj_member(doc, "encryption", json_type_object, &o) ||
        mj_str(o, "cipher", cipher, sizeof(cipher)) || strcmp(cipher, CIPHER) != 0 ||
        get_null_or(o, "parent_mac", json_type_string, &pm))
        return -EINVAL;
    e->has_parent_mac = pm != NULL;
    return pm == NULL ? 0 : get_hex(o, "parent_mac", e->parent_mac, SEAL_MAC_LEN);
}

static int parse_key(json_object *doc, manifest_enc *e)
{
    json_object *o, *kdf;
    if (mj_member(doc, "key", json_type_object, &o) ||
        mj_str(o, "id", e->key_id, sizeof(e->key_id)) || !is_hex_id(e->key_id) ||
        get_null_or(o, "kdf", json_type_object, &kdf) ||
        get_hex(o, "wrapped", e->wrapped, SEAL_WRAPPED_LEN))
        return -EINVAL;
    e->has_kdf = kdf != NULL;
    return kdf == NULL ? 0 : parse_kdf(kdf, &e->kdf);
}

static int parse_mac(json_object *doc, manifest_enc *e)
{
    char mac[sizeof(MAC_PREFIX) + 2 * SEAL_MAC_LEN + 1];
    size_t pl = strlen(MAC_PREFIX);
    if (mj_str(doc, "mac", mac, sizeof(mac)) || strncmp(mac, MAC_PREFIX, pl) != 0)
        return -EINVAL;
    return digest_unhex(mac + pl, e->mac, SEAL_MAC_LEN);
}

int manifest_enc_parse(json_object *doc, int format, manifest *m)
{
    json_object *v;
    memset(&m->enc, 0, sizeof(m->enc));
    if (format == MANIFEST_FORMAT)
        return json_object_object_get_ex(doc, "encryption", &v) ||
               json_object_object_get_ex(doc, "key", &v) ||
               json_object_object_get_ex(doc, "mac", &v) ? -EINVAL : 0;
    m->enc.on = 1;
    if (parse_encryption(doc, &m->enc) || parse_key(doc, &m->enc) || parse_mac(doc, &m->enc))
        return -EINVAL;
    return 0;
}

int manifest_mac_body(const manifest *m, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    if (!m->enc.on || manifest_check(m) != 0)
        return -EINVAL;
    int rc = 0;
    json_object *doc = manifest_build_doc(m, 0, &rc);
    if (rc != 0)
        return rc;
    size_t n = 0;
    const char *s = json_object_to_json_string_length(doc, HASH_FLAGS, &n);
    char *out = s != NULL ? malloc(n + 1) : NULL;
    if (out == NULL) {
        rc = -ENOMEM;
    } else {
        memcpy(out, s, n + 1);
        *body = out;
        *len = n;
    }
    json_object_put(doc);
    return rc;
}
