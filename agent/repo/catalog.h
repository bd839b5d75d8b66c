/* catalog.h - the backups in the bucket: manifests listed, loaded, verified; their indexes. */
#ifndef RBD2S3_CATALOG_H
#define RBD2S3_CATALOG_H

#include "agent/common/context.h"
#include "agent/format/index.h"

typedef struct cat_entry {
    naming_spec spec;
    char id[NAMING_ID_LEN];
    manifest m;
    seal_key *dk;       /* an encrypted backup's data key, when a key of ctx->keys opens
                         * it (malloc'ed, wiped and freed by catalog_free); else NULL */
} cat_entry;

/* A manifest that did not verify: not a backup, but damage that verify reports. */
typedef struct cat_bad {
    naming_spec spec;
    char id[NAMING_ID_LEN];
    char *key;          /* malloc'ed (owned by the catalog) */
    const char *why;    /* "checksum mismatch", "malformed" (static) */
} cat_bad;

typedef struct catalog {
    cat_entry *e;       /* sorted by image, then id (oldest first) */
    size_t n;
    size_t bad;         /* manifests that failed to verify (not backups) */
    cat_bad *badv;      /* those manifests, in listing order (bad of them) */
} catalog;

/* Load the committed backups of one image (spec) or of the whole prefix (spec NULL).
 * A manifest that does not verify, or that does not belong in its folder (another id
 * or image, keys outside its folder), is not a backup: it is kept in badv as a damaged
 * backup (list, restore, prune and verify name it). A folder without manifest.json is
 * neither. Manifests are fetched with at most 64 MiB held at once. Returns 0, or -1
 * with the error recorded in ctx. */
int catalog_load(ag_ctx *ctx, const naming_spec *spec, catalog *out);
void catalog_free(catalog *c);

/* Find the backup named by at: "" for the newest, a backup id, a unique id prefix,
 * or a snapshot name. Returns the index, or -1 with AG_ENOTFOUND recorded, or with
 * AG_EINTEGRITY when at names a damaged backup or (at "") the newest one is damaged. */
long catalog_find(ag_ctx *ctx, const catalog *c, const naming_spec *spec, const char *at);

/* The damaged manifest of spec with this id, or NULL. */
const cat_bad *catalog_bad_find(const catalog *c, const naming_spec *spec, const char *id);

/* The index of entry i's parent in c, or -1 when i is a full or its parent is not in c. */
long catalog_parent(const catalog *c, size_t i);

/* What can be checked of m's index before reading it: an encrypted backup has its data
 * key dk and a plain one none, and the size the manifest declares is possible for its
 * record count. 0, or -1 with the error recorded (AG_EKEY, or AG_EINTEGRITY naming the
 * key), as catalog_get_index. */
int catalog_index_precheck(ag_ctx *ctx, const manifest *m, const seal_key *dk);

/* Download the chunk index of m, no more than the size the manifest declares, into
 * *body (caller frees with s3_buf_free) and check its size and SHA-256; an encrypted
 * backup's index (sealed) is then opened with its data key dk (cat_entry.dk): *body
 * holds the lz4 frame. 0, or -1 with the error recorded in ctx: AG_EKEY for an
 * encrypted backup and dk NULL, AG_EINTEGRITY naming the key for a mismatch or a
 * sealed index that does not open (damaged, or another backup's or image's). */
int catalog_get_index(ag_ctx *ctx, const manifest *m, const seal_key *dk, s3_buf *body);

/* catalog_get_index, then decode it into a malloc'ed array (caller frees *recs) of
 * exactly the manifest's index.records records, whose data records are all sealed
 * (INDEX_FLAG_SEALED) in an encrypted backup and none in a plain one. 0, or -1 with the
 * error recorded in ctx (as catalog_get_index; AG_EINTEGRITY naming the key for a
 * damaged index). */
int catalog_load_index(ag_ctx *ctx, const manifest *m, const seal_key *dk, index_rec **recs,
                       size_t *n);


#endif
