/* test_rbdio.c - integration test of rbdio/ against the sandbox cluster (SRC_CEPH_CONF). */
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

static int passed, failed;
static const char *conf;
static const char *pool;
static char name_a[64], name_b[64], name_c[64], name_ns[64], name_nsimg[64];
static rados_t raw;              /* a plain librados handle for what rbdio does not do */
static rados_ioctx_t raw_io;

/* ------------------------------------------------------------------ reporting */

static void check_at(int cond, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check_at(int cond, int line, const char *fmt, ...)
{
    va_list ap;

    printf("%s - ", cond ? "ok" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (cond) {
        passed++;
        printf("\n");
    } else {
        failed++;
        printf("  (line %d; rbdio_last_error: \"%s\")\n", line, rbdio_last_error());
    }
    fflush(stdout);
}

#define CHECK(cond, ...) check_at((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ content models */

/* Deterministic bytes for a write of generation `seed` at image offset off. */
static void fill(uint8_t *p, uint64_t off, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = off + i;

        p[i] = (uint8_t)((x >> 12) * 131u + (x & 0xfff) * 7u + seed * 29u + 1u);
    }
}

/* An image's expected content. */
typedef struct model {
    uint8_t *b;
    uint64_t size;
} model;

static model model_new(uint64_t size)
{
    model m = { calloc(1, size ? size : 1), size };

    if (m.b == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return m;
}

static model model_copy(const model *src)
{
    model m = model_new(src->size);

    memcpy(m.b, src->b, src->size);
    return m;
}

static void model_resize(model *m, uint64_t size)
{
    uint8_t *b = realloc(m->b, size);

    if (b == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    if (size > m->size) {
        memset(b + m->size, 0, size - m->size);
    }
    m->b = b;
    m->size = size;
}

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

static void ext_add(extlist *l, uint64_t off, uint64_t len, int exists)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    l->v[l->n++] = (ext){ off, len, exists };
}

static int collect_cb(uint64_t off, uint64_t len, int exists, void *arg)
{
    extlist *l = arg;

    if (l->n > 0 && off < l->v[l->n - 1].off + l->v[l->n - 1].len) {
        l->out_of_order = 1;
    }
    ext_add(l, off, len, exists != 0);
    if (l->stop_after > 0 && (int)l->n >= l->stop_after) {
        return 7;
    }
    return 0;
}

static void ext_free(extlist *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int cmp_ext(const void *a, const void *b)
{
    const ext *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

/* Sort and merge touching extents of the same kind (to compare lists of any cut). */
static void ext_normalize(extlist *l)
{
    size_t o = 0;

    qsort(l->v, l->n, sizeof(*l->v), cmp_ext);
    for (size_t i = 0; i < l->n; i++) {
        if (o > 0 && l->v[o - 1].off + l->v[o - 1].len == l->v[i].off &&
            l->v[o - 1].exists == l->v[i].exists) {
            l->v[o - 1].len += l->v[i].len;
        } else {
            l->v[o++] = l->v[i];
        }
    }
    l->n = o;
}

static void ext_print(const char *title, const extlist *l)
{
    printf("#   %s:", title);
    for (size_t i = 0; i < l->n && i < 24; i++) {
        printf(" %" PRIu64 "~%" PRIu64 "%s", l->v[i].off, l->v[i].len,
               l->v[i].exists ? "" : "(zero)");
    }
    printf("%s\n", l->n > 24 ? " ..." : "");
}

static int ext_equal(const extlist *a, const extlist *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].off != b->v[i].off || a->v[i].len != b->v[i].len ||
            a->v[i].exists != b->v[i].exists) {
            return 0;
        }
    }
    return 1;
}

/* Is [off, off+len) covered by extents (of kind `exists`, or any kind if -1)? */
static int ext_covers(const extlist *l, uint64_t off, uint64_t len, int exists)
{
    uint64_t end = off + len;

    while (off < end) {
        size_t i;

        for (i = 0; i < l->n; i++) {
            const ext *e = &l->v[i];

            if (e->off <= off && off < e->off + e->len && (exists < 0 || e->exists == exists)) {
                off = e->off + e->len;
                break;
            }
        }
        if (i == l->n) {
            return 0;
        }
    }
    return 1;
}

static uint64_t ext_total(const extlist *l)
{
    uint64_t t = 0;

    for (size_t i = 0; i < l->n; i++) {
        t += l->v[i].len;
    }
    return t;
}

/* The property a backup relies on: every byte that differs between `from` and `to` is
 * reported, and every extent reported as not existing is zero in `to`. */
static int diff_is_sound(const extlist *l, const model *from, const model *to, const char *what)
{
    for (uint64_t o = 0; o < to->size; o++) {
        uint8_t before = o < from->size ? from->b[o] : 0;

        if (before != to->b[o] && !ext_covers(l, o, 1, -1)) {
            printf("#   %s: changed byte at %" PRIu64 " not reported\n", what, o);
            return 0;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        const ext *e = &l->v[i];

        if (e->off + e->len > to->size) {
            printf("#   %s: extent %" PRIu64 "~%" PRIu64 " past the end\n", what, e->off,
                   e->len);
            return 0;
        }
        for (uint64_t o = e->off; !e->exists && o < e->off + e->len; o++) {
            if (to->b[o] != 0) {
                printf("#   %s: extent at %" PRIu64 " reported zero, byte %" PRIu64
                       " is not\n", what, e->off, o);
                return 0;
            }
        }
    }
    return 1;
}

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

static void tally_cb(ssize_t rc, void *arg)
{
    aio_req *r = arg;

    pthread_mutex_lock(&r->t->lock);
    r->t->calls++;
    if (rc != r->expect) {
        r->t->bad++;
    }
    pthread_mutex_unlock(&r->t->lock);
    free(r);
}

static aio_req *req_new(aio_tally *t, ssize_t expect)
{
    aio_req *r = malloc(sizeof(*r));

    if (r == NULL) {
        exit(2);
    }
    r->t = t;
    r->expect = expect;
    return r;
}

/* Write [off, off+len) of m through a window in pieces of `piece`. */
static int write_range(rbdio_image *img, const model *m, uint64_t off, uint64_t len,
                       size_t piece, int depth, aio_tally *t)
{
    rbdio_aio *w;
    int rc = rbdio_aio_new(img, depth, &w);

    for (uint64_t o = off; rc == 0 && o < off + len; o += piece) {
        size_t n = (size_t)(off + len - o < piece ? off + len - o : piece);

        rc = rbdio_aio_write(w, o, n, m->b + o, tally_cb, req_new(t, (ssize_t)n));
    }
    if (rc == 0) {
        rc = rbdio_aio_drain(w);
    }
    rbdio_aio_free(w);
    return rc;
}

/* Read the whole image through a window and compare it with m. */
static int read_matches(rbdio_image *img, const model *m, int depth, const char *what)
{
    const size_t piece = (size_t)MIB;
    uint8_t *buf = malloc(m->size);
    aio_tally t = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    rbdio_aio *w;
    int rc, same = 0;

    if (buf == NULL) {
        exit(2);
    }
    rc = rbdio_aio_new(img, depth, &w);
    for (uint64_t o = 0; rc == 0 && o < m->size; o += piece) {
        size_t n = (size_t)(m->size - o < piece ? m->size - o : piece);

        rc = rbdio_aio_read(w, o, n, buf + o, tally_cb, req_new(&t, (ssize_t)n));
    }
    if (rc == 0) {
        rc = rbdio_aio_drain(w);
    }
    rbdio_aio_free(w);
    if (rc == 0 && t.bad == 0) {
        same = memcmp(buf, m->b, m->size) == 0;
        for (uint64_t o = 0; !same && o < m->size; o++) {
            if (buf[o] != m->b[o]) {
                printf("#   %s: first difference at %" PRIu64 ": got %u, want %u\n", what, o,
                       buf[o], m->b[o]);
                break;
            }
        }
    }
    free(buf);
    return rc == 0 && t.bad == 0 && same;
}

/* ------------------------------------------------------------------ raw librbd helpers */

static int raw_connect(void)
{
    int rc = rados_create2(&raw, "ceph", "client.admin", 0);

    if (rc == 0) {
        rc = rados_conf_read_file(raw, conf);
    }
    if (rc == 0) {
        rc = rados_connect(raw);
    }
    if (rc == 0) {
        rc = rados_ioctx_create(raw, pool, &raw_io);
    }
    return rc;
}

static int raw_discard(const char *image, uint64_t off, uint64_t len)
{
    rbd_image_t img;
    int rc = rbd_open(raw_io, image, &img, NULL);

    if (rc == 0) {
        rc = rbd_discard(img, off, len);
        rc = rc == (int)len ? 0 : rc;
        rbd_close(img);
    }
    return rc;
}

static int raw_clone(const char *parent, const char *snap, const char *child)
{
    rbd_image_options_t opts;
    int rc;

    rbd_image_options_create(&opts);
    rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES,
                                      RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                                      RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF);
    if (rc == 0) {
        rc = rbd_clone3(raw_io, parent, snap, raw_io, child, opts);
    }
    rbd_image_options_destroy(opts);
    return rc;
}

static void raw_unprotect(const char *image, const char *snap)
{
    rbd_image_t img;

    if (rbd_open(raw_io, image, &img, NULL) == 0) {
        rbd_snap_unprotect(img, snap);
        rbd_close(img);
    }
}

/* Remove an image and all its snapshots (cleanup; errors ignored). */
static void raw_purge(rados_ioctx_t io, const char *image)
{
    rbd_image_t img;

    if (rbd_open(io, image, &img, NULL) == 0) {
        rbd_snap_info_t snaps[64];
        int max = 63;
        int n = rbd_snap_list(img, snaps, &max);

        for (int i = 0; i < n; i++) {
            int prot = 0;

            rbd_snap_is_protected(img, snaps[i].name, &prot);
            if (prot) {
                rbd_snap_unprotect(img, snaps[i].name);
            }
            rbd_snap_remove(img, snaps[i].name);
        }
        if (n > 0) {
            rbd_snap_list_end(snaps);
        }
        rbd_close(img);
    }
    rbd_remove(io, image);
}

static int disorder_cb(uint64_t off, size_t len, int exists, void *arg)
{
    uint64_t *state = arg;  /* [0]: end of the previous extent, [1]: count */

    if (off < state[0]) {
        state[1]++;
    }
    state[0] = off + len;
    (void)exists;
    return 0;
}

/* How often plain rbd_diff_iterate2 goes backwards on this image (from nothing). */
static int raw_disorder(const char *image)
{
    uint64_t state[2] = { 0, 0 }, size = 0;
    rbd_image_t img;

    if (rbd_open(raw_io, image, &img, NULL) != 0) {
        return -1;
    }
    if (rbd_get_size(img, &size) == 0) {
        rbd_diff_iterate2(img, NULL, 0, size, 0, 0, disorder_cb, state);
    }
    rbd_close(img);
    return (int)state[1];
}

/* `rbd diff --format json` of the real CLI, into l. */
static int cli_diff(const char *spec, const char *from_snap, extlist *l)
{
    char cmd[1024], out[1 << 16];
    size_t got = 0, n;
    FILE *p;
    char *s;

    snprintf(cmd, sizeof(cmd), "rbd -c '%s' diff --format json %s%s %s/%s", conf,
             from_snap ? "--from-snap " : "", from_snap ? from_snap : "", pool, spec);
    p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    while ((n = fread(out + got, 1, sizeof(out) - 1 - got, p)) > 0) {
        got += n;
    }
    out[got] = '\0';
    if (pclose(p) != 0) {
        return -1;
    }
    for (s = strstr(out, "\"offset\":"); s != NULL; s = strstr(s, "\"offset\":")) {
        char *len = strstr(s, "\"length\":"), *ex = strstr(s, "\"exists\":");

        if (len == NULL || ex == NULL) {
            return -1;
        }
        ext_add(l, strtoull(s + 9, NULL, 10), strtoull(len + 9, NULL, 10),
                strncmp(ex + 9, "\"true\"", 6) == 0);
        s = ex;
    }
    return 0;
}

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

static void pipe_read_done(ssize_t rc, void *arg)
{
    pipe_read *r = arg;
    int bad = rc != (ssize_t)r->len || memcmp(r->buf, r->ps->m->b + r->off, r->len) != 0;

    pthread_mutex_lock(&r->ps->lock);
    r->ps->mismatches += bad;
    r->ps->bytes += r->len;
    pthread_mutex_unlock(&r->ps->lock);
    free(r->buf);
    free(r);
}

static int pipe_extent(uint64_t off, uint64_t len, int exists, void *arg)
{
    pipe_state *ps = arg;

    for (uint64_t o = off; o < off + len; o += 256 * KIB) {
        pipe_read *r = malloc(sizeof(*r));
        int rc;

        if (r == NULL) {
            return -ENOMEM;
        }
        r->ps = ps;
        r->off = o;
        r->len = (size_t)(off + len - o < 256 * KIB ? off + len - o : 256 * KIB);
        r->buf = malloc(r->len);
        rc = rbdio_aio_read(ps->w, r->off, r->len, r->buf, pipe_read_done, r);
        if (rc < 0) {
            free(r->buf);
            free(r);
            return rc;
        }
    }
    (void)exists;
    return 0;
}

/* ------------------------------------------------------------------ the tests */

static void test_connect(void)
{
    char path[] = "/tmp/test_rbdio_conf_XXXXXX";
    rbdio_cluster *c = NULL;
    double t0;
    FILE *f;
    int fd, rc;

    rc = rbdio_connect("/nonexistent/ceph.conf", NULL, 5, &c);
    CHECK(rc < 0 && c == NULL, "connect with a missing conf file fails (rc %d)", rc);
    CHECK(strstr(rbdio_last_error(), "cannot connect to cluster (conf /nonexistent/ceph.conf)")
          != NULL, "  ... and says so: %s", rbdio_last_error());

    /* A monitor address where nothing listens: bounded by timeout_s. */
    fd = mkstemp(path);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "[global]\nmon host = v1:127.0.0.1:9\nms bind msgr2 = false\n"
                   "auth cluster required = none\nauth service required = none\n"
                   "auth client required = none\n");
        fclose(f);
    }
    t0 = now_s();
    rc = rbdio_connect(path, "nobody", 3, &c);
    t0 = now_s() - t0;
    CHECK((rc == -ETIMEDOUT || rc == -ENOTCONN) && t0 < 15,
          "connect to an unreachable cluster fails in %.1f s (rc %d): %s", t0, rc,
          rbdio_last_error());
    unlink(path);
}

static void test_pool(rbdio_cluster *c)
{
    rbdio_info geom = { .size = 8 * MIB, .order = 22, .features = RBD_FEATURE_LAYERING };
    rbdio_spec spec = { pool, name_ns, name_nsimg };
    char **names = NULL;
    int rc;

    CHECK(rbdio_pool_check(c, pool, NULL) == 0, "pool '%s' exists", pool);
    CHECK(rbdio_pool_check(c, pool, "") == 0, "pool '%s', namespace \"\" exists", pool);
    rc = rbdio_pool_check(c, "no-such-pool", NULL);
    CHECK(rc == -ENOENT && strcmp(rbdio_last_error(), "pool 'no-such-pool' does not exist")
          == 0, "missing pool: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_pool_check(c, pool, name_ns);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "namespace") != NULL,
          "missing namespace: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_image_create(c, &spec, &geom);
    CHECK(rc == -ENOENT, "create in a missing namespace: -ENOENT (%d)", rc);

    rc = rbd_namespace_create(raw_io, name_ns);
    CHECK(rc == 0, "(setup) namespace created (%d)", rc);
    CHECK(rbdio_pool_check(c, pool, name_ns) == 0, "namespace '%s' exists now", name_ns);
    rc = rbdio_image_create(c, &spec, &geom);
    CHECK(rc == 0, "create image in namespace (%d)", rc);
    CHECK(rbdio_image_exists(c, &spec) == 1, "image exists in namespace");
    rc = rbdio_image_list(c, pool, name_ns, &names);
    CHECK(rc == 0 && names && names[0] && strcmp(names[0], name_nsimg) == 0 && !names[1],
          "list of the namespace is just that image");
    rbdio_free_names(names);
    spec.ns = NULL;
    CHECK(rbdio_image_exists(c, &spec) == 0, "not in the default namespace");
}

static void test_create_stat(rbdio_cluster *c)
{
    const uint64_t feats = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                           RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF |
                           RBD_FEATURE_DEEP_FLATTEN;
    rbdio_info geom = { .size = 16 * MIB, .order = 20,
                        .features = feats | RBD_FEATURE_OPERATIONS | RBD_FEATURE_DATA_POOL,
                        .stripe_unit = MIB, .stripe_count = 1 };
    rbdio_info sgeom = { .size = 32 * MIB, .order = 22,
                         .features = RBD_FEATURE_LAYERING | RBD_FEATURE_STRIPINGV2 |
                                     RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                                     RBD_FEATURE_FAST_DIFF,
                         .stripe_unit = 64 * KIB, .stripe_count = 4 };
    rbdio_spec a = { pool, NULL, name_a }, b = { pool, "", name_b };
    rbdio_image *img = NULL;
    rbdio_info info;
    int rc;

    rc = rbdio_image_create(c, &a, &geom);
    CHECK(rc == 0, "create %s (16 MiB, order 20, internal features masked) (%d)", name_a, rc);
    rc = rbdio_image_create(c, &a, &geom);
    CHECK(rc == -EEXIST && strstr(rbdio_last_error(), "already exists"),
          "create it again: -EEXIST, %s", rbdio_last_error());
    rc = rbdio_open(c, &a, NULL, &img);
    CHECK(rc == 0, "open %s (%d)", name_a, rc);
    if (rc == 0) {
        rc = rbdio_stat(img, &info);
        CHECK(rc == 0 && info.size == 16 * MIB && info.order == 20 && info.features == feats &&
              info.stripe_unit == MIB && info.stripe_count == 1 && info.id[0] != '\0',
              "stat: size %" PRIu64 " order %d features 0x%" PRIx64 " stripe %" PRIu64 "x%"
              PRIu64 " id %s", info.size, info.order, info.features, info.stripe_unit,
              info.stripe_count, info.id);
        rbdio_close(img);
    }

    rc = rbdio_image_create(c, &b, &sgeom);
    CHECK(rc == 0, "create striped %s (32 MiB, order 22, 64 KiB x 4) (%d)", name_b, rc);
    rc = rbdio_open(c, &b, NULL, &img);
    if (rc == 0) {
        rc = rbdio_stat(img, &info);
        CHECK(rc == 0 && info.size == 32 * MIB && info.order == 22 &&
              info.features == sgeom.features && info.stripe_unit == 64 * KIB &&
              info.stripe_count == 4, "stat striped: features 0x%" PRIx64 " stripe %" PRIu64
              "x%" PRIu64, info.features, info.stripe_unit, info.stripe_count);
        rbdio_close(img);
    }
}

static void test_open_errors(rbdio_cluster *c)
{
    rbdio_spec missing = { pool, NULL, "no-such-image" }, a = { pool, NULL, name_a };
    rbdio_spec nopool = { "no-such-pool", NULL, name_a };
    rbdio_spec nons = { pool, "no-such-ns", name_a };
    rbdio_image *img = NULL;
    int rc;

    rc = rbdio_open(c, &missing, NULL, &img);
    CHECK(rc == -ENOENT && img == NULL && strstr(rbdio_last_error(), "image '") &&
          strstr(rbdio_last_error(), "no-such-image' does not exist"),
          "open a missing image: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &a, "no-such-snap", &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "snapshot 'no-such-snap'"),
          "open at a missing snapshot: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &missing, "no-such-snap", &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "image '"),
          "open a missing image at a snapshot names the image: %s", rbdio_last_error());
    rc = rbdio_open(c, &nopool, NULL, &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "pool 'no-such-pool'"),
          "open in a missing pool: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &nons, NULL, &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "namespace 'no-such-ns'"),
          "open in a missing namespace: -ENOENT, %s", rbdio_last_error());
    CHECK(rbdio_image_exists(c, &missing) == 0, "image_exists(missing) = 0");
    CHECK(rbdio_image_exists(c, &a) == 1, "image_exists(%s) = 1", name_a);
    CHECK(rbdio_image_exists(c, &nopool) == -ENOENT, "image_exists in a missing pool: -ENOENT");
}

static int diff_list(rbdio_image *img, const char *from, uint64_t size, int parent, int whole,
                     extlist *l)
{
    memset(l, 0, sizeof(*l));
    return rbdio_diff(img, from, size, parent, whole, collect_cb, l);
}

/* Everything about image A: writes, snapshots, diffs, reads, zeroes, resize, clone. */
static void test_image_a(rbdio_cluster *c)
{
    rbdio_spec a = { pool, NULL, name_a }, cs = { pool, NULL, name_c };
    aio_tally t = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    rbdio_image *img = NULL, *at = NULL, *clone = NULL;
    model m = model_new(16 * MIB), s1, s2, s3, mc;
    extlist l, cli;
    rbdio_snap *snaps = NULL;
    char spec[128];
    rbdio_aio *w = NULL;
    rbdio_info info;
    int rc, n = 0;
    double t0;

    if (rbdio_open(c, &a, NULL, &img) != 0) {
        CHECK(0, "open %s", name_a);
        return;
    }
    CHECK(rbdio_aio_new(img, 0, &w) == -EINVAL && w == NULL, "aio window of depth 0: -EINVAL");

    /* 6 MiB through a window of depth 8, 256 KiB at a time. */
    fill(m.b, 0, 6 * MIB, 1);
    t0 = now_s();
    rc = write_range(img, &m, 0, 6 * MIB, 256 * KIB, 8, &t);
    CHECK(rc == 0 && t.calls == 24 && t.bad == 0,
          "aio write 6 MiB at depth 8: rc %d, %d callbacks with the byte count (%.2f s)", rc,
          t.calls, now_s() - t0);
    CHECK(rbdio_flush(img) == 0, "flush");

    /* snapshots */
    CHECK(rbdio_snap_create(img, "s1") == 0, "snap create s1");
    s1 = model_copy(&m);
    CHECK(rbdio_snap_exists(img, "s1") == 1, "snap exists s1");
    CHECK(rbdio_snap_exists(img, "nope") == 0, "snap exists nope = 0");
    rc = rbdio_snap_create(img, "s1");
    CHECK(rc == -EEXIST, "snap create s1 again: -EEXIST, %s", rbdio_last_error());

    /* diff from nothing */
    rc = diff_list(img, NULL, m.size, 0, 0, &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == 6 * MIB &&
          ext_covers(&l, 0, 6 * MIB, 1), "diff from nothing: %zu extents, 6 MiB, in order",
          l.n);
    ext_free(&l);
    rc = diff_list(img, NULL, m.size, 0, 1, &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == 6 * MIB &&
          ext_covers(&l, 0, 6 * MIB, 1), "diff from nothing, whole objects (fast-diff): %zu "
          "extents", l.n);
    ext_free(&l);
    memset(&l, 0, sizeof(l));
    rc = rbdio_diff_range(img, NULL, 512 * KIB, MIB, 0, collect_cb, &l);
    ext_print("diff_range 512K~1M from nothing", &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == MIB && l.v[0].off == 512 * KIB &&
          ext_covers(&l, 512 * KIB, MIB, 1), "diff_range 512K~1M: clipped to the range");
    ext_free(&l);
    memset(&l, 0, sizeof(l));
    l.stop_after = 2;
    rc = rbdio_diff(img, NULL, m.size, 0, 0, collect_cb, &l);
    CHECK(rc == 7 && l.n == 2, "a callback returning 7 stops the walk with 7 (after %zu)", l.n);
    ext_free(&l);

    /* Changes after s1: overwrite inside object 1, a new object past the written part,
     * discard a whole object and an aligned 64 KiB inside another. */
    t.calls = t.bad = 0;
    fill(m.b + MIB + 4 * KIB, MIB + 4 * KIB, 8 * KIB, 2);
    fill(m.b + 12 * MIB, 12 * MIB, 300 * KIB, 3);
    rc = write_range(img, &m, MIB + 4 * KIB, 8 * KIB, 256 * KIB, 8, &t);
    if (rc == 0) {
        rc = write_range(img, &m, 12 * MIB, 300 * KIB, 256 * KIB, 8, &t);
    }
    CHECK(rc == 0 && t.bad == 0, "aio writes after s1");
    rc = raw_discard(name_a, 3 * MIB, MIB);
    memset(m.b + 3 * MIB, 0, MIB);
    CHECK(rc == 0, "(setup) discard 3M~1M (%d)", rc);
    rc = raw_discard(name_a, 5 * MIB + 64 * KIB, 64 * KIB);
    memset(m.b + 5 * MIB + 64 * KIB, 0, 64 * KIB);
    CHECK(rc == 0, "(setup) discard 5M+64K~64K (%d)", rc);
    CHECK(rbdio_snap_create(img, "s2") == 0, "snap create s2");
    s2 = model_copy(&m);

    /* diff s1 -> s2, from a handle opened at s2 */
    rc = rbdio_open(c, &a, "s2", &at);
    CHECK(rc == 0, "open %s@s2 read-only (%d)", name_a, rc);
    if (rc == 0) {
        rc = diff_list(at, "s1", m.size, 1, 0, &l);
        ext_print("diff s1 -> s2", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &s1, &s2, "s1->s2"),
              "diff s1 -> s2 is sound (%zu extents)", l.n);
        CHECK(ext_covers(&l, MIB + 4 * KIB, 8 * KIB, 1) && ext_covers(&l, 12 * MIB,
              300 * KIB, 1) && ext_covers(&l, 3 * MIB, MIB, -1) &&
              ext_covers(&l, 5 * MIB + 64 * KIB, 64 * KIB, -1),
              "  ... reports both writes and both discards");
        CHECK(ext_total(&l) == 8 * KIB + 300 * KIB + MIB + 64 * KIB,
              "  ... and nothing else (%" PRIu64 " bytes)", ext_total(&l));
        memset(&cli, 0, sizeof(cli));
        snprintf(spec, sizeof(spec), "%s@s2", name_a);
        rc = cli_diff(spec, "s1", &cli);
        ext_normalize(&cli);
        ext_normalize(&l);
        ext_print("rbd diff --from-snap s1 (CLI)", &cli);
        CHECK(rc == 0 && ext_equal(&l, &cli), "diff s1 -> s2 equals `rbd diff --from-snap s1`");
        ext_free(&cli);
        ext_free(&l);

        /* the same diff walked in 3 MiB windows */
        rc = diff_list(at, "s1", m.size, 0, 0, &l);
        memset(&cli, 0, sizeof(cli));
        for (uint64_t o = 0; rc == 0 && o < m.size; o += 3 * MIB) {
            rc = rbdio_diff_range(at, "s1", o, m.size - o < 3 * MIB ? m.size - o : 3 * MIB, 0,
                                  collect_cb, &cli);
        }
        ext_normalize(&l);
        ext_normalize(&cli);
        CHECK(rc == 0 && !cli.out_of_order && ext_equal(&l, &cli),
              "diff s1 -> s2 in 3 MiB windows equals the whole walk");
        ext_free(&l);
        ext_free(&cli);

        rc = diff_list(at, "s2", m.size, 0, 0, &l);
        CHECK(rc == 0 && l.n == 0, "diff s2 -> s2 is empty");
        ext_free(&l);
        rc = diff_list(at, "nope", m.size, 0, 0, &l);
        CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "snapshot 'nope'"),
              "diff from a missing snapshot: -ENOENT, %s", rbdio_last_error());
        ext_free(&l);
        CHECK(read_matches(at, &s2, 4, "read @s2"), "aio read of %s@s2 equals what was written",
              name_a);
        rc = rbdio_snap_create(at, "on-readonly");
        CHECK(rc < 0, "snap create on a read-only handle fails (%d)", rc);
        rbdio_close(at);
        at = NULL;
    }
    rc = rbdio_open(c, &a, "s1", &at);
    if (rc == 0) {
        CHECK(read_matches(at, &s1, 8, "read @s1"), "aio read of %s@s1 equals s1", name_a);
        rc = diff_list(at, "s2", m.size, 0, 0, &l);
        CHECK(rc == -EINVAL, "diff from a newer snapshot: -EINVAL, %s", rbdio_last_error());
        ext_free(&l);
        rbdio_close(at);
        at = NULL;
    }
    CHECK(read_matches(img, &m, 8, "read head"), "aio read of the head equals the model");

    /* write_zeroes: part of an object, and a whole object */
    t.calls = t.bad = 0;
    rc = rbdio_aio_new(img, 4, &w);
    if (rc == 0) {
        rc = rbdio_aio_write_zeroes(w, 4 * MIB + 256 * KIB, 128 * KIB, tally_cb,
                                    req_new(&t, (ssize_t)(128 * KIB)));
    }
    if (rc == 0) {
        rc = rbdio_aio_write_zeroes(w, 2 * MIB, MIB, tally_cb, req_new(&t, (ssize_t)MIB));
    }
    if (rc == 0) {
        rc = rbdio_aio_drain(w);
    }
    rbdio_aio_free(w);
    memset(m.b + 4 * MIB + 256 * KIB, 0, 128 * KIB);
    memset(m.b + 2 * MIB, 0, MIB);
    CHECK(rc == 0 && t.calls == 2 && t.bad == 0, "aio write_zeroes 128K and 1M (%d)", rc);
    CHECK(read_matches(img, &m, 8, "read after zeroes"), "aio read after write_zeroes");
    rc = diff_list(img, "s2", m.size, 0, 0, &l);
    ext_print("diff s2 -> head after write_zeroes", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s2, &m, "s2->head") &&
          ext_covers(&l, 4 * MIB + 256 * KIB, 128 * KIB, -1) && ext_covers(&l, 2 * MIB, MIB, -1),
          "diff s2 -> head reports the zeroed ranges");
    ext_free(&l);

    /* short read at the end of the image */
    {
        uint8_t buf[8192];
        aio_tally t2 = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };

        memset(buf, 0xee, sizeof(buf));
        rc = rbdio_aio_new(img, 1, &w);
        if (rc == 0) {
            rc = rbdio_aio_read(w, m.size - 4096, sizeof(buf), buf, tally_cb,
                                req_new(&t2, 4096));
            if (rc == 0) {
                rc = rbdio_aio_drain(w);
            }
            rbdio_aio_free(w);
        }
        CHECK(rc == 0 && t2.calls == 1 && t2.bad == 0 && buf[4096] == 0 && buf[8191] == 0 &&
              memcmp(buf, m.b + m.size - 4096, 4096) == 0,
              "a read across the end returns the bytes up to the end, rest zeroed");
    }

    /* grow, write past the old end, snapshot; then shrink and grow again */
    rc = rbdio_resize(img, 24 * MIB);
    model_resize(&m, 24 * MIB);
    CHECK(rc == 0 && rbdio_stat(img, &info) == 0 && info.size == 24 * MIB,
          "resize to 24 MiB");
    t.calls = t.bad = 0;
    fill(m.b + 20 * MIB, 20 * MIB, 256 * KIB, 4);
    rc = write_range(img, &m, 20 * MIB, 256 * KIB, 256 * KIB, 2, &t);
    CHECK(rc == 0 && t.bad == 0, "write past the old end");
    CHECK(rbdio_snap_create(img, "s3") == 0, "snap create s3");
    s3 = model_copy(&m);
    rc = diff_list(img, "s2", m.size, 0, 0, &l);
    ext_print("diff s2 -> s3 (grown 16 -> 24 MiB)", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s2, &s3, "s2->s3") && ext_covers(&l, 20 * MIB,
          256 * KIB, 1) && !ext_covers(&l, 16 * MIB, 4 * KIB, -1),
          "diff across a grow reports the new data only");
    ext_free(&l);
    rc = rbdio_resize(img, 18 * MIB);
    if (rc == 0) {
        rc = rbdio_resize(img, 24 * MIB);
    }
    memset(m.b + 18 * MIB, 0, 6 * MIB);
    CHECK(rc == 0, "shrink to 18 MiB and grow back to 24 MiB");
    rc = diff_list(img, "s3", m.size, 0, 0, &l);
    ext_print("diff s3 -> head (after shrink+grow)", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s3, &m, "s3->head(shrunk)") &&
          ext_covers(&l, 20 * MIB, 256 * KIB, -1),
          "diff after shrink+grow reports the lost data");
    ext_free(&l);
    CHECK(read_matches(img, &m, 8, "read after shrink"), "read after shrink+grow: zeros");

    /* snapshot list, protect, remove */
    rc = rbdio_snap_list(img, &snaps, &n);
    CHECK(rc == 0 && n == 3 && strcmp(snaps[0].name, "s1") == 0 &&
          strcmp(snaps[1].name, "s2") == 0 && strcmp(snaps[2].name, "s3") == 0 &&
          snaps[0].id < snaps[1].id && snaps[1].id < snaps[2].id &&
          snaps[0].size == 16 * MIB && snaps[2].size == 24 * MIB && !snaps[1].is_protected &&
          llabs((long long)(snaps[0].timestamp - (int64_t)time(NULL))) < 600,
          "snap list: s1 s2 s3 in id order, sizes, timestamps, unprotected (%d)", n);
    free(snaps);
    CHECK(rbdio_snap_protect(img, "s2") == 0, "protect s2");
    CHECK(rbdio_snap_protect(img, "s2") == 0, "protect s2 again: 0");
    rc = rbdio_snap_protect(img, "nope");
    CHECK(rc == -ENOENT, "protect a missing snapshot: -ENOENT (%d)", rc);
    rc = rbdio_snap_list(img, &snaps, &n);
    CHECK(rc == 0 && n == 3 && snaps[1].is_protected && !snaps[0].is_protected,
          "snap list shows s2 protected");
    free(snaps);
    rc = rbdio_snap_remove(img, "s2");
    CHECK(rc == -EBUSY, "remove protected s2: -EBUSY, %s", rbdio_last_error());
    rc = rbdio_snap_remove(img, "nope");
    CHECK(rc == -ENOENT, "remove a missing snapshot: -ENOENT");

    /* a clone of s2: its own writes, and include_parent */
    rc = raw_clone(name_a, "s2", name_c);
    CHECK(rc == 0, "(setup) clone %s@s2 -> %s (%d)", name_a, name_c, rc);
    rc = rbdio_open(c, &cs, NULL, &clone);
    if (rc == 0) {
        mc = model_copy(&s2);
        t.calls = t.bad = 0;
        fill(mc.b + 8 * MIB + 4 * KIB, 8 * MIB + 4 * KIB, 4 * KIB, 5);
        rc = write_range(clone, &mc, 8 * MIB + 4 * KIB, 4 * KIB, 4 * KIB, 1, &t);
        CHECK(rc == 0 && t.bad == 0, "write 4 KiB into the clone");
        CHECK(read_matches(clone, &mc, 8, "read clone"), "read of the clone: parent + own data");

        rc = diff_list(clone, NULL, mc.size, 0, 0, &l);
        ext_print("clone: diff from nothing, no parent", &l);
        CHECK(rc == 0 && ext_covers(&l, 8 * MIB + 4 * KIB, 4 * KIB, 1) &&
              !ext_covers(&l, 0, 4 * KIB, -1), "clone without parent: own write only");
        ext_free(&l);
        rc = diff_list(clone, NULL, mc.size, 1, 0, &l);
        ext_print("clone: diff from nothing, include_parent", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &(model){ NULL, 0 }, &mc,
              "clone+parent"), "clone with include_parent: parent data too");
        ext_free(&l);
        rc = diff_list(clone, NULL, mc.size, 1, 1, &l);
        ext_print("clone: include_parent, whole objects", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &(model){ NULL, 0 }, &mc,
              "clone+parent whole"), "clone with include_parent, whole objects: parent data");
        ext_free(&l);
        rc = cli_diff(name_c, NULL, &cli);
        ext_normalize(&cli);
        rc = rc == 0 ? diff_list(clone, NULL, mc.size, 1, 0, &l) : rc;
        ext_normalize(&l);
        CHECK(rc == 0 && ext_equal(&l, &cli), "clone diff equals `rbd diff` of the clone");
        ext_free(&l);
        ext_free(&cli);

        /* the pipeline pattern: blocking callback submitting reads, depth 2 */
        {
            pipe_state ps = { .m = &mc, .lock = PTHREAD_MUTEX_INITIALIZER };

            rc = rbdio_aio_new(clone, 2, &ps.w);
            if (rc == 0) {
                rc = rbdio_diff(clone, NULL, mc.size, 1, 0, pipe_extent, &ps);
                if (rc == 0) {
                    rc = rbdio_aio_drain(ps.w);
                }
                rbdio_aio_free(ps.w);
            }
            CHECK(rc == 0 && ps.mismatches == 0 && ps.bytes > 0,
                  "diff callback blocking on an aio window of depth 2: %" PRIu64
                  " bytes read, %d mismatches", ps.bytes, ps.mismatches);
        }
        free(mc.b);
        rbdio_close(clone);
    }

    CHECK(rbdio_snap_remove(img, "s1") == 0 && rbdio_snap_exists(img, "s1") == 0,
          "remove s1");
    free(s1.b);
    free(s2.b);
    free(s3.b);
    free(m.b);
    rbdio_close(img);
}

/* The striped image: extents come in order, exact, and match the CLI. */
static void test_striped(rbdio_cluster *c)
{
    static const uint64_t ranges[][2] = {
        { 0, 1024 * 1024 }, { 5 * 1024 * 1024 + 100 * 1024, 200 * 1024 },
        { 17 * 1024 * 1024, 64 * 1024 }, { 31 * 1024 * 1024 + 4096, 8192 },
    };
    rbdio_spec b = { pool, NULL, name_b };
    aio_tally t = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    model m = model_new(32 * MIB), empty = { NULL, 0 };
    rbdio_image *img = NULL;
    extlist l, cli;
    uint64_t total = 0;
    int rc = 0;

    if (rbdio_open(c, &b, NULL, &img) != 0) {
        CHECK(0, "open %s", name_b);
        return;
    }
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        fill(m.b + ranges[i][0], ranges[i][0], ranges[i][1], 9);
        total += ranges[i][1];
        if (rc == 0) {
            rc = write_range(img, &m, ranges[i][0], ranges[i][1], 128 * KIB, 8, &t);
        }
    }
    CHECK(rc == 0 && t.bad == 0, "striped: aio writes");
    CHECK(read_matches(img, &m, 8, "read striped"), "striped: read back");
    for (int whole = 0; whole <= 1; whole++) {
        rc = diff_list(img, NULL, m.size, 0, whole, &l);
        if (!whole) {
            ext_print("striped: diff from nothing", &l);
        }
        CHECK(rc == 0 && !l.out_of_order && ext_total(&l) >= total &&
              diff_is_sound(&l, &empty, &m, "striped"),
              "striped (whole_object=%d): %zu extents in increasing order, covering what was "
              "written", whole, l.n);
        ext_free(&l);
    }
    printf("#   striped: raw librbd callbacks out of order: %d times\n", raw_disorder(name_b));
    rc = diff_list(img, NULL, m.size, 0, 0, &l);
    memset(&cli, 0, sizeof(cli));
    rc = rc == 0 ? cli_diff(name_b, NULL, &cli) : rc;
    ext_normalize(&cli);
    ext_normalize(&l);
    CHECK(rc == 0 && ext_equal(&l, &cli), "striped: diff equals `rbd diff` (sorted, merged)");
    ext_free(&l);
    ext_free(&cli);
    memset(&l, 0, sizeof(l));
    l.stop_after = 1;
    rc = rbdio_diff(img, NULL, m.size, 0, 0, collect_cb, &l);
    CHECK(rc == 7 && l.n == 1, "striped: a callback returning 7 stops the walk");
    ext_free(&l);
    free(m.b);
    rbdio_close(img);
}

static void test_list(rbdio_cluster *c)
{
    char **names = NULL;
    int found = 0, sorted = 1, rc;

    rc = rbdio_image_list(c, pool, NULL, &names);
    for (int i = 0; rc == 0 && names[i] != NULL; i++) {
        found += strcmp(names[i], name_a) == 0 || strcmp(names[i], name_b) == 0 ||
                 strcmp(names[i], name_c) == 0;
        if (i > 0 && strcmp(names[i - 1], names[i]) > 0) {
            sorted = 0;
        }
    }
    CHECK(rc == 0 && found == 3 && sorted, "image list has A, B and the clone, sorted");
    rbdio_free_names(names);
    rc = rbdio_image_list(c, "no-such-pool", NULL, &names);
    CHECK(rc == -ENOENT && names == NULL, "image list of a missing pool: -ENOENT");
}

static void test_remove(rbdio_cluster *c)
{
    rbdio_spec a = { pool, NULL, name_a }, cs = { pool, NULL, name_c };
    rbdio_spec nsi = { pool, name_ns, name_nsimg }, missing = { pool, NULL, "no-such-image" };
    rbdio_image *img = NULL;
    int rc;

    rc = rbdio_image_remove(c, &missing);
    CHECK(rc == -ENOENT, "remove a missing image: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_image_remove(c, &a);
    CHECK(rc == -EBUSY, "remove an image with a protected snapshot: -EBUSY, %s",
          rbdio_last_error());
    rc = rbdio_open(c, &a, NULL, &img);
    CHECK(rc == 0 && rbdio_snap_exists(img, "s3") == 1, "  ... and nothing was removed");
    rbdio_close(img);
    CHECK(rbdio_image_remove(c, &cs) == 0 && rbdio_image_exists(c, &cs) == 0,
          "remove the clone");
    raw_unprotect(name_a, "s2");
    CHECK(rbdio_image_remove(c, &a) == 0 && rbdio_image_exists(c, &a) == 0,
          "remove %s with its snapshots", name_a);
    CHECK(rbdio_image_remove(c, &nsi) == 0 && rbdio_image_exists(c, &nsi) == 0,
          "remove the image in the namespace");
}

static void cleanup(void)
{
    rados_ioctx_t nsio;

    rbd_remove(raw_io, name_c);
    raw_unprotect(name_a, "s2");
    raw_purge(raw_io, name_a);
    raw_purge(raw_io, name_b);
    if (rados_ioctx_create(raw, pool, &nsio) == 0) {
        rados_ioctx_set_namespace(nsio, name_ns);
        rbd_remove(nsio, name_nsimg);
        rados_ioctx_destroy(nsio);
        rbd_namespace_remove(raw_io, name_ns);
    }
}

int main(void)
{
    rbdio_cluster *c = NULL;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(900);  /* a deadlock must fail the run, not hang it */
    conf = getenv("SRC_CEPH_CONF");
    pool = getenv("RBDIO_TEST_POOL") ? getenv("RBDIO_TEST_POOL") : "rbd";
    if (conf == NULL || conf[0] == '\0') {
        printf("SKIP - SRC_CEPH_CONF is not set (source the sandbox's env.sh)\n");
        return 77;
    }
    snprintf(name_a, sizeof(name_a), "rbdio-t%ld-a", (long)getpid());
    snprintf(name_b, sizeof(name_b), "rbdio-t%ld-striped", (long)getpid());
    snprintf(name_c, sizeof(name_c), "rbdio-t%ld-clone", (long)getpid());
    snprintf(name_ns, sizeof(name_ns), "rbdio-t%ld-ns", (long)getpid());
    snprintf(name_nsimg, sizeof(name_nsimg), "rbdio-t%ld-nsimg", (long)getpid());

    test_connect();
    rc = rbdio_connect(conf, NULL, 0, &c);
    CHECK(rc == 0, "connect with %s", conf);
    if (rc != 0 || raw_connect() != 0) {
        printf("%d passed, %d failed\n", passed, failed + 1);
        return 1;
    }
    test_pool(c);
    test_create_stat(c);
    test_open_errors(c);
    test_image_a(c);
    test_striped(c);
    test_list(c);
    test_remove(c);
    cleanup();
    rbdio_disconnect(c);
    rados_ioctx_destroy(raw_io);
    rados_shutdown(raw);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
