/* rbdio.h - the public interface of everything that touches Ceph (librados + librbd).
 *
 * The module knows nothing of S3 or of manifests. Functions return 0 or a negative
 * errno code as librbd does (-ENOENT: pool, namespace, image or snapshot missing;
 * -EEXIST: image or snapshot already exists; -EBUSY: snapshot protected/has children;
 * -ENOTCONN / -ETIMEDOUT: cluster unreachable).
 * rbdio_last_error() gives a one-line description of the last failure on this thread.
 */
#ifndef RBD2S3_RBDIO_H
#define RBD2S3_RBDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct rbdio_cluster rbdio_cluster;
typedef struct rbdio_image rbdio_image;
typedef struct rbdio_aio rbdio_aio;
typedef struct rbdio_lock rbdio_lock;

/* The thread's last error text ("" if none); set by every failing call. */
const char *rbdio_last_error(void);

/* Connect with a ceph.conf (NULL: librados default search) and a cephx id
 * (NULL: "admin"). timeout_s bounds the connect (0: 30 s). The caller frees the
 * handle with rbdio_disconnect(). */
int rbdio_connect(const char *conf, const char *id, int timeout_s, rbdio_cluster **out);
void rbdio_disconnect(rbdio_cluster *c);
/* Bound every OSD operation of the handles connected from now on to op_timeout_s seconds
 * (rados_osd_op_timeout; the connect and mon timeouts are capped by it too); 0 restores
 * the default of ten times the connect timeout. An aio window whose operations get no
 * answer for that long (plus a margin) gives up on them with -ETIMEDOUT by itself. */
void rbdio_set_op_timeout(int op_timeout_s);
/* Hooks told when a blocking librbd management call (snapshot creation or removal)
 * starts and ends, so that the caller can bound it: librbd retries such a call through
 * its exclusive lock, and on a frozen OSD it was seen to outlast the op timeout many
 * times. begin gets a description and returns a token that end gets back. NULL: none. */
typedef int (*rbdio_call_begin_fn)(const char *what);
typedef void (*rbdio_call_end_fn)(int token);
void rbdio_set_call_hooks(rbdio_call_begin_fn begin, rbdio_call_end_fn end);

/* Location of an image: pool, namespace ("" or NULL for the default), name. */
typedef struct rbdio_spec {
    const char *pool;
    const char *ns;
    const char *image;
} rbdio_spec;

/* Open an image (read-write), or at a snapshot read-only when snap != NULL.
 * Close with rbdio_close(). */
int rbdio_open(rbdio_cluster *c, const rbdio_spec *spec, const char *snap, rbdio_image **out);
void rbdio_close(rbdio_image *img);

/* 0 if the pool (and namespace) exist, -ENOENT if not. */
int rbdio_pool_check(rbdio_cluster *c, const char *pool, const char *ns);
/* 1 if the image exists, 0 if not, negative on error. */
int rbdio_image_exists(rbdio_cluster *c, const rbdio_spec *spec);
/* Names of the images of a pool/namespace; *names is a NULL-terminated malloc'ed
 * array of malloc'ed strings, free with rbdio_free_names(). */
int rbdio_image_list(rbdio_cluster *c, const char *pool, const char *ns, char ***names);
void rbdio_free_names(char **names);

typedef struct rbdio_info {
    uint64_t size;
    int order;               /* object size = 1 << order */
    uint64_t features;
    uint64_t stripe_unit;
    uint64_t stripe_count;
    char id[64];             /* image id (changes when an image is recreated) */
} rbdio_info;
/* Info of the image (at its open snapshot, if any). */
int rbdio_stat(rbdio_image *img, rbdio_info *info);

/* Create an image with the given geometry. features are masked to what can be set
 * at creation. stripe_unit/stripe_count 0 means default. -EEXIST if it exists.
 * order 0 means the librbd default; features are taken as given (0: none). */
int rbdio_image_create(rbdio_cluster *c, const rbdio_spec *spec, const rbdio_info *geom);
/* Remove an image and its snapshots (for a restore target it created itself).
 * -EBUSY if a snapshot is protected or the image is open elsewhere; -ENOENT if missing. */
int rbdio_image_remove(rbdio_cluster *c, const rbdio_spec *spec);
/* Rename an image (closed: no handle of ours open) within its pool/namespace: 0,
 * -EEXIST if new_name exists (nothing replaced), -ENOENT if spec is missing. */
int rbdio_image_rename(rbdio_cluster *c, const rbdio_spec *spec, const char *new_name);
int rbdio_resize(rbdio_image *img, uint64_t size);

typedef struct rbdio_snap {
    uint64_t id;
    uint64_t size;
    char name[256];
    int64_t timestamp;       /* seconds since the epoch (UTC) */
    int is_protected;
} rbdio_snap;
/* The user snapshots of the image in id order; *snaps is malloc'ed, free with free().
 * Snapshots of other namespaces (librbd's trash, where a snapshot that still has clones
 * or whose removal was cut short goes; groups; mirroring) are left out, and so is one
 * removed while it is listed. */
int rbdio_snap_list(rbdio_image *img, rbdio_snap **snaps, int *n);
/* The same; *skipped (may be NULL) gets how many snapshots were left out. */
int rbdio_snap_list_ex(rbdio_image *img, rbdio_snap **snaps, int *n, int *skipped);
/* The snapshots in librbd's trash namespace, in id order, each under the name it had
 * before; as rbdio_snap_list. */
int rbdio_snap_list_trash(rbdio_image *img, rbdio_snap **snaps, int *n);
/* Remove a snapshot by id, also one in the trash namespace: 0; -ENOENT if it is gone;
 * -EBUSY if it is protected or clones still use it (librbd removes a trash snapshot
 * when its last clone goes); another negative errno on failure. */
int rbdio_snap_remove_id(rbdio_image *img, uint64_t id);
/* One user snapshot by name into *out: 0; -ENOENT if there is none; -EINVAL if librbd
 * gives it id 0 or a time before RBDIO_SNAP_TIME_MIN (what a manifest must not record);
 * another negative errno on failure. rbdio_last_error() says which. */
#define RBDIO_SNAP_TIME_MIN 946684800   /* 2000-01-01T00:00:00Z */
int rbdio_snap_get(rbdio_image *img, const char *name, rbdio_snap *out);
/* 1 if exists, 0 if not, negative on error. */
int rbdio_snap_exists(rbdio_image *img, const char *name);
int rbdio_snap_create(rbdio_image *img, const char *name);
int rbdio_snap_remove(rbdio_image *img, const char *name);
int rbdio_snap_protect(rbdio_image *img, const char *name);

/* Image metadata (`rbd image-meta`): the value of key into buf (NUL-terminated), 0; or
 * -ENOENT if the key is not set, -ERANGE if the value does not fit, other negatives. */
int rbdio_meta_get(rbdio_image *img, const char *key, char *buf, size_t len);
int rbdio_meta_set(rbdio_image *img, const char *key, const char *value);
/* Remove key: 0 (also when it was not set) or a negative error. */
int rbdio_meta_remove(rbdio_image *img, const char *key);

/* Walk the extents that differ between from_snap (NULL: from nothing, i.e. every
 * allocated extent) and the image's open snapshot, over [0, size). include_parent
 * reports a clone's parent data too (for full backups of clones). The callback gets
 * extents in increasing offset order; exists = 0 means the range was discarded /
 * is now zero. It may block (that is how the caller bounds memory); a non-zero
 * return stops the walk and is returned.
 * Granularity: for an object that did not exist at from_snap (every object, from
 * nothing) librbd reports [0, object's size), holes included, not the written bytes. */
typedef int (*rbdio_extent_cb)(uint64_t off, uint64_t len, int exists, void *arg);
int rbdio_diff(rbdio_image *img, const char *from_snap, uint64_t size, int include_parent,
               int whole_object, rbdio_extent_cb cb, void *arg);
/* 1 if the image (at its open snapshot) has a valid fast-diff object map, so that a
 * whole-object diff comes from the object maps rather than a listing of every object;
 * 0 if not; negative on error. */
int rbdio_fast_diff(rbdio_image *img);
/* Whether the object map of the image at its open snapshot is flagged invalid
 * (RBD_FLAG_OBJECT_MAP_INVALID or RBD_FLAG_FAST_DIFF_INVALID, what `rbd info` shows as
 * "object map invalid", "fast diff invalid"): 1 if so, 0 if not (an image without an
 * object map included), negative on error. where gets "pool[/ns]/image[@snap]" (for
 * messages, cut to len bytes) whatever the outcome. */
int rbdio_map_invalid(rbdio_image *img, char *where, size_t len);
/* The same for the image of img at snapshot snap (NULL: its head), opened read-only by
 * its id for the look and closed again; where as above. */
int rbdio_map_invalid_at(rbdio_image *img, const char *snap, char *where, size_t len);
/* The same walk over [off, off + len) only, exact extents (no whole objects): extents
 * are clipped to the range. For walking a large image window by window. */
int rbdio_diff_range(rbdio_image *img, const char *from_snap, uint64_t off, uint64_t len,
                     int include_parent, rbdio_extent_cb cb, void *arg);

/* ---- Import-only live migration into a new image (rbdio/migrate.c) ----
 * librbd's `rbd migration prepare --import-only`: the destination image is created at
 * once, usable (reads of what is not copied yet go to the source, writes stay in the
 * destination), and filled from the source by execute; commit then drops the link to the
 * source, abort removes the destination. The source is a JSON spec (e.g. a raw image on
 * an http stream); Ceph shows it to anyone (`rbd status`): it must hold no secret. */
typedef enum rbdio_mig_state {
    RBDIO_MIG_NONE = 0,         /* the image is not in a migration */
    RBDIO_MIG_PREPARING, RBDIO_MIG_PREPARED, RBDIO_MIG_EXECUTING, RBDIO_MIG_EXECUTED,
    RBDIO_MIG_ABORTING,
    RBDIO_MIG_ERROR             /* librbd's error (or unknown) state */
} rbdio_mig_state;
#define RBDIO_MIG_SPEC_MAX 4096

typedef struct rbdio_migration {
    rbdio_mig_state state;
    char description[256];      /* librbd's state description ("" if none) */
    char source_spec[RBDIO_MIG_SPEC_MAX];   /* the import's source spec ("" if none) */
} rbdio_migration;

/* Prepare the import of source_spec into dest, a new image of geom's order, features and
 * striping (its size is the source's). -EEXIST if dest exists; -EINVAL (librbd) for a
 * spec it refuses; -EIO and the like when the source cannot be opened. */
int rbdio_migration_import(rbdio_cluster *c, const rbdio_spec *dest, const char *source_spec,
                           const rbdio_info *geom);
/* Copy what is left of the source into dest (prepared, or executing after a run that
 * died), calling fn(done, total, arg) now and then from librbd's thread (fn may be
 * NULL; its return is ignored). Blocks until done: 0 or a negative errno. */
typedef void (*rbdio_progress_fn)(uint64_t done, uint64_t total, void *arg);
int rbdio_migration_execute(rbdio_cluster *c, const rbdio_spec *dest, rbdio_progress_fn fn,
                            void *arg);
/* After execute: make dest an ordinary image. 0 or a negative errno. */
int rbdio_migration_commit(rbdio_cluster *c, const rbdio_spec *dest);
/* Undo the migration: an import's destination is removed. 0 or a negative errno. */
int rbdio_migration_abort(rbdio_cluster *c, const rbdio_spec *dest);
/* The migration state of dest into *out (state RBDIO_MIG_NONE for an image not in a
 * migration), also while the source is down: read from the image header with librados
 * (librbd would open the image, hence its source). 0; -ENOENT if dest does not exist;
 * -EINVAL if the state cannot be decoded; another negative errno. */
int rbdio_migration_get(rbdio_cluster *c, const rbdio_spec *dest, rbdio_migration *out);

/* ---- Bounded windows of aio ----
 * A window allows at most `depth` operations in flight; a submit blocks while the
 * window is full. Completion callbacks run on a librbd thread: keep them short
 * (hand the buffer to a queue), and never submit from them (a submit may block).
 * rc is the byte count or a negative errno; writes report len. A read across the end
 * of the image is short (rc < len) and the rest of buf is zeroed. */
typedef void (*rbdio_aio_cb)(ssize_t rc, void *arg);
int rbdio_aio_new(rbdio_image *img, int depth, rbdio_aio **out);
/* Waits for everything in flight, then frees. */
void rbdio_aio_free(rbdio_aio *w);
int rbdio_aio_read(rbdio_aio *w, uint64_t off, size_t len, void *buf, rbdio_aio_cb cb, void *arg);
int rbdio_aio_write(rbdio_aio *w, uint64_t off, size_t len, const void *buf, rbdio_aio_cb cb,
                    void *arg);
int rbdio_aio_write_zeroes(rbdio_aio *w, uint64_t off, uint64_t len, rbdio_aio_cb cb, void *arg);
/* Wait until nothing is in flight; returns 0 or the first negative rc seen by any
 * operation of the window since the last drain (also reported to callbacks). */
int rbdio_aio_drain(rbdio_aio *w);
/* Flush the image (after writes). */
int rbdio_flush(rbdio_image *img);

/* ---- Advisory lock ----
 * How a lock is held: duration_s (0: 300 s), renewed every renew_s (0: duration_s / 5,
 * at least 1 s), its cookie "host:pid:random" naming host (NULL: gethostname()). */
typedef struct rbdio_lock_conf {
    int duration_s;
    int renew_s;
    const char *host;
} rbdio_lock_conf;
/* Take the exclusive RADOS lock `name` on the image's header object as conf (NULL: the
 * defaults) says, renewed by a background thread until rbdio_lock_release(), so that a
 * holder that died elsewhere blocks others for at most the duration. A lock held by a
 * process of this host (same host name) that no longer exists is broken at once.
 * -EBUSY, with rbdio_last_error() naming the holder, if another run holds it. The image
 * must stay open while the lock is held. */
int rbdio_lock_take(rbdio_image *img, const char *name, const rbdio_lock_conf *conf,
                    rbdio_lock **out);
/* What taking the lock broke ("" if nothing): the lock of a dead run of this host, and
 * librbd's exclusive lock still held by that run's client, which is broken too (as
 * `rbd lock rm` does) so that the next snapshot does not wait for it. Valid until
 * rbdio_lock_release(); "" on NULL. */
const char *rbdio_lock_note(const rbdio_lock *l);
/* Stop renewing and release. Safe on NULL. */
void rbdio_lock_release(rbdio_lock *l);

/* Whether another client uses the image (img open at its head): 1, with who (a line
 * naming the client, NUL-terminated, truncated to len) filled, when a client other
 * than img's holds librbd's exclusive lock, holds an advisory lock (`rbd lock add`) or
 * watches the header (has the image open); 0 if none; a negative errno on failure.
 * img's own watch (its cluster handle's instance) does not count. */
int rbdio_image_in_use(rbdio_image *img, char *who, size_t len);
/* Take librbd's exclusive lock on the image and keep it (no transparent hand-over to
 * another client that wants to write) until the image is closed: 0; 0 too when the
 * image has no exclusive-lock feature (nothing to take); a negative errno on failure
 * (-EROFS or -EBUSY: another client holds it). */
int rbdio_image_lock_exclusive(rbdio_image *img);

/* ---- The `rbd export-diff` stream (v1 and v2), rbdio/diffstream.c ----
 * Pure I/O on a file descriptor (a file, a pipe, stdin); no librbd. Memory is bounded:
 * a write record's payload is read and written in pieces of the caller's size.
 * Layout (Ceph doc/dev/rbd-diff.rst, src/tools/rbd/action/{Export,Import}.cc): a banner
 * "rbd diff v1\n" or "rbd diff v2\n", metadata records ('f' from snap, 't' to snap,
 * 'p' protection status (v2 only), 's' image size), data records ('w' offset, length,
 * data; 'z' offset, length), then 'e'. Integers are little-endian; a name is a le32
 * length and its bytes. In v2 every record but 'e' has a le64 payload length after its
 * tag. `rbd export-diff` writes v1 only; v2 streams are the per-snapshot diffs inside
 * `rbd export --export-format 2`, and `rbd import-diff` reads v1 only.
 * Errors: -EINVAL for a malformed stream (wrong banner, unknown tag in v1, a v2 length
 * that disagrees with the fields, a name too long, an extent that overflows or passes
 * the declared size, a metadata record after a data record, end of input before 'e'),
 * with rbdio_last_error() naming what and its byte offset in the stream; the negative
 * errno of read()/write() otherwise. After a failure a handle keeps failing. */
#define RBDIO_DS_NAME_MAX 4096   /* longest snapshot name, as `rbd import-diff` */

enum { RBDIO_DS_WRITE = 1, RBDIO_DS_ZERO = 2, RBDIO_DS_END = 3 };

typedef struct rbdio_ds_header {
    int version;                          /* 1 or 2 */
    int has_from;
    char from_snap[RBDIO_DS_NAME_MAX + 1];
    int has_to;
    char to_snap[RBDIO_DS_NAME_MAX + 1];
    int has_protected;                    /* v2 only: the 'p' record */
    int is_protected;
    int has_size;
    uint64_t size;                        /* image size at the end of the diff */
} rbdio_ds_header;

typedef struct rbdio_ds_reader rbdio_ds_reader;
typedef struct rbdio_ds_writer rbdio_ds_writer;

/* Read the banner and the metadata records, up to the first data record or 'e'.
 * The reader never reads past the 'e' record (the fd is left just after it, so that a
 * stream embedded in a larger one can be followed by its successor). v2 records with an
 * unknown tag are skipped by their length (as rbd does); in v1 they are an error. A 'p'
 * record declaring length 8 (what rbd 16.2 writes for its 1-byte payload, Ceph tracker
 * 53243) is accepted; the writer writes length 1, as rbd does since the fix.
 * Free with rbdio_ds_close() (which does not close fd). */
int rbdio_ds_open(int fd, rbdio_ds_reader **out);
/* The metadata; valid until rbdio_ds_close(). */
const rbdio_ds_header *rbdio_ds_header_get(const rbdio_ds_reader *r);
/* The next data record: *kind is RBDIO_DS_WRITE, RBDIO_DS_ZERO or RBDIO_DS_END (then
 * *off = *len = 0, and again on later calls). After a WRITE the caller reads the len
 * bytes of its payload with rbdio_ds_read(); any part left unread is skipped here. */
int rbdio_ds_next(rbdio_ds_reader *r, int *kind, uint64_t *off, uint64_t *len);
/* Read exactly n bytes of the current write's payload (n at most what is left). */
int rbdio_ds_read(rbdio_ds_reader *r, void *buf, size_t n);
/* After RBDIO_DS_END: 0 if the input ends there, -EINVAL if anything follows 'e'
 * (`rbd import-diff` ignores such bytes; a stand-alone stream should have none). */
int rbdio_ds_expect_eof(rbdio_ds_reader *r);
/* Bytes of the stream consumed so far. */
uint64_t rbdio_ds_offset(const rbdio_ds_reader *r);
void rbdio_ds_close(rbdio_ds_reader *r);

/* Write the banner of h->version and the metadata records h has ('f', 't', in v2 'p',
 * 's'; in that order, as rbd does). A 'p' is not written in v1. fd is not closed. */
int rbdio_ds_writer_new(int fd, const rbdio_ds_header *h, rbdio_ds_writer **out);
/* A whole 'w' record: its header and the len bytes at data. */
int rbdio_ds_write(rbdio_ds_writer *w, uint64_t off, uint64_t len, const void *data);
/* The same in pieces: the header, then exactly len bytes over any number of calls of
 * rbdio_ds_write_data() before the next record. */
int rbdio_ds_write_begin(rbdio_ds_writer *w, uint64_t off, uint64_t len);
int rbdio_ds_write_data(rbdio_ds_writer *w, const void *data, size_t n);
/* A 'z' record. */
int rbdio_ds_zero(rbdio_ds_writer *w, uint64_t off, uint64_t len);
/* Write 'e' and free w (freed even on failure). */
int rbdio_ds_finish(rbdio_ds_writer *w);
/* Free without writing 'e' (an abandoned stream). Safe on NULL. */
void rbdio_ds_writer_free(rbdio_ds_writer *w);

#endif
