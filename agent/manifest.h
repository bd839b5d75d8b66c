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
 */
#ifndef RBD2S3_MANIFEST_H
#define RBD2S3_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MANIFEST_FORMAT 1
#define MANIFEST_STR 512

typedef struct manifest_object {
    char key[1024];
    uint64_t size;
    char etag[80];
} manifest_object;

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
    manifest_object index;        /* key, size, etag unused ("") */
    char index_sha256[65];
    uint64_t index_records;
    uint64_t data_bytes, zero_bytes, stored_bytes, chunks, zero_chunks;
} manifest;

/* Zero-initialise m. */
void manifest_init(manifest *m);
/* Free what m owns (objects); m itself is the caller's. */
void manifest_clear(manifest *m);
/* Append a data object (copies it). 0 or -ENOMEM. */
int manifest_add_object(manifest *m, const char *key, uint64_t size, const char *etag);

/* Serialise with checksum. *json is malloc'ed (caller frees), *len its length. */
int manifest_to_json(const manifest *m, char **json, size_t *len);
/* Parse and verify (format, required members, checksum). Returns 0, -EINVAL for a
 * malformed document, -EBADMSG for a checksum mismatch. m must be manifest_init'ed;
 * on failure it is left cleared. */
int manifest_from_json(const char *json, size_t len, manifest *m);

#endif
