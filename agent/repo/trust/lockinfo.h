/* lockinfo.h - Object Lock as the repository sees it: is the bucket locked, is a backup. */
#ifndef RBD2S3_LOCKINFO_H
#define RBD2S3_LOCKINFO_H

#include "agent/common/context.h"

#include <time.h>

/* *enabled: 1 when the bucket has Object Lock enabled (one GetObjectLockConfiguration).
 * A configuration that may not be read (access denied) counts as none, with a warning;
 * a server that does not implement Object Lock (HTTP 501, as s3rver) has none (s3.h).
 * 0, or -1 with the error recorded. */
int lockinfo_enabled(ag_ctx *ctx, int *enabled);

/* The Object Lock retention of every object of backup m of image spec (its data objects,
 * index and manifest, keys as the naming rules derive them for its folder; as ctx->asof
 * sees them): *earliest the earliest retain-until (0 when one object has none or is
 * missing), *latest the latest (0 when none has one); either may be NULL. One HEAD per
 * object. 0, or -1 with the S3 failure recorded. */
int lockinfo_retention(ag_ctx *ctx, const naming_spec *spec, const manifest *m,
                       time_t *earliest, time_t *latest);

#endif
