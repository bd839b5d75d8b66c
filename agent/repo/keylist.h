/* keylist.h - a growable list of object keys with their sizes and times, from a listing. */
#ifndef RBD2S3_KEYLIST_H
#define RBD2S3_KEYLIST_H

#include "agent/common/context.h"

#include <time.h>

typedef struct keylist {
    char **keys;              /* each malloc'ed */
    uint64_t *sizes;
    time_t *mtimes;           /* last modified; 0 where not known */
    size_t n, cap;
} keylist;

/* Append a copy of key. 0, or -ENOMEM with the list unchanged. */
int keylist_add(keylist *l, const char *key, uint64_t size, time_t mtime);

/* Free the keys and the arrays; l is zeroed. Safe on a zeroed list. */
void keylist_free(keylist *l);

/* Which listed objects to keep: non-zero keeps obj. */
typedef int (*keylist_filter)(const s3_object_info *obj, void *arg);

/* Append the objects under prefix (in key order; common prefixes never) that keep
 * accepts (NULL: all) to l. 0, or -1 with the S3 failure recorded in ctx as `what`
 * ("listing the bucket"); l then holds what was listed so far (keylist_free it). */
int keylist_list(ag_ctx *ctx, const char *prefix, keylist_filter keep, void *arg, keylist *l,
                 const char *what);

#endif
