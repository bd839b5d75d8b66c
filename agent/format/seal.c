/* seal.c - AES-256-GCM sealing bound to a place, data key wrap, HMAC-SHA-256 and HKDF
 * sub-keys of an encrypted repository (OpenSSL 3 EVP); the formats are in seal.h. */
#include "agent/format/seal.h"
#include "agent/format/digest.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* HKDF "info" labels of the sub-keys (seal.h: Keys). */
#define LABEL_WRAP "rbd2s3 wrap key"
#define LABEL_HEAD "rbd2s3 head mac key"
#define LABEL_ID "rbd2s3 key id"
#define LABEL_MANIFEST "rbd2s3 manifest mac key"

/* Associated data: a list of pieces fed to GCM one after the other. */
typedef struct aad {
    const void *p[8];
    size_t n[8];
    int count;
} aad;

static void aad_bytes(aad *a, const void *p, size_t n)
{
    a->p[a->count] = p;
    a->n[a->count] = n;
    a->count++;
}

/* A string with its terminating NUL; NULL counts as "". */
static void aad_str(aad *a, const char *s)
{
    if (s == NULL)
        s = "";
    aad_bytes(a, s, strlen(s) + 1);
}

static void put_le(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* HKDF-SHA-256 of ikm with info label into out[0..len). 0 or -EIO. */
static int hkdf(const uint8_t ikm[SEAL_KEY_LEN], const char *label, uint8_t *out, size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    int rc = -EIO;
    if (ctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, SEAL_KEY_LEN),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label,
                                              strlen(label)),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(ctx, out, len, params) == 1)
            rc = 0;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

int seal_master_init(seal_key *k, const uint8_t master[SEAL_KEY_LEN])
{
    uint8_t id[8];
    memset(k, 0, sizeof(*k));
    k->master = 1;
    if (hkdf(master, LABEL_WRAP, k->wrap, SEAL_KEY_LEN) != 0 ||
        hkdf(master, LABEL_HEAD, k->mac, SEAL_KEY_LEN) != 0 ||
        hkdf(master, LABEL_ID, id, sizeof(id)) != 0) {
        seal_key_wipe(k);
        return -EIO;
    }
    digest_hex(id, sizeof(id), k->id);
    return 0;
}

int seal_data_init(seal_key *k, const uint8_t data[SEAL_KEY_LEN])
{
    memset(k, 0, sizeof(*k));
    memcpy(k->key, data, SEAL_KEY_LEN);
    if (hkdf(data, LABEL_MANIFEST, k->mac, SEAL_KEY_LEN) != 0) {
        seal_key_wipe(k);
        return -EIO;
    }
    return 0;
}

int seal_data_new(seal_key *k)
{
    uint8_t d[SEAL_KEY_LEN];
    int rc = RAND_bytes(d, sizeof(d)) == 1 ? seal_data_init(k, d) : -EIO;
    OPENSSL_cleanse(d, sizeof(d));
    return rc;
}

void seal_key_wipe(seal_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

/* AES-256-GCM of in[0..len) under key with nonce and associated data a into out, the tag
 * into tag (enc = 1), or the reverse checking tag (enc = 0). 0, -EIO, or -EBADMSG when
 * opening fails. */
static int gcm(int enc, const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
               const aad *a, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c != NULL &&
        EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1;
    for (int i = 0; ok && i < a->count; i++)
        ok = EVP_CipherUpdate(c, NULL, &n, a->p[i], (int)a->n[i]) == 1;
    if (ok && len > 0)
        ok = EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) == 1;
    int rc = ok ? 0 : -EIO;
    if (ok && EVP_CipherFinal_ex(c, out + len, &n) != 1)
        rc = enc ? -EIO : -EBADMSG;
    if (rc == 0 && enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
        rc = -EIO;
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* Seal (enc = 1: in[0..len) to out[0..len + tag)) or open (enc = 0: in[0..len) with its
 * tag to out[0..len - tag)) under data key k with nonce and a; the common checks. */
static int seal_do(int enc, const seal_key *k, const uint8_t nonce[SEAL_NONCE_LEN],
                   const aad *a, const uint8_t *in, size_t len, uint8_t *out)
{
    if (k->master)
        return -EINVAL;                 /* a master key never seals data */
    if (enc) {
        if (len > INT_MAX)
            return -EINVAL;
        return gcm(1, k->key, nonce, a, in, len, out, out + len);
    }
    if (len < SEAL_TAG_LEN)
        return -EINVAL;
    size_t plen = len - SEAL_TAG_LEN;
    if (plen > INT_MAX)
        return -EINVAL;
    uint8_t tag[SEAL_TAG_LEN];
    memcpy(tag, in + plen, SEAL_TAG_LEN);   /* out may overlap in: keep the tag apart */
    int rc = gcm(0, k->key, nonce, a, in, plen, out, tag);
    if (rc != 0)
        OPENSSL_cleanse(out, plen);
    return rc == -EIO ? -EBADMSG : rc;
}

/* A place's nonce: obj big-endian 32 bits, then obj_offset big-endian 64 bits. */
static void place_nonce(uint32_t obj, uint64_t obj_offset, uint8_t nonce[SEAL_NONCE_LEN])
{
    put_be(nonce, obj, 4);
    put_be(nonce + 4, obj_offset, 8);
}

/* The associated data of a chunk; tail receives the fixed-width fields. */
static void chunk_aad(const seal_place *p, aad *a, uint8_t tail[32])
{
    static const char tag[] = "rbd2s3-chunk-1";
    memset(a, 0, sizeof(*a));
    aad_bytes(a, tag, sizeof(tag));
    aad_str(a, p->backup_id);
    aad_str(a, p->image_id);
    put_le(tail, p->obj, 4);
    put_le(tail + 4, p->obj_offset, 8);
    put_le(tail + 12, p->offset, 8);
    put_le(tail + 20, p->length, 8);
    put_le(tail + 28, p->flags, 4);
    aad_bytes(a, tail, 32);
}

int seal_chunk(const seal_key *k, const seal_place *p, const uint8_t *plain, size_t len,
               uint8_t *out)
{
    uint8_t nonce[SEAL_NONCE_LEN], tail[32];
    aad a;
    place_nonce(p->obj, p->obj_offset, nonce);
    chunk_aad(p, &a, tail);
    return seal_do(1, k, nonce, &a, plain, len, out);
}

int seal_open_chunk(const seal_key *k, const seal_place *p, const uint8_t *sealed,
                    size_t len, uint8_t *out)
{
    uint8_t nonce[SEAL_NONCE_LEN], tail[32];
    aad a;
    place_nonce(p->obj, p->obj_offset, nonce);
    chunk_aad(p, &a, tail);
    return seal_do(0, k, nonce, &a, sealed, len, out);
}

/* The index's nonce and associated data. */
static void index_aad(const char *backup_id, const char *image_id, uint64_t records,
                      uint8_t nonce[SEAL_NONCE_LEN], aad *a, uint8_t rec[8])
{
    static const char tag[] = "rbd2s3-index-1";
    place_nonce(SEAL_INDEX_OBJ, 0, nonce);
    memset(a, 0, sizeof(*a));
    aad_bytes(a, tag, sizeof(tag));
    aad_str(a, backup_id);
    aad_str(a, image_id);
    put_le(rec, records, 8);
    aad_bytes(a, rec, 8);
}

int seal_index(const seal_key *k, const char *backup_id, const char *image_id,
               uint64_t records, const uint8_t *plain, size_t len, uint8_t *out)
{
    uint8_t nonce[SEAL_NONCE_LEN], rec[8];
    aad a;
    index_aad(backup_id, image_id, records, nonce, &a, rec);
    return seal_do(1, k, nonce, &a, plain, len, out);
}

int seal_open_index(const seal_key *k, const char *backup_id, const char *image_id,
                    uint64_t records, const uint8_t *sealed, size_t len, uint8_t *out)
{
    uint8_t nonce[SEAL_NONCE_LEN], rec[8];
    aad a;
    index_aad(backup_id, image_id, records, nonce, &a, rec);
    return seal_do(0, k, nonce, &a, sealed, len, out);
}

/* ---- The index as a stream (seal.h: seal_stream) ---- */

#define STREAM_MAX ((1ULL << 36) - 32)  /* GCM's bound: 2^32 - 2 blocks of 16 bytes */

struct seal_stream {
    EVP_CIPHER_CTX *ctr;      /* AES-256-CTR from the GCM counter block 2 */
    EVP_CIPHER_CTX *gh;       /* AES-256-GCM fed the ciphertext as associated data */
    uint8_t h[16];            /* the GHASH key E_K(0^128) */
    uint64_t len;             /* bytes so far */
    int enc;
};

/* An element of GF(2^128) in GCM's bit order: hi holds bytes 0..7 big-endian. */
typedef struct gf128 {
    uint64_t hi, lo;
} gf128;

static gf128 gf_load(const uint8_t b[16])
{
    gf128 x = { 0, 0 };
    for (int i = 0; i < 8; i++) {
        x.hi = (x.hi << 8) | b[i];
        x.lo = (x.lo << 8) | b[8 + i];
    }
    return x;
}

static void gf_store(gf128 x, uint8_t b[16])
{
    put_be(b, x.hi, 8);
    put_be(b + 8, x.lo, 8);
}

/* x * y in GCM's field (NIST SP 800-38D, algorithm 1), without branches on the values. */
static gf128 gf_mul(gf128 x, gf128 y)
{
    gf128 z = { 0, 0 }, v = y;
    for (int i = 0; i < 128; i++) {
        uint64_t bit = i < 64 ? x.hi >> (63 - i) : x.lo >> (127 - i);
        uint64_t m = 0 - (bit & 1), carry = 0 - (v.lo & 1);
        z.hi ^= v.hi & m;
        z.lo ^= v.lo & m;
        v.lo = (v.lo >> 1) | (v.hi << 63);
        v.hi = (v.hi >> 1) ^ (0xE100000000000000ULL & carry);
    }
    return z;
}

/* h^e (e >= 0; the field's one is the block 0x80 0 ... 0). */
static gf128 gf_pow(gf128 h, uint64_t e)
{
    gf128 r = { 1ULL << 63, 0 };
    for (; e > 0; e >>= 1) {
        if (e & 1)
            r = gf_mul(r, h);
        h = gf_mul(h, h);
    }
    return r;
}

/* GHASH of the associated data a alone (zero-padded, no length block). */
static gf128 gf_hash_aad(gf128 h, const aad *a, uint64_t *bytes)
{
    uint8_t blk[16];
    size_t fill = 0;
    gf128 y = { 0, 0 };
    *bytes = 0;
    for (int i = 0; i < a->count; i++) {
        for (size_t j = 0; j < a->n[i]; j++) {
            blk[fill++] = ((const uint8_t *)a->p[i])[j];
            if (fill == 16) {
                gf128 x = gf_load(blk);
                y.hi ^= x.hi;
                y.lo ^= x.lo;
                y = gf_mul(y, h);
                fill = 0;
            }
        }
        *bytes += a->n[i];
    }
    if (fill > 0) {
        memset(blk + fill, 0, 16 - fill);
        gf128 x = gf_load(blk);
        y.hi ^= x.hi;
        y.lo ^= x.lo;
        y = gf_mul(y, h);
    }
    return y;
}

/* E_K(0^128) into h. 0 or -EIO. */
static int aes_zero_block(const uint8_t key[SEAL_KEY_LEN], uint8_t h[16])
{
    static const uint8_t zero[16];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_EncryptUpdate(c, h, &n, zero, 16) == 1 &&
        n == 16;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -EIO;
}

int seal_stream_new(const seal_key *k, int enc, seal_stream **out)
{
    uint8_t nonce[SEAL_NONCE_LEN], ctr[16];
    *out = NULL;
    if (k->master)
        return -EINVAL;
    seal_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->enc = enc;
    place_nonce(SEAL_INDEX_OBJ, 0, nonce);
    memcpy(ctr, nonce, SEAL_NONCE_LEN);
    put_be(ctr + SEAL_NONCE_LEN, 2, 4);     /* counter 1 makes the tag's mask */
    s->ctr = EVP_CIPHER_CTX_new();
    s->gh = EVP_CIPHER_CTX_new();
    int ok = s->ctr != NULL && s->gh != NULL &&
        EVP_EncryptInit_ex(s->ctr, EVP_aes_256_ctr(), NULL, k->key, ctr) == 1 &&
        EVP_EncryptInit_ex(s->gh, EVP_aes_256_gcm(), NULL, k->key, nonce) == 1 &&
        aes_zero_block(k->key, s->h) == 0;
    if (!ok) {
        seal_stream_free(s);
        return -EIO;
    }
    *out = s;
    return 0;
}

int seal_stream_update(seal_stream *s, const uint8_t *in, size_t len, uint8_t *out)
{
    if (len > STREAM_MAX - s->len)
        return -EFBIG;
    while (len > 0) {
        int n = len > (1u << 30) ? 1 << 30 : (int)len, got = 0;
        int ok = s->enc || EVP_EncryptUpdate(s->gh, NULL, &got, in, n) == 1;
        ok = ok && EVP_EncryptUpdate(s->ctr, out, &got, in, n) == 1 && got == n;
        ok = ok && (!s->enc || EVP_EncryptUpdate(s->gh, NULL, &got, out, n) == 1);
        if (!ok)
            return -EIO;
        s->len += (uint64_t)n;
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The tag: GHASH(A | C | lengths) differs from the GMAC of C alone (C as associated
 * data: C | [len C, 0]) by A's blocks, each c + 1 places further (times H^(c+1)), and by
 * the length blocks (their XOR times H); E_K(J0) masks both alike. */
int seal_stream_final(seal_stream *s, const char *backup_id, const char *image_id,
                      uint64_t records, uint8_t tag[SEAL_TAG_LEN])
{
    uint8_t nonce[SEAL_NONCE_LEN], rec[8], t1[SEAL_TAG_LEN], lb[16], mine[SEAL_TAG_LEN];
    int n = 0;
    aad a;
    if (EVP_EncryptFinal_ex(s->gh, t1, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->gh, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, t1) != 1)
        return -EIO;
    index_aad(backup_id, image_id, records, nonce, &a, rec);
    gf128 h = gf_load(s->h), t = gf_load(t1);
    uint64_t alen;
    gf128 pa = gf_mul(gf_hash_aad(h, &a, &alen), gf_pow(h, (s->len + 15) / 16 + 1));
    put_be(lb, (alen * 8) ^ (s->len * 8), 8);
    put_be(lb + 8, s->len * 8, 8);
    gf128 dl = gf_mul(gf_load(lb), h);
    t.hi ^= pa.hi ^ dl.hi;
    t.lo ^= pa.lo ^ dl.lo;
    gf_store(t, mine);
    if (s->enc) {
        memcpy(tag, mine, SEAL_TAG_LEN);
        return 0;
    }
    return CRYPTO_memcmp(mine, tag, SEAL_TAG_LEN) == 0 ? 0 : -EBADMSG;
}

void seal_stream_free(seal_stream *s)
{
    if (s == NULL)
        return;
    EVP_CIPHER_CTX_free(s->ctr);
    EVP_CIPHER_CTX_free(s->gh);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

static void wrap_aad(const seal_owner *o, aad *a)
{
    static const char tag[] = "rbd2s3-wrap-1";
    memset(a, 0, sizeof(*a));
    aad_bytes(a, tag, sizeof(tag));
    aad_str(a, o->pool);
    aad_str(a, o->ns);
    aad_str(a, o->image);
    aad_str(a, o->image_id);
    aad_str(a, o->backup_id);
}

int seal_wrap(const seal_key *mk, const seal_owner *o, const seal_key *dk,
              uint8_t out[SEAL_WRAPPED_LEN])
{
    aad a;
    if (!mk->master || dk->master)
        return -EIO;
    if (RAND_bytes(out, SEAL_NONCE_LEN) != 1)
        return -EIO;
    wrap_aad(o, &a);
    return gcm(1, mk->wrap, out, &a, dk->key, SEAL_KEY_LEN, out + SEAL_NONCE_LEN,
               out + SEAL_NONCE_LEN + SEAL_KEY_LEN);
}

int seal_unwrap(const seal_key *mk, const seal_owner *o, const uint8_t in[SEAL_WRAPPED_LEN],
                seal_key *dk)
{
    uint8_t d[SEAL_KEY_LEN], tag[SEAL_TAG_LEN];
    aad a;
    int rc = -EBADMSG;
    memset(dk, 0, sizeof(*dk));
    wrap_aad(o, &a);
    memcpy(tag, in + SEAL_NONCE_LEN + SEAL_KEY_LEN, SEAL_TAG_LEN);
    if (mk->master && gcm(0, mk->wrap, in, &a, in + SEAL_NONCE_LEN, SEAL_KEY_LEN, d, tag) == 0)
        rc = seal_data_init(dk, d) == 0 ? 0 : -EBADMSG;
    OPENSSL_cleanse(d, sizeof(d));
    if (rc != 0)
        seal_key_wipe(dk);
    return rc;
}

int seal_mac(const seal_key *k, const void *data, size_t len, uint8_t out[SEAL_MAC_LEN])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, k->mac, SEAL_KEY_LEN, params) == 1 &&
        EVP_MAC_update(ctx, data != NULL ? data : (const void *)"", len) == 1 &&
        EVP_MAC_final(ctx, out, &n, SEAL_MAC_LEN) == 1 && n == SEAL_MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -EIO;
}

int seal_mac_ok(const seal_key *k, const void *data, size_t len,
                const uint8_t mac[SEAL_MAC_LEN])
{
    uint8_t m[SEAL_MAC_LEN];
    if (seal_mac(k, data, len, m) != 0)
        return 0;
    return CRYPTO_memcmp(m, mac, SEAL_MAC_LEN) == 0;
}

