/* headdoc.h - the head object of an encrypted image: which backup is its newest, under a
 * MAC of the master key, so that a rollback or a deletion of backups can be noticed.
 *
 * Key: "<image prefix>head.json" (naming_head_key). JSON form (format 1):
 * {"format": 1, "pool": "rbd", "namespace": "", "image": "vm1", "image_id": "10a2b3",
 *  "newest": "<backup id>", "newest_mac": "<hex of that manifest's mac>",
 *  "key_id": "<16 hex: the master key>", "mac": "hmac-sha256:<hex>"}
 * The mac is HMAC-SHA-256 under the master key's head key (seal_key.mac of a master key)
 * of headdoc_mac_body: the document serialised plain without "mac". Pure, no I/O. */
#ifndef RBD2S3_HEADDOC_H
#define RBD2S3_HEADDOC_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/manifest.h"
#include "agent/format/naming.h"
#include "agent/format/seal.h"

#define HEADDOC_FORMAT 1
#define HEADDOC_MAX_BYTES 16384            /* largest head object read */

typedef struct headdoc {
    char pool[NAMING_MAX];
    char ns[NAMING_MAX];
    char image[NAMING_MAX];
    char image_id[64];
    char newest[NAMING_ID_LEN];            /* the newest committed backup's id */
    uint8_t newest_mac[SEAL_MAC_LEN];      /* its manifest's mac */
    char key_id[SEAL_KEY_ID_LEN];          /* the master key of the mac */
    uint8_t mac[SEAL_MAC_LEN];
} headdoc;

/* The head naming the encrypted backup m as its image's newest (mac not yet set).
 * 0, or -EINVAL when m is not encrypted or a field does not fit. */
int headdoc_from_manifest(headdoc *h, const manifest *m);

/* MAC h under master key mk (sets h->key_id and h->mac) and serialise it: *json is
 * malloc'ed (caller frees), *len its length. 0, -EINVAL (mk is not a master key, a field
 * is not valid) or -ENOMEM / -EIO. */
int headdoc_to_json(headdoc *h, const seal_key *mk, char **json, size_t *len);

/* Parse json[0..len) into h (no MAC check: see headdoc_mac_ok). 0 or -EINVAL
 * (malformed, another format, a field not valid), -ENOMEM. */
int headdoc_from_json(const char *json, size_t len, headdoc *h);

/* 1 when h->mac is the MAC of h under master key mk (and mk's id is h's key_id), else 0. */
int headdoc_mac_ok(const headdoc *h, const seal_key *mk);

#endif
