/* naming.h - image specs, backup ids and object keys (pure string functions). */
#ifndef RBD2S3_NAMING_H
#define RBD2S3_NAMING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NAMING_MAX 512
#define NAMING_SNAP_PREFIX "rbd2s3-"
#define NAMING_ID_LEN 32
/* Room for the text of a spec, "POOL/NS/IMAGE" (three parts of at most NAMING_MAX - 1
 * bytes, two '/' and the NUL), the size of every buffer that holds one. */
#define NAMING_SPEC_MAX 1600

/* "POOL/IMAGE", "POOL/NS/IMAGE", each optionally followed by "@AT" (a backup id,
 * an id prefix or a snapshot name). */
typedef struct naming_spec {
    char pool[NAMING_MAX];
    char ns[NAMING_MAX];     /* "" for the default namespace */
    char image[NAMING_MAX];
    char at[NAMING_MAX];     /* "" when no '@' part was given */
} naming_spec;

/* Parse s into *spec. Returns 0, or -EINVAL when a part is empty, too long, or there
 * are too many '/' or '@'. allow_at = 0 rejects an '@' part. */
int naming_parse_spec(const char *s, int allow_at, naming_spec *spec);

/* "pool/image" or "pool/ns/image" into out. */
void naming_spec_str(const naming_spec *spec, char *out, size_t outsz);

/* Backup id for time t: "YYYYMMDDTHHMMSSZ" (UTC), 16 chars. If taken(id, arg) says
 * the id exists, a suffix "-1", "-2", ... is appended until it does not. */
int naming_backup_id(time_t t, int (*taken)(const char *id, void *arg), void *arg,
                     char out[NAMING_ID_LEN]);

/* 1 if s has the form of a backup id (with optional -N suffix), else 0. */
int naming_is_backup_id(const char *s);

/* Escape one key component: bytes outside [A-Za-z0-9._-] become %XX; a component that
 * is exactly "." or ".." is escaped whole ("%2E"). Returns the length needed (like
 * snprintf). */
size_t naming_escape(const char *in, char *out, size_t outsz);
/* Reverse of naming_escape; returns 0 or -EINVAL. */
int naming_unescape(const char *in, char *out, size_t outsz);

/* "<prefix>/<pool>[/<ns>]/<image>/" with each part escaped (prefix taken as given,
 * trailing '/' dropped; an empty prefix gives no leading part). 0, -EINVAL (empty pool
 * or image) or -ENAMETOOLONG (out too small). */
int naming_image_prefix(const char *prefix, const naming_spec *spec, char *out, size_t outsz);

/* Keys of a backup: "<image_prefix><id>/data.<n>", ".../index", ".../manifest.json". */
int naming_data_key(const char *image_prefix, const char *id, unsigned n, char *out,
                    size_t outsz);
int naming_index_key(const char *image_prefix, const char *id, char *out, size_t outsz);
int naming_manifest_key(const char *image_prefix, const char *id, char *out, size_t outsz);
/* The checkpoint of a backup under way (agent/repo/ckpt.h): ".../checkpoint.json" for
 * seg < 0, else its index segment ".../checkpoint.<seg>". */
int naming_checkpoint_key(const char *image_prefix, const char *id, int seg, char *out,
                          size_t outsz);
/* The image's head object (agent/format/headdoc.h): "<image_prefix>head.json". It is in
 * no backup folder, so naming_parse_manifest_key and naming_parse_object_key never take
 * it for one of a backup's objects. 0, -EINVAL (image_prefix does not end in '/') or
 * -ENAMETOOLONG. */
int naming_head_key(const char *image_prefix, char *out, size_t outsz);

/* Split a manifest key found under prefix back into spec + id. Returns 0, or -EINVAL
 * if key is not "<prefix>/<pool>[/<ns>]/<image>/<id>/manifest.json". */
int naming_parse_manifest_key(const char *prefix, const char *key, naming_spec *spec,
                              char id[NAMING_ID_LEN]);

/* What a key inside a backup folder is: one of rbd2s3's own names, or none. */
enum { NAMING_LEAF_NONE = 0, NAMING_LEAF_DATA, NAMING_LEAF_INDEX, NAMING_LEAF_MANIFEST,
       NAMING_LEAF_CHECKPOINT };

/* Split a key found under prefix into spec + id when it is one of rbd2s3's own
 * objects: "<prefix>/<pool>[/<ns>]/<image>/<id>/<leaf>" in canonical escaping, leaf
 * "data.<n>", "index", "manifest.json", "checkpoint.json" or "checkpoint.<n>" (*kind
 * says which). 0, or -EINVAL (kind NAMING_LEAF_NONE) for any other key. */
int naming_parse_object_key(const char *prefix, const char *key, naming_spec *spec,
                            char id[NAMING_ID_LEN], int *kind);

/* ISO-8601 UTC "2026-11-21T08:30:00Z" into out[21] ("" outside years 1970..9999); and
 * back (-EINVAL if malformed or before 1970). */
void naming_iso8601(time_t t, char out[21]);
int naming_parse_iso8601(const char *s, time_t *t);

#endif
