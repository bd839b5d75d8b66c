/* sample.c - verify --source --sample: a random sample of a backup (extents of whole
 * chunks or more, holes included) restored and compared with its snapshot. */
#include "agent/command/verify/verify.h"
#include "agent/restore/ordered.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_WHOLE 1000000u          /* --sample 100: parts per million */
#define SAMPLE_UNITS (1u << 20)        /* at most this many extents to draw from */
#define SAMPLE_READ (4u << 20)         /* bytes of the source compared at a time */
#define SAMPLE_AIO (1u << 20)          /* one aio read of them */
#define SAMPLE_SHOWN 16                /* extents named on the -v line */

/* Strict decimal: digits, then at most 4 after a point; *ppm = value * 10000. */
static int parse_percent(const char *s, uint32_t *ppm)
{
    uint64_t v = 0;
    int digits = 0, frac = -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '.' && frac < 0 && digits > 0) {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || frac >= 4 || v > 100000000)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        digits++;
        frac += frac >= 0;
    }
    if (digits == 0 || frac == 0)
        return -1;
    for (int k = frac < 0 ? 0 : frac; k < 4; k++)
        v *= 10;
    if (v == 0 || v > SAMPLE_WHOLE)
        return -1;
    *ppm = (uint32_t)v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0' || strlen(s) > 20)
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

int verify_sample_opts(verify_job *v, const char *sample, const char *seed)
{
    ag_ctx *ctx = v->ctx;
    if (sample == NULL && seed == NULL)
        return 0;
    if (!v->source)
        return ag_fail(ctx, AG_EUSAGE, "--sample and --seed go with --source");
    if (sample == NULL)
        return ag_fail(ctx, AG_EUSAGE, "--seed goes with --sample");
    if (parse_percent(sample, &v->sample_ppm) < 0)
        return ag_fail(ctx, AG_EUSAGE, "--sample '%s': expected a percentage, more than 0 "
                       "and at most 100 (at most 4 decimals)", sample);
    if (seed != NULL) {
        if (parse_seed(seed, &v->seed) < 0)
            return ag_fail(ctx, AG_EUSAGE, "--seed '%s': expected a number below 2^64",
                           seed);
    } else {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, &v->seed, sizeof(v->seed)) : -1;
        if (fd >= 0)
            close(fd);
        if (n != (ssize_t)sizeof(v->seed))
            return ag_fail(ctx, AG_EFAIL, "/dev/urandom: cannot read a seed");
        v->seed &= (1ULL << 53) - 1;     /* exact as a JSON number anywhere */
    }
    ag_debug(ctx, "sample of %s%%, seed %" PRIu64 " (--seed %" PRIu64 " draws it again)",
             sample, v->seed, v->seed);
    return 0;
}

/* splitmix64: the draws of one backup's sample. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The seed of one backup: the run's, mixed with the backup id (FNV-1a), so that a seed
 * draws the same extents of a backup whatever else is verified. */
static uint64_t backup_seed(uint64_t seed, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = id; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return seed ^ h;
}

/* Draw the sample of an image of size bytes: k of its n extents of unit bytes (whole
 * chunks; larger for an image of over SAMPLE_UNITS chunks), each as likely (selection
 * sampling), in order and merged. *r malloc'ed; 0 or -ENOMEM. */
static int draw(uint64_t size, uint64_t chunk, uint32_t ppm, uint64_t seed,
                plan_range **r, size_t *nr)
{
    uint64_t unit = chunk ? chunk : (4u << 20);
    while ((size + unit - 1) / unit > SAMPLE_UNITS)
        unit <<= 1;
    uint64_t n = (size + unit - 1) / unit;
    uint64_t k = (n * ppm + SAMPLE_WHOLE - 1) / SAMPLE_WHOLE;
    *nr = 0;
    *r = malloc((size_t)(k ? k : 1) * sizeof(**r));
    if (*r == NULL)
        return -ENOMEM;
    for (uint64_t t = 0; t < n && *nr < k; t++) {
        if (next_rand(&seed) % (n - t) >= k - *nr)
            continue;
        uint64_t off = t * unit;
        (*r)[(*nr)++] = (plan_range){ off, size - off < unit ? size - off : unit };
    }
    *nr = plan_ranges_merge(*r, *nr);
    return 0;
}

/* A sample's comparison: the ranges, how far they are checked, the source. */
typedef struct sampler {
    ag_ctx *ctx;
    rbdio_aio *aio;
    const plan_range *r;
    size_t nr, ri;            /* ranges, the first not yet checked to its end */
    uint64_t pos;             /* everything before is checked */
    int differs;
    uint64_t diff_off;
    unsigned char *buf;       /* SAMPLE_READ */
} sampler;

/* The source's [off, off + len) against data (NULL: zeros); -1 recorded when it
 * differs (s->differs) or cannot be read. */
static int cmp_source(sampler *s, uint64_t off, const unsigned char *data, uint64_t len)
{
    for (uint64_t o = 0; o < len; o += SAMPLE_READ) {
        size_t n = len - o < SAMPLE_READ ? (size_t)(len - o) : SAMPLE_READ;
        int rc = 0;
        for (size_t a = 0; a < n && rc == 0; a += SAMPLE_AIO)
            rc = rbdio_aio_read(s->aio, off + o + a, n - a < SAMPLE_AIO ? n - a : SAMPLE_AIO,
                                s->buf + a, NULL, NULL);
        int drc = rbdio_aio_drain(s->aio);
        rc = rc < 0 ? rc : drc;
        if (rc < 0)
            return ag_fail_rbd_why(s->ctx, rc, rbdio_last_error());
        for (size_t b = 0; b < n; b++)
            if (s->buf[b] != (data != NULL ? data[o + b] : 0)) {
                s->differs = 1;
                s->diff_off = off + o + b;
                return ag_fail(s->ctx, AG_EINTEGRITY, "differs");
            }
    }
    return 0;
}

/* The parts of the ranges in [s->pos, end) that no piece covered (holes of every backup):
 * zeros in the source. */
static int holes_upto(sampler *s, uint64_t end)
{
    while (s->ri < s->nr && s->r[s->ri].off < end) {
        const plan_range *g = &s->r[s->ri];
        uint64_t a = g->off > s->pos ? g->off : s->pos;
        uint64_t b = g->off + g->len < end ? g->off + g->len : end;
        if (a < b && cmp_source(s, a, NULL, b - a) < 0)
            return -1;
        if (g->off + g->len > end)
            break;
        s->ri++;
    }
    s->pos = end > s->pos ? end : s->pos;
    return 0;
}

static int on_data(void *arg, uint64_t off, const unsigned char *data, uint64_t len)
{
    sampler *s = arg;
    if (holes_upto(s, off) < 0 || cmp_source(s, off, data, len) < 0)
        return -1;
    s->pos = off + len;
    return 0;
}

static int on_zero(void *arg, uint64_t off, uint64_t len, int kind)
{
    (void)kind;
    sampler *s = arg;
    if (holes_upto(s, off) < 0 || cmp_source(s, off, NULL, len) < 0)
        return -1;
    s->pos = off + len;
    return 0;
}

static int sample_window(void *arg, const plan *p, const apply_src *xs)
{
    sampler *s = arg;
    ordered_sink o = { .data = on_data, .zero = on_zero, .arg = s };
    return ordered_restore(s->ctx, p, xs, &o);
}

/* The -v line of a sample: its size and first extents. */
static void say_sample(ag_ctx *ctx, const char *what, const plan_range *r, size_t nr,
                       uint64_t bytes, uint64_t size)
{
    char list[SAMPLE_SHOWN * 44 + 8] = "";
    size_t at = 0;
    for (size_t k = 0; k < nr && k < SAMPLE_SHOWN; k++)
        at += (size_t)snprintf(list + at, sizeof(list) - at, " %" PRIu64 "~%" PRIu64,
                               r[k].off, r[k].len);
    ag_debug(ctx, "sample of %s: %" PRIu64 " of %" PRIu64 " bytes in %zu extents:%s%s",
             what, bytes, size, nr, list, nr > SAMPLE_SHOWN ? " ..." : "");
}

/* The chain of entry i (set) merged within the sample's ranges and compared; a
 * difference is damage in v->own[i]. 0, or -1 recorded. */
static int sample_chain(verify_job *v, size_t i, walk_set *set, void *arg)
{
    sampler *s = arg;
    int rc = walk_run(v->ctx, set, s->r, s->nr, sample_window, s);
    if (rc == 0)
        rc = holes_upto(s, v->cat.e[i].m.size);
    if (s->differs) {
        verify_clear_error(v->ctx);
        v->own[i] = verify_fmt("the restored chain differs from the source snapshot %s at "
                               "offset %" PRIu64 " (in the sample)", v->cat.e[i].m.snap_name,
                               s->diff_off);
        return 0;
    }
    return rc;
}

int verify_sample(verify_job *v, size_t i, rbdio_image *img, const char *what)
{
    ag_ctx *ctx = v->ctx;
    const manifest *m = &v->cat.e[i].m;
    sampler s = { .ctx = ctx };
    plan_range *r = NULL;
    size_t nr = 0;
    if (v->sampled == NULL && (v->sampled = calloc(v->cat.n, sizeof(*v->sampled))) == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (draw(m->size, m->chunk_size, v->sample_ppm, backup_seed(v->seed, m->id), &r,
             &nr) < 0)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    uint64_t bytes = 0;
    for (size_t k = 0; k < nr; k++)
        bytes += r[k].len;
    say_sample(ctx, what, r, nr, bytes, m->size);
    s.r = r;
    s.nr = nr;
    s.buf = malloc(SAMPLE_READ);
    int rc = s.buf == NULL ? ag_fail(ctx, AG_EFAIL, "out of memory")
                           : rbdio_aio_new(img, SAMPLE_READ / SAMPLE_AIO, &s.aio);
    if (rc < 0 && ctx->exit_code == AG_OK)
        ag_fail_rbd(ctx, rc, what);
    if (rc == 0)
        rc = verify_with_chain(v, i, sample_chain, &s);
    if (rc == 0 && v->own[i] == NULL) {
        v->src[i] = SRC_SAME;
        v->sampled[i] = bytes;
    }
    if (s.aio != NULL)
        rbdio_aio_free(s.aio);
    free(s.buf);
    free(r);
    return rc;
}
