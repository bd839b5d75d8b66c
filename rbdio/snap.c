/* snap.c - list, create, remove and protect the snapshots of an image. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rbdio/rbdio_internal.h"

/* librbd calls progress callbacks without checking them for NULL. */
static int no_progress(uint64_t offset, uint64_t total, void *arg)
{
    (void)offset;
    (void)total;
    (void)arg;
    return 0;
}

static int cmp_snap_id(const void *a, const void *b)
{
    const rbdio_snap *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* rbd_snap_list into a malloc'ed array (growing it on -ERANGE); returns the count. */
static int list_raw(rbd_image_t rbd, rbd_snap_info_t **out)
{
    int max = 16;

    for (;;) {
        /* one more entry than the count: librbd writes an end marker */
        rbd_snap_info_t *raw = calloc((size_t)max + 1, sizeof(*raw));
        int got = max;
        int rc;

        if (raw == NULL) {
            return -ENOMEM;
        }
        rc = rbd_snap_list(rbd, raw, &got);
        if (rc >= 0) {
            *out = raw;
            return rc;
        }
        free(raw);
        if (rc != -ERANGE) {
            return rc;
        }
        max = got > max ? got : max * 2;  /* snapshots may be added meanwhile: loop */
    }
}

/* The namespace type of snapshot id (RBD_SNAP_NAMESPACE_TYPE_*: user, group, librbd's
 * trash, mirroring); -ENOENT if it was removed meanwhile, another negative on error. */
static int snap_ns(rbd_image_t rbd, uint64_t id)
{
    rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;
    int rc = rbd_snap_get_namespace_type(rbd, id, &type);

    return rc < 0 ? rc : (int)type;
}

/* Fill s from the snapshot raw of namespace type ns: its time, and for a user snapshot
 * its protection, for a trash one its name before it went there. -ENOENT if it was
 * removed meanwhile. */
static int snap_fill(rbd_image_t rbd, const rbd_snap_info_t *raw, int ns, rbdio_snap *s)
{
    struct timespec ts = {0, 0};
    int rc;

    s->id = raw->id;
    s->size = raw->size;
    snprintf(s->name, sizeof(s->name), "%s", raw->name);
    rc = rbd_snap_get_timestamp(rbd, raw->id, &ts);
    s->timestamp = (int64_t)ts.tv_sec;
    if (rc == 0 && ns == RBD_SNAP_NAMESPACE_TYPE_USER) {
        rc = rbd_snap_is_protected(rbd, raw->name, &s->is_protected);
    } else if (rc == 0 && ns == RBD_SNAP_NAMESPACE_TYPE_TRASH) {
        rc = rbd_snap_get_trash_namespace(rbd, raw->id, s->name, sizeof(s->name));
    }
    return rc;
}

/* The snapshots of namespace type ns, in id order; *skipped gets how many of the others
 * there were (NULL: not wanted). */
static int list_ns(rbdio_image *img, int ns, rbdio_snap **snaps, int *n, int *skipped)
{
    rbd_snap_info_t *raw = NULL;
    rbdio_snap *list;
    int count, got = 0, others = 0, rc = 0;

    *snaps = NULL;
    *n = 0;
    count = list_raw(img->rbd, &raw);
    if (count < 0) {
        return rbdio_fail(count, "cannot list snapshots of '%s'", img->where);
    }
    list = calloc(count > 0 ? (size_t)count : 1, sizeof(*list));
    if (list == NULL) {
        rc = rbdio_fail(-ENOMEM, "cannot list snapshots of '%s'", img->where);
    }
    for (int i = 0; rc == 0 && i < count; i++) {
        rc = snap_ns(img->rbd, raw[i].id);
        if (rc == ns) {
            rc = snap_fill(img->rbd, &raw[i], ns, &list[got]);
            got += rc == 0;
        } else if (rc >= 0) {
            rc = 0;
            others++;
        }
        if (rc == -ENOENT) {
            rc = 0;             /* removed since the listing: not there any more */
            others++;
        } else if (rc < 0) {
            rbdio_fail(rc, "cannot read snapshot '%s' of '%s'", raw[i].name, img->where);
        }
    }
    if (count > 0) {
        rbd_snap_list_end(raw);
    }
    free(raw);
    if (rc < 0) {
        free(list);
        return rc;
    }
    qsort(list, (size_t)got, sizeof(*list), cmp_snap_id);
    *snaps = list;
    *n = got;
    if (skipped != NULL) {
        *skipped = others;
    }
    return 0;
}

int rbdio_snap_list_ex(rbdio_image *img, rbdio_snap **snaps, int *n, int *skipped)
{
    return list_ns(img, RBD_SNAP_NAMESPACE_TYPE_USER, snaps, n, skipped);
}

int rbdio_snap_list(rbdio_image *img, rbdio_snap **snaps, int *n)
{
    return list_ns(img, RBD_SNAP_NAMESPACE_TYPE_USER, snaps, n, NULL);
}

int rbdio_snap_list_trash(rbdio_image *img, rbdio_snap **snaps, int *n)
{
    return list_ns(img, RBD_SNAP_NAMESPACE_TYPE_TRASH, snaps, n, NULL);
}

int rbdio_snap_remove_id(rbdio_image *img, uint64_t id)
{
    int rc = rbd_snap_remove_by_id(img->rbd, id);

    if (rc == -ENOENT) {
        rbdio_errorf("snapshot id %llu of '%s' does not exist", (unsigned long long)id,
                     img->where);
    } else if (rc == -EBUSY) {
        rbdio_errorf("snapshot id %llu of '%s' is protected or has clones",
                     (unsigned long long)id, img->where);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot remove snapshot id %llu of '%s'", (unsigned long long)id,
                   img->where);
    }
    return rc;
}

int rbdio_snap_get(rbdio_image *img, const char *name, rbdio_snap *out)
{
    rbd_snap_info_t raw;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&raw, 0, sizeof(raw));
    raw.name = name;
    rc = rbd_snap_get_id(img->rbd, name, &raw.id);
    if (rc == 0) {
        rc = snap_ns(img->rbd, raw.id);
        rc = rc == RBD_SNAP_NAMESPACE_TYPE_USER ? 0 : rc > 0 ? -ENOENT : rc;
    }
    if (rc == 0) {
        rc = snap_fill(img->rbd, &raw, RBD_SNAP_NAMESPACE_TYPE_USER, out);
    }
    if (rc == 0 && (out->id == 0 || out->timestamp < RBDIO_SNAP_TIME_MIN)) {
        rc = -EINVAL;
        rbdio_errorf("snapshot '%s' of '%s' has no valid id and time (id %llu, time %lld)",
                     name, img->where, (unsigned long long)out->id, (long long)out->timestamp);
    } else if (rc == -ENOENT) {
        rbdio_errorf("snapshot '%s' of '%s' does not exist", name, img->where);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot read snapshot '%s' of '%s'", name, img->where);
    }
    return rc;
}

int rbdio_snap_exists(rbdio_image *img, const char *name)
{
    bool exists = false;
    int rc = rbd_snap_exists(img->rbd, name, &exists);

    if (rc < 0) {
        return rbdio_fail(rc, "cannot look up snapshot '%s' of '%s'", name, img->where);
    }
    return exists ? 1 : 0;
}

int rbdio_snap_create(rbdio_image *img, const char *name)
{
    /* A client that cannot quiesce (rbd-nbd without hooks...) must not stop a backup:
     * the snapshot is then crash-consistent, as it is without any such client. */
    rbdio_call call;
    rbdio_call_begin(&call, "creating snapshot '%s' of '%s'", name, img->where);
    int rc = rbd_snap_create2(img->rbd, name, RBD_SNAP_CREATE_IGNORE_QUIESCE_ERROR,
                              no_progress, NULL);
    rc = rbdio_call_end(&call, img->c->op_timeout_s, rc);

    if (rc == -EEXIST) {
        rbdio_errorf("snapshot '%s' of '%s' already exists", name, img->where);
    } else if (rc < 0) {
        rbdio_fail_call(&call, rc, "cannot create snapshot '%s' of '%s'", name, img->where);
    }
    return rc;
}

int rbdio_snap_remove(rbdio_image *img, const char *name)
{
    rbdio_call call;
    rbdio_call_begin(&call, "removing snapshot '%s' of '%s'", name, img->where);
    int rc = rbd_snap_remove2(img->rbd, name, 0, no_progress, NULL);
    rc = rbdio_call_end(&call, img->c->op_timeout_s, rc);

    if (rc == -ENOENT) {
        rbdio_errorf("snapshot '%s' of '%s' does not exist", name, img->where);
    } else if (rc == -EBUSY) {
        rbdio_errorf("snapshot '%s' of '%s' is protected or has clones", name, img->where);
    } else if (rc < 0) {
        rbdio_fail_call(&call, rc, "cannot remove snapshot '%s' of '%s'", name, img->where);
    }
    return rc;
}

int rbdio_meta_get(rbdio_image *img, const char *key, char *buf, size_t len)
{
    size_t got = len;
    int rc = rbd_metadata_get(img->rbd, key, buf, &got);

    /* librbd counts the NUL; a value without one gets it here, if it fits. */
    if (rc == 0 && (got == 0 || buf[got - 1] != '\0')) {
        if (got < len)
            buf[got] = '\0';
        else
            rc = -ERANGE;
    }
    if (rc == -ERANGE)
        rbdio_errorf("metadata '%s' of '%s' is longer than %zu bytes", key, img->where, len);
    else if (rc < 0 && rc != -ENOENT)
        rbdio_fail(rc, "cannot read metadata '%s' of '%s'", key, img->where);
    return rc;
}

int rbdio_meta_set(rbdio_image *img, const char *key, const char *value)
{
    int rc = rbd_metadata_set(img->rbd, key, value);

    if (rc < 0) {
        rbdio_fail(rc, "cannot set metadata '%s' of '%s'", key, img->where);
    }
    return rc;
}

int rbdio_meta_remove(rbdio_image *img, const char *key)
{
    int rc = rbd_metadata_remove(img->rbd, key);

    if (rc < 0 && rc != -ENOENT) {
        rbdio_fail(rc, "cannot remove metadata '%s' of '%s'", key, img->where);
    }
    return rc == -ENOENT ? 0 : rc;
}

int rbdio_snap_protect(rbdio_image *img, const char *name)
{
    int is_protected = 0;
    int rc = rbd_snap_is_protected(img->rbd, name, &is_protected);

    if (rc == 0 && is_protected) {
        return 0;  /* already protected: done */
    }
    if (rc == 0) {
        rc = rbd_snap_protect(img->rbd, name);
    }
    if (rc == -EBUSY) {
        return 0;  /* protected meanwhile by someone else */
    }
    if (rc == -ENOENT) {
        rbdio_errorf("snapshot '%s' of '%s' does not exist", name, img->where);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot protect snapshot '%s' of '%s'", name, img->where);
    }
    return rc;
}
