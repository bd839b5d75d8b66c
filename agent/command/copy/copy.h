/* copy.h - the copy command's shared state: a source and a destination context, the
 * counts it reports; private to agent/command/copy/. */
#ifndef RBD2S3_COPY_H
#define RBD2S3_COPY_H

#include "agent/common/context.h"
#include "agent/repo/catalog.h"

#include <json-c/json.h>

#define COPY_PART_DEFAULT (256ULL << 20)   /* parts when the source's layout is unknown */
#define COPY_SINGLE_MAX (5ULL << 30)       /* CopyObject's largest object */
#define COPY_PUT_MAX (256ULL << 20)        /* streamed: one PUT up to this size */

typedef struct copy_job {
    ag_ctx *ctx;                /* the source: its bucket, prefix and client */
    ag_ctx dst;                 /* the destination: own options and client; errors it
                                 * records are moved to ctx by copy_dst_failed */
    int server_side;            /* same endpoint and credentials: UploadPartCopy */
    char src_prefix[AG_KEY_MAX];   /* the image's prefix in the source */
    char dst_prefix[AG_KEY_MAX];   /* and in the destination */
    int rewrite;                /* the prefixes differ: manifests name other keys */
    uint64_t chunk;             /* the chunk size of the backup being copied */
    const char *sclass;         /* storage class of the object being copied, or NULL */
    size_t backups_copied, backups_present;
    uint64_t objects_copied, objects_present;
    uint64_t bytes_copied;      /* bytes of the objects copied */
    uint64_t bytes_moved;       /* bytes this process downloaded or uploaded */
    json_object *rows;          /* the backups, for --format json */
} copy_job;

/* Move the error recorded in j->dst (if any) to j->ctx; returns -1. */
int copy_dst_failed(copy_job *j);

/* The destination key of src_key (a key under j->src_prefix) into out. 0, or -1 with the
 * error recorded (a key outside the image's folder, or too long). */
int copy_dst_key(copy_job *j, const char *src_key, char *out, size_t outsz);

/* Copy the object src_key of `size` bytes to dst_key unless the destination holds it
 * already with that size and ETag. etag: the source's ETag as the manifest records it
 * (a multipart "<md5>-<n>" or a plain MD5): the copy keeps the source's part layout when
 * it can be found (the size of part 1 as a HEAD ?partNumber=1 tells it, else the part
 * size a backup would use today, or one part), so that the copy's ETag equals it, and
 * then it is the content check; otherwise (no layout, or parts of unequal sizes) the
 * ETag the completion reported and the size are checked, and a later run takes an
 * object of the right size as there. A streamed part is at most COPY_PUT_MAX bytes
 * (held in memory), whatever the manifest says. 1 when already there, 0 copied, -1
 * with the error recorded in j->ctx (AG_EINTEGRITY for a copy that does not check out,
 * or an object larger than PARTS_MAX parts can hold). */
int copy_object(copy_job *j, const char *src_key, const char *dst_key, uint64_t size,
                const char *etag);

/* Copy the backup e (data objects, then its index, checked against the manifest's size
 * and SHA-256, then its manifest, written last and read back). 1 when its manifest was
 * in the destination already (nothing else done), 0 copied, -1 with the error recorded. */
int copy_backup(copy_job *j, const cat_entry *e);

/* Copy the image's head object (an encrypted image's) when the backup it names has its
 * manifest in the destination. 0 (also when there is none), -1 with the error recorded. */
int copy_head(copy_job *j, const naming_spec *spec);

#endif
