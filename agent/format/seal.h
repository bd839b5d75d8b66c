/* seal.h - the cryptography of an encrypted repository (OpenSSL EVP): AES-256-GCM
 * sealing of chunks and indexes bound to their place, data keys wrapped by a master key,
 * HMAC-SHA-256 of manifests and head objects, sub-keys by HKDF-SHA-256. Pure functions
 * on bytes, no I/O, safe on any thread (a seal_key is read-only once made).
 *
 * Keys. A master key (32 bytes, from a key file or scrypt of a passphrase; see
 * agent/config/keyring.h) never encrypts data itself; HKDF derives from it a wrap key
 * (wraps each backup's data key), a head key (MACs head objects) and its key id (the
 * first 8 bytes of HKDF(master, "rbd2s3 key id"), 16 hex digits, shown in the bucket).
 * Each backup has a random 32-byte data key; HKDF derives from it the backup's manifest
 * MAC key. Chunks and the index are sealed under the data key itself.
 *
 * Nonces (96 bits) are never reused under one data key: a chunk's is its data object
 * number (big-endian 32 bits) then its offset in that object (big-endian 64 bits), a
 * pair that names one place of one backup; the index's is object number 0xFFFFFFFF,
 * offset 0. A wrap's nonce is random (one per backup and per rotation).
 *
 * Associated data binds every sealed piece to its place, so that a chunk copied or moved
 * to another offset, object, backup or image fails to open:
 *   chunk: "rbd2s3-chunk-1" 0 | backup id 0 | image id 0 | obj le32 | obj_offset le64 |
 *          image offset le64 | length le64 | flags le32
 *   index: "rbd2s3-index-1" 0 | backup id 0 | image id 0 | records le64
 *   wrap:  "rbd2s3-wrap-1" 0 | pool 0 | namespace 0 | image 0 | image id 0 | backup id 0
 * A sealed piece is the ciphertext (as long as the plaintext) followed by the 16-byte
 * GCM tag; a wrapped key is nonce (12) | ciphertext (32) | tag (16) = SEAL_WRAPPED_LEN. */
#ifndef RBD2S3_SEAL_H
#define RBD2S3_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_TAG_LEN 16
#define SEAL_NONCE_LEN 12
#define SEAL_WRAPPED_LEN (SEAL_NONCE_LEN + SEAL_KEY_LEN + SEAL_TAG_LEN)
#define SEAL_MAC_LEN 32
#define SEAL_KEY_ID_LEN 17          /* 16 hex digits and the NUL */
#define SEAL_INDEX_OBJ 0xFFFFFFFFu  /* the index's object number in its nonce */

/* A key and what is derived from it. Holds secrets: make it with seal_master_init or
 * seal_data_init, and always end it with seal_key_wipe. Lives in locked memory when the
 * caller placed it there (keyring.h does). */
typedef struct seal_key {
    uint8_t key[SEAL_KEY_LEN];      /* data key: seals chunks and the index */
    uint8_t wrap[SEAL_KEY_LEN];     /* master key: wraps data keys */
    uint8_t mac[SEAL_KEY_LEN];      /* data key: manifest MAC; master key: head MAC */
    char id[SEAL_KEY_ID_LEN];       /* master key: its key id; data key: "" */
    int master;                     /* 1: a master key, 0: a data key */
} seal_key;

/* Where a chunk sits: the associated data of its seal. ids are NUL-terminated. */
typedef struct seal_place {
    const char *backup_id;
    const char *image_id;
    uint32_t obj;                   /* data object number; SEAL_INDEX_OBJ for the index */
    uint64_t obj_offset;            /* of the sealed bytes in that object */
    uint64_t offset;                /* image offset of the record */
    uint64_t length;                /* its raw length (index: the record count) */
    uint32_t flags;                 /* the index record's flags (index: 0) */
} seal_place;

/* Derive a master key's wrap key, head MAC key and key id from its 32 bytes.
 * 0, or -EIO when OpenSSL fails. */
int seal_master_init(seal_key *k, const uint8_t master[SEAL_KEY_LEN]);
/* A data key from its 32 bytes (and its manifest MAC key). 0 or -EIO. */
int seal_data_init(seal_key *k, const uint8_t data[SEAL_KEY_LEN]);
/* A new random data key (RAND_bytes). 0 or -EIO. */
int seal_data_new(seal_key *k);
/* Overwrite every byte of k (OPENSSL_cleanse). Safe on a zeroed key. */
void seal_key_wipe(seal_key *k);

/* Seal len bytes of plain (a chunk's stored form: lz4 or raw) at place p under data key
 * k into out[0..len + SEAL_TAG_LEN). out may equal plain (in place). 0, -EINVAL (len
 * over INT_MAX, or k is a master key: it never seals data) or -EIO. */
int seal_chunk(const seal_key *k, const seal_place *p, const uint8_t *plain, size_t len,
               uint8_t *out);
/* Open sealed[0..len) (len includes the tag) at place p into out[0..len - SEAL_TAG_LEN).
 * out may equal sealed. 0, -EINVAL (len below SEAL_TAG_LEN) or -EBADMSG (not sealed at
 * this place under this key: the bytes, the place or the key differ); out is then
 * zeroed. */
int seal_open_chunk(const seal_key *k, const seal_place *p, const uint8_t *sealed,
                    size_t len, uint8_t *out);
/* The index as a whole (its lz4 frame), bound to backup id, image id and record count:
 * seal_chunk and seal_open_chunk with the index's place. Same returns. */
int seal_index(const seal_key *k, const char *backup_id, const char *image_id,
               uint64_t records, const uint8_t *plain, size_t len, uint8_t *out);
int seal_open_index(const seal_key *k, const char *backup_id, const char *image_id,
                    uint64_t records, const uint8_t *sealed, size_t len, uint8_t *out);

/* The index sealed or opened as a stream, in bounded memory: the same bytes as seal_index
 * and the same check as seal_open_index, but the record count (part of the associated
 * data) is given only at the end, once known. The ciphertext is AES-CTR from the GCM
 * counter; the tag is computed at the end from a GHASH of the ciphertext (run as GCM
 * associated data) and the associated data, combined in GF(2^128). Make one with
 * seal_stream_new (enc 1: seal, 0: open) under data key k (copied); 0, -EINVAL (k is a
 * master key) or -EIO/-ENOMEM; free it with seal_stream_free. */
typedef struct seal_stream seal_stream;
int seal_stream_new(const seal_key *k, int enc, seal_stream **out);
/* The next len bytes: plain to sealed (enc) or sealed to plain (open; the tag excluded)
 * into out[0..len) (out may equal in). 0, -EFBIG past the 64 GiB GCM allows, or -EIO.
 * Plain bytes that come out of an open stream are not authentic before the final. */
int seal_stream_update(seal_stream *s, const uint8_t *in, size_t len, uint8_t *out);
/* The end of the index of backup id, image id and records: seal: the tag into tag; open:
 * 0 when tag is the one of the bytes seen, else -EBADMSG. -EIO when OpenSSL fails. */
int seal_stream_final(seal_stream *s, const char *backup_id, const char *image_id,
                      uint64_t records, uint8_t tag[SEAL_TAG_LEN]);
/* Wipe and free (safe on NULL). */
void seal_stream_free(seal_stream *s);

/* Where a data key belongs: the associated data of its wrap. */
typedef struct seal_owner {
    const char *pool, *ns, *image, *image_id, *backup_id;
} seal_owner;
/* Wrap data key dk under master key mk for owner o (random nonce) into out. 0 or -EIO. */
int seal_wrap(const seal_key *mk, const seal_owner *o, const seal_key *dk,
              uint8_t out[SEAL_WRAPPED_LEN]);
/* Unwrap into dk (seal_data_init'ed). 0, or -EBADMSG (another master key or another
 * owner, or damaged); dk is then wiped. */
int seal_unwrap(const seal_key *mk, const seal_owner *o, const uint8_t in[SEAL_WRAPPED_LEN],
                seal_key *dk);

/* HMAC-SHA-256 of data[0..len) under k->mac. 0 or -EIO. */
int seal_mac(const seal_key *k, const void *data, size_t len, uint8_t out[SEAL_MAC_LEN]);
/* 1 when mac is the HMAC of data under k->mac (constant-time compare), else 0. */
int seal_mac_ok(const seal_key *k, const void *data, size_t len,
                const uint8_t mac[SEAL_MAC_LEN]);

/* scrypt parameters of a passphrase's master key, as a manifest records them in
 * "key": {"kdf": {"alg": "scrypt", "salt": hex, "n": N, "r": R, "p": P}}. */
#define SEAL_SALT_LEN 16
typedef struct seal_kdf {
    uint8_t salt[SEAL_SALT_LEN];
    uint64_t n;                     /* a power of two, 2^10 .. 2^22 */
    uint32_t r, p;                  /* 1 .. 32, 1 .. 16 */
} seal_kdf;


#endif
