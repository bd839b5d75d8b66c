/* errors.c - map HTTP answers and transfer failures to the codes of s3.h; describe them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "s3/s3_internal.h"

static int code_is(const char *code, const char *const *list)
{
    if (!code || !*code)
        return 0;
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(code, list[i]))
            return 1;
    return 0;
}

static const char *const codes_noent[] = {
    "NoSuchKey", "NoSuchUpload", "NoSuchVersion", "NoSuchLifecycleConfiguration", NULL
};
static const char *const codes_nxio[] = { "NoSuchBucket", NULL };
static const char *const codes_acces[] = {
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
    "InvalidToken", "ExpiredToken", "InvalidSecurity", "RequestTimeTooSkewed", NULL
};
static const char *const codes_inval[] = {
    "InvalidArgument", "InvalidRequest", "MalformedXML", "InvalidPart", "InvalidPartOrder",
    "EntityTooSmall", "EntityTooLarge", "InvalidBucketName", "KeyTooLongError",
    "InvalidRange", "InvalidDigest", "BadDigest", "XAmzContentSHA256Mismatch",
    "InvalidStorageClass", NULL
};
static const char *const codes_retry[] = {
    "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
    "ThrottlingException", "RequestThrottled", "TooManyRequests", NULL
};

int s3_err_from_http(int http_status, const char *code)
{
    if (code_is(code, codes_noent))
        return -ENOENT;
    if (code_is(code, codes_nxio))
        return -ENXIO;
    if (code_is(code, codes_acces))
        return -EACCES;
    if (code_is(code, codes_inval))
        return -EINVAL;
    if (http_status == 404)
        return -ENOENT;
    if (http_status == 401 || http_status == 403)
        return -EACCES;
    if (http_status == 416)
        return -EINVAL;
    if (http_status >= 200 && http_status <= 299 && (!code || !*code))
        return 0;
    return -EIO;
}

int s3_err_http_retryable(int http_status, const char *code)
{
    if (code_is(code, codes_retry))
        return 1;
    if (http_status == 429)
        return 1;
    /* 501 Not Implemented and 505 HTTP Version Not Supported will not get better */
    return http_status >= 500 && http_status <= 599 && http_status != 501 && http_status != 505;
}

int s3_err_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    default:
        return -EIO;
    }
}

int s3_err_curl_retryable(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

static const char *rc_text(int rc)
{
    switch (rc) {
    case 0: return "success";
    case -ENOENT: return "no such object";
    case -ENXIO: return "no such bucket";
    case -EACCES: return "access denied";
    case -EHOSTUNREACH: return "endpoint unreachable";
    case -ETIMEDOUT: return "timed out";
    case -EIO: return "request failed";
    case -EINVAL: return "invalid request or response";
    case -ENOMEM: return "out of memory";
    case -ECANCELED: return "cancelled";
    case -EFBIG: return "answer too large";
    case -ENOSPC: return "value too long";
    case -EPROTO: return "TLS certificate verification failed";
    default: return "error";
    }
}

const char *s3_strerror(int rc, const s3_error *err)
{
    static _Thread_local char line[512];
    const char *base = rc_text(rc);

    if (!err || (!err->http_status && !err->code[0] && !err->message[0]))
        return base;
    int n = snprintf(line, sizeof(line), "%s", base);
    if (err->code[0] && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", err->code);
    if (err->http_status && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s(HTTP %d)",
                      err->code[0] ? " " : ": ", err->http_status);
    if (err->message[0] && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, ": %s", s3_redact(err->message));
    return line;
}
