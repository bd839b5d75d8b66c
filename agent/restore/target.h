/* target.h - a restore's destination, written under a name that says it is partial
 * (DEST.rbd2s3-partial: an image or a file) and marked with the backup restored and
 * the run, renamed to DEST only once complete; a rerun removes its own partial. */
#ifndef RBD2S3_TARGET_H
#define RBD2S3_TARGET_H

#include "agent/common/context.h"

#define TARGET_SUFFIX ".rbd2s3-partial"
#define TARGET_META "rbd2s3.partial-restore"        /* image-meta of a partial image */
#define TARGET_SOURCE_META "rbd2s3.source"     /* image-meta of a restored image: the
                                                  POOL/IMAGE whose backups it holds */
#define TARGET_XATTR "user.rbd2s3.partial-restore"  /* extended attribute of a file */
#define TARGET_WAIT_S 90      /* a killed client's watch lingers about 30 s */
#define TARGET_MARKER_MAX 2048

typedef struct target {
    ag_ctx *ctx;
    char source[1700];          /* "POOL/IMAGE@ID": the backup restored */
    char marker[TARGET_MARKER_MAX]; /* "<source> host <host> pid <pid>": this run */
    /* an image */
    rbdio_cluster *cl;
    char pool[NAMING_MAX], ns[NAMING_MAX];
    char image[NAMING_MAX];     /* DEST's name */
    char part[NAMING_MAX + 16]; /* its partial name */
    char dest_name[1700];       /* DEST for messages */
    char part_name[1720];       /* DEST.rbd2s3-partial for messages */
    rbdio_image *img;           /* the open partial image */
    /* a file */
    const char *path;           /* NULL for an image */
    char part_path[4096];
    int fd;                     /* -1 unless a file or block device is open */
    int is_blk;                 /* writing into a block device: no partial name */
    int created;                /* the partial exists and is ours: removed on failure */
} target;

/* Start t for the restore of source ("POOL/IMAGE@ID"); builds this run's marker.
 * Cannot fail. */
void target_init(target *t, ag_ctx *ctx, const char *source);

/* Split a marker into its source, host and pid. 0, or -EINVAL if it is not one (also
 * for any control byte). */
int target_marker_parse(const char *marker, char *source, size_t slen, char *host,
                        size_t hlen, long *pid);

/* The cluster of an image destination: a connection of its own when conf or id is given
 * (--dest-ceph-conf, --dest-id; the other from ctx's options), *own set to 1 and the
 * caller disconnects it; else ctx's source cluster (*own 0). Then pool (and ns) checked;
 * name (DEST) is for messages. 0, or -1 with the error recorded (exit 9, 3, ...). */
int target_cluster(ag_ctx *ctx, const char *conf, const char *id, const char *pool,
                   const char *ns, const char *name, rbdio_cluster **out, int *own);

/* An image DEST in pool/ns of cluster cl (borrowed, must outlive t): -1 with exit 7
 * when DEST exists or DEST.rbd2s3-partial exists and is not a partial restore of the
 * same backup (or exit 11 while that run is alive); a partial of the same backup
 * left by a killed run is removed, waiting up to TARGET_WAIT_S for its watch. 0 if
 * DEST and its partial name are free; the error is recorded in ctx otherwise. */
int target_image_prepare(target *t, rbdio_cluster *cl, const char *pool, const char *ns,
                         const char *image, const char *dest_name);
/* Create the partial image with geom, open it (t->img) and mark it. 0 or -1. */
int target_image_create(target *t, const rbdio_info *geom);

/* A file PATH: an existing block device (a symbolic link only if it resolves to one)
 * is opened for writing in place; anything else existing is refused (exit 7); else
 * PATH.rbd2s3-partial is created (O_EXCL, never following a link, 0600) and marked,
 * after removing this backup's partial of a killed run (the same rules as images).
 * t->fd is open on success; 0 or -1 with the error recorded. */
int target_file_open(target *t, const char *path);

/* Make the complete target visible under its name: the image closed and renamed, the
 * file fsync'ed and renamed without replacing anything; the marker removed after.
 * 0 or -1 (exit 7 if DEST appeared meanwhile). */
int target_commit(target *t);

/* Close what is open; failed: remove the partial target (a warning when it cannot be
 * removed now: a rerun removes it). Safe on a target never prepared. */
void target_close(target *t, int failed);

#endif
