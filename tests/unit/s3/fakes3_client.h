/* fakes3_client.h - the clients the s3 tests drive against the fake server: a ticking
 * clock (a retry's fresh signature is visible), short backoffs. The reset before each
 * test is fake_reset (fakes3_harness.h).
 *
 * Included after tests/unit/fakes3_harness.h by the s3 engine test programs (one copy per
 * program: everything here is static, and unused in some programs). */
#ifndef RBD2S3_FAKES3_CLIENT_H
#define RBD2S3_FAKES3_CLIENT_H

#include <stdint.h>
#include <time.h>

static time_t fake_now = 1700000000;

/* Each signature gets a later second, so that a retry's fresh signing is visible. */
static __attribute__((unused)) time_t ticking_clock(void *arg)
{
    (void)arg;
    return fake_now++;
}

static __attribute__((unused)) s3_client *client_with(const char *ep, const char *secret,
                                                      int retries, int deadline_ms, int conns)
{
    s3_config cfg = {
        .endpoint = ep, .bucket = BUCKET, .access_key = AK, .secret_key = secret,
        .max_retries = retries, .deadline_ms = deadline_ms, .max_conns = conns,
    };
    s3_test_hooks h = {
        .wallclock = ticking_clock, .backoff_base_ms = 5, .backoff_cap_ms = 40,
    };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    s3_test_set_hooks(c, &h);
    return c;
}

static __attribute__((unused)) s3_client *client(void)
{
    return client_with(endpoint, SK, 0, 0, 0);
}

static __attribute__((unused)) int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __attribute__((unused)) void fill(unsigned char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

#endif
