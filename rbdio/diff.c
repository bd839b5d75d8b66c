/* diff.c - walk the extents that changed between two snapshots (rbd_diff_iterate2). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

/* State of one walk. librbd reports extents in increasing order (stripe period by period,
 * objects of a period in order, through an ordered throttle); we check that rather than
 * trust it, since the caller writes its index in that order. */
typedef struct diff_walk {
    rbdio_extent_cb cb;
    void *arg;
    uint64_t start;       /* the range walked: extents are clipped to it */
    uint64_t end;
    uint64_t next;        /* end of the last extent handed over */
    int user_rc;          /* the non-zero return of cb that stopped the walk */
    int disorder;         /* librbd went backwards: the walk is stopped with -EIO */
    uint64_t bad_off;
} diff_walk;

/* The librbd callback. It may run on a librados thread; calls are serialized. */
static int on_extent(uint64_t off, size_t len, int exists, void *arg)
{
    diff_walk *w = arg;
    int rc;

    /* librbd may still report objects that were in flight when we stopped. */
    if (w->user_rc != 0 || w->disorder) {
        return -ECANCELED;
    }
    if (off < w->start) {
        len = off + len > w->start ? (size_t)(off + len - w->start) : 0;
        off = w->start;
    }
    if (off + len > w->end) {
        len = off < w->end ? (size_t)(w->end - off) : 0;
    }
    if (len == 0) {
        return 0;
    }
    if (off < w->next) {
        w->disorder = 1;
        w->bad_off = off;
        return -ECANCELED;
    }
    w->next = off + len;
    rc = w->cb(off, len, exists ? 1 : 0, w->arg);
    if (rc != 0) {
        w->user_rc = rc;
        return -ECANCELED;  /* librbd stops only on a negative return */
    }
    return 0;
}

/* Walk [off, off + len) with librbd, reporting to cb through on_extent. */
static int walk(rbdio_image *img, const char *from_snap, uint64_t off, uint64_t len,
                int include_parent, int whole_object, rbdio_extent_cb cb, void *arg)
{
    diff_walk w = { .cb = cb, .arg = arg, .start = off, .end = off + len, .next = off };
    int rc;

    rc = rbd_diff_iterate2(img->rbd, from_snap, off, len, include_parent ? 1 : 0,
                           whole_object ? 1 : 0, on_extent, &w);
    if (w.user_rc != 0) {
        return w.user_rc;  /* the caller's stop: its own error text stands */
    }
    if (w.disorder) {
        rbdio_errorf("diff of '%s': librbd reported an extent at %" PRIu64 " after one ending "
                     "at %" PRIu64, img->where, w.bad_off, w.next);
        return -EIO;
    }
    if (rc == -ENOENT && from_snap != NULL) {
        rbdio_errorf("snapshot '%s' of '%s' does not exist", from_snap, img->where);
    } else if (rc == -EINVAL && from_snap != NULL) {
        rbdio_fail(rc, "cannot diff '%s' from snapshot '%s' (is it older?)", img->where,
                   from_snap);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot diff '%s' from %s over %" PRIu64 "~%" PRIu64, img->where,
                   from_snap ? from_snap : "the beginning", off, len);
    }
    return rc;
}

int rbdio_diff(rbdio_image *img, const char *from_snap, uint64_t size, int include_parent,
               int whole_object, rbdio_extent_cb cb, void *arg)
{
    return walk(img, from_snap, 0, size, include_parent, whole_object, cb, arg);
}

int rbdio_diff_range(rbdio_image *img, const char *from_snap, uint64_t off, uint64_t len,
                     int include_parent, rbdio_extent_cb cb, void *arg)
{
    return walk(img, from_snap, off, len, include_parent, 0, cb, arg);
}

/* RBD_FLAG_OBJECT_MAP_INVALID or RBD_FLAG_FAST_DIFF_INVALID set on rbd (at its open
 * snapshot): 1, 0, or a negative errno with the error set naming where. */
static int flags_invalid(rbd_image_t rbd, const char *where)
{
    uint64_t flags = 0;
    int rc = rbd_get_flags(rbd, &flags);
    if (rc < 0) {
        return rbdio_fail(rc, "cannot read the flags of '%s'", where);
    }
    return (flags & (RBD_FLAG_OBJECT_MAP_INVALID | RBD_FLAG_FAST_DIFF_INVALID)) != 0;
}

int rbdio_fast_diff(rbdio_image *img)
{
    uint64_t features = 0;
    int rc = rbd_get_features(img->rbd, &features);
    if (rc < 0) {
        return rbdio_fail(rc, "cannot read the features of '%s'", img->where);
    }
    if ((features & RBD_FEATURE_FAST_DIFF) == 0) {
        return 0;
    }
    rc = flags_invalid(img->rbd, img->where);
    return rc < 0 ? rc : !rc;
}

int rbdio_map_invalid(rbdio_image *img, char *where, size_t len)
{
    snprintf(where, len, "%s", img->where);
    return flags_invalid(img->rbd, img->where);
}

int rbdio_map_invalid_at(rbdio_image *img, const char *snap, char *where, size_t len)
{
    char id[64];
    rbd_image_t other;
    size_t n = strlen(img->where), cut = img->snap != NULL ? strlen(img->snap) + 1 : 0;
    int rc;

    n = n > cut ? n - cut : n;       /* "pool[/ns]/image" of img->where */
    snprintf(where, len, "%.*s%s%s", (int)n, img->where, snap ? "@" : "", snap ? snap : "");
    rc = rbd_get_id(img->rbd, id, sizeof(id));
    if (rc == 0) {
        rc = rbd_open_by_id_read_only(img->io, id, &other, snap);
    }
    if (rc < 0) {
        return rbdio_fail(rc, "cannot open '%s'", where);
    }
    rc = flags_invalid(other, where);
    rbd_close(other);
    return rc;
}
