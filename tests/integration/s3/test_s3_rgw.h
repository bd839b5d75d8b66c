/* test_s3_rgw.h - what the two files of test_s3_rgw share: the check counters and macros,
 * the environment it runs against, and the helpers that make clients and keys. */
#ifndef RBD2S3_TEST_S3_RGW_H
#define RBD2S3_TEST_S3_RGW_H

#include <stdio.h>

#include "s3/s3.h"

extern int passed, failed;

#define CHECK(cond, ...) do {                                          \
        if (cond) {                                                    \
            passed++;                                                  \
        } else {                                                       \
            failed++;                                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                              \
            fputc('\n', stderr);                                       \
        }                                                              \
    } while (0)

#define CHECK_RC(rc, want, e) \
    CHECK((rc) == (want), "got %d (%s), want %d", (rc), s3_strerror((rc), (e)), (want))

extern const char *endpoint, *access_key, *secret_key, *bucket, *region;
extern char run[32];       /* a per-run key prefix */

/* A client of endpoint ep for bucket bkt (exits 1 when it cannot be made). */
s3_client *client_for(const char *ep, const char *bkt, const char *secret, int retries,
                      int list_keys, int conns);
/* The key "<run>/<what>". */
void key_of(char *out, size_t n, const char *what);

/* Listings against the real server (test_s3_rgw_list.c). */
void test_list(void);
void test_versions(void);
void test_list_uploads(void);

#endif
