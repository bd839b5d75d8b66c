/* protectdoc.h - the protect object of a backup (`rbd2s3 protect`): a small JSON document
 * next to its manifest that keeps prune from removing the backup and its chain (pure).
 *
 * {"format": 1, "backup": "<id>", "since": "2026-12-03T10:00:00Z", "reason": "text"}
 * "reason" is optional. The object is untrusted input: a reader that cannot parse it
 * still treats the backup as protected (protectdoc_from_json says what is wrong). */
#ifndef RBD2S3_PROTECTDOC_H
#define RBD2S3_PROTECTDOC_H

#include <stddef.h>
#include <time.h>

#define PROTECTDOC_FORMAT 1
#define PROTECTDOC_REASON_MAX 256        /* bytes of a reason, without its NUL */
#define PROTECTDOC_MAX_BYTES 4096        /* largest protect object read */
#define PROTECTDOC_LEAF "protect.json"   /* its name in the backup's folder */

typedef struct protectdoc {
    char backup[32];                     /* the backup id */
    time_t since;                        /* when it was protected; 0: not known */
    char reason[PROTECTDOC_REASON_MAX + 1]; /* "" for none */
} protectdoc;

/* 1 if s is an acceptable reason: at most PROTECTDOC_REASON_MAX bytes, no control
 * characters (bytes below 0x20 and 0x7f). */
int protectdoc_reason_ok(const char *s);

/* Serialise d (one line, with a newline) into a malloc'ed *json (caller frees), *len its
 * length. 0, -EINVAL (bad id, time or reason) or -ENOMEM. */
int protectdoc_to_json(const protectdoc *d, char **json, size_t *len);

/* Parse json[0..len) strictly into *d. 0, or -EINVAL with *why a static text (d then
 * holds what could be read: since 0 and reason "" where not). */
int protectdoc_from_json(const char *json, size_t len, protectdoc *d, const char **why);

#endif
