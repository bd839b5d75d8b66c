/* chain.h - a restore point's chain of backups, its full first, with their chunk indexes. */
#ifndef RBD2S3_CHAIN_H
#define RBD2S3_CHAIN_H

#include "agent/repo/catalog.h"

/* One backup of a chain: where it is in the catalog, and its index once loaded. */
typedef struct chain_link {
    size_t at;                /* index into the catalog */
    const manifest *m;        /* the catalog's (valid while the catalog is) */
    const seal_key *dk;       /* its data key (the catalog's cat_entry.dk): NULL for a
                               * plain backup */
    index_rec *recs;          /* malloc'ed by chain_load_indexes; NULL before */
    size_t nrecs;
} chain_link;

/* The backups from the full up to a target, oldest first: v[n - 1] is the target. */
typedef struct chain {
    chain_link *v;
    size_t n;
} chain;

/* Walk from the catalog's entry target back to its full, parent by parent. Checks
 * continuity only: a parent that is missing, damaged (a manifest in c->badv) or part of
 * a loop of parents fails with AG_EINTEGRITY naming the backup and the parent. Nothing
 * is downloaded. 0, or -1 with the error recorded in ctx (*out then holds nothing);
 * the caller frees *out with chain_free. */
int chain_open(ag_ctx *ctx, const catalog *c, size_t target, chain *out);

/* Download the chunk indexes of links first..n-1 with catalog_load_index: each at most
 * the size its manifest declares, with that size and SHA-256, and exactly its
 * index.records records. 0, or -1 with the error recorded in ctx (AG_EINTEGRITY naming
 * the index key for a damaged one); the indexes loaded so far stay in ch. */
int chain_load_indexes(ag_ctx *ctx, chain *ch, size_t first);

/* Free the links and their indexes; ch is zeroed. Safe on a zeroed chain. */
void chain_free(chain *ch);

#endif
