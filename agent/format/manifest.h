/* manifest.h - the commit record of a backup: a small JSON document (json-c) with an
 * embedded checksum. A backup exists if and only if its manifest exists and verifies.
 *
 * JSON form (format 1):
 * {
 *   "format": 1, "tool": "rbd2s3 0.1.0", "id": "20261121T083000Z",
 *   "created": "2026-11-21T08:30:05Z",
 *   "image": {"pool": "rbd", "namespace": "", "name": "vm1", "id": "10a2b3",
 *             "size": 1073741824, "order": 22, "features": 61,
 *             "stripe_unit": 4194304, "stripe_count": 1},
 *   "snapshot": {"name": "rbd2s3-20261121T083000Z", "id": 4,
 *                "timestamp": "2026-11-21T08:30:00Z"},
 *   "type": "full" | "incremental",
 *   "parent": null | {"id": "20261120T083000Z", "snapshot": "rbd2s3-20261120T083000Z"},
 *   "chunk_size": 1048576, "compression": "lz4",
 *   "data_objects": [{"key": "...", "size": 123, "etag": "..."}],
 *   "index": {"key": "...", "size": 456, "sha256": "<hex>", "records": 789},
 *   "totals": {"data_bytes": N, "zero_bytes": N, "stored_bytes": N,
 *              "chunks": N, "zero_chunks": N},
 *   "checksum": "sha256:<hex of the document serialised without this member>"
 * }
 *
 * An encrypted backup (format 2) adds, before "checksum":
 *   "encryption": {"cipher": "aes-256-gcm", "parent_mac": null | "<hex of the parent
 *                  manifest's mac>"},
 *   "key": {"id": "<16 hex: master key id>", "kdf": null | {"alg": "scrypt", "salt":
 *           "<hex>", "n": N, "r": R, "p": P}, "wrapped": "<hex of the wrapped data key>"},
 *   "mac": "hmac-sha256:<hex>"
 * The mac is HMAC-SHA-256 under the backup's manifest MAC key (seal.h: derived from its
 * data key, which only the master key unwraps) of manifest_mac_body: the document
 * serialised plain without "key", "mac" and "checksum". "key" stays outside the MAC so
 * that `key rotate` rewraps data keys without changing any MAC (the wrap is itself
 * authenticated by GCM and bound to its owner). The index and the data records of an
 * encrypted backup are sealed (seal.h); its index sha256 is of the sealed object.
 *
 * Labels (labels.h: `backup --label`) are the member "labels": {"KEY": "VALUE", ...},
 * after "totals", written only when the backup has labels. A plain manifest with labels
 * stays format 1: its checksum covers them and a binary that predates labels reads the
 * backup as before, without them. An encrypted manifest with labels is format 3 (format 2
 * plus labels, inside the MAC): a binary that predates labels could not recompute its MAC
 * and would call it forged; format 3 makes it say "malformed" instead. Format 2 never
 * carries labels and format 3 always does.
 */
#ifndef RBD2S3_MANIFEST_H
#define RBD2S3_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/format/seal.h"
#include "agent/format/labels.h"

#define MANIFEST_FORMAT 1
#define MANIFEST_FORMAT_SEALED 2            /* an encrypted backup */
#define MANIFEST_FORMAT_SEALED_LABELS 3     /* an encrypted backup with labels */
#define MANIFEST_STR 512
#define MANIFEST_KEY_MAX 1024               /* longest object key, with its NUL */
#define MANIFEST_ETAG_MAX 80                /* longest ETag, with its NUL */
#define MANIFEST_MAX_BYTES (16u << 20)      /* largest manifest document read */
#define MANIFEST_MAX_OBJECTS 100000u        /* data objects of one backup */
#define MANIFEST_CHUNK_MAX (64ull << 20)    /* largest chunk size */

/* An object of a backup. key and etag share one malloc'ed block owned by the manifest. */
typedef struct manifest_object {
    char *key;
    uint64_t size;
    char *etag;
} manifest_object;

/* The encryption of a backup (on = 0: a plain backup, nothing else set). */
typedef struct manifest_enc {
    int on;
    char key_id[SEAL_KEY_ID_LEN];        /* the master key that wraps the data key */
    int has_kdf;                         /* the master key came from a passphrase */
    seal_kdf kdf;
    uint8_t wrapped[SEAL_WRAPPED_LEN];   /* the data key, wrapped */
    int has_parent_mac;                  /* an incremental: its parent's mac */
    uint8_t parent_mac[SEAL_MAC_LEN];
    uint8_t mac[SEAL_MAC_LEN];           /* of manifest_mac_body (set before to_json) */
} manifest_enc;

typedef struct manifest {
    char id[32];
    time_t created;
    char tool[64];
    /* image */
    char pool[MANIFEST_STR];
    char ns[MANIFEST_STR];
    char image[MANIFEST_STR];
    char image_id[64];
    uint64_t size;
    int order;
    uint64_t features;
    uint64_t stripe_unit;
    uint64_t stripe_count;
    /* snapshot */
    char snap_name[MANIFEST_STR];
    uint64_t snap_id;
    time_t snap_time;
    /* chain */
    int full;                     /* 1 full, 0 incremental */
    char parent_id[32];           /* "" for a full */
    char parent_snap[MANIFEST_STR];
    /* content */
    uint64_t chunk_size;
    manifest_object *objects;     /* malloc'ed array of nobjects (owned) */
    size_t nobjects;
    size_t objects_cap;           /* allocated room in objects */
    manifest_object index;        /* key (owned; set with manifest_set_index), size */
    char index_sha256[65];
    uint64_t index_records;
    uint64_t data_bytes, zero_bytes, stored_bytes, chunks, zero_chunks;
    manifest_enc enc;
    labels_set *labels;           /* malloc'ed (owned; manifest_set_labels), NULL: none */
} manifest;

/* Zero-initialise m. */
void manifest_init(manifest *m);
/* Free what m owns (objects); m itself is the caller's. */
void manifest_clear(manifest *m);
/* Append a data object (copies it). 0, -EINVAL (empty or too long key or etag, more
 * than MANIFEST_MAX_OBJECTS) or -ENOMEM. */
int manifest_add_object(manifest *m, const char *key, uint64_t size, const char *etag);
/* Set the chunk index object (copies key). 0, -EINVAL or -ENOMEM. */
int manifest_set_index(manifest *m, const char *key, uint64_t size);

struct json_object;
/* The labels of set as a new json-c object {"KEY": "VALUE", ...} (the caller puts it;
 * {} for NULL), as the manifest records them; NULL when out of memory. */
struct json_object *manifest_labels_json(const labels_set *set);

/* Replace m's labels by a copy of set (NULL or empty: none). 0 or -ENOMEM. */
int manifest_set_labels(manifest *m, const labels_set *set);

/* Everything the format requires of a manifest's fields (ids, names, parent, sizes and
 * counts within what the format allows). The writer and the parser both apply it.
 * 0 or -EINVAL. */
int manifest_check(const manifest *m);

/* Whether m belongs in the folder of key: its id is id, its pool/namespace/image are
 * spec's, and every key it names (data.0 .. data.<n-1>, index) is the key the naming
 * rules derive under image_prefix (naming_image_prefix of spec). 0, or -EINVAL with
 * *why set to a static text. */
int manifest_check_folder(const manifest *m, const char *image_prefix, const char *id,
                          const char *pool, const char *ns, const char *image,
                          const char **why);

/* The largest index object (bytes) that records index records can take in the format;
 * a sealed index (encrypted backup) is SEAL_TAG_LEN longer. */
uint64_t manifest_index_bound(uint64_t records);

/* Serialise with checksum. *json is malloc'ed (caller frees), *len its length.
 * 0, -EINVAL (manifest_check fails), -EFBIG (MANIFEST_MAX_BYTES or more: the reader
 * would refuse it) or -ENOMEM. */
int manifest_to_json(const manifest *m, char **json, size_t *len);
/* The bytes an encrypted manifest's mac covers (see above): malloc'ed into *body (caller
 * frees), *len its length. 0, -EINVAL (m is not encrypted, or manifest_check fails) or
 * -ENOMEM. The writer MACs it before manifest_to_json; a reader recomputes it from the
 * parsed manifest and compares with m->enc.mac. */
int manifest_mac_body(const manifest *m, char **body, size_t *len);

/* Parse and verify (format, required members, checksum, manifest_check). Returns 0,
 * -EINVAL for a malformed document, -EBADMSG for a checksum mismatch. m must be manifest_init'ed;
 * on failure it is left cleared. */
int manifest_from_json(const char *json, size_t len, manifest *m);

#endif
