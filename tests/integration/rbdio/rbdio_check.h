/* rbdio_check.h - what the files of the test_rbdio program share: CHECK and its tally,
 * the sandbox's names, content models, extent lists, aio tallies, raw librbd helpers and
 * the pipeline pattern (all defined in rbdio_helpers.c), and the image tests of
 * test_rbdio_image.c and test_rbdio_migrate.c. The program prints "N passed, N failed"
 * last (run-tests.sh). */
#ifndef RBD2S3_RBDIO_CHECK_H
#define RBD2S3_RBDIO_CHECK_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "rbdio/rbdio.h"

#define MIB (1024ULL * 1024ULL)
#define KIB 1024ULL

extern int passed, failed;
extern const char *conf;
extern const char *pool;
extern char name_a[64], name_b[64], name_c[64], name_ns[64], name_nsimg[64];
extern rados_t raw;              /* a plain librados handle for what rbdio does not do */
extern rados_ioctx_t raw_io;

/* ------------------------------------------------------------------ reporting */

/* Count one check as passed or failed and print "ok - ..." or "FAIL - ..." with line. */
void check_at(int cond, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CHECK(cond, ...) check_at((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------ content models */

/* An image's expected content. */
typedef struct model {
    uint8_t *b;
    uint64_t size;
} model;

/* ------------------------------------------------------------------ extent lists */

typedef struct ext {
    uint64_t off;
    uint64_t len;
    int exists;
} ext;

typedef struct extlist {
    ext *v;
    size_t n;
    size_t cap;
    int out_of_order;    /* an extent started before the end of the previous one */
    int stop_after;      /* > 0: return 7 from the callback after this many extents */
} extlist;

/* ------------------------------------------------------------------ aio helpers */

typedef struct aio_tally {
    pthread_mutex_t lock;
    int calls;
    int bad;            /* callbacks whose rc was not the expected byte count */
} aio_tally;

typedef struct aio_req {
    aio_tally *t;
    ssize_t expect;
} aio_req;

/* ------------------------------------------------------------------ the pipeline pattern */

/* The backup pipeline's shape: the diff callback submits aio reads of each extent into a
 * small window and blocks while the window is full. */
typedef struct pipe_state {
    rbdio_aio *w;
    const model *m;
    pthread_mutex_t lock;
    int mismatches;
    uint64_t bytes;
} pipe_state;

typedef struct pipe_read {
    pipe_state *ps;
    uint64_t off;
    size_t len;
    uint8_t *buf;
} pipe_read;

/* ------------------------------------------------------------------ helpers (rbdio_helpers.c) */

double now_s(void);
void fill(uint8_t *p, uint64_t off, size_t len, unsigned seed);
model model_new(uint64_t size);
model model_copy(const model *src);
void model_resize(model *m, uint64_t size);
int collect_cb(uint64_t off, uint64_t len, int exists, void *arg);
void ext_free(extlist *l);
void ext_normalize(extlist *l);
void ext_print(const char *title, const extlist *l);
int ext_equal(const extlist *a, const extlist *b);
int ext_covers(const extlist *l, uint64_t off, uint64_t len, int exists);
uint64_t ext_total(const extlist *l);
int diff_is_sound(const extlist *l, const model *from, const model *to, const char *what);
void tally_cb(ssize_t rc, void *arg);
aio_req *req_new(aio_tally *t, ssize_t expect);
int write_range(rbdio_image *img, const model *m, uint64_t off, uint64_t len,
                size_t piece, int depth, aio_tally *t);
int read_matches(rbdio_image *img, const model *m, int depth, const char *what);
int raw_connect(void);
int raw_discard(const char *image, uint64_t off, uint64_t len);
/* Write len bytes at off into image through librbd directly: 0 or a negative errno. */
int raw_write(const char *image, uint64_t off, const void *buf, size_t len);
int raw_clone(const char *parent, const char *snap, const char *child);
void raw_unprotect(const char *image, const char *snap);
void raw_purge(rados_ioctx_t io, const char *image);
int raw_disorder(const char *image);
int cli_diff(const char *spec, const char *from_snap, extlist *l);
int pipe_extent(uint64_t off, uint64_t len, int exists, void *arg);

/* ------------------------------------------------------------------ test_rbdio_image.c */

/* Everything about image A: writes, snapshots, diffs, reads, zeroes, resize, clone. */
void test_image_a(rbdio_cluster *c);
/* A striped image (image B). */
void test_striped(rbdio_cluster *c);

/* ------------------------------------------------------------------ test_rbdio_migrate.c */

/* Import-only live migrations into image C (before the clone test uses that name). */
void test_migrate(rbdio_cluster *c);

#endif
