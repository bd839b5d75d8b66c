/* redact.c - the one place that decides what must not reach a log line (secrets, signatures). */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"

#define REDACT_SLOTS 32
#define REDACT_MIN   4      /* shorter "secrets" would redact everything */

static pthread_mutex_t redact_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *redact_secrets[REDACT_SLOTS];

static const char redacted[] = "[redacted]";

void s3_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < REDACT_MIN)
        return;
    pthread_mutex_lock(&redact_lock);
    for (int i = 0; i < REDACT_SLOTS; i++) {
        if (!redact_secrets[i]) {
            redact_secrets[i] = secret;
            break;
        }
    }
    pthread_mutex_unlock(&redact_lock);
}

void s3_redact_unregister(const char *secret)
{
    if (!secret)
        return;
    pthread_mutex_lock(&redact_lock);
    for (int i = 0; i < REDACT_SLOTS; i++)
        if (redact_secrets[i] == secret)
            redact_secrets[i] = NULL;
    pthread_mutex_unlock(&redact_lock);
}

/* Case-insensitive substring search. */
static int contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (!strncasecmp(s, needle, n))
            return 1;
    return 0;
}

const char *s3_redact(const char *s)
{
    static const char *const markers[] = {
        "authorization:", "AWS4-HMAC-SHA256", "Signature=", "X-Amz-Signature",
        "x-amz-security-token", "aws_secret_access_key", NULL
    };
    int hit = 0;

    if (!s)
        return s;
    for (int i = 0; markers[i] && !hit; i++)
        hit = contains_ci(s, markers[i]);
    if (!hit) {
        pthread_mutex_lock(&redact_lock);
        for (int i = 0; i < REDACT_SLOTS && !hit; i++)
            hit = redact_secrets[i] && strstr(s, redact_secrets[i]) != NULL;
        pthread_mutex_unlock(&redact_lock);
    }
    return hit ? redacted : s;
}
