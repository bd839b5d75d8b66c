/* snap_shim.c - LD_PRELOAD faults for the snapshot tests (test_snap_*.sh), never shipped.
 *
 * Built by the test scripts into their temp dir (cc -shared -fPIC ... -ldl). Each fault
 * is off unless its environment variable is set:
 *   SNAP_SHIM_KILL_AT_META=KEY  rbd_metadata_set of KEY kills the process (SIGKILL)
 *                               before it sets anything: a kill between the manifest PUT
 *                               and the metadata update, at an exact point.
 *   SNAP_SHIM_META_PASS=VALUE   with the above, a set of KEY to VALUE goes through (the
 *                               agent names an older snapshot there before its commit).
 *   SNAP_SHIM_ZERO_TIME=1       rbd_snap_get_timestamp succeeds with time 0, as for a
 *                               snapshot whose time librbd cannot give.
 *   SNAP_SHIM_CREATE_EROFS=SECS rbd_snap_create2 waits SECS seconds, creates nothing and
 *                               fails with -EROFS, as librbd did on a frozen OSD when the
 *                               op timeout cancelled its exclusive lock request.
 * Everything else goes to librbd unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rbd/librbd.h>

/* librbd's own definition of name (NULL if it cannot be found). */
static void *next_fn(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* As librbd's, unless SNAP_SHIM_KILL_AT_META names key (and SNAP_SHIM_META_PASS does not
 * name value): then the process dies here. */
int rbd_metadata_set(rbd_image_t image, const char *key, const char *value)
{
    const char *kill_key = getenv("SNAP_SHIM_KILL_AT_META");
    const char *pass = getenv("SNAP_SHIM_META_PASS");
    int (*real)(rbd_image_t, const char *, const char *);

    if (kill_key != NULL && strcmp(kill_key, key) == 0 &&
        (pass == NULL || strcmp(pass, value) != 0)) {
        raise(SIGKILL);
    }
    *(void **)&real = next_fn("rbd_metadata_set");
    return real != NULL ? real(image, key, value) : -ENOSYS;
}

/* As librbd's, but with time 0 when SNAP_SHIM_ZERO_TIME is set. */
int rbd_snap_get_timestamp(rbd_image_t image, uint64_t snap_id, struct timespec *timestamp)
{
    int (*real)(rbd_image_t, uint64_t, struct timespec *);
    int rc;

    *(void **)&real = next_fn("rbd_snap_get_timestamp");
    rc = real != NULL ? real(image, snap_id, timestamp) : -ENOSYS;
    if (rc == 0 && getenv("SNAP_SHIM_ZERO_TIME") != NULL) {
        timestamp->tv_sec = 0;
        timestamp->tv_nsec = 0;
    }
    return rc;
}

/* As librbd's, unless SNAP_SHIM_CREATE_EROFS is set: then -EROFS after that many seconds. */
int rbd_snap_create2(rbd_image_t image, const char *name, uint32_t flags,
                     librbd_progress_fn_t cb, void *cbdata)
{
    const char *erofs = getenv("SNAP_SHIM_CREATE_EROFS");
    int (*real)(rbd_image_t, const char *, uint32_t, librbd_progress_fn_t, void *);

    if (erofs != NULL) {
        struct timespec wait = { (time_t)strtol(erofs, NULL, 10), 0 };
        while (nanosleep(&wait, &wait) < 0 && errno == EINTR) {
        }
        return -EROFS;
    }
    *(void **)&real = next_fn("rbd_snap_create2");
    return real != NULL ? real(image, name, flags, cb, cbdata) : -ENOSYS;
}

/* librados::IoCtx::aio_selfmanaged_snap_remove (Ceph 14.2 ABI), which librbd calls late in
 * a snapshot removal, after it has moved the snapshot into its trash namespace: with
 * SNAP_SHIM_KILL_AT_SNAP_RELEASE set the process dies there, leaving the trash entry a
 * kill -9 during rbd_snap_remove2 leaves. */
int _ZN8librados7v14_2_05IoCtx27aio_selfmanaged_snap_removeEmPNS0_13AioCompletionE(
    void *ioctx, uint64_t snap_id, void *completion)
{
    int (*real)(void *, uint64_t, void *);

    if (getenv("SNAP_SHIM_KILL_AT_SNAP_RELEASE") != NULL) {
        raise(SIGKILL);
    }
    *(void **)&real =
        next_fn("_ZN8librados7v14_2_05IoCtx27aio_selfmanaged_snap_removeEmPNS0_13AioCompletionE");
    return real != NULL ? real(ioctx, snap_id, completion) : -ENOSYS;
}
