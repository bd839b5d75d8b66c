/* s3.h - the public interface of the S3 client (libcurl multi + OpenSSL SigV4 + libxml2).
 *
 * The module knows nothing of Ceph or of manifests. Every function returns 0 on
 * success or a negative errno-style code; when an s3_error is passed it is filled
 * with the HTTP status, the S3 error code and message of the final attempt.
 * Requests are retried with jittered exponential backoff (5xx, SlowDown, 429,
 * connection errors) for up to a retry time counted from the request's first failed
 * attempt (an endpoint restart), under a deadline; each attempt is signed afresh.
 *
 * Negative codes used:
 *   -ENOENT     NoSuchKey / 404 on an object (or NoSuchUpload, NoSuchLifecycleConfiguration)
 *   -ENXIO      NoSuchBucket
 *   -EACCES     403 (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch)
 *   -EHOSTUNREACH  could not connect / resolve (after retries)
 *   -ETIMEDOUT  deadline passed, or a retryable failure (5xx, 429, a cut or timed-out
 *               transfer) still there when the retry time ran out
 *   -EPROTO     https: the server's certificate could not be verified (untrusted or
 *               expired chain, host name mismatch) or the CA file is unusable; final,
 *               never retried; the s3_error carries curl's text
 *   -EIO        any other failure (the s3_error says what)
 *   -EINVAL     bad arguments / malformed response
 *   -ENOMEM     out of memory
 *   -ECANCELED  cancelled by s3_client_cancel()
 */
#ifndef RBD2S3_S3_H
#define RBD2S3_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_ETAG_MAX 80

typedef struct s3_client s3_client;

/* How request bodies are covered by SigV4. AUTO signs the payload's SHA-256 over http
 * and sends UNSIGNED-PAYLOAD over https (TLS protects the body in transit), as the AWS
 * SDKs do; bodies under 64 KiB are always signed. */
enum { S3_PAYLOAD_AUTO = 0, S3_PAYLOAD_SIGNED = 1, S3_PAYLOAD_UNSIGNED = 2 };

/* Addressing of the bucket (s3_config.addressing). PATH: http://HOST/BUCKET/KEY. VIRTUAL:
 * http://BUCKET.HOST/KEY (Host header and TLS name BUCKET.HOST). AUTO: virtual-hosted for
 * AWS endpoint names (s3.amazonaws.com, s3.REGION..., s3-REGION..., dualstack,
 * *.amazonaws.com.cn) when the bucket can be a DNS label, path-style otherwise. */
enum { S3_ADDR_AUTO = 0, S3_ADDR_PATH = 1, S3_ADDR_VIRTUAL = 2 };

typedef struct s3_config {
    const char *endpoint;      /* "http://127.0.0.1:8000" or "https://host"; required */
    const char *region;        /* signing region; NULL means "us-east-1" */
    const char *bucket;        /* required; addressed as `addressing` says */
    const char *access_key;    /* required */
    const char *secret_key;    /* required; never logged */
    const char *session_token; /* optional (x-amz-security-token) */
    const char *ca_file;       /* optional CA bundle for https */
    int insecure;              /* 1 disables TLS verification (documented as unsafe) */
    int max_retries;           /* attempts after the first; 0 means no bound but the retry
                                * time (the default), < 0 none */
    int retry_time_ms;         /* retryable failures are retried until this long after the
                                * request's first failure; 0 means default (60000) */
    int deadline_ms;           /* per request, all attempts; 0 means default: 120000, or
                                * retry_time_ms + 60000 when that is longer */
    int max_conns;             /* connections in the pool; 0 means default (8) */
    int list_max_keys;         /* page size of ListObjectsV2 and ListMultipartUploads; 0 means
                                * 1000 (tests use small pages) */
    int payload_signing;       /* S3_PAYLOAD_AUTO (0), S3_PAYLOAD_SIGNED, S3_PAYLOAD_UNSIGNED */
    /* Optional: told about listing entries that were skipped (a key that cannot be
     * decoded); msg is one line, non-printable bytes escaped. NULL: not told. */
    void (*warn)(void *arg, const char *msg);
    void *warn_arg;
    int addressing;            /* S3_ADDR_AUTO (0), S3_ADDR_PATH or S3_ADDR_VIRTUAL */
} s3_config;

typedef struct s3_error {
    int http_status;   /* 0 when no HTTP answer was received */
    char code[64];     /* S3 error code, e.g. "NoSuchKey"; "" when none */
    char message[256]; /* S3 message or curl error text */
} s3_error;

/* Create a client; copies every string in cfg. Returns 0, -EINVAL or -ENOMEM.
 * The caller frees it with s3_client_free(). */
int s3_client_new(const s3_config *cfg, s3_client **out);
/* Requests still pending are completed with -ECANCELED (their callbacks run in here). */
void s3_client_free(s3_client *c);

/* Ask every running request and retry loop of this client to stop soon with
 * -ECANCELED. Async-signal-safe (sets a flag). */
void s3_client_cancel(s3_client *c);

/* Clear the cancel flag so that the client can be used again (e.g. to abort the
 * multipart uploads of an interrupted run). Not async-signal-safe to race with cancel. */
void s3_client_reset_cancel(s3_client *c);

/* From now on tell warnings (see s3_config.warn) to warn(arg); NULL warn: none. For a
 * client that outlives the object its warn_arg pointed to. Cannot fail. */
void s3_client_set_warn(s3_client *c, void (*warn)(void *arg, const char *msg), void *arg);

/* A human-readable one-line description of err (static or err-owned storage). */
const char *s3_strerror(int rc, const s3_error *err);

/* ---- Synchronous operations (each drives the client's multi handle until done) ---- */

/* Probe the bucket with a ListObjectsV2 max-keys=0. -ENXIO if it does not exist,
 * -EACCES for bad credentials, -EHOSTUNREACH if the endpoint cannot be reached. */
int s3_bucket_check(s3_client *c, s3_error *err);

/* PUT a whole object from memory, with Content-MD5 (and the client's Object Lock
 * retention, see s3_client_set_object_lock). etag_out (may be NULL) receives the ETag
 * without quotes. */
int s3_put(s3_client *c, const char *key, const void *data, size_t len,
           const char *content_type, char etag_out[S3_ETAG_MAX], s3_error *err);

/* A growable byte buffer returned by GET; free with s3_buf_free(). */
typedef struct s3_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} s3_buf;
void s3_buf_free(s3_buf *b);

/* GET a whole object (len == 0) or the range [off, off+len). The body is stored in
 * *out (initialised by the callee). max_size bounds the body (0 = 1 GiB): a larger
 * answer fails with -EFBIG. */
int s3_get(s3_client *c, const char *key, uint64_t off, uint64_t len,
           size_t max_size, s3_buf *out, s3_error *err);

/* HEAD an object: size and ETag (either may be NULL). -ENOENT if missing. */
int s3_head(s3_client *c, const char *key, uint64_t *size, char etag[S3_ETAG_MAX],
            s3_error *err);

/* HEAD an object's part number (?partNumber=N): *size gets that part's size for a
 * multipart object (the whole size for a plain one, or where the server ignores the
 * query: the caller checks it against the object). 0, -ENOENT if missing, or an error. */
int s3_head_part(s3_client *c, const char *key, int number, uint64_t *size, s3_error *err);

/* DELETE an object (missing is success, as in S3). */
int s3_delete(s3_client *c, const char *key, s3_error *err);

/* ListObjectsV2 over every page (continuation tokens followed internally), asked with
 * encoding-type=url so that any key survives (keys are decoded before the callback).
 * With a delimiter, common prefixes are reported with is_prefix = 1 and size 0.
 * An entry whose key cannot be decoded (bad escape, NUL, over 1024 bytes) is skipped
 * and reported through s3_config.warn. A listing that does not advance (a truncated page
 * that repeats the previous continuation token, or whose last key is not after the
 * previous page's last key) fails with -EINVAL and says so in err.
 * The callback returns 0 to go on, non-zero to stop (that value is returned). */
typedef struct s3_object_info {
    const char *key;
    uint64_t size;
    const char *etag;          /* without quotes; "" for prefixes */
    time_t last_modified;      /* 0 for prefixes */
    int is_prefix;
} s3_object_info;
typedef int (*s3_list_cb)(const s3_object_info *obj, void *arg);
int s3_list(s3_client *c, const char *prefix, const char *delimiter,
            s3_list_cb cb, void *arg, s3_error *err);

/* Multi-object delete (POST ?delete, Quiet, with Content-MD5) of keys[0..n), n 1..1000
 * (else -EINVAL, as for an empty key, one over 1024 bytes or with a control character
 * other than tab, CR, LF). Missing keys count as deleted. nfailed (may be NULL) gets the
 * number of keys the server refused; when > 0 the call returns -EIO and err describes the
 * first of them (code, message "KEY: CODE MESSAGE", HTTP status 200). When the request
 * itself fails, *nfailed = n and its code is returned. */
int s3_delete_many(s3_client *c, const char *const *keys, size_t n, size_t *nfailed,
                   s3_error *err);

/* ---- Bucket lifecycle configuration ---- */

/* GET the bucket's lifecycle configuration: the raw XML document into *out (initialised
 * by the callee, freed with s3_buf_free(); empty on failure). -ENOENT when the bucket has
 * none (NoSuchLifecycleConfiguration), -ENXIO when the bucket does not exist. */
int s3_get_lifecycle(s3_client *c, s3_buf *out, s3_error *err);

/* Replace the lifecycle configuration with the LifecycleConfiguration document
 * xml[0..len), sent with Content-MD5. A document the server refuses is -EINVAL
 * (MalformedXML, InvalidArgument, InvalidRequest). */
int s3_put_lifecycle(s3_client *c, const char *xml, size_t len, s3_error *err);

/* Keep libxml2 from printing on stderr: its encoding errors ignore XML_PARSE_NOERROR.
 * Installs a silent error handler for the calling thread and for threads created after;
 * idempotent, cannot fail. Creating a client calls it (so does nothing else need to). */
void s3_xml_silence(void);

/* Remove the lifecycle configuration (none is success). */
int s3_delete_lifecycle(s3_client *c, s3_error *err);

/* Object Lock */

/* The retention modes of S3 Object Lock. */
enum { S3_LOCK_NONE = 0, S3_LOCK_GOVERNANCE = 1, S3_LOCK_COMPLIANCE = 2 };

/* GetObjectLockConfiguration: *enabled = 1 when the bucket has Object Lock enabled, 0 when
 * it has none (ObjectLockConfigurationNotFoundError, or 501 NotImplemented from a server
 * without Object Lock). 0, or a negative code (err filled). */
int s3_get_object_lock(s3_client *c, int *enabled, s3_error *err);

/* From now on every object c creates (s3_put, s3_mpu_create) carries this retention:
 * x-amz-object-lock-mode and x-amz-object-lock-retain-until-date = until. S3_LOCK_NONE
 * (the default) sends neither. Cannot fail. */
void s3_client_set_object_lock(s3_client *c, int mode, time_t until);

/* PutObjectRetention (?retention, with Content-MD5) on the current version of key: mode
 * S3_LOCK_GOVERNANCE or S3_LOCK_COMPLIANCE until `until` (no bypass header: a retention
 * can be extended, never shortened). -EACCES when the server refuses (shorter than the
 * object's, or another mode), -EINVAL for bad arguments. */
int s3_put_retention(s3_client *c, const char *key, int mode, time_t until, s3_error *err);

/* HEAD key for its retention: *mode (S3_LOCK_NONE when it has none) and *until (0 when
 * none). -ENOENT when the key does not exist. */
int s3_head_retention(s3_client *c, const char *key, int *mode, time_t *until,
                      s3_error *err);

/* ---- Multipart upload ---- */

/* Start a multipart upload (with the client's Object Lock retention, if any); *upload_id
 * is malloc'ed, the caller frees it. */
int s3_mpu_create(s3_client *c, const char *key, char **upload_id, s3_error *err);

/* s3_mpu_create with x-amz-storage-class: storage_class (NULL: none sent, the server's
 * default, STANDARD). -EINVAL when it is not 1..64 of A-Z 0-9 _ (s3_storage_class_ok);
 * a class the server does not know is its refusal (-EINVAL, InvalidStorageClass). */
int s3_mpu_create_class(s3_client *c, const char *key, const char *storage_class,
                        char **upload_id, s3_error *err);

/* 1 when name can be a storage class: 1..64 characters of A-Z 0-9 _. Cannot fail. */
int s3_storage_class_ok(const char *name);

typedef struct s3_part {
    int number;                 /* 1..10000 */
    char etag[S3_ETAG_MAX];     /* without quotes */
} s3_part;

/* Complete with parts in ascending number order. etag_out (may be NULL) receives the
 * object's ETag. An <Error> inside a 200 answer is detected and reported. With the
 * client's Object Lock on, the object then gets that retention by PutObjectRetention too
 * (RGW 16 ignores the lock headers of CreateMultipartUpload); its failure is the call's. */
int s3_mpu_complete(s3_client *c, const char *key, const char *upload_id,
                    const s3_part *parts, int nparts, char etag_out[S3_ETAG_MAX],
                    s3_error *err);
int s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, s3_error *err);

/* ListMultipartUploads over every page (key-marker/upload-id-marker followed internally,
 * list_max_keys uploads a page; encoding-type=url, entries that cannot be decoded skipped
 * and reported as for s3_list; a truncated page that does not move the markers on is
 * -EINVAL): the uploads started and neither completed nor aborted
 * whose key begins with prefix (NULL or "" for all), in key order, then by initiation.
 * The strings of *u are valid during the callback only. The callback returns 0 to go on,
 * non-zero to stop (that value is returned). */
typedef struct s3_upload_info {
    const char *key;
    const char *upload_id;
    time_t initiated;          /* 0 if the server did not say */
} s3_upload_info;
typedef int (*s3_upload_cb)(const s3_upload_info *u, void *arg);
int s3_list_uploads(s3_client *c, const char *prefix, s3_upload_cb cb, void *arg,
                    s3_error *err);

/* ---- Asynchronous requests: several in flight on the client's multi handle ----
 *
 * A request is submitted with a completion callback; nothing happens until the
 * caller drives the engine with s3_async_run(). Callbacks run on the driving
 * thread, inside s3_async_run(). Only one thread may use a client at a time
 * (the synchronous calls above also drive the same engine). Buffers passed in
 * must stay valid until the callback ran. */

typedef struct s3_result {
    int rc;                     /* 0 or negative code as above */
    const s3_error *err;        /* valid during the callback */
    const char *etag;           /* ETag of a PUT/part (no quotes), or NULL */
    size_t body_len;            /* bytes stored into the GET destination */
} s3_result;
typedef void (*s3_done_cb)(const s3_result *res, void *arg);

/* Upload part `number` of an upload from data[0..len), with Content-MD5 (computed here,
 * on the calling thread). */
int s3_async_upload_part(s3_client *c, const char *key, const char *upload_id,
                         int number, const void *data, size_t len,
                         s3_done_cb done, void *arg);

/* The same with the base64 MD5 of data[0..len) already computed (s3_md5_base64), e.g.
 * on another thread: md5 is the Content-MD5 sent. */
int s3_async_upload_part_md5(s3_client *c, const char *key, const char *upload_id,
                             int number, const void *data, size_t len, const char *md5,
                             s3_done_cb done, void *arg);

/* The base64 MD5 of data into out[25] (a Content-MD5 value); "" on failure. Any thread. */
void s3_md5_base64(const void *data, size_t len, char out[25]);

/* GET [off, off+len) of key into dst (capacity cap >= len). A shorter or longer
 * body than len is an error (-EIO). */
int s3_async_get_range(s3_client *c, const char *key, uint64_t off, uint64_t len,
                       void *dst, size_t cap, s3_done_cb done, void *arg);

/* Number of requests submitted and not yet completed (including ones waiting for
 * a retry timer). */
int s3_async_pending(s3_client *c);

/* Drive the engine: wait up to timeout_ms for activity and run the callbacks of
 * the requests that finished. Returns the number of callbacks run (>= 0) or a
 * negative code on an internal failure. timeout_ms 0 does not block. */
int s3_async_run(s3_client *c, int timeout_ms);

/* Make a s3_async_run() that is waiting return now (or the next one return after one
 * pass). The one call that may come from any thread: for work that finishes elsewhere. */
void s3_async_wakeup(s3_client *c);

/* Drive until no request is pending. Returns 0 or a negative code. */
int s3_async_drain(s3_client *c);

/* Object versions */

/* One entry of ListObjectVersions: a Version or a DeleteMarker. The strings are valid
 * during the callback only; version_id is the server's ("null" for an object written
 * before versioning was enabled). */
typedef struct s3_version_info {
    const char *key;
    const char *version_id;
    const char *etag;          /* without quotes; "" for a delete marker */
    uint64_t size;             /* 0 for a delete marker */
    time_t last_modified;      /* 0 if the server did not say */
    int is_latest;
    int is_delete_marker;
} s3_version_info;
typedef int (*s3_version_cb)(const s3_version_info *v, void *arg);

/* ListObjectVersions over every page (key-marker/version-id-marker followed from the
 * last entry reported, list_max_keys entries a page, encoding-type=url) of the keys that
 * begin with prefix (NULL or "" for all): versions and delete markers in the server's
 * order (by key, newest first). An entry whose key cannot be decoded (as for s3_list)
 * or without a version id (or one over 1024 bytes) is skipped and reported through
 * s3_config.warn; a truncated page that does not move the markers on, or goes back,
 * fails with -EINVAL. The callback returns 0 to go on, non-zero to stop (that value is
 * returned). */
int s3_list_versions(s3_client *c, const char *prefix, s3_version_cb cb, void *arg,
                     s3_error *err);

/* s3_get, s3_head and s3_async_get_range of one version of key; version_id NULL is the
 * latest (the same request as the plain call). s3_head_version also gives the version's
 * Object Lock retention: *retain_until (may be NULL) is the time of its
 * x-amz-object-lock-retain-until-date, 0 when it has none. */
int s3_get_version(s3_client *c, const char *key, const char *version_id, uint64_t off,
                   uint64_t len, size_t max_size, s3_buf *out, s3_error *err);
int s3_head_version(s3_client *c, const char *key, const char *version_id, uint64_t *size,
                    char etag[S3_ETAG_MAX], time_t *retain_until, s3_error *err);
int s3_async_get_range_version(s3_client *c, const char *key, const char *version_id,
                               uint64_t off, uint64_t len, void *dst, size_t cap,
                               s3_done_cb done, void *arg);

/* The bucket's versioning state (GET ?versioning): *state 1 Enabled, 2 Suspended, 0
 * never enabled. */
int s3_get_versioning(s3_client *c, int *state, s3_error *err);

/* ---- Server-side copy ----
 *
 * From an object of another bucket (src_bucket) reachable with this client's endpoint and
 * credentials: the server moves the bytes. An <Error> document inside a 200 answer (S3
 * sends one when a long copy fails after the status went out) is the failure it names,
 * with http_status 200 in err; a 200 without the result document is -EINVAL. */

/* UploadPartCopy: part `number` (1..10000) of the multipart upload upload_id of key from
 * bytes [off, off+len) of src_key (x-amz-copy-source-range; len 0: the whole object).
 * etag_out receives CopyPartResult/ETag without quotes. 0 or a negative code. */
int s3_upload_part_copy(s3_client *c, const char *key, const char *upload_id, int number,
                        const char *src_bucket, const char *src_key, uint64_t off,
                        uint64_t len, char etag_out[S3_ETAG_MAX], s3_error *err);

/* CopyObject of src_key into key (at most 5 GiB, as S3 allows), with the client's Object
 * Lock retention like s3_put. etag_out receives CopyObjectResult/ETag without quotes
 * (a single-part source keeps its ETag). 0 or a negative code. */
int s3_copy_object(s3_client *c, const char *key, const char *src_bucket,
                   const char *src_key, char etag_out[S3_ETAG_MAX], s3_error *err);

/* ---- Bandwidth limits ----
 *
 * Process-wide limits in bytes per second over every client and thread: request bodies
 * are counted as they are sent, answers (bodies and error documents) as they are
 * received. A transfer that finds no tokens is paused and goes on when they are back; a
 * full bucket holds half a second's worth, an empty one is where a process starts. While
 * a limit is set, a request's deadline and the stall check (under 1 KiB/s for 30 s)
 * count only the time its transfer was not paused. */

/* Set the upload and download limits (0: none), from now on for every transfer that
 * starts (one paused under a limit now lifted goes on at once). Unchanged values keep
 * their bucket. Thread-safe; cannot fail. */
void s3_set_rate_limits(uint64_t up, uint64_t down);

/* ---- Pure helpers, exposed for unit tests and for the agent ---- */

/* Hex SHA-256 of data into out[65]. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

/* URI-encode per SigV4 (unreserved chars kept; '/' kept when keep_slash). Writes at
 * most outsz bytes including NUL; returns the length needed (like snprintf). */
size_t s3_uri_encode(const char *in, int keep_slash, char *out, size_t outsz);

/* A SigV4 request description for s3_sigv4_sign(). headers are "Name: value" lines in
 * any case and spacing; the signer lower-cases, trims, sorts and signs all of them. */
typedef struct s3_sigv4_req {
    const char *method;            /* "GET" */
    const char *host;              /* "examplebucket.s3.amazonaws.com" (with :port if any) */
    const char *path;              /* already URI-encoded absolute path, "/test.txt" */
    const char *query;             /* canonical or raw query "a=b&c=d" (sorted by signer), or "" */
    const char *const *headers;    /* "Name: value" strings, NULL-terminated, host excluded */
    const char *payload_sha256;    /* hex, or "UNSIGNED-PAYLOAD" */
    const char *region;
    const char *service;           /* "s3" */
    const char *access_key;
    const char *secret_key;
    time_t now;                    /* the signing time (fixed in tests) */
} s3_sigv4_req;

/* Compute the Authorization header value into auth (size authsz) and the
 * x-amz-date value into amz_date[17]. Returns 0 or -EINVAL/-ENOSPC. */
int s3_sigv4_sign(const s3_sigv4_req *req, char *auth, size_t authsz, char amz_date[17]);

/* ---- Addressing (addressing.c, pure) ---- */

/* 1 if bucket can be the first label of a virtual-hosted name: 3..63 characters of
 * a-z 0-9 - ., labels neither empty nor starting or ending with '-', not an IPv4
 * address, and (under https, where a wildcard certificate covers one label) no dot. */
int s3_bucket_dns_ok(const char *bucket, int https);

/* The style a client for endpoint and bucket uses with addressing mode (S3_ADDR_*): 1
 * virtual-hosted, 0 path-style; -EINVAL for a malformed endpoint, an unknown mode, or
 * S3_ADDR_VIRTUAL with a bucket that cannot be a DNS label or an IP-address endpoint. */
int s3_addressing_virtual(const char *endpoint, const char *bucket, int mode);

/* Replace secrets in a line for logging: returns a static "[redacted]" marker when
 * s looks like an Authorization header or contains the secret; otherwise s. */
const char *s3_redact(const char *s);

#endif
