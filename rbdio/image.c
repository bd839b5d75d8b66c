/* image.c - open, close, stat, create, resize, flush and list RBD images. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

/* Features that rbd_create4 accepts; the others are internal or follow from options. */
#define CREATE_FEATURES (RBD_FEATURE_LAYERING | RBD_FEATURE_STRIPINGV2 | \
                         RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP | \
                         RBD_FEATURE_FAST_DIFF | RBD_FEATURE_DEEP_FLATTEN | \
                         RBD_FEATURE_JOURNALING)

static int spec_valid(const rbdio_spec *spec)
{
    if (spec == NULL || spec->image == NULL || spec->image[0] == '\0') {
        rbdio_errorf("no image name given");
        return -EINVAL;
    }
    return 0;
}

int rbdio_spec_ioctx(rbdio_cluster *c, const rbdio_spec *spec, rados_ioctx_t *io)
{
    int rc = spec_valid(spec);

    return rc < 0 ? rc : rbdio_ioctx_open(c, spec->pool, spec->ns, io);
}

/* Name what is missing after an -ENOENT from rbd_open*: namespace, image or snapshot. */
static int explain_enoent(rados_ioctx_t io, const rbdio_spec *spec, const char *snap)
{
    char where[RBDIO_WHERE_MAX];
    rbd_image_t probe;
    int rc;

    rc = rbdio_ns_check(io, spec->pool, spec->ns);
    if (rc == -ENOENT) {
        return rc;  /* other failures of the check: say what rbd_open said */
    }
    rbdio_where(where, sizeof(where), spec->pool, spec->ns, spec->image, NULL);
    if (snap != NULL && rbd_open_read_only(io, spec->image, &probe, NULL) == 0) {
        rbd_close(probe);
        rbdio_errorf("snapshot '%s' of image '%s' does not exist", snap, where);
        return -ENOENT;
    }
    rbdio_errorf("image '%s' does not exist", where);
    return -ENOENT;
}

int rbdio_open(rbdio_cluster *c, const rbdio_spec *spec, const char *snap, rbdio_image **out)
{
    rbdio_image *img;
    int rc;

    *out = NULL;
    rc = spec_valid(spec);
    if (rc < 0) {
        return rc;
    }
    img = calloc(1, sizeof(*img));
    if (img == NULL) {
        return rbdio_fail(-ENOMEM, "cannot open image '%s'", spec->image);
    }
    img->c = c;
    rbdio_where(img->where, sizeof(img->where), spec->pool, spec->ns, spec->image, snap);
    if (snap != NULL) {
        img->snap = strdup(snap);
        if (img->snap == NULL) {
            rc = rbdio_fail(-ENOMEM, "cannot open image '%s'", img->where);
            goto fail;
        }
    }
    rc = rbdio_ioctx_open(c, spec->pool, spec->ns, &img->io);
    if (rc < 0) {
        goto fail;
    }
    if (snap != NULL) {
        rc = rbd_open_read_only(img->io, spec->image, &img->rbd, snap);
    } else {
        rc = rbd_open(img->io, spec->image, &img->rbd, NULL);
    }
    if (rc < 0) {
        img->rbd = NULL;
        if (rc == -ENOENT) {
            rc = explain_enoent(img->io, spec, snap);
        } else {
            rbdio_fail(rc, "cannot open image '%s'", img->where);
        }
        goto fail;
    }
    *out = img;
    return 0;

fail:
    rbdio_close(img);
    return rc;
}

void rbdio_close(rbdio_image *img)
{
    if (img == NULL) {
        return;
    }
    if (img->rbd) {
        rbd_close(img->rbd);
    }
    if (img->io) {
        rados_ioctx_destroy(img->io);
    }
    free(img->snap);
    free(img);
}

int rbdio_stat(rbdio_image *img, rbdio_info *info)
{
    rbd_image_info_t ri;
    int rc;

    memset(info, 0, sizeof(*info));
    rc = rbd_stat(img->rbd, &ri, sizeof(ri));
    if (rc == 0) {
        info->size = ri.size;
        info->order = ri.order;
        rc = rbd_get_features(img->rbd, &info->features);
    }
    if (rc == 0) {
        rc = rbd_get_stripe_unit(img->rbd, &info->stripe_unit);
    }
    if (rc == 0) {
        rc = rbd_get_stripe_count(img->rbd, &info->stripe_count);
    }
    if (rc == 0) {
        rc = rbd_get_id(img->rbd, info->id, sizeof(info->id));
    }
    if (rc < 0) {
        return rbdio_fail(rc, "cannot stat image '%s'", img->where);
    }
    return 0;
}

int rbdio_image_exists(rbdio_cluster *c, const rbdio_spec *spec)
{
    char where[RBDIO_WHERE_MAX];
    rados_ioctx_t io;
    rbd_image_t rbd;
    int rc;

    rc = rbdio_spec_ioctx(c, spec, &io);
    if (rc < 0) {
        return rc;
    }
    rc = rbd_open_read_only(io, spec->image, &rbd, NULL);
    if (rc == 0) {
        rbd_close(rbd);
        rc = 1;
    } else if (rc == -ENOENT) {
        /* A missing namespace is an error, not an answer. */
        rc = rbdio_ns_check(io, spec->pool, spec->ns);
    } else {
        rbdio_where(where, sizeof(where), spec->pool, spec->ns, spec->image, NULL);
        rbdio_fail(rc, "cannot check whether image '%s' exists", where);
    }
    rados_ioctx_destroy(io);
    return rc;
}

int rbdio_geom_opts(const rbdio_info *geom, rbd_image_options_t *out, uint64_t *features_out)
{
    uint64_t features = geom->features & CREATE_FEATURES;
    uint64_t obj_size = geom->order > 0 ? (uint64_t)1 << geom->order : 0;
    uint64_t su = geom->stripe_unit, sc = geom->stripe_count;
    rbd_image_options_t opts;
    int rc;

    /* Default striping (one object per stripe unit) is not passed: librbd would then set
     * the striping feature for nothing. */
    if ((su == 0 && sc == 0) || (sc == 1 && (su == 0 || su == obj_size))) {
        su = sc = 0;
        features &= ~RBD_FEATURE_STRIPINGV2;
    }
    rbd_image_options_create(&opts);
    rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FORMAT, 2);
    if (rc == 0) {
        rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, features);
    }
    if (rc == 0 && geom->order > 0) {
        rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, (uint64_t)geom->order);
    }
    if (rc == 0 && (su != 0 || sc != 0)) {
        rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_STRIPE_UNIT, su);
        if (rc == 0) {
            rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_STRIPE_COUNT, sc);
        }
    }
    if (rc < 0) {
        rbd_image_options_destroy(opts);
        return rbdio_fail(rc, "cannot set the image options (order %d, features 0x%" PRIx64
                          ", stripe %" PRIu64 "x%" PRIu64 ")", geom->order, features, su, sc);
    }
    *out = opts;
    if (features_out != NULL) {
        *features_out = features;
    }
    return 0;
}

int rbdio_image_create(rbdio_cluster *c, const rbdio_spec *spec, const rbdio_info *geom)
{
    char where[RBDIO_WHERE_MAX];
    uint64_t features = 0;
    rbd_image_options_t opts;
    rados_ioctx_t io;
    int rc;

    rc = rbdio_spec_ioctx(c, spec, &io);
    if (rc < 0) {
        return rc;
    }
    rbdio_where(where, sizeof(where), spec->pool, spec->ns, spec->image, NULL);
    rc = rbdio_ns_check(io, spec->pool, spec->ns);
    if (rc == 0) {
        rc = rbdio_geom_opts(geom, &opts, &features);
    }
    if (rc < 0) {
        rados_ioctx_destroy(io);
        return rc;
    }
    rc = rbd_create4(io, spec->image, geom->size, opts);
    rbd_image_options_destroy(opts);
    rados_ioctx_destroy(io);
    if (rc == -EEXIST) {
        rbdio_errorf("image '%s' already exists", where);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot create image '%s' (size %" PRIu64 ", order %d, features 0x%"
                   PRIx64 ", stripe %" PRIu64 "x%" PRIu64 ")", where, geom->size, geom->order,
                   features, geom->stripe_unit, geom->stripe_count);
    }
    return rc;
}

/* Remove the snapshots of an open image, newest first; none if one is protected. */
static int remove_snaps(rbdio_image *img)
{
    rbdio_snap *snaps = NULL;
    int n = 0, rc;

    rc = rbdio_snap_list(img, &snaps, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (snaps[i].is_protected) {
            rbdio_errorf("cannot remove image '%s': snapshot '%s' is protected", img->where,
                         snaps[i].name);
            rc = -EBUSY;
        }
    }
    for (int i = n - 1; rc == 0 && i >= 0; i--) {
        rc = rbdio_snap_remove(img, snaps[i].name);
    }
    free(snaps);
    return rc;
}

int rbdio_image_remove(rbdio_cluster *c, const rbdio_spec *spec)
{
    char where[RBDIO_WHERE_MAX];
    rbdio_image *img;
    rados_ioctx_t io;
    int rc;

    rc = rbdio_open(c, spec, NULL, &img);
    if (rc < 0) {
        return rc;
    }
    rc = remove_snaps(img);
    rbdio_close(img);
    if (rc == 0) {
        rc = rbdio_ioctx_open(c, spec->pool, spec->ns, &io);
    }
    if (rc < 0) {
        return rc;
    }
    rc = rbd_remove(io, spec->image);
    rados_ioctx_destroy(io);
    rbdio_where(where, sizeof(where), spec->pool, spec->ns, spec->image, NULL);
    if (rc == -EBUSY) {
        rbdio_errorf("cannot remove image '%s': it is open elsewhere or has clones", where);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot remove image '%s'", where);
    }
    return rc;
}

int rbdio_image_rename(rbdio_cluster *c, const rbdio_spec *spec, const char *new_name)
{
    char where[RBDIO_WHERE_MAX];
    rados_ioctx_t io;
    int rc = rbdio_ioctx_open(c, spec->pool, spec->ns, &io);

    if (rc < 0) {
        return rc;
    }
    rc = rbd_rename(io, spec->image, new_name);
    rados_ioctx_destroy(io);
    rbdio_where(where, sizeof(where), spec->pool, spec->ns, spec->image, NULL);
    if (rc == -EEXIST) {
        rbdio_errorf("cannot rename image '%s' to '%s': that name exists", where, new_name);
    } else if (rc < 0) {
        rbdio_fail(rc, "cannot rename image '%s' to '%s'", where, new_name);
    }
    return rc;
}

int rbdio_resize(rbdio_image *img, uint64_t size)
{
    int rc = rbd_resize(img->rbd, size);

    if (rc < 0) {
        return rbdio_fail(rc, "cannot resize image '%s' to %" PRIu64 " bytes", img->where,
                          size);
    }
    return 0;
}

int rbdio_flush(rbdio_image *img)
{
    int rc = rbd_flush(img->rbd);

    if (rc < 0) {
        return rbdio_fail(rc, "cannot flush image '%s'", img->where);
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the image specs of io into a malloc'ed array; *n gets the count. */
static int list_specs(rados_ioctx_t io, rbd_image_spec_t **out, size_t *n)
{
    size_t max = 64;
    int rc;

    for (;;) {
        rbd_image_spec_t *specs = calloc(max, sizeof(*specs));
        size_t got = max;

        if (specs == NULL) {
            return -ENOMEM;
        }
        rc = rbd_list2(io, specs, &got);
        if (rc == 0) {
            *out = specs;
            *n = got;
            return 0;
        }
        free(specs);
        if (rc != -ERANGE) {
            return rc;
        }
        max = got > max ? got : max * 2;  /* images may be added meanwhile: loop */
    }
}

int rbdio_image_list(rbdio_cluster *c, const char *pool, const char *ns, char ***names)
{
    char where[RBDIO_WHERE_MAX];
    rbd_image_spec_t *specs = NULL;
    rados_ioctx_t io;
    char **list = NULL;
    size_t n = 0;
    int rc;

    *names = NULL;
    rc = rbdio_ioctx_open(c, pool, ns, &io);
    if (rc < 0) {
        return rc;
    }
    rc = rbdio_ns_check(io, pool, ns);
    if (rc == 0) {
        rc = list_specs(io, &specs, &n);
        if (rc < 0) {
            rbdio_where(where, sizeof(where), pool, ns, NULL, NULL);
            rbdio_fail(rc, "cannot list images of '%s'", where);
        }
    }
    rados_ioctx_destroy(io);
    if (rc < 0) {
        return rc;
    }
    list = calloc(n + 1, sizeof(*list));
    for (size_t i = 0; list != NULL && i < n; i++) {
        list[i] = strdup(specs[i].name);
        if (list[i] == NULL) {
            rbdio_free_names(list);
            list = NULL;
        }
    }
    rbd_image_spec_list_cleanup(specs, n);
    free(specs);
    if (list == NULL) {
        return rbdio_fail(-ENOMEM, "cannot list images of pool '%s'", pool);
    }
    qsort(list, n, sizeof(*list), cmp_names);
    *names = list;
    return 0;
}

void rbdio_free_names(char **names)
{
    if (names == NULL) {
        return;
    }
    for (char **p = names; *p != NULL; p++) {
        free(*p);
    }
    free(names);
}
