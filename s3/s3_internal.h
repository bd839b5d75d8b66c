/* s3_internal.h - what the files of the s3 module share; not part of the public contract. */
#ifndef RBD2S3_S3_INTERNAL_H
#define RBD2S3_S3_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <curl/curl.h>

#include "s3/s3.h"

#define S3_DEFAULT_RETRIES     100000   /* in effect no bound: the retry time ends first */
#define S3_DEFAULT_RETRY_MS    60000    /* rides through an endpoint restart */
#define S3_DEFAULT_DEADLINE_MS 120000
#define S3_DEADLINE_SLACK_MS   60000    /* deadline beyond a long retry time */
#define S3_PREALLOC_MAX        (1024 * 1024) /* reserved ahead of data on Content-Length */
#define S3_DEFAULT_CONNS       8
#define S3_DEFAULT_LIST_KEYS   1000
#define S3_BACKOFF_BASE_MS     100
#define S3_BACKOFF_CAP_MS      5000
#define S3_ERRBODY_MAX         (64 * 1024)        /* error documents are small */
#define S3_XMLBODY_MAX         (32 * 1024 * 1024) /* a listing page of 1000 long keys */
#define S3_GET_MAX_DEFAULT     ((size_t)1 << 30)
#define S3_KEY_MAX             1024
/* x-amz-copy-source "/BUCKET/KEY": a bucket name (at most 63 bytes) and a key, each byte
 * URI-encoded to at most 3, two slashes and the NUL. */
#define S3_COPY_SOURCE_MAX     (2 + 3 * 63 + 3 * S3_KEY_MAX + 1)
#define S3_LOW_SPEED_BYTES     1024     /* below this many bytes/s ... */
#define S3_LOW_SPEED_SECS      30       /* ... for this long, an attempt is stalled */

/* ---- strbuf.c: a bounded string builder ---- */

/* A NUL-terminated growable string that never grows past max bytes. After a failed
 * append, err holds -ENOMEM or -ENOSPC and every later append is a no-op. */
typedef struct s3_sb {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    int err;
} s3_sb;

void s3_sb_init(s3_sb *b, size_t max);
int s3_sb_add(s3_sb *b, const void *s, size_t n);
int s3_sb_adds(s3_sb *b, const char *s);
int s3_sb_addf(s3_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s3_sb_free(s3_sb *b);

/* Make room for len + extra bytes in b, never past max; 0, -ENOMEM or -EFBIG. */
int s3_buf_reserve(s3_buf *b, size_t extra, size_t max);

/* Copy src into dst (size dstsz), truncating; dst is always NUL-terminated. */
void s3_strlcpy(char *dst, const char *src, size_t dstsz);

/* The ETag S3 gives an object completed from these parts: the hex MD5 of the parts'
 * binary MD5s, "-", the part count. 0, or -EINVAL when a part's ETag is not a hex MD5
 * (an encrypted or otherwise opaque ETag: nothing to compare with). */
int s3_multipart_etag(const s3_part *parts, int nparts, char out[S3_ETAG_MAX]);

/* ---- errors.c: mapping of answers to the codes of s3.h ---- */

/* The negative code for an HTTP status and S3 error code ("" or NULL if none). */
int s3_err_from_http(int http_status, const char *code);
/* 1 if an answer with this status and S3 code is worth another attempt. */
int s3_err_http_retryable(int http_status, const char *code);
/* The negative code for a failed transfer (a CURLcode). */
int s3_err_from_curl(int curl_code);
/* 1 if a transfer that failed with this CURLcode is worth another attempt. */
int s3_err_curl_retryable(int curl_code);

/* ---- redact.c: the one place that knows what a secret looks like ---- */

/* Register / forget a string that must never be logged (the client's secret key and
 * session token). Registration failure is harmless: the pattern checks still apply. */
void s3_redact_register(const char *secret);
void s3_redact_unregister(const char *secret);

/* ---- xml.c: responses by path, and the CompleteMultipartUpload body ---- */

/* What a listing page skipped: entries whose key could not be decoded. */
typedef struct s3_list_skip {
    size_t count;              /* entries skipped on this page */
    char first[128];           /* the first one's raw text, escaped, truncated */
} s3_list_skip;

/* Decode a percent-encoded value of a listing with encoding-type=url ('+' is a space)
 * into a malloc'ed *out. -EINVAL for a bad escape, a NUL or a result over max bytes,
 * -ENOMEM; 0 otherwise. */
int s3_url_decode(const char *in, size_t max, char **out);

/* Copy s into dst (size dstsz) with bytes outside printable ASCII as \xHH; truncated. */
void s3_escape_text(const char *s, char *dst, size_t dstsz);

/* 1 if body is an <Error> document (code and message copied, truncated), else 0. */
int s3_xml_error(const void *body, size_t len, char *code, size_t codesz,
                 char *msg, size_t msgsz);

/* InitiateMultipartUploadResult/UploadId into a malloc'ed *upload_id.
 * 0, -EINVAL (not that document, or no id) or -ENOMEM. */
int s3_xml_upload_id(const void *body, size_t len, char **upload_id);

/* Read a result document that carries an ETag: root_name (CompleteMultipartUploadResult,
 * CopyPartResult, CopyObjectResult) with its ETag (no quotes) into etag: 0, or -EINVAL
 * when the ETag is empty unless etag_optional. An <Error> document gives its mapped code
 * with err filled (http status 200, code InternalError when it has none); anything else
 * -EINVAL, with err saying "malformed ROOT_NAME". */
int s3_xml_etag_result(const void *body, size_t len, const char *root_name,
                       int etag_optional, char etag[S3_ETAG_MAX], s3_error *err);

/* Walk one ListBucketResult page: cb gets Contents and CommonPrefixes merged in key
 * order. *truncated and *next_token (malloc'ed or NULL) describe the next page. When
 * cb returns non-zero the walk stops and *cb_rc holds that value.
 * Returns 0, -EINVAL (malformed) or -ENOMEM. */
int s3_xml_list_page(const void *body, size_t len, s3_list_cb cb, void *arg,
                     int *truncated, char **next_token, int *cb_rc);
/* The same, and: a page that says <EncodingType>url</EncodingType> has its keys and
 * prefixes percent-decoded; an entry whose key is missing or cannot be decoded is
 * skipped and counted in *skip (may be NULL). *last_key (may be NULL) gets, malloc'ed,
 * where a ListObjects (v1) listing goes on from: the page's NextMarker when it has one,
 * else its greatest key, a skipped entry's included (decoded when it can be, else as
 * sent); NULL for a page without either. */
int s3_xml_list_page_ex(const void *body, size_t len, s3_list_cb cb, void *arg,
                        int *truncated, char **next_token, int *cb_rc,
                        s3_list_skip *skip, char **last_key);

/* The CompleteMultipartUpload request body for parts (ascending numbers), malloc'ed,
 * its length in *len. NULL on -EINVAL (order, numbers) or out of memory. */
char *s3_xml_complete_body(const s3_part *parts, int nparts, size_t *len);

/* An ISO 8601 UTC time "2009-10-12T17:50:30.000Z" as time_t; 0 if malformed. */
time_t s3_xml_parse_time(const char *s);

/* DeleteObjects body for keys[0..n) in Quiet mode, malloc'ed, its length in *len. Keys
 * are XML-escaped (&<>"' and tab/CR/LF as character references). NULL on -EINVAL (n not
 * 1..1000, an empty or too long key, a control character XML 1.0 cannot carry) or
 * out of memory. */
char *s3_xml_delete_body(const char *const *keys, size_t n, size_t *len);

/* Read a DeleteResult: *nfailed = the number of its <Error> entries (NoSuchKey ones
 * excepted: a missing key counts as deleted). When > 0, first gets the first failure:
 * code, message "KEY: CODE MESSAGE", http status 200. 0, or -EINVAL (malformed). */
int s3_xml_delete_result(const void *body, size_t len, size_t *nfailed, s3_error *first);

/* Walk one ListMultipartUploadsResult page in document order. *truncated and the
 * markers for the next page (malloc'ed or NULL: NextKeyMarker/NextUploadIdMarker, else
 * the last entry's key and upload id) describe what follows. When cb returns non-zero
 * the walk stops and *cb_rc holds that value. 0, -EINVAL (malformed) or -ENOMEM. */
int s3_xml_uploads_page(const void *body, size_t len, s3_upload_cb cb, void *arg,
                        int *truncated, char **next_key, char **next_upload_id,
                        int *cb_rc);
/* The same, with keys (and NextKeyMarker) percent-decoded when the page says
 * <EncodingType>url</EncodingType>; an Upload whose key or id is missing or cannot be
 * decoded is skipped and counted in *skip (may be NULL) instead of failing the page. */
int s3_xml_uploads_page_ex(const void *body, size_t len, s3_upload_cb cb, void *arg,
                           int *truncated, char **next_key, char **next_upload_id,
                           int *cb_rc, s3_list_skip *skip);

/* ---- copy.c ---- */

/* ---- versions.c ---- */

/* Walk one ListVersionsResult page in document order (Version and DeleteMarker entries;
 * keys percent-decoded when the page says <EncodingType>url</EncodingType>); an entry
 * whose key or version id is missing or cannot be decoded is skipped and counted in
 * *skip (may be NULL). *truncated, and the markers of the next page (malloc'ed or NULL:
 * the last reported entry's key and id, else the page's NextKeyMarker and
 * NextVersionIdMarker). When cb returns non-zero the walk stops and *cb_rc holds that
 * value. 0, -EINVAL (malformed) or -ENOMEM. */
int s3_xml_versions_page(const void *body, size_t len, s3_version_cb cb, void *arg,
                         int *truncated, char **next_key, char **next_id, int *cb_rc,
                         s3_list_skip *skip);

/* ---- engine.c: requests on the client's multi handle ---- */

enum s3_sink {
    S3_SINK_NONE = 0,   /* body discarded (counted) */
    S3_SINK_BUF,        /* into a growable s3_buf, bounded */
    S3_SINK_DST         /* into a caller buffer, exactly expect_len bytes */
};

enum {
    S3_REQ_XML_ERR200 = 1 << 0,  /* a 200 answer may carry an <Error> document */
    S3_REQ_PRIORITY   = 1 << 1,  /* start before queued requests (synchronous calls) */
    S3_REQ_RANGE_EXACT = 1 << 2, /* a body of another length than expect_len is an error */
    S3_REQ_LOCK       = 1 << 3   /* creates an object: carries the client's Object Lock */
};

/* The Object Lock headers of an answer (HEAD). */
typedef struct s3_lock_info {
    int mode;                  /* S3_LOCK_* */
    time_t until;              /* 0 when none */
} s3_lock_info;

typedef struct s3_req s3_req;
typedef void (*s3_req_done)(s3_req *r);

/* What a caller asks of the engine; the engine copies the strings, not the body. */
typedef struct s3_req_spec {
    const char *method;        /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *key;           /* object key, or NULL for the bucket itself */
    const char *query;         /* already URI-encoded "a=b&c" or NULL */
    const char *range;         /* Range header value or NULL */
    const char *content_type;  /* or NULL */
    const char *content_md5;   /* Content-MD5 header value (base64), signed; or NULL */
    const char *storage_class; /* x-amz-storage-class of the object created, or NULL */
    const void *body;          /* must stay valid until done runs */
    size_t body_len;
    int sink;
    s3_buf *buf;               /* S3_SINK_BUF */
    size_t buf_max;
    void *dst;                 /* S3_SINK_DST */
    size_t dst_cap;
    size_t expect_len;
    int flags;
    s3_req_done done;          /* runs inside s3_async_run(); then the request is freed */
    void *arg;
    s3_lock_info *lock_out;    /* or NULL: the answer's Object Lock headers go here */
    s3_done_cb user_cb;        /* for the public async calls */
    void *user_arg;
    /* server-side copy (copy.c): x-amz-copy-source and x-amz-copy-source-range values,
     * signed; NULL: not sent */
    const char *copy_source;
    const char *copy_range;
} s3_req_spec;

struct s3_req {
    s3_req *next;
    s3_client *c;
    s3_req_spec s;                 /* strings below replace the caller's */
    char *url;
    char *path;                    /* canonical URI, "/bucket/key" encoded */
    char *query;                   /* "" if none */
    char *range;
    char *content_type;
    char *content_md5;
    char *storage_class;
    char *copy_source;             /* server-side copy headers (copy.c), or NULL */
    char *copy_range;
    char payload_sha[65];          /* computed once per request, not per attempt */
    /* per attempt */
    CURL *easy;
    struct curl_slist *hdrs;
    size_t body_pos;
    int status;
    int64_t content_length;        /* -1 unknown */
    size_t got;
    s3_buf errbody;
    int too_big;
    int too_long;
    char curl_err[CURL_ERROR_SIZE];
    /* per attempt, under a bandwidth limit (ratelimit.c) */
    int limited;                   /* a limit was set: the engine, not curl, checks the
                                    * deadline and stalls, paused time not counted */
    int throttled;                 /* S3_RATE_* directions paused, waiting for tokens */
    int64_t throttled_ms;          /* since when */
    uint64_t moved;                /* bytes sent and received (headers too) */
    int64_t stall_mark_ms;         /* the stall check's window starts here ... */
    uint64_t stall_mark_bytes;     /* ... at this many bytes moved */
    /* across attempts */
    int attempts;
    int64_t started_ms;            /* first attempt; 0 before */
    int64_t first_fail_ms;         /* end of the first failed attempt; 0 before */
    int64_t deadline_ms;
    int64_t not_before_ms;
    int64_t attempt_start_ms;
    /* outcome */
    int rc;
    s3_error err;
    char etag[S3_ETAG_MAX];
};

/* Test hooks: a signing clock and the backoff shape (0 keeps the default). */
typedef struct s3_test_hooks {
    time_t (*wallclock)(void *arg);
    void *wallclock_arg;
    int backoff_base_ms;
    int backoff_cap_ms;
    int backoff_min_ms;        /* floor on every wait (full jitter has none by default) */
} s3_test_hooks;

/* Bodies at least this long may go unsigned (s3_config.payload_signing). */
#define S3_UNSIGNED_MIN (64u << 10)

struct s3_client {
    s3_config cfg;              /* strings are owned copies */
    char *origin;               /* "http://host:port", no trailing slash */
    char *host;                 /* the Host header value */
    char *base_path;            /* "" or "/prefix" of the endpoint */
    char *bucket_enc;           /* URI-encoded bucket */
    int virtual_host;           /* 1: BUCKET.HOST, the bucket not in the path */
    int list_v1;                /* list with ListObjects (v1), for good: set once a first
                                 * page's ListObjectsV2 got one 501 (or 400
                                 * NotImplemented) or a v1 document, or s3_bucket_check
                                 * found v1 only; never cleared (list.c) */
    CURLM *multi;
    CURL **idle;                /* reusable easy handles */
    int nidle;
    s3_req *wait_head;          /* queued, or waiting for a retry timer */
    s3_req *wait_tail;
    s3_req *run_head;           /* attached to the multi handle */
    s3_req *run_tail;
    s3_req *done_head;          /* finished, callback not yet run */
    s3_req *done_tail;
    int running;                /* attached to the multi handle */
    int pending;                /* submitted, callback not yet run */
    volatile sig_atomic_t cancelled;
    atomic_int woken;           /* s3_async_wakeup() since the last poll */
    uint64_t rng;
    int trace;                  /* RBD2S3_S3_TRACE: 1 requests, 2 also headers (redacted) */
    int unsigned_payload;       /* large bodies go as UNSIGNED-PAYLOAD (see s3_config) */
    int lock_mode;              /* S3_LOCK_*: retention of the objects created */
    time_t lock_until;
    s3_test_hooks hooks;
};

/* (addressing.c) The canonical path ("/BUCKET/KEY" encoded, or "/KEY" when virtual-hosted,
 * after the endpoint's prefix) of a request on key (NULL: the bucket) into path and its URL
 * (with ?query when not NULL or empty) into url; both initialised here, the caller frees
 * them (s3_sb_free) whatever the outcome. 0, -ENOMEM or -ENOSPC. */
int s3_req_target(const s3_client *c, const char *key, const char *query, s3_sb *path,
                  s3_sb *url);

/* Queue a request. 0 (done will run exactly once), -EINVAL or -ENOMEM (it will not). */
int s3_engine_submit(s3_client *c, const s3_req_spec *spec);

/* Drive the engine as s3_async_run() does; also returns early once *stop is set. */
int s3_engine_run(s3_client *c, int timeout_ms, volatile int *stop);

/* Tear down the requests and handles of a client (for s3_client_free). */
void s3_engine_destroy(s3_client *c);

/* The backoff before attempt `attempt + 1`, in ms (full jitter). */
int s3_engine_backoff_ms(s3_client *c, int attempt);

/* The upper bound of that backoff: base * 2^(attempt-1), at most cap (full jitter draws
 * from [0, bound]). */
int64_t s3_backoff_bound_ms(int64_t base, int64_t cap, int attempt);

/* The wait before the next attempt of a request that failed at now_ms, its first failure
 * at first_fail_ms, with backoff_ms drawn: backoff_ms, shortened so that the last attempt
 * starts when the retry time ends; -1 when the retry time is over. */
int64_t s3_retry_wait_ms(int64_t now_ms, int64_t first_fail_ms, int64_t retry_ms,
                         int64_t backoff_ms);

/* Bytes to reserve for a body before its data arrives, given its Content-Length (-1
 * unknown) and the request's bound: never more than S3_PREALLOC_MAX (a lying length
 * costs nothing), 0 when unknown or over max. */
size_t s3_prealloc_size(int64_t content_length, size_t max);

/* ---- transfer.c: one attempt's easy handle ---- */

/* Forget the response of a previous attempt (status, headers, body written so far). */
void s3_transfer_reset(s3_req *r);

/* Sign r for this attempt and build its header list in r->hdrs. 0, -ENOMEM or -EINVAL
 * (a header over 1 MiB, or signing failed); r->hdrs is unchanged on failure. */
int s3_transfer_sign(s3_client *c, s3_req *r);

/* Set up easy handle e for r: URL, headers, timeouts (remaining ms of the deadline), TLS
 * and the callbacks. 0, -ENOMEM or -EINVAL; the caller resets e on failure. */
int s3_transfer_setup(s3_client *c, s3_req *r, CURL *e, int64_t remaining);

/* Tell the client's warn callback (if any) msg; printf-style. */
void s3_warn(s3_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- ops.c: the helpers of the synchronous operations (also for bucket_ops.c) ---- */

/* Submit spec (done and arg are set here) and drive the engine until it finished;
 * err gets the outcome. Returns 0 or a negative code. */
int s3_sync_request(s3_client *c, s3_req_spec *spec, s3_error *err);
/* Fill err (if any) with msg and no HTTP status; returns rc. */
int s3_op_fail(s3_error *err, int rc, const char *msg);
/* Warn (s3_warn) about the entries a listing page skipped, if any; what names the
 * listing. */
void s3_warn_skipped(s3_client *c, const char *what, const s3_list_skip *skip);
/* s3_get, s3_head (also the retention, *retain_until may be NULL) and s3_async_get_range
 * with a query ("versionId=..." already encoded, or NULL): the bodies of those calls. */
int s3_op_get(s3_client *c, const char *key, const char *query, uint64_t off, uint64_t len,
              size_t max_size, s3_buf *out, s3_error *err);
int s3_op_head(s3_client *c, const char *key, const char *query, uint64_t *size,
               char etag[S3_ETAG_MAX], time_t *retain_until, s3_error *err);
int s3_op_get_range(s3_client *c, const char *key, const char *query, uint64_t off,
                    uint64_t len, void *dst, size_t cap, s3_done_cb done, void *arg);
/* GET one page of a listing by markers (ListMultipartUploads, ListObjectVersions) into
 * *page (the caller frees it): the query is "encoding-type=url&<sub>=<list max keys>"
 * (sub: "uploads&max-uploads", "versions&max-keys"), then prefix, key-marker and id_name
 * (the id marker's parameter) with their values URI-encoded, each only when neither NULL
 * nor empty. 0, or -errno with err filled. */
int s3_marker_page(s3_client *c, const char *sub, const char *prefix, const char *key_marker,
                   const char *id_name, const char *id_marker, s3_buf *page, s3_error *err);
/* s URI-encoded for a query string, malloc'ed; NULL when out of memory. */
char *s3_query_enc(const char *s);
/* A query string: fixed, then "&NAME=VALUE" (VALUE URI-encoded) for each of the npairs
 * name/value pairs whose value is neither NULL nor empty, in that order (sigv4.c sorts
 * the parameters for the signature); malloc'ed, NULL when out of memory or too long. */
char *s3_query_build(const char *fixed, const char *const *pairs, int npairs);

/* ---- retention.c ---- */

/* "GOVERNANCE" / "COMPLIANCE" for a mode, NULL for S3_LOCK_NONE or an unknown one. */
const char *s3_lock_mode_name(int mode);
/* t as "2026-12-04T01:02:03.000Z" into out[32]. */
void s3_lock_time(time_t t, char out[32]);

/* ---- ratelimit.c: the bandwidth limits (s3_set_rate_limits) ---- */

enum { S3_RATE_UP = 1, S3_RATE_DOWN = 2 };   /* request bodies sent, answers received */

/* A token bucket of rate bytes/s holding at most burst tokens (half a second's worth);
 * tokens below 0 are a debt that later takes wait out. Pure: the clock is passed in. */
typedef struct s3_tbucket {
    uint64_t rate;             /* 0: no limit */
    double tokens;
    double burst;
    int64_t last_ns;           /* tokens were added up to this time */
} s3_tbucket;

/* An empty bucket of this rate at now_ns (no burst at the start). Cannot fail. */
void s3_tbucket_init(s3_tbucket *b, uint64_t rate, int64_t now_ns);
/* Take n bytes at now_ns: 1 when some tokens are there (the whole n is taken, the tokens
 * may go below 0), 0 when none are (nothing taken). Always 1 at rate 0. */
int s3_tbucket_take(s3_tbucket *b, int64_t now_ns, size_t n);
/* ns from now_ns until a take succeeds; 0: now. */
int64_t s3_tbucket_wait_ns(s3_tbucket *b, int64_t now_ns);
/* The most bytes one read callback sends at this rate: an eighth of a second's worth,
 * 1 KiB to 64 KiB (also curl's receive buffer under a download limit). */
size_t s3_rate_chunk(uint64_t rate);

/* The directions (S3_RATE_*) limited now; 0 when none. Lock-free. */
int s3_rate_active(void);
/* The limit of one direction in bytes/s; 0: none. Lock-free. */
uint64_t s3_rate_of(int dir);
/* Take n bytes of direction dir from the process's bucket: 1 granted (always when dir is
 * not limited), 0: pause the transfer (s3_rate_pause) and offer them again later. */
int s3_rate_take(int dir, size_t n);
/* From a curl callback of r that returns a pause: remember the direction and when. */
void s3_rate_pause(s3_req *r, int dir);
/* Before an attempt of r starts: whether it runs under a limit, counters reset. */
void s3_rate_attempt_start(s3_req *r, int64_t now_ms);
/* r is paused no more (resumed, or its attempt ends): the time since r->throttled_ms
 * counts neither against its deadline nor as a stall. Nothing when r is not paused. */
void s3_rate_unpause(s3_req *r, int64_t now_ms);
/* For the engine, each turn: go on with c's paused transfers whose tokens are there
 * (their deadline and stall window move by the time paused); returns a running request
 * that must end now with *cc (past its deadline or stalled: CURLE_OPERATION_TIMEDOUT,
 * message in curl_err; or curl's refusal to go on), NULL when none. */
s3_req *s3_rate_tick(s3_client *c, int64_t now_ms, CURLcode *cc);
/* ms until the first of c's paused transfers may go on; -1 when none is paused. */
int64_t s3_rate_poll_ms(s3_client *c);

/* Install test hooks on a client (tests only). */
void s3_test_set_hooks(s3_client *c, const s3_test_hooks *h);

#endif
