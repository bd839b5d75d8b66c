/* writer.h - one backup's objects in the bucket: pack objects and chunk index being
 * written, then the manifest as the commit; or all of it taken back on failure. Shared
 * by backup (from an image) and import-diff (from a stream). */
#ifndef RBD2S3_STORE_H
#define RBD2S3_STORE_H

#include "agent/common/context.h"
#include "agent/format/chunk.h"
#include "agent/format/index.h"
#include "agent/repo/pack.h"

typedef struct store {
    ag_ctx *ctx;
    char prefix[2048];        /* the image's key prefix */
    char id[NAMING_ID_LEN];
    pack_writer *pack;
    index_writer *idx;
    char index_key[1024];
    int index_uploaded;
    uint64_t zoff, zlen;      /* the zero range not yet recorded */
} store;

/* Start writing backup id of the image under prefix. 0 or -1 (error recorded). */
int store_open(store *s, ag_ctx *ctx, const char *prefix, const char *id);

/* Append a zero range's record (adjacent zero ranges are merged into one record).
 * Totals go into m. */
int store_zero(store *s, manifest *m, uint64_t off, uint64_t len);

/* The runs of one chunk at image offset off as chunk_encode made them from data (raw
 * runs are stored from data, the others from e->comp). 0 or -1 (error recorded). */
int store_pieces(store *s, manifest *m, uint64_t off, const unsigned char *data,
                 const chunk_enc *e);

/* Finish the pack objects (into m's object list) and upload the index alongside the
 * last part, then the manifest. 0 once the backup exists, -1 (error recorded) otherwise. */
int store_commit(store *s, manifest *m);

/* Take back everything written (uploads aborted, objects and index deleted). */
void store_abort(store *s);
void store_free(store *s);

/* The one-line JSON summary of a committed backup on stdout (--format json). */
void store_print_json(const char *name, const manifest *m);
/* The same summary as a new json-c object, for a caller that adds fields; the caller
 * puts it (json_object_put). */
struct json_object *store_json(const char *name, const manifest *m);

#endif
