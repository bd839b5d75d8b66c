/* mount.c - the mount command: a backup point as the read-only file DIR/image.raw through
 * FUSE (libfuse3's high-level API), every read served by the random-access reader. */
#define FUSE_USE_VERSION 31

#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/restore/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOUNT_FILE "image.raw"
#define MOUNT_DEV "/dev/fuse"
#define MOUNT_ERRORS_SHOWN 20    /* failed reads reported one by one; then only counted */

/* One mount run: the parsed command, the reader, the FUSE handle and the stop logic. */
typedef struct mount_job {
    ag_ctx *ctx;
    naming_spec spec;
    char name[NAMING_SPEC_MAX];
    const char *dir;
    char path[PATH_MAX];        /* dir, resolved */
    uint64_t cache_bytes;       /* --cache-size; 0: the reader's default */
    int allow_other;
    reader *r;
    uint64_t size;
    time_t mtime;               /* the backup's snapshot time */
    uid_t uid;
    gid_t gid;
    struct fuse *fuse;
    int mounted;
    pthread_t main;             /* runs the FUSE loop */
    atomic_int loop_done;       /* the loop has returned: the stopper ends */
    atomic_ulong read_errors;
} mount_job;

/* libfuse's messages: before the mount its last error is kept for the one error line of
 * a failed mount; once mounted, errors are warnings on stderr; -v shows everything. */
static char fuse_msg[256];
static int fuse_verbose;
static atomic_int fuse_loud;

static void on_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
    if (level > FUSE_LOG_ERR && !fuse_verbose)
        return;
    char line[sizeof(fuse_msg)];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    int loud = atomic_load(&fuse_loud);
    if (level <= FUSE_LOG_ERR && !loud)
        memcpy(fuse_msg, line, sizeof(fuse_msg));
    if (fuse_verbose || loud)
        ag_warn("%slibfuse: %s", level <= FUSE_LOG_ERR ? "warning: " : "", line);
}

static mount_job *job(void)
{
    return fuse_get_context()->private_data;
}

/* ---- the file system: "/" and "/image.raw" ---- */

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->kernel_cache = 1;      /* a backup point never changes */
    cfg->entry_timeout = 3600;
    cfg->attr_timeout = 3600;
    cfg->negative_timeout = 3600;
    return job();
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    mount_job *m = job();
    memset(st, 0, sizeof(*st));
    st->st_uid = m->uid;
    st->st_gid = m->gid;
    st->st_atime = st->st_mtime = st->st_ctime = m->mtime;
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, "/" MOUNT_FILE) != 0)
        return -ENOENT;
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = (off_t)m->size;
    st->st_blksize = 4096;
    st->st_blocks = (blkcnt_t)((m->size + 511) / 512);
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off, (void)fi, (void)flags;
    if (strcmp(path, "/") != 0)
        return -ENOTDIR;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    fill(buf, MOUNT_FILE, NULL, 0, 0);
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/" MOUNT_FILE) != 0)
        return strcmp(path, "/") == 0 ? -EISDIR : -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
        return -EROFS;
    fi->keep_cache = 1;
    return 0;
}

/* A failed read: one line for each of the first ones, then a count at the end. */
static void read_failed(mount_job *m, uint64_t off, size_t len, const char *why)
{
    unsigned long n = atomic_fetch_add(&m->read_errors, 1) + 1;
    if (n <= MOUNT_ERRORS_SHOWN)
        ag_warn("warning: %s: read of %zu bytes at %llu failed: %s%s", m->name, len,
                (unsigned long long)off, why,
                n == MOUNT_ERRORS_SHOWN ? " (further failures only counted)" : "");
}

/* Whole reads only: a short count is the end of the file; a failure is EIO, and no byte of
 * buf is then given to the kernel. */
static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    (void)path, (void)fi;
    mount_job *m = job();
    if (off < 0)
        return -EINVAL;
    size_t got = 0;
    while (got < size) {
        char why[512] = "";
        ssize_t n = reader_read(m->r, (uint64_t)off + got, buf + got, size - got, why,
                                sizeof(why));
        if (n < 0) {
            read_failed(m, (uint64_t)off, size, why[0] ? why : "no reason given");
            return -EIO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int)got;
}

static const struct fuse_operations mount_ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
};

/* ---- stopping: SIGTERM/SIGINT/SIGHUP set ag_interrupted (agent/common/signals.c) ---- */

static void on_wake(int sig)
{
    (void)sig;                  /* only interrupts the loop's wait */
}

/* Until the loop returns: once a signal came, end the session and wake the loop's thread
 * (its wait for the workers is interrupted by SIGUSR1; repeated, so none is lost). */
static void *stopper_main(void *arg)
{
    mount_job *m = arg;
    while (!atomic_load(&m->loop_done)) {
        if (ag_interrupted) {
            fuse_exit(m->fuse);
            pthread_kill(m->main, SIGUSR1);
        }
        struct timespec tick = { 0, 100 * 1000000L };
        nanosleep(&tick, NULL);
    }
    return NULL;
}

/* Serve until SIGTERM/SIGINT or `fusermount3 -u DIR`. Returns 0, or -1 (error recorded). */
static int serve_loop(mount_job *m)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_wake;            /* no SA_RESTART: the wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    m->main = pthread_self();
    pthread_t stopper;
    if (pthread_create(&stopper, NULL, stopper_main, m) != 0) {
        sigaction(SIGUSR1, &old, NULL);
        return ag_fail(m->ctx, AG_EFAIL, "cannot start a thread");
    }
    int rc = 0;
    if (!ag_interrupted)
        rc = fuse_loop_mt(m->fuse, 0);
    atomic_store(&m->loop_done, 1);
    pthread_join(stopper, NULL);
    sigaction(SIGUSR1, &old, NULL);
    if (rc < 0)
        return ag_fail(m->ctx, AG_EFAIL, "%s: the FUSE loop failed: %s", m->path,
                       strerror(-rc));
    return 0;
}

/* ---- steps ---- */

static int parse(mount_job *m, int argc, char **argv)
{
    ag_ctx *ctx = m->ctx;
    const char *cache = NULL, *fg = NULL, *other = NULL;
    opts_cmd spec[] = { { "cache-size", 1, &cache }, { "foreground", 0, &fg },
                        { "allow-other", 0, &other } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 3, &pos, &npos) < 0)
        return -1;
    if (npos != 2)
        return ag_fail(ctx, AG_EUSAGE, "usage: mount POOL/IMAGE[@BACKUP] DIR "
                       "[--cache-size SIZE] [--allow-other] [--foreground]");
    if (cache != NULL && (ag_parse_size(cache, &m->cache_bytes) < 0 || m->cache_bytes == 0))
        return ag_fail(ctx, AG_EUSAGE, "--cache-size takes a size above 0: '%s'", cache);
    m->allow_other = other != NULL;
    if (naming_parse_spec(pos[0], 1, &m->spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE[@BACKUP]", pos[0]);
    naming_spec_str(&m->spec, m->name, sizeof(m->name));
    m->dir = pos[1];
    return 0;
}

/* DIR must be a directory (exit 2 otherwise); FUSE must be usable (exit 1). */
static int check_local(mount_job *m)
{
    ag_ctx *ctx = m->ctx;
    struct stat st;
    if (stat(m->dir, &st) < 0) {
        int e = errno;
        if (e == ENOTCONN)
            return ag_fail(ctx, AG_EUSAGE, "mount point %s: a dead mount is left there "
                           "(fusermount3 -u %s)", m->dir, m->dir);
        return ag_fail(ctx, AG_EUSAGE, "mount point %s: %s", m->dir,
                       e == ENOENT ? "no such directory" : strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return ag_fail(ctx, AG_EUSAGE, "mount point %s: not a directory", m->dir);
    if (realpath(m->dir, m->path) == NULL)
        return ag_fail(ctx, AG_EUSAGE, "mount point %s: %s", m->dir, strerror(errno));
    int fd = open(MOUNT_DEV, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return ag_fail(ctx, AG_EFAIL, "%s: %s: FUSE is not usable here (load the fuse module, "
                       "or give the container the device)", MOUNT_DEV, strerror(errno));
    close(fd);
    return 0;
}

static int open_point(mount_job *m)
{
    char why[1024] = "";
    reader_opts o = { .cache_bytes = m->cache_bytes, .ahead = 0 };
    int code = reader_open(m->ctx, &m->spec, &o, &m->r, why, sizeof(why));
    if (code != 0)
        return ag_fail(m->ctx, code, "%s", why[0] ? why : "cannot open the backup");
    const manifest *mf = reader_manifest(m->r);
    m->size = reader_size(m->r);
    m->mtime = mf->snap_time != 0 ? mf->snap_time : mf->created;
    m->uid = getuid();
    m->gid = getgid();
    return 0;
}

/* The -o options of the mount: read-only, named after the backup point. Malloc'ed, or
 * NULL (out of memory). */
static char *mount_opts(const mount_job *m)
{
    char fsname[NAMING_SPEC_MAX + 64];
    snprintf(fsname, sizeof(fsname), "fsname=rbd2s3:%s@%s", m->name, reader_backup_id(m->r));
    char *o = NULL;
    if (fuse_opt_add_opt(&o, "ro,subtype=rbd2s3,auto_unmount") != 0 ||
        fuse_opt_add_opt_escaped(&o, fsname) != 0 ||
        (m->allow_other && fuse_opt_add_opt(&o, "allow_other") != 0)) {
        free(o);
        return NULL;
    }
    return o;
}

/* fuse_new and fuse_mount on the resolved DIR. */
static int do_mount(mount_job *m)
{
    ag_ctx *ctx = m->ctx;
    char *o = mount_opts(m);
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    int bad = o == NULL || fuse_opt_add_arg(&args, "rbd2s3") != 0 ||
              fuse_opt_add_arg(&args, "-o") != 0 || fuse_opt_add_arg(&args, o) != 0;
    if (!bad)
        m->fuse = fuse_new(&args, &mount_ops, sizeof(mount_ops), m);
    fuse_opt_free_args(&args);
    free(o);
    if (bad || m->fuse == NULL)
        return ag_fail(ctx, AG_EFAIL, "cannot set up FUSE: %s",
                       fuse_msg[0] ? fuse_msg : "out of memory");
    if (fuse_mount(m->fuse, m->path) != 0)
        return ag_fail(ctx, AG_EFAIL, "mounting on %s: %s", m->path,
                       fuse_msg[0] ? fuse_msg : "failed");
    m->mounted = 1;
    atomic_store(&fuse_loud, 1);
    return 0;
}

static void cleanup(mount_job *m)
{
    if (m->mounted)
        fuse_unmount(m->fuse);
    if (m->fuse != NULL)
        fuse_destroy(m->fuse);
    reader_close(m->r);
}

int cmd_mount(ag_ctx *ctx, int argc, char **argv)
{
    mount_job m;
    memset(&m, 0, sizeof(m));
    m.ctx = ctx;
    fuse_verbose = ctx->opts.verbose;
    fuse_set_log_func(on_fuse_log);
    if (parse(&m, argc, argv) < 0 || check_local(&m) < 0 || open_point(&m) < 0 ||
        do_mount(&m) < 0) {
        cleanup(&m);
        return ctx->exit_code;
    }
    ag_info(ctx, "%s@%s mounted: %s/%s (%llu bytes); stop with SIGTERM or fusermount3 -u %s",
            m.name, reader_backup_id(m.r), m.path, MOUNT_FILE, (unsigned long long)m.size,
            m.path);
    int rc = serve_loop(&m);
    cleanup(&m);
    unsigned long bad = atomic_load(&m.read_errors);
    if (rc == 0 && bad > 0)
        ag_warn("%s: %lu read%s failed (EIO)", m.name, bad, bad == 1 ? "" : "s");
    if (rc == 0)
        ag_info(ctx, "%s unmounted", m.path);
    return ctx->exit_code;
}
