/* target.c - a restore's destination under a partial name (image or file), its marker
 * (image-meta or extended attribute), the rename at the end, a rerun's cleanup. */
#include "agent/restore/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

void target_init(target *t, ag_ctx *ctx, const char *source)
{
    char host[256] = "unknown";
    memset(t, 0, sizeof(*t));
    t->ctx = ctx;
    t->fd = -1;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(t->source, sizeof(t->source), "%s", source);
    snprintf(t->marker, sizeof(t->marker), "%s host %s pid %ld", source, host,
             (long)getpid());
}

int target_marker_parse(const char *marker, char *source, size_t slen, char *host,
                        size_t hlen, long *pid)
{
    for (const unsigned char *c = (const unsigned char *)marker; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f)
            return -EINVAL;             /* printed in messages: no control bytes */
    const char *p = strstr(marker, " pid "), *h = NULL, *q;
    for (q = p; q != NULL; q = strstr(q + 1, " pid "))
        p = q;                          /* the last " pid " */
    for (q = marker; p != NULL && (q = strstr(q, " host ")) != NULL && q < p; q++)
        h = q;                          /* the last " host " before it */
    if (p == NULL || h == NULL || h == marker || p - h < 7)
        return -EINVAL;                 /* " host " + at least one byte + " pid " */
    char *end;
    errno = 0;
    long v = strtol(p + 5, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || p[5] < '0' || p[5] > '9')
        return -EINVAL;
    size_t sl = (size_t)(h - marker), hl = (size_t)(p - h - 6);
    if (sl >= slen || hl == 0 || hl >= hlen || memchr(h + 6, ' ', hl) != NULL)
        return -EINVAL;
    memcpy(source, marker, sl);
    source[sl] = '\0';
    memcpy(host, h + 6, hl);
    host[hl] = '\0';
    *pid = v;
    return 0;
}

/* Decide about a partial target named what carrying marker (NULL: none): 0 if it is
 * this backup's, left by a run that is not alive here (remove it); -1 (recorded) if
 * it must stay. */
static int judge(target *t, const char *what, const char *marker)
{
    char src[sizeof(t->marker)], host[256], me[256] = "";
    long pid;
    if (marker == NULL || target_marker_parse(marker, src, sizeof(src), host, sizeof(host),
                                              &pid) < 0)
        return ag_fail(t->ctx, AG_EEXIST, "%s: exists and is not a partial restore made by "
                       "rbd2s3 (no valid %s marker): not removed", what,
                       t->path ? TARGET_XATTR : TARGET_META);
    if (strcmp(src, t->source) != 0)
        return ag_fail(t->ctx, AG_EEXIST, "%s: partial restore of another backup (%s, by "
                       "host %s pid %ld): not removed", what, src, host, pid);
    int here = gethostname(me, sizeof(me) - 1) == 0 && strcmp(me, host) == 0;
    if (here && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
        return ag_fail(t->ctx, AG_EBUSY, "%s: partial restore of %s by pid %ld, which is "
                       "still running", what, src, pid);
    ag_info(t->ctx, "%s: partial restore of %s left by host %s pid %ld%s: removing it",
            what, src, host, pid, here ? ", which is gone" : "");
    return 0;
}

/* ---- images ---- */

static rbdio_spec spec_of(const target *t, const char *name)
{
    return (rbdio_spec){ t->pool, t->ns, name };
}

/* Read the marker of the partial image; 0 (buf filled), 1 (none), -1 (recorded). */
static int image_marker(target *t, char *buf, size_t len)
{
    rbdio_spec ps = spec_of(t, t->part);
    rbdio_image *img;
    int rc = rbdio_open(t->cl, &ps, NULL, &img);
    if (rc < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    rc = rbdio_meta_get(img, TARGET_META, buf, len);
    rbdio_close(img);
    if (rc == -ENOENT || rc == -ERANGE)
        return 1;
    return rc < 0 ? ag_fail_rbd(t->ctx, rc, t->part_name) : 0;
}

/* Remove the partial image, retried while a killed client's watch keeps it busy. */
static int image_remove_waiting(target *t)
{
    rbdio_spec ps = spec_of(t, t->part);
    double until = ag_now() + TARGET_WAIT_S;
    int rc, said = 0;
    while ((rc = rbdio_image_remove(t->cl, &ps)) == -EBUSY && ag_now() < until &&
           !ag_interrupted) {
        if (!said++)
            ag_info(t->ctx, "%s: still open by the killed restore (its watch expires after "
                    "about 30 s): waiting up to %d s to remove it", t->part_name, TARGET_WAIT_S);
        sleep(2);
    }
    if (rc == 0 || rc == -ENOENT)
        return 0;
    if (ag_interrupted)
        return ag_fail(t->ctx, AG_EINTR, "interrupted");
    if (rc == -EBUSY)
        return ag_fail(t->ctx, AG_EBUSY, "%s: partial image still open elsewhere after %d s:"
                       " not removed", t->part_name, TARGET_WAIT_S);
    return ag_fail_rbd(t->ctx, rc, t->part_name);
}

int target_cluster(ag_ctx *ctx, const char *conf, const char *id, const char *pool,
                   const char *ns, const char *name, rbdio_cluster **out, int *own)
{
    int rc;
    *own = 0;
    if (conf != NULL || id != NULL) {
        rc = rbdio_connect(conf ? conf : ctx->opts.ceph_conf, id ? id : ctx->opts.id, 30, out);
        if (rc < 0)
            return ag_fail(ctx, AG_ECEPH, "cannot connect to the destination cluster: %s",
                           rbdio_last_error());
        *own = 1;
    } else if ((*out = ag_cluster(ctx)) == NULL) {
        return -1;
    }
    if ((rc = rbdio_pool_check(*out, pool, ns)) < 0)
        return ag_fail_rbd(ctx, rc, name);
    return 0;
}

int target_image_prepare(target *t, rbdio_cluster *cl, const char *pool, const char *ns,
                         const char *image, const char *dest_name)
{
    t->cl = cl;
    snprintf(t->pool, sizeof(t->pool), "%s", pool);
    snprintf(t->ns, sizeof(t->ns), "%s", ns ? ns : "");
    snprintf(t->image, sizeof(t->image), "%s", image);
    snprintf(t->part, sizeof(t->part), "%s%s", image, TARGET_SUFFIX);
    snprintf(t->dest_name, sizeof(t->dest_name), "%s", dest_name);
    snprintf(t->part_name, sizeof(t->part_name), "%s%s", dest_name, TARGET_SUFFIX);
    rbdio_spec ds = spec_of(t, t->image), ps = spec_of(t, t->part);
    int rc = rbdio_image_exists(cl, &ds);
    if (rc < 0)
        return ag_fail_rbd(t->ctx, rc, dest_name);
    if (rc == 1)
        return ag_fail(t->ctx, AG_EEXIST, "%s: destination image already exists", dest_name);
    if ((rc = rbdio_image_exists(cl, &ps)) < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    if (rc == 0)
        return 0;
    char marker[TARGET_MARKER_MAX];
    if ((rc = image_marker(t, marker, sizeof(marker))) < 0 ||
        judge(t, t->part_name, rc == 0 ? marker : NULL) < 0)
        return -1;
    ag_info(t->ctx, "%s: removing it (a killed client's watch holds the removal up to "
            "about 30 s, until the cluster expires it)", t->part_name);
    rc = image_remove_waiting(t);
    ag_debug(t->ctx, "removed %s", t->part_name);
    return rc;
}

int target_image_create(target *t, const rbdio_info *geom)
{
    rbdio_spec ps = spec_of(t, t->part);
    int rc = rbdio_image_create(t->cl, &ps, geom);
    if (rc < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    t->created = 1;
    if ((rc = rbdio_open(t->cl, &ps, NULL, &t->img)) < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    if ((rc = rbdio_meta_set(t->img, TARGET_META, t->marker)) < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    return 0;
}

static int image_commit(target *t)
{
    rbdio_close(t->img);
    t->img = NULL;
    rbdio_spec ps = spec_of(t, t->part), ds = spec_of(t, t->image);
    int rc = rbdio_image_rename(t->cl, &ps, t->image);
    if (rc == -EEXIST)
        return ag_fail(t->ctx, AG_EEXIST, "%s: destination image appeared during the "
                       "restore", t->dest_name);
    if (rc < 0)
        return ag_fail_rbd(t->ctx, rc, t->part_name);
    t->created = 0;             /* complete under its name: never removed from here on */
    rbdio_image *img;
    if ((rc = rbdio_open(t->cl, &ds, NULL, &img)) == 0) {
        rc = rbdio_meta_remove(img, TARGET_META);
        rbdio_close(img);
    }
    if (rc < 0)
        ag_info(t->ctx, "warning: %s: cannot remove the image-meta %s: %s", t->dest_name,
                TARGET_META, rbdio_last_error());
    return 0;
}

/* ---- files ---- */

/* An existing path: accepted only if it is a block device, or a link of root's or ours
 * that resolves to one (/dev/disk/by-id/...). */
static int open_existing(target *t, const struct stat *lst)
{
    const char *path = t->path;
    char real[PATH_MAX];
    struct stat st;
    if (S_ISLNK(lst->st_mode)) {
        /* as fs.protected_symlinks: only a link of root's or of our own is followed, so
         * that a link planted in a shared directory cannot aim the restore at a disk */
        if (lst->st_uid != 0 && lst->st_uid != geteuid())
            return ag_fail(t->ctx, AG_EEXIST, "%s: already exists (a symbolic link owned by "
                           "uid %u, not root's or ours: not followed)", path,
                           (unsigned)lst->st_uid);
        if (realpath(path, real) == NULL || lstat(real, &st) < 0 || !S_ISBLK(st.st_mode))
            return ag_fail(t->ctx, AG_EEXIST, "%s: already exists (a symbolic link, not to "
                           "a block device: not followed)", path);
        path = real;
    } else if (!S_ISBLK(lst->st_mode)) {
        return ag_fail(t->ctx, AG_EEXIST, "%s: already exists", path);
    }
    t->fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (t->fd < 0)
        return ag_fail(t->ctx, errno == EACCES ? AG_EACCESS : AG_EFAIL, "%s: %s", path,
                       strerror(errno));
    if (fstat(t->fd, &st) < 0 || !S_ISBLK(st.st_mode))
        return ag_fail(t->ctx, AG_EEXIST, "%s: already exists (replaced during the check)",
                       path);
    t->is_blk = 1;
    return 0;
}

/* The partial file exists: 0 if it is this backup's of a dead run and was removed. */
static int clear_partial_file(target *t)
{
    const char *part = t->part_path;
    int fd = open(part, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return ag_fail(t->ctx, AG_EEXIST, "%s: exists and is a symbolic link, not a partial "
                       "restore made by rbd2s3: not followed, not removed", part);
    if (fd < 0)
        return ag_fail(t->ctx, AG_EEXIST, "%s: exists: %s", part, strerror(errno));
    struct stat st;
    char marker[TARGET_MARKER_MAX];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        st.st_nlink == 1)
        n = fgetxattr(fd, TARGET_XATTR, marker, sizeof(marker) - 1);
    close(fd);
    if (n >= 0)
        marker[n] = '\0';
    if (judge(t, part, n >= 0 ? marker : NULL) < 0)
        return -1;
    if (unlink(part) < 0 && errno != ENOENT)
        return ag_fail(t->ctx, AG_EFAIL, "%s: cannot remove: %s", part, strerror(errno));
    return 0;
}

static int create_partial_file(target *t)
{
    const char *part = t->part_path;
    for (int tries = 0; tries < 2; tries++) {
        t->fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (t->fd >= 0)
            break;
        if (errno != EEXIST || tries > 0)
            return ag_fail(t->ctx, errno == EEXIST ? AG_EEXIST : errno == EACCES ? AG_EACCESS
                           : AG_EFAIL, "%s: %s", part, strerror(errno));
        if (clear_partial_file(t) < 0)
            return -1;
    }
    t->created = 1;
    if (fsetxattr(t->fd, TARGET_XATTR, t->marker, strlen(t->marker), 0) < 0)
        ag_info(t->ctx, "warning: %s: cannot mark it as rbd2s3's partial restore (%s): a "
                "rerun after a kill will not remove it", part, strerror(errno));
    return 0;
}

int target_file_open(target *t, const char *path)
{
    t->path = path;
    if ((size_t)snprintf(t->part_path, sizeof(t->part_path), "%s%s", path, TARGET_SUFFIX) >=
        sizeof(t->part_path))
        return ag_fail(t->ctx, AG_EUSAGE, "%s: path too long", path);
    struct stat lst;
    if (lstat(path, &lst) == 0)
        return open_existing(t, &lst);
    if (errno != ENOENT)
        return ag_fail(t->ctx, AG_EFAIL, "%s: %s", path, strerror(errno));
    return create_partial_file(t);
}

/* fsync the directory that holds path (a rename is durable after it). */
static void sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Rename part to path, never replacing what is there. */
static int rename_noreplace(const char *part, const char *path)
{
    if (renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -errno;
    if (link(part, path) < 0)           /* file systems without RENAME_NOREPLACE */
        return -errno;
    return unlink(part) < 0 ? -errno : 0;
}

static int file_commit(target *t)
{
    if (fsync(t->fd) < 0 && errno != EINVAL)
        return ag_fail(t->ctx, AG_EFAIL, "%s: %s", t->path, strerror(errno));
    if (t->is_blk)
        return 0;
    int rc = rename_noreplace(t->part_path, t->path);
    if (rc == -EEXIST)
        return ag_fail(t->ctx, AG_EEXIST, "%s: appeared during the restore", t->path);
    if (rc < 0)
        return ag_fail(t->ctx, AG_EFAIL, "%s: cannot rename to %s: %s", t->part_path,
                       t->path, strerror(-rc));
    t->created = 0;
    sync_dir(t->path);
    (void)fremovexattr(t->fd, TARGET_XATTR);
    return 0;
}

int target_commit(target *t)
{
    if (t->path != NULL)
        return file_commit(t);
    return t->img != NULL ? image_commit(t) : 0;
}

void target_close(target *t, int failed)
{
    if (t->img != NULL)
        rbdio_close(t->img);
    t->img = NULL;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    if (!failed || !t->created)
        return;
    if (t->path != NULL) {
        if (unlink(t->part_path) < 0 && errno != ENOENT)
            ag_info(t->ctx, "warning: could not remove the partial file %s: %s",
                    t->part_path, strerror(errno));
        return;
    }
    rbdio_spec ps = spec_of(t, t->part);
    if (rbdio_image_remove(t->cl, &ps) < 0)
        ag_info(t->ctx, "warning: could not remove the partial image %s (a rerun of this "
                "restore removes it): %s", t->part_name, rbdio_last_error());
}
