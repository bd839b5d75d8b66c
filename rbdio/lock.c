/* lock.c - locks of an image: an exclusive RADOS advisory lock on its header, renewed
 * while held; librbd's exclusive lock; who else uses the image. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rbdio/rbdio_internal.h"

#define LOCK_COOKIE_MAX 320
#define LOCKERS_BUF 4096

struct rbdio_lock {
    rados_ioctx_t io;                 /* borrowed from the image */
    char oid[96];
    char name[64];
    char cookie[LOCK_COOKIE_MAX];
    char host[256];                   /* the cookie's host part */
    int duration_s;
    int renew_s;
    pthread_t renewer;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char dead_client[128];            /* the dead holder whose lock was broken, if any */
    char dead_addr[128];
    char note[512];                   /* what was broken, for the caller's log */
};

static int take(struct rbdio_lock *l, uint8_t flags)
{
    struct timeval tv = { .tv_sec = l->duration_s, .tv_usec = 0 };
    return rados_lock_exclusive(l->io, l->oid, l->name, l->cookie, "rbd2s3", &tv, flags);
}

/* Renew the lock every renew_s seconds until released. */
static void *renew_main(void *arg)
{
    struct rbdio_lock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (l->running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->renew_s;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->running)
            take(l, LIBRADOS_LOCK_FLAG_MUST_RENEW);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* 1 if cookie ("host:pid:rand") names a process of this host (host) that no longer
 * exists. */
static int holder_is_dead(const char *host, const char *cookie)
{
    size_t hl = strlen(host);
    if (strncmp(cookie, host, hl) != 0 || cookie[hl] != ':')
        return 0;
    char *end = NULL;
    long pid = strtol(cookie + hl + 1, &end, 10);
    if (pid <= 0 || end == NULL || *end != ':')
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Break the lock if its holder died on this host. 1 if broken, 0 if held by a live or
 * unknown holder (holder filled in), negative on error. */
static int break_stale(struct rbdio_lock *l, char *holder, size_t holdersz)
{
    char tag[256], clients[LOCKERS_BUF], cookies[LOCKERS_BUF], addrs[LOCKERS_BUF];
    size_t tl = sizeof(tag), cl = sizeof(clients), kl = sizeof(cookies), al = sizeof(addrs);
    int exclusive = 0;
    ssize_t n = rados_list_lockers(l->io, l->oid, l->name, &exclusive, tag, &tl, clients, &cl,
                                   cookies, &kl, addrs, &al);
    if (n < 0)
        return (int)n;
    if (n == 0)
        return 1;                     /* released meanwhile */
    snprintf(holder, holdersz, "%.300s (%.100s)", cookies, clients);
    if (!holder_is_dead(l->host, cookies))
        return 0;
    snprintf(l->dead_client, sizeof(l->dead_client), "%.120s", clients);
    snprintf(l->dead_addr, sizeof(l->dead_addr), "%.120s", addrs);
    snprintf(l->note, sizeof(l->note), "broke the lock of the dead run %.300s", holder);
    int rc = rados_break_lock(l->io, l->oid, l->name, clients, cookies);
    return rc == 0 || rc == -ENOENT ? 1 : rc;
}

static int lock_init(rbdio_image *img, const char *name, const rbdio_lock_conf *conf,
                     struct rbdio_lock *l)
{
    char id[64];
    int rc = rbd_get_id(img->rbd, id, sizeof(id));
    if (rc < 0)
        return rbdio_fail(rc, "cannot lock '%s': no image id (format 1?)", img->where);
    char *host = l->host;
    if (conf != NULL && conf->host != NULL)
        snprintf(host, sizeof(l->host), "%s", conf->host);
    else if (gethostname(host, sizeof(l->host)) != 0)
        snprintf(host, sizeof(l->host), "unknown");
    host[sizeof(l->host) - 1] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    l->io = img->io;
    snprintf(l->oid, sizeof(l->oid), "rbd_header.%s", id);
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->cookie, sizeof(l->cookie), "%s:%ld:%lx", host, (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    l->duration_s = conf != NULL && conf->duration_s > 0 ? conf->duration_s : 300;
    l->renew_s = conf != NULL && conf->renew_s > 0 ? conf->renew_s : l->duration_s / 5;
    if (l->renew_s < 1)
        l->renew_s = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return 0;
}

/* An entity address without its messenger protocol prefix ("v1:", "v2:", "any:"). */
static const char *addr_bare(const char *a)
{
    static const char *const protos[] = { "v1:", "v2:", "any:" };
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
        if (strncmp(a, protos[i], strlen(protos[i])) == 0)
            return a + strlen(protos[i]);
    return a;
}

/* 1 if owner (an owner of librbd's exclusive lock, as rbd_lock_get_owners() names it)
 * is the client of the dead holder of our lock. */
static int owned_by_dead(const struct rbdio_lock *l, const char *owner)
{
    /* rados_list_lockers says "v1:127.0.0.1:0/123", librbd "127.0.0.1:0/123". */
    if (l->dead_addr[0] != '\0' && strcmp(addr_bare(owner), addr_bare(l->dead_addr)) == 0)
        return 1;
    return l->dead_client[0] != '\0' && strcmp(owner, l->dead_client) == 0;
}

/* A backup killed with -9 leaves librbd's exclusive lock on the image held by its dead
 * client; the next snapshot would wait for that client's watch to time out (about 25 s).
 * When our lock proved that client dead (same client, same address, its process gone on
 * this host), break librbd's lock at once, as `rbd lock rm` would (which also blocklists
 * the dead client). A lock held by anyone else is left alone. Errors are not fatal: the
 * snapshot then waits as before. */
static void break_dead_exclusive(rbdio_image *img, struct rbdio_lock *l)
{
    rbd_lock_mode_t mode;
    char *owners[8];
    size_t n = sizeof(owners) / sizeof(owners[0]);
    if (l->dead_addr[0] == '\0')
        return;
    if (rbd_lock_get_owners(img->rbd, &mode, owners, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (mode != RBD_LOCK_MODE_EXCLUSIVE || !owned_by_dead(l, owners[i]))
            continue;
        int rc = rbd_lock_break(img->rbd, mode, owners[i]);
        size_t len = strlen(l->note);
        snprintf(l->note + len, sizeof(l->note) - len, "; %s librbd's exclusive lock of %.120s",
                 rc == 0 ? "broke" : "could not break", owners[i]);
    }
    rbd_lock_get_owners_cleanup(owners, n);
}

int rbdio_lock_take(rbdio_image *img, const char *name, const rbdio_lock_conf *conf,
                    rbdio_lock **out)
{
    *out = NULL;
    struct rbdio_lock *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return rbdio_fail(-ENOMEM, "cannot lock '%s'", img->where);
    int rc = lock_init(img, name, conf, l);
    for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
        rc = take(l, 0);
        if (rc != -EBUSY && rc != -EEXIST)
            break;
        char holder[LOCK_COOKIE_MAX + 128] = "";
        int b = break_stale(l, holder, sizeof(holder));
        if (b < 0) {
            rc = rbdio_fail(b, "cannot read the lock '%s' of '%s'", name, img->where);
        } else if (b == 0) {
            rbdio_errorf("'%s' is locked by another run: %s", img->where, holder);
            rc = -EBUSY;
        } else {
            rc = 0;
            continue;
        }
        break;
    }
    if (rc == 0) {
        break_dead_exclusive(img, l);
        l->running = 1;
        if (pthread_create(&l->renewer, NULL, renew_main, l) != 0)
            l->running = 0;
        *out = l;
        return 0;
    }
    if (rc < 0 && rc != -EBUSY && rbdio_last_error()[0] == '\0')
        rbdio_fail(rc, "cannot lock '%s'", img->where);
    free(l);
    return rc;
}

const char *rbdio_lock_note(const rbdio_lock *l)
{
    return l != NULL ? l->note : "";
}

void rbdio_lock_release(rbdio_lock *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    int was_running = l->running;
    l->running = 0;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (was_running)
        pthread_join(l->renewer, NULL);
    rados_unlock(l->io, l->oid, l->name, l->cookie);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

/* The owner of librbd's exclusive lock, when another client holds it: 1 (who filled). */
static int other_owner(rbdio_image *img, char *who, size_t len)
{
    rbd_lock_mode_t mode;
    char *owners[8];
    size_t n = sizeof(owners) / sizeof(owners[0]);
    int owner = 0;
    int rc = rbd_lock_get_owners(img->rbd, &mode, owners, &n);
    if (rc == -ENOENT || rc == -EINVAL || rc == -EOPNOTSUPP)
        return 0;                     /* unlocked, or no exclusive-lock feature */
    if (rc < 0)
        return rbdio_fail(rc, "cannot read the lock owners of '%s'", img->where);
    if (n > 0 && rbd_is_exclusive_lock_owner(img->rbd, &owner) == 0 && !owner) {
        snprintf(who, len, "client %.200s holds its exclusive lock", owners[0]);
        rc = 1;
    }
    rbd_lock_get_owners_cleanup(owners, n);
    return rc;
}

/* An advisory lock (`rbd lock add`): 1 (who filled). */
static int advisory_lock(rbdio_image *img, char *who, size_t len)
{
    char tag[256], clients[LOCKERS_BUF], cookies[LOCKERS_BUF], addrs[LOCKERS_BUF];
    size_t tl = sizeof(tag), cl = sizeof(clients), kl = sizeof(cookies), al = sizeof(addrs);
    int exclusive = 0;
    ssize_t n = rbd_list_lockers(img->rbd, &exclusive, tag, &tl, clients, &cl, cookies, &kl,
                                 addrs, &al);
    if (n < 0)
        return rbdio_fail((int)n, "cannot list the lockers of '%s'", img->where);
    if (n == 0)
        return 0;
    snprintf(who, len, "%.120s holds a lock on it, cookie '%.120s'", clients, cookies);
    return 1;
}

/* A watcher of the header other than img's own client: 1 (who filled). */
static int other_watcher(rbdio_image *img, char *who, size_t len)
{
    rbd_image_watcher_t w[16];
    size_t n = sizeof(w) / sizeof(w[0]);
    int rc = rbd_watchers_list(img->rbd, w, &n);
    if (rc == -ERANGE) {
        snprintf(who, len, "more than %zu clients have it open", n);
        return 1;
    }
    if (rc < 0)
        return rbdio_fail(rc, "cannot list the watchers of '%s'", img->where);
    int64_t self = (int64_t)rados_get_instance_id(img->c->rados);
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (w[i].id != self) {
            snprintf(who, len, "client.%lld at %.120s has it open", (long long)w[i].id,
                     w[i].addr ? w[i].addr : "?");
            rc = 1;
        }
    rbd_watchers_list_cleanup(w, n);
    return rc;
}

int rbdio_image_in_use(rbdio_image *img, char *who, size_t len)
{
    int rc = advisory_lock(img, who, len);    /* first: librbd then says -EBUSY */
    if (rc == 0)
        rc = other_owner(img, who, len);
    if (rc == 0)
        rc = other_watcher(img, who, len);
    return rc;
}

int rbdio_image_lock_exclusive(rbdio_image *img)
{
    uint64_t features = 0;
    int rc = rbd_get_features(img->rbd, &features);
    if (rc == 0 && (features & RBD_FEATURE_EXCLUSIVE_LOCK) == 0)
        return 0;
    if (rc == 0)
        rc = rbd_lock_acquire(img->rbd, RBD_LOCK_MODE_EXCLUSIVE);
    return rc < 0 ? rbdio_fail(rc, "cannot take the exclusive lock of '%s'", img->where) : 0;
}
