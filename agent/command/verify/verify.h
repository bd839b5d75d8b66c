/* verify.h - the verify command's own header: its job, and the checks and report
 * that the files of agent/command/verify/ share. Private to that folder. */
#ifndef RBD2S3_VERIFY_H
#define RBD2S3_VERIFY_H

#include "agent/common/context.h"
#include "agent/repo/catalog.h"
#include "agent/restore/walk.h"

/* Source comparison outcome of a backup. */
enum { SRC_NONE = 0, SRC_SAME, SRC_GONE };

/* One run of verify: the backups in scope and what was found, per catalog entry. */
typedef struct verify_job {
    ag_ctx *ctx;
    int deep;
    int source;
    /* --sample (sample.c) */
    uint32_t sample_ppm;      /* --source --sample: parts per million, 0 for the whole */
    uint64_t seed;            /* the sample's seed (--seed, or /dev/urandom) */
    uint64_t *sampled;        /* per entry: bytes compared in its sample (malloc'ed) */
    naming_spec spec;
    int have_spec;
    catalog cat;
    int *in_scope;            /* per catalog entry */
    char **own;               /* per entry: damage of its own objects (malloc'ed) */
    char **chain;             /* per entry: damage through its chain (malloc'ed) */
    int *src;                 /* per entry: SRC_* */
    int *bad_in_scope;        /* per bad manifest */
    int devnull;              /* /dev/null open for writing, with --deep */
    char *head;               /* what is wrong with a head object (malloc'ed), or NULL */
    const char *as_of;        /* --as-of TIME, or NULL */
    int locked;               /* the bucket has Object Lock enabled */
    time_t *own_until;        /* locked: per entry, its objects' earliest retention */
    time_t *protected_until;  /* locked: per entry in scope, its chain's; 0 unprotected */
    labels_set filter;        /* --label: only backups with all of these (and their
                               * chains) are in scope; n 0: no filter */
} verify_job;

/* A malloc'ed formatted string (NULL when out of memory; the text is cut at 2 KiB). */
char *verify_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clear the error recorded in ctx (its exit code and message). */
void verify_clear_error(ag_ctx *ctx);

/* An integrity failure recorded in ctx becomes the text of a damage (*out, malloc'ed;
 * kept if already set) and the context is cleared so that the run goes on: 0. Any other
 * failure is left recorded and -1 is returned (S3 unreachable, access denied, out of
 * memory, interrupted). */
int verify_take_damage(ag_ctx *ctx, char **out);

/* objects.c: every object the manifest of entry i references exists with the recorded
 * size (one listing of its folder); a problem goes to v->own[i]. 0, or -1 with an S3
 * failure recorded. */
int verify_objects(verify_job *v, size_t i);

/* objects.c: the chain of entry i is complete and uses no damaged backup (v->own of
 * the others already set); a problem goes to v->chain[i]. Cannot fail. */
void verify_chain(verify_job *v, size_t i);

/* objects.c (--deep): the index of entry i against its SHA-256, and every chunk of it
 * restored into v->devnull; a problem goes to v->own[i]. 0, or -1 with a failure other
 * than damage recorded. */
int verify_deep(verify_job *v, size_t i);

/* compare.c (--source): the restored chain of entry i against its snapshot on the
 * source image, if the snapshot still exists: sets v->src[i], or a difference in
 * v->own[i]. 0, or -1 with a failure other than damage recorded. */
int verify_source(verify_job *v, size_t i);

/* compare.c: open the chain of entry i and its walk set, run fn on them and free them:
 * 0 (a damaged chain or fn's integrity failure is damage in v->own[i]), or -1 with
 * another failure recorded. fn returns 0 or -1 with the error recorded in ctx. */
typedef int (*verify_chain_fn)(verify_job *v, size_t i, walk_set *set, void *arg);
int verify_with_chain(verify_job *v, size_t i, verify_chain_fn fn, void *arg);

/* sample.c: the values of --sample PERCENT and --seed N (NULL when not given) into v
 * (the seed read from /dev/urandom without --seed; shown with -v). 0, or -1 recorded
 * (exit 2 for a bad value or one without --source). */
int verify_sample_opts(verify_job *v, const char *sample, const char *seed);

/* sample.c (--source --sample): a random sample of entry i (v->sample_ppm of its extents
 * of whole chunks, holes included) restored and compared with its snapshot open in img
 * (what: its name): sets v->src[i] and v->sampled[i], or a difference in v->own[i]. 0, or
 * -1 with a failure other than damage recorded. */
int verify_sample(verify_job *v, size_t i, rbdio_image *img, const char *what);

/* protect.c: when the bucket has Object Lock enabled (v->locked), until when each backup
 * in scope and its whole chain are protected (v->protected_until: the earliest
 * retain-until over every object of the chain still in the future, 0 when some object
 * has none or the chain is incomplete). One HEAD per object. 0, or -1 recorded. */
int verify_protection(verify_job *v);

/* report.c: print one line (or JSON object) per backup and damaged manifest in scope,
 * sorted by image and id; records AG_EINTEGRITY when any is damaged. Returns the number
 * of damaged rows, or -1 (out of memory, recorded). */
long verify_report(verify_job *v);

#endif
