/* lock.c - an exclusive RADOS advisory lock on an image's header, renewed while held. */
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
    int duration_s;
    pthread_t renewer;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int take(struct rbdio_lock *l, uint8_t flags)
{
    struct timeval tv = { .tv_sec = l->duration_s, .tv_usec = 0 };
    return rados_lock_exclusive(l->io, l->oid, l->name, l->cookie, "rbd2s3", &tv, flags);
}

/* Renew the lock every duration/5 seconds until released. */
static void *renew_main(void *arg)
{
    struct rbdio_lock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (l->running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->duration_s / 5 > 0 ? l->duration_s / 5 : 1;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->running)
            take(l, LIBRADOS_LOCK_FLAG_MUST_RENEW);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* 1 if cookie ("host:pid:rand") names a process of this host that no longer exists. */
static int holder_is_dead(const char *cookie)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        return 0;
    host[sizeof(host) - 1] = '\0';
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
    if (!holder_is_dead(cookies))
        return 0;
    int rc = rados_break_lock(l->io, l->oid, l->name, clients, cookies);
    return rc == 0 || rc == -ENOENT ? 1 : rc;
}

static int lock_init(rbdio_image *img, const char *name, int duration_s, struct rbdio_lock *l)
{
    char id[64];
    int rc = rbd_get_id(img->rbd, id, sizeof(id));
    if (rc < 0)
        return rbdio_fail(rc, "cannot lock '%s': no image id (format 1?)", img->where);
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    l->io = img->io;
    snprintf(l->oid, sizeof(l->oid), "rbd_header.%s", id);
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->cookie, sizeof(l->cookie), "%s:%ld:%lx", host, (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    l->duration_s = duration_s > 0 ? duration_s : 300;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return 0;
}

int rbdio_lock_take(rbdio_image *img, const char *name, int duration_s, rbdio_lock **out)
{
    *out = NULL;
    struct rbdio_lock *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return rbdio_fail(-ENOMEM, "cannot lock '%s'", img->where);
    int rc = lock_init(img, name, duration_s, l);
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
