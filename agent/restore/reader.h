/* reader.h - random access to a backup point: the bytes at any offset of the image as the
 * backup saw it, fetched lazily from the bucket through the chain's merged index (each
 * byte from the newest backup of the chain that holds it), every chunk checked before a
 * byte of it is given out. The engine of serve, mount and restore --instant.
 *
 * Ranged GETs fetch only the records a read needs, several at once; sequential reads
 * have the next records fetched ahead, on a thread of the reader's own while the reads
 * go on; checked records are kept in a bounded LRU cache; zero
 * records and holes cost no request. All readers of one ag_ctx share its S3 client
 * under one lock of this module, so any number of threads may call the functions below
 * at once; the ctx's own sticky error (ag_fail) is left clean by every call. */
#ifndef RBD2S3_READER_H
#define RBD2S3_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/common/context.h"

#define READER_CACHE_DEFAULT (256ULL << 20)
#define READER_AHEAD_DEFAULT 8

typedef struct reader reader;

typedef struct reader_opts {
    uint64_t cache_bytes;     /* decoded records kept; 0: READER_CACHE_DEFAULT. At least
                               * the records of one read are kept, whatever the bound */
    uint32_t ahead;           /* records fetched ahead of a sequential read; 0: default */
} reader_opts;

/* What a reader did so far (for metrics, logs and the tests). */
typedef struct reader_stats {
    uint64_t gets;            /* ranged GETs sent */
    uint64_t fetched;         /* stored bytes they returned */
    uint64_t hits;            /* records found in the cache */
    uint64_t misses;          /* records fetched for a read (not ahead) */
    uint64_t cached;          /* bytes held in the cache now */
} reader_stats;

/* Open the restore point of spec (POOL/IMAGE[@BACKUP], as naming_parse_spec gives; no
 * backup: the newest, checked against the image's head object as restore does): its
 * catalog, chain and chunk indexes, merged. o NULL: defaults. Returns 0 with *out set,
 * or the exit code of the failure (AG_ENOTFOUND for an unknown image or backup,
 * AG_EINTEGRITY for a damaged chain, AG_EKEY, ...) with its one-line text in
 * why[0..whylen); ctx's error is left clean either way. ctx must outlive the reader;
 * free it with reader_close. */
int reader_open(ag_ctx *ctx, const naming_spec *spec, const reader_opts *o, reader **out,
                char *why, size_t whylen);

/* The image size of the point, its backup id and its manifest (valid while r is). */
uint64_t reader_size(const reader *r);
const char *reader_backup_id(const reader *r);
const manifest *reader_manifest(const reader *r);

/* Read [off, off + len) of the point into buf; what lies past the image's end is not
 * read. Returns the number of bytes read (0 at or past the end), or a negative code with
 * a one-line text in why: -EIO (the bucket could not be read), -EILSEQ (a chunk failed
 * its check: no byte of it is given out, nothing of buf is then to be used), -EINTR
 * (the process is stopping), -ENOMEM. A failure leaves the reader usable. */
ssize_t reader_read(reader *r, uint64_t off, void *buf, size_t len, char *why,
                    size_t whylen);

/* The counters so far. Cannot fail. */
void reader_stats_get(reader *r, reader_stats *out);

/* Run fn(ctx, arg) under the lock that guards ctx's S3 client from the readers: a
 * server's other use of ctx from several threads (listing the catalog) goes through here.
 * fn reports errors with ag_fail as usual; they are taken into why (whylen bytes) and
 * ctx is left clean. Returns 0, or the exit code of fn's error. */
int reader_with_ctx(ag_ctx *ctx, int (*fn)(ag_ctx *ctx, void *arg), void *arg, char *why,
                    size_t whylen);

/* Free the reader and its cache. Safe on NULL. */
void reader_close(reader *r);

#endif
