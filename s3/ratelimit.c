/* ratelimit.c - the process-wide bandwidth limits: two token buckets (upload, download)
 * shared by every client and thread, the pausing of curl transfers that wait for tokens,
 * and the deadline and stall checks that replace curl's own while a limit is set. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "s3/s3_internal.h"

#define NS_PER_S      1000000000LL
#define BURST_DIV     2                /* a full bucket holds half a second's worth */
#define CHUNK_DIV     8                /* one read callback: an eighth of a second's worth */
#define CHUNK_MIN     1024
#define CHUNK_MAX     (64 * 1024)

/* ---- the token bucket (pure: the clock is passed in) ---- */

void s3_tbucket_init(s3_tbucket *b, uint64_t rate, int64_t now_ns)
{
    b->rate = rate;
    b->tokens = 0;      /* empty: no burst at the start of a run */
    b->burst = (double)rate / BURST_DIV;
    b->last_ns = now_ns;
}

static void refill(s3_tbucket *b, int64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return;
    b->tokens += (double)b->rate * (double)(now_ns - b->last_ns) / (double)NS_PER_S;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ns = now_ns;
}

int s3_tbucket_take(s3_tbucket *b, int64_t now_ns, size_t n)
{
    if (b->rate == 0)
        return 1;
    refill(b, now_ns);
    if (b->tokens <= 0)
        return 0;
    b->tokens -= (double)n;
    return 1;
}

int64_t s3_tbucket_wait_ns(s3_tbucket *b, int64_t now_ns)
{
    if (b->rate == 0)
        return 0;
    refill(b, now_ns);
    if (b->tokens > 0)
        return 0;
    return (int64_t)(-b->tokens * (double)NS_PER_S / (double)b->rate) + 1;
}

size_t s3_rate_chunk(uint64_t rate)
{
    uint64_t c = rate / CHUNK_DIV;
    return c < CHUNK_MIN ? CHUNK_MIN : c > CHUNK_MAX ? CHUNK_MAX : (size_t)c;
}

/* ---- the process's two buckets ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static s3_tbucket buckets[2];           /* [0] upload, [1] download */
static atomic_int active;               /* S3_RATE_UP | S3_RATE_DOWN when limited */
static _Atomic uint64_t rates[2];       /* the buckets' rates, read without the lock */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static s3_tbucket *bucket_of(int dir)
{
    return &buckets[dir == S3_RATE_UP ? 0 : 1];
}

void s3_set_rate_limits(uint64_t up, uint64_t down)
{
    int64_t now = now_ns();
    pthread_mutex_lock(&lock);
    if (buckets[0].rate != up)
        s3_tbucket_init(&buckets[0], up, now);
    if (buckets[1].rate != down)
        s3_tbucket_init(&buckets[1], down, now);
    atomic_store(&rates[0], up);
    atomic_store(&rates[1], down);
    atomic_store(&active, (up ? S3_RATE_UP : 0) | (down ? S3_RATE_DOWN : 0));
    pthread_mutex_unlock(&lock);
}

int s3_rate_active(void)
{
    return atomic_load(&active);
}

uint64_t s3_rate_of(int dir)
{
    return atomic_load(&rates[dir == S3_RATE_UP ? 0 : 1]);
}

int s3_rate_take(int dir, size_t n)
{
    if (!(s3_rate_active() & dir))
        return 1;
    pthread_mutex_lock(&lock);
    int ok = s3_tbucket_take(bucket_of(dir), now_ns(), n);
    pthread_mutex_unlock(&lock);
    return ok;
}

/* ms until a transfer paused in the directions dirs may go on (0: now). */
static int64_t wait_ms(int dirs)
{
    int64_t w = 0;
    int64_t now = now_ns();
    pthread_mutex_lock(&lock);
    for (int d = S3_RATE_UP; d <= S3_RATE_DOWN; d <<= 1) {
        if (!(dirs & d) || !(s3_rate_active() & d))
            continue;
        int64_t ns = s3_tbucket_wait_ns(bucket_of(d), now);
        int64_t ms = (ns + 999999) / 1000000;
        if (ms > w)
            w = ms;
    }
    pthread_mutex_unlock(&lock);
    return w;
}

/* ---- the transfers of one client ---- */

void s3_rate_pause(s3_req *r, int dir)
{
    if (!r->throttled)
        r->throttled_ms = now_ns() / 1000000;
    r->throttled |= dir;
}

void s3_rate_attempt_start(s3_req *r, int64_t now_ms)
{
    r->limited = s3_rate_active() != 0;
    r->throttled = 0;
    r->moved = 0;
    r->stall_mark_ms = now_ms;
    r->stall_mark_bytes = 0;
}

void s3_rate_unpause(s3_req *r, int64_t now_ms)
{
    if (!r->throttled)
        return;
    int64_t paused = now_ms - r->throttled_ms;
    r->deadline_ms += paused;
    r->stall_mark_ms += paused;
    r->throttled = 0;
}

/* Go on with r, paused since r->throttled_ms (s3_rate_unpause). A non-OK code when curl
 * refuses (a write callback's error on the data it held back). */
static CURLcode resume(s3_req *r, int64_t now_ms)
{
    s3_rate_unpause(r, now_ms);
    return curl_easy_pause(r->easy, CURLPAUSE_CONT);   /* may run on_write at once */
}

/* Has the running, unpaused r passed its deadline or stalled (fewer than
 * S3_LOW_SPEED_BYTES a second for S3_LOW_SPEED_SECS)? Then its message is set. */
static int overdue(s3_req *r, int64_t now_ms)
{
    if (now_ms >= r->deadline_ms) {
        snprintf(r->curl_err, sizeof(r->curl_err), "deadline passed during the transfer");
        return 1;
    }
    if (now_ms - r->stall_mark_ms < S3_LOW_SPEED_SECS * 1000)
        return 0;
    if (r->moved - r->stall_mark_bytes < (uint64_t)S3_LOW_SPEED_BYTES * S3_LOW_SPEED_SECS) {
        snprintf(r->curl_err, sizeof(r->curl_err), "stalled: less than %d bytes/sec "
                 "transferred the last %d seconds", S3_LOW_SPEED_BYTES, S3_LOW_SPEED_SECS);
        return 1;
    }
    r->stall_mark_ms = now_ms;
    r->stall_mark_bytes = r->moved;
    return 0;
}

s3_req *s3_rate_tick(s3_client *c, int64_t now_ms, CURLcode *cc)
{
    for (s3_req *r = c->run_head; r; r = r->next) {
        if (!r->limited)
            continue;
        if (r->throttled) {
            if (wait_ms(r->throttled) > 0)
                continue;
            *cc = resume(r, now_ms);
            if (*cc != CURLE_OK)
                return r;
        }
        if (!r->throttled && overdue(r, now_ms)) {
            *cc = CURLE_OPERATION_TIMEDOUT;
            return r;
        }
    }
    return NULL;
}

int64_t s3_rate_poll_ms(s3_client *c)
{
    int64_t best = -1;
    for (s3_req *r = c->run_head; r; r = r->next) {
        if (!r->throttled)
            continue;
        int64_t w = wait_ms(r->throttled);
        if (best < 0 || w < best)
            best = w;
    }
    return best;
}
