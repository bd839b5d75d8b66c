/* context.h - what the agent's commands share: options, the run context, errors and exit codes. */
#ifndef RBD2S3_CONTEXT_H
#define RBD2S3_CONTEXT_H

#include "config.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "s3/s3.h"
#include "rbdio/rbdio.h"
#include "agent/format/naming.h"
#include "agent/format/manifest.h"

/* json-c flags for documents printed on stdout. */
#define AG_JSON_OUT (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Exit codes (documented in the README and the man page). */
enum ag_exit {
    AG_OK = 0,
    AG_EFAIL = 1,        /* any other failure */
    AG_EUSAGE = 2,       /* bad command line or configuration */
    AG_ENOTFOUND = 3,    /* pool, namespace, image, snapshot or backup not found */
    AG_EACCESS = 4,      /* S3 access denied / bad credentials */
    AG_ENOBUCKET = 5,    /* the bucket does not exist */
    AG_EUNREACH = 6,     /* S3 endpoint unreachable or timed out */
    AG_EEXIST = 7,       /* destination already exists */
    AG_EINTEGRITY = 8,   /* checksum mismatch, missing or damaged object */
    AG_ECEPH = 9,        /* Ceph cluster unreachable */
    AG_EINTR = 10,       /* interrupted by a signal */
    AG_EBUSY = 11,       /* another backup of the image is running */
    AG_EKEY = 12,        /* an encrypted backup and no configured key opens it */
};

/* Tunables (config file and command line). */
typedef struct ag_tun {
    int threads;            /* compression / decompression workers */
    uint64_t chunk_size;    /* bytes per chunk */
    uint64_t sparse_size;   /* zero runs inside a chunk are found at this granule */
    uint64_t part_size;     /* multipart part size */
    int parts_in_flight;    /* concurrent part uploads */
    int reads_in_flight;    /* concurrent aio reads (backup) */
    int writes_in_flight;   /* concurrent aio writes (restore) */
    int gets_in_flight;     /* concurrent ranged GETs (restore) */
    uint64_t fetch_size;    /* bytes per ranged GET (restore) */
    uint64_t pack_size;     /* a data object is rotated past this size */
    int chunk_digest;       /* digest_kind of new chunks: DIGEST_XXH3 (0) or DIGEST_SHA256 */
} ag_tun;

/* Retention and chain policy. -1 = not set here (the next source decides; at the end
 * unset means 0 = not used). Sources, weakest first: [global], [pool:NAME], command. */
typedef struct ag_policy {
    int keep_last, keep_daily, keep_weekly, keep_monthly;
    long long full_every;       /* seconds: a chain whose full is older gets a new full */
    int max_chain;              /* backups in a chain (the full counts) */
    long long due;              /* seconds: `run` skips an image whose newest backup is
                                 * younger (0: always due) */
} ag_policy;

#define AG_MAX_POOLS 64
#define AG_JOBS_MAX 64          /* run --jobs: at most this many backups at once */
typedef struct ag_pool_conf {
    const char *name;           /* the pool (or POOL/NAMESPACE) of a [pool:NAME] section */
    ag_policy pol;
    char *images;               /* `run`: "*" or a comma-separated list; NULL: not run */
    char *exclude;              /* comma-separated images `images = *` leaves out */
    int win_start, win_end;     /* backup window, minutes after local midnight; -1: none */
    /* protect: labels = KEY=VALUE,...: recorded in the backups `run` makes (malloc'ed,
     * freed by ag_ctx_close); NULL: none */
    labels_set *labels;
} ag_pool_conf;

typedef struct ag_opts {
    const char *config;
    const char *ceph_conf;
    const char *id;
    const char *endpoint;
    const char *bucket;
    const char *prefix;
    const char *region;
    const char *access_key;     /* from env or config file, never argv */
    const char *secret_key;
    const char *session_token;
    const char *ca_file;
    const char *payload_signing; /* auto | signed | unsigned */
    const char *retry_time;     /* S3 retry time (a duration), checked by ag_s3() */
    const char *metrics_file;   /* run: Prometheus textfile written after the run */
    const char *serve_listen;   /* serve: [serve] listen = HOST:PORT; NULL: the default */
    const char *serve_token_file; /* serve: [serve] token file = PATH; NULL: none */
    int encryption;             /* encryption = aes-256-gcm (1) or none (0): new backups */
    const char *key_file;       /* master key file (a path; the key itself never in argv) */
    const char *passphrase_file; /* or a passphrase in this file (or RBD2S3_PASSPHRASE) */
    const char *old_key_files;  /* comma-separated earlier master keys, for reading */
    int object_lock;            /* S3_LOCK_*: retention of a backup's objects (object lock) */
    int object_lock_days;       /* object lock days: 1..36500, 0 when not set */
    int ceph_timeout;           /* seconds: bound of one Ceph operation (ceph timeout) */
    int abort_timeout;          /* seconds the cleanup may take after a signal (abort timeout) */
    uint64_t checkpoint_every;  /* backup: a checkpoint each time this many bytes were read */
    int resume_grace;           /* seconds a checkpoint may be resumed (resume grace) */
    int no_resume;              /* backup --no-resume: a checkpoint is removed, not resumed */
    int lock_duration;          /* seconds: the image lock's duration (default 300) */
    int lock_renewal;           /* seconds between its renewals; 0: lock_duration / 5 */
    const char *host;           /* host part of the lock cookie; NULL: gethostname() */
    int jobs;                   /* run: images backed up at once (jobs), 1..AG_JOBS_MAX */
    uint64_t memory_limit;      /* run: the process's memory budget (memory limit); 0: the
                                 * default (agent/backup/budget.h) */
    int snap_now;               /* snap cleanup = immediate: the agent's older snapshots
                                 * go right after the commit, not with the next snapshot */
    /* s3compat: S3 server compatibility */
    int addressing;             /* addressing auto|path|virtual: S3_ADDR_* */
    const char *storage_class;  /* storage class of the data objects; NULL: none sent */
    int insecure;
    int json;                   /* --format json */
    int progress;               /* 1 unless --no-progress or not a tty */
    int verbose;
    int quiet;
    /* copy (agent/command/copy/): the destination's credentials and region; NULL: the
     * source's. From the config file or RBD2S3_TO_* variables, never argv. */
    const char *to_access_key;
    const char *to_secret_key;
    const char *to_region;
    ag_tun tun;
    /* bandwidth limits of the whole process (limit upload, limit download), bytes/s;
     * 0: none (ag_parse_rate) */
    uint64_t limit_upload;
    uint64_t limit_download;
    ag_policy policy;           /* [global] */
    ag_pool_conf pools[AG_MAX_POOLS];
    int npools;
    /* protect: the labels a new backup records (backup --label, or its [pool:NAME]
     * labels under run); NULL: none. Not owned. */
    const labels_set *labels;
} ag_opts;

struct keyring;

/* The run context of one command. */
typedef struct ag_ctx {
    ag_opts opts;
    const char *command;        /* for error lines */
    s3_client *s3;              /* created on demand by ag_s3() */
    rbdio_cluster *src;         /* created on demand by ag_cluster() */
    struct keyring *keys;       /* master keys (agent/config/keyring.h); NULL: none */
    int want_keys;              /* set by main.c for a command that reads the bucket:
                                 * opts_parse_command loads keys once the command's
                                 * options (global ones too) are in */
    struct repo_asof *asof;     /* --as-of: each key's version then (agent/repo/asof.h,
                                 * which owns it); NULL: the latest of every key */
    const char *tag;            /* what this context works on (an image of run --jobs):
                                 * ag_info and ag_debug lines start with "tag: " unless
                                 * they name it already; NULL: none */
    int exit_code;              /* first error's code, AG_OK if none */
    char errmsg[1024];          /* first error's text */
} ag_ctx;

/* Set from the signal handler (agent/common/signals.c); checked by long loops. */
extern volatile sig_atomic_t ag_interrupted;
/* Have fn called each time an error records a Ceph timeout (ag_fail_rbd*): the watchdog
 * registers the start of its cleanup bound here, so that this layer calls nothing of
 * signals.c. NULL (the default): nothing is called. Set before any thread starts. */
void ag_on_ceph_timeout(void (*fn)(void));

/* Record an error (the first one wins) and return -1, so that callers can write
 * `return ag_fail(ctx, AG_ENOTFOUND, "image %s: not found", name);`. */
int ag_fail(ag_ctx *ctx, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record an S3 failure: maps rc to the exit code; what describes the operation. */
int ag_fail_s3(ag_ctx *ctx, int rc, const s3_error *err, const char *what);
/* Record a Ceph failure: maps rc (-ENOENT -> not found, ...) to the exit code. */
int ag_fail_rbd(ag_ctx *ctx, int rc, const char *what);
/* The same with the whole message given (an rbdio error taken on another thread). */
int ag_fail_rbd_why(ag_ctx *ctx, int rc, const char *text);

/* Warning line "rbd2s3: ..." on stderr, also with -q (bucket data in it is escaped). */
void ag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr unless -q (with ctx->tag, see ag_ctx). */
void ag_info(const ag_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic clock in seconds (for durations). */
double ag_now(void);
/* Debug line on stderr with -v. */
void ag_debug(const ag_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The S3 client, connected and the bucket checked, or NULL (error recorded). Its
 * warnings go to ctx: a copy of a context that opens the client must hand it back with
 * ag_adopt() before the copy ends. */
s3_client *ag_s3(ag_ctx *ctx);

/* ctx takes over the connections (S3 client, cluster) of sub, a copy of ctx about to
 * end; the client's warnings go to ctx from now on. Cannot fail. */
void ag_adopt(ag_ctx *ctx, const ag_ctx *sub);
/* The source cluster, or NULL (error recorded). */
rbdio_cluster *ag_cluster(ag_ctx *ctx);
void ag_ctx_close(ag_ctx *ctx);

/* Parse "4M", "1G", "512K", "123" into bytes; 0 or -EINVAL. */
int ag_parse_size(const char *s, uint64_t *out);
/* Parse a bandwidth limit: a size as ag_parse_size takes it (binary units: "20M" and
 * "20MB" are 20 MiB), optionally followed by "/s", in bytes per second; "0" is no limit,
 * anything else from AG_RATE_MIN to AG_RATE_MAX. 0 or -EINVAL. */
#define AG_RATE_MIN 1024ULL
#define AG_RATE_MAX (1ULL << 40)
int ag_parse_rate(const char *s, uint64_t *out);
/* Parse "90", "30s", "15m", "12h", "7d", "2w" into seconds; 0 or -EINVAL. */
int ag_parse_duration(const char *s, long long *out);
/* "1.50 GiB" into out. */
void ag_fmt_size(uint64_t v, char *out, size_t outsz);

/* The key prefix of an image in the bucket ("<prefix>/<pool>[/<ns>]/<image>/"). */
int ag_image_prefix(const ag_ctx *ctx, const naming_spec *spec, char *out, size_t outsz);

/* The key prefix a command scoped to spec lists under: spec's image prefix
 * (ag_image_prefix), or with spec NULL the whole configured prefix ("<prefix>/", or ""
 * when none is set). 0, or -1 with exit 2 recorded when it does not fit outsz (4096
 * always fits a legal name) or spec is not an image name. */
int ag_scope_prefix(ag_ctx *ctx, const naming_spec *spec, char *out, size_t outsz);

/* S3's limit on key length, and the most a backup adds to its image prefix
 * ("<id>/data.<n>" with the longest id and n, "<id>/manifest.json"). */
#define AG_KEY_MAX 1024
#define AG_KEY_TAIL_MAX (NAMING_ID_LEN + 16)
/* Before a new backup of spec: 0 if every key it could make fits AG_KEY_MAX, else -1
 * with exit 2 and a line saying so recorded. Backups already in the bucket are read
 * whatever their length. */
int ag_check_key_room(ag_ctx *ctx, const naming_spec *spec);

#endif
