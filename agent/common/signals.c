/* signals.c - SIGINT/SIGTERM/SIGHUP: an orderly abort, bounded by a watchdog thread. */
#include "agent/common/signals.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PENDING_MAX 600

static sem_t wd_wake;                 /* posted by the first signal or ag_watchdog_arm() */
static int wd_ready;
static ag_ctx *wd_ctx;
static atomic_int wd_armed;
static atomic_int wd_disarm;          /* set by ag_watchdog_disarm(), seen by the thread */
static atomic_int wd_line;            /* the final error line has been claimed */
static char wd_prefix[96];            /* "rbd2s3: <command>: " */
/* What the cleanup is doing, double-buffered so that a signal handler reads a whole one;
 * one slot per job of run --jobs (slot 0: the main thread, or a single job). */
#define SLOTS (AG_JOBS_MAX + 1)
static char pending[SLOTS][2][PENDING_MAX];
static volatile sig_atomic_t pending_cur[SLOTS];   /* buffer + 1; 0: nothing left */
static _Thread_local int my_slot;     /* ag_pending_slot() */
/* Threads whose Ceph timeout armed the watchdog and that did not disarm it yet. */
static pthread_mutex_t arm_mu = PTHREAD_MUTEX_INITIALIZER;
static int armers;
static _Thread_local int armed_here;

/* Blocking Ceph management calls in progress (rbdio_set_call_hooks), bounded by twice
 * the ceph timeout: librbd's own op timeout does not bound them. */
#define CALLS_MAX (8 + AG_JOBS_MAX)
static pthread_mutex_t calls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct call {
    int busy;
    struct timespec start;
    char what[PENDING_MAX];
} calls[CALLS_MAX];

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The end of the line that says what was left: " (X; Y)" or "". Signal-safe. */
static void put_pending(void)
{
    int n = 0;
    for (int i = 0; i < SLOTS; i++) {
        int cur = pending_cur[i];
        if (cur == 0)
            continue;
        put(n++ == 0 ? " (" : "; ");
        put(pending[i][cur - 1]);
    }
    if (n > 0)
        put(")");
}

static void on_signal(int sig)
{
    (void)sig;
    if (ag_interrupted) {
        /* A second signal: the operator wants out now. */
        if (wd_ready && atomic_exchange(&wd_line, 1) == 0) {
            put(wd_prefix);
            put("interrupted again: exit before the cleanup ended");
            put_pending();
            put("\n");
        }
        _exit(AG_EINTR);
    }
    ag_interrupted = 1;
    if (wd_ready)
        sem_post(&wd_wake);
}

void ag_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void ag_pending_slot(int slot)
{
    my_slot = slot >= 0 && slot < SLOTS ? slot : 0;
}

void ag_pending(const char *fmt, ...)
{
    int s = my_slot;
    if (fmt == NULL) {
        pending_cur[s] = 0;
        return;
    }
    int next = pending_cur[s] == 1 ? 1 : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pending[s][next], sizeof(pending[s][next]), fmt, ap);
    va_end(ap);
    pending_cur[s] = next + 1;
}

void ag_watchdog_arm(void)
{
    pthread_mutex_lock(&arm_mu);
    if (!armed_here) {
        armed_here = 1;
        armers++;
    }
    atomic_store(&wd_disarm, 0);
    pthread_mutex_unlock(&arm_mu);
    if (wd_ready && atomic_exchange(&wd_armed, 1) == 0)
        sem_post(&wd_wake);
}

void ag_watchdog_disarm(void)
{
    pthread_mutex_lock(&arm_mu);
    if (armed_here) {
        armed_here = 0;
        armers--;
    }
    if (armers == 0 && !ag_interrupted)
        atomic_store(&wd_disarm, 1);
    pthread_mutex_unlock(&arm_mu);
}

int ag_watchdog_claim_line(void)
{
    return atomic_exchange(&wd_line, 1) == 0;
}

/* The bound has passed: one line saying what was left, then exit without cleanup. */
static void expire(void)
{
    ag_ctx *ctx = wd_ctx;
    int code = ctx->exit_code != AG_OK ? ctx->exit_code : AG_EINTR;
    if (ag_interrupted)
        code = AG_EINTR;
    if (ag_watchdog_claim_line()) {
        char line[1400];
        snprintf(line, sizeof(line), "%s%s; the cleanup did not end within %d s", wd_prefix,
                 ctx->errmsg[0] != '\0' ? ctx->errmsg : "interrupted", ctx->opts.abort_timeout);
        put(line);
        put_pending();
        put("\n");
    }
    _exit(code);
}

static int on_call_begin(const char *what)
{
    pthread_mutex_lock(&calls_mu);
    int i = 0;
    while (i < CALLS_MAX && calls[i].busy)
        i++;
    if (i < CALLS_MAX) {
        calls[i].busy = 1;
        clock_gettime(CLOCK_MONOTONIC, &calls[i].start);
        snprintf(calls[i].what, sizeof(calls[i].what), "%s", what);
    }
    pthread_mutex_unlock(&calls_mu);
    return i < CALLS_MAX ? i : -1;
}

static void on_call_end(int token)
{
    if (token < 0 || token >= CALLS_MAX)
        return;
    pthread_mutex_lock(&calls_mu);
    calls[token].busy = 0;
    pthread_mutex_unlock(&calls_mu);
}

static long secs_since(const struct timespec *t, const struct timespec *now)
{
    return (long)(now->tv_sec - t->tv_sec) - (now->tv_nsec < t->tv_nsec ? 1 : 0);
}

/* A management call got no answer for twice the ceph timeout: fail the run (exit 9). */
static void check_calls(const struct timespec *now)
{
    long bound = 2L * wd_ctx->opts.ceph_timeout;
    pthread_mutex_lock(&calls_mu);
    for (int i = 0; i < CALLS_MAX; i++) {
        if (!calls[i].busy || secs_since(&calls[i].start, now) < bound)
            continue;
        if (ag_watchdog_claim_line()) {
            char line[1400];
            snprintf(line, sizeof(line), "%s%s: no answer from the Ceph cluster within %ld s",
                     wd_prefix, calls[i].what, bound);
            put(line);
            put_pending();
            put("\n");
        }
        _exit(ag_interrupted ? AG_EINTR : AG_ECEPH);
    }
    pthread_mutex_unlock(&calls_mu);
}

static void *wd_main(void *arg)
{
    (void)arg;
    struct timespec now, end = { 0, 0 };
    int armed = 0;
    for (;;) {
        struct timespec tick = { 0, 100 * 1000000L };
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (armed && !ag_interrupted && atomic_exchange(&wd_disarm, 0) == 1) {
            armed = 0;
            atomic_store(&wd_armed, 0);
        }
        if (!armed && sem_trywait(&wd_wake) == 0) {
            armed = 1;
            atomic_store(&wd_armed, 1);
            end = now;
            end.tv_sec += wd_ctx->opts.abort_timeout;
        }
        if (armed && (now.tv_sec > end.tv_sec ||
                      (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec)))
            expire();
        check_calls(&now);
    }
    return NULL;
}

int ag_watchdog_start(ag_ctx *ctx)
{
    pthread_t t;
    wd_ctx = ctx;
    snprintf(wd_prefix, sizeof(wd_prefix), "rbd2s3: %.60s: ", ctx->command);
    if (sem_init(&wd_wake, 0, 0) != 0)
        return ag_fail(ctx, AG_EFAIL, "cannot start the watchdog: %s", strerror(errno));
    if (pthread_create(&t, NULL, wd_main, NULL) != 0)
        return ag_fail(ctx, AG_EFAIL, "cannot start the watchdog thread");
    pthread_detach(t);
    rbdio_set_call_hooks(on_call_begin, on_call_end);
    ag_on_ceph_timeout(ag_watchdog_arm);
    wd_ready = 1;
    if (ag_interrupted)           /* a signal came before the thread */
        sem_post(&wd_wake);
    return 0;
}
