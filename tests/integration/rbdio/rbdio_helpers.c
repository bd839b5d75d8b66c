/* rbdio_helpers.c - the helpers of the test_rbdio program (see rbdio_check.h): CHECK's
 * tally, content models, extent lists, aio tallies, raw librbd helpers, the pipeline. */
#include "tests/integration/rbdio/rbdio_check.h"

int passed, failed;
const char *conf;
const char *pool;
char name_a[64], name_b[64], name_c[64], name_ns[64], name_nsimg[64];
rados_t raw;              /* a plain librados handle for what rbdio does not do */
rados_ioctx_t raw_io;

/* ------------------------------------------------------------------ reporting */

void check_at(int cond, int line, const char *fmt, ...)
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

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ content models */

/* Deterministic bytes for a write of generation `seed` at image offset off. */
void fill(uint8_t *p, uint64_t off, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = off + i;

        p[i] = (uint8_t)((x >> 12) * 131u + (x & 0xfff) * 7u + seed * 29u + 1u);
    }
}

model model_new(uint64_t size)
{
    model m = { calloc(1, size ? size : 1), size };

    if (m.b == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return m;
}

model model_copy(const model *src)
{
    model m = model_new(src->size);

    memcpy(m.b, src->b, src->size);
    return m;
}

void model_resize(model *m, uint64_t size)
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

int collect_cb(uint64_t off, uint64_t len, int exists, void *arg)
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

void ext_free(extlist *l)
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
void ext_normalize(extlist *l)
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

void ext_print(const char *title, const extlist *l)
{
    printf("#   %s:", title);
    for (size_t i = 0; i < l->n && i < 24; i++) {
        printf(" %" PRIu64 "~%" PRIu64 "%s", l->v[i].off, l->v[i].len,
               l->v[i].exists ? "" : "(zero)");
    }
    printf("%s\n", l->n > 24 ? " ..." : "");
}

int ext_equal(const extlist *a, const extlist *b)
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
int ext_covers(const extlist *l, uint64_t off, uint64_t len, int exists)
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

uint64_t ext_total(const extlist *l)
{
    uint64_t t = 0;

    for (size_t i = 0; i < l->n; i++) {
        t += l->v[i].len;
    }
    return t;
}

/* The property a backup relies on: every byte that differs between `from` and `to` is
 * reported, and every extent reported as not existing is zero in `to`. */
int diff_is_sound(const extlist *l, const model *from, const model *to, const char *what)
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

void tally_cb(ssize_t rc, void *arg)
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

aio_req *req_new(aio_tally *t, ssize_t expect)
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
int write_range(rbdio_image *img, const model *m, uint64_t off, uint64_t len,
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
int read_matches(rbdio_image *img, const model *m, int depth, const char *what)
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

int raw_connect(void)
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

int raw_discard(const char *image, uint64_t off, uint64_t len)
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

int raw_write(const char *image, uint64_t off, const void *buf, size_t len)
{
    rbd_image_t img;
    int rc = rbd_open(raw_io, image, &img, NULL);

    if (rc == 0) {
        ssize_t w = rbd_write(img, off, len, buf);
        rc = w == (ssize_t)len ? 0 : w < 0 ? (int)w : -EIO;
        rbd_close(img);
    }
    return rc;
}

int raw_clone(const char *parent, const char *snap, const char *child)
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

void raw_unprotect(const char *image, const char *snap)
{
    rbd_image_t img;

    if (rbd_open(raw_io, image, &img, NULL) == 0) {
        rbd_snap_unprotect(img, snap);
        rbd_close(img);
    }
}

/* Remove an image and all its snapshots (cleanup; errors ignored). */
void raw_purge(rados_ioctx_t io, const char *image)
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
int raw_disorder(const char *image)
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
int cli_diff(const char *spec, const char *from_snap, extlist *l)
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

int pipe_extent(uint64_t off, uint64_t len, int exists, void *arg)
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
