/* diffwalk.c - the image diff walked ahead of the reads. Thread k walks windows k, k + K,
 * k + 2K ... into its own slot; the reader takes the slots in turn, so windows come out
 * in image order while K of them are walked at once. An incremental backup of a large
 * image with few changes spends most of its time here otherwise.
 *
 * For an image with a valid fast-diff object map, the objects that changed (for a full
 * backup: that exist) are first taken from the object maps (a whole-object diff, which
 * reads no data object), and the exact walk lists only those, in the windows that hold
 * any: unchanged objects and empty windows cost nothing, so a full backup of a huge thin
 * image costs what its data does. A map flagged invalid (of the snapshot walked, the
 * parent snapshot or the head) is not used: every window is then walked whole, with
 * librbd's exact diff, which reads no object map. */
#include "agent/backup/diffwalk.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The map of changed objects holds at most this many bits (8 MiB); beyond, a bit stands
 * for several objects. */
#define MAP_MAX_BITS (1ULL << 26)

enum { W_EMPTY, W_READY };

typedef struct dw_slot {
    struct diffwalk *d;
    pthread_t thread;
    int started;
    int state;
    uint64_t window;          /* rank of the window held or being walked (in wins) */
    dw_extent *ext;
    size_t n, cap;
    int rc;
    char why[512];
} dw_slot;

struct diffwalk {
    rbdio_image *img;
    const char *from_snap;
    uint64_t size;
    uint64_t window;
    uint64_t nwindows;        /* windows to walk: all, or those of wins */
    uint64_t allwindows;      /* windows of the image */
    uint64_t *wins;           /* with a map: the windows holding a changed object, in order */
    uint64_t next;            /* rank of the window the reader takes next */
    int nslots;
    int stop;
    const char *why;          /* the failed walk's error text */
    uint8_t *map;             /* bit u: [u * unit, (u + 1) * unit) may have changed; NULL:
                               * no map, every window is walked whole */
    uint64_t unit;
    char invalid[512];        /* whose object map is flagged invalid, or "" */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dw_slot *slots;
};

static int on_extent(uint64_t off, uint64_t len, int exists, void *arg)
{
    dw_slot *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        dw_extent *e = realloc(s->ext, cap * sizeof(*e));
        if (e == NULL)
            return -ENOMEM;
        s->ext = e;
        s->cap = cap;
    }
    s->ext[s->n++] = (dw_extent){ off, len, exists };
    return 0;
}

static int map_bit(const diffwalk *d, uint64_t u)
{
    return (d->map[u >> 3] >> (u & 7)) & 1;
}

/* Walk [off, end) exactly, or only its changed objects when there is a map. */
static int walk_range(diffwalk *d, dw_slot *s, uint64_t off, uint64_t end)
{
    if (d->map == NULL)
        return rbdio_diff_range(d->img, d->from_snap, off, end - off, 1, on_extent, s);
    uint64_t u = off / d->unit, last = (end - 1) / d->unit;
    while (u <= last) {
        if (!map_bit(d, u)) {
            u++;
            continue;
        }
        uint64_t v = u;
        while (v + 1 <= last && map_bit(d, v + 1))
            v++;
        uint64_t a = u * d->unit > off ? u * d->unit : off;
        uint64_t b = (v + 1) * d->unit < end ? (v + 1) * d->unit : end;
        int rc = rbdio_diff_range(d->img, d->from_snap, a, b - a, 1, on_extent, s);
        if (rc < 0)
            return rc;
        u = v + 1;
    }
    return 0;
}

/* Walk one window into s (the lock is not held). */
static void walk_window(diffwalk *d, dw_slot *s)
{
    uint64_t off = (d->wins != NULL ? d->wins[s->window] : s->window) * d->window;
    uint64_t len = d->size - off < d->window ? d->size - off : d->window;
    s->n = 0;
    s->rc = walk_range(d, s, off, off + len);
    if (s->rc < 0)
        snprintf(s->why, sizeof(s->why), "%s", rbdio_last_error());
}

static int on_changed_object(uint64_t off, uint64_t len, int exists, void *arg)
{
    (void)exists;
    diffwalk *d = arg;
    if (len == 0 || off >= d->size)
        return 0;
    uint64_t end = off + len < d->size ? off + len : d->size;
    for (uint64_t u = off / d->unit; u <= (end - 1) / d->unit; u++)
        d->map[u >> 3] |= (uint8_t)(1u << (u & 7));
    return 0;
}

/* Append window w to wins unless it is the last one there; 0 or -ENOMEM. */
static int add_window(diffwalk *d, uint64_t w, size_t *cap)
{
    if (d->nwindows > 0 && d->wins[d->nwindows - 1] == w)
        return 0;
    if (d->nwindows == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        uint64_t *n = realloc(d->wins, c * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        d->wins = n;
        *cap = c;
    }
    d->wins[d->nwindows++] = w;
    return 0;
}

/* The windows that hold a changed unit, in order; -ENOMEM (then no map is used). Costs
 * one pass over the map's bits, and memory by the windows that hold data. */
static int list_windows(diffwalk *d)
{
    uint64_t total = (d->size + d->unit - 1) / d->unit;
    size_t cap = 0;
    d->nwindows = 0;
    for (uint64_t u = 0; u < total; u++) {
        if (!map_bit(d, u))
            continue;
        uint64_t end = (u + 1) * d->unit < d->size ? (u + 1) * d->unit : d->size;
        for (uint64_t w = u * d->unit / d->window; w <= (end - 1) / d->window; w++)
            if (add_window(d, w, &cap) < 0)
                return -ENOMEM;
    }
    return 0;
}

/* The map of changed objects, from the object maps, and the windows to walk. Without
 * one (no fast-diff, or any failure) every window is walked whole: the map only saves
 * time. A full backup (from_snap NULL) maps the objects that exist, a clone's parent
 * data included (include_parent). */
/* Whether the object maps may be used: none of the snapshot walked, the parent snapshot
 * and the head is flagged invalid. 1; 0 with d->invalid naming the first one flagged, or
 * "" when a flag could not be read (then no map is used either). */
static int map_trusted(diffwalk *d)
{
    size_t len = sizeof(d->invalid);
    int rc = rbdio_map_invalid(d->img, d->invalid, len);
    if (rc == 0 && d->from_snap != NULL)
        rc = rbdio_map_invalid_at(d->img, d->from_snap, d->invalid, len);
    if (rc == 0)
        rc = rbdio_map_invalid_at(d->img, NULL, d->invalid, len);
    if (rc != 1)
        d->invalid[0] = '\0';
    return rc == 0;
}

static void build_map(diffwalk *d)
{
    rbdio_info info;
    if (d->size == 0 || !map_trusted(d) || rbdio_fast_diff(d->img) != 1 ||
        rbdio_stat(d->img, &info) < 0)
        return;
    d->unit = 1ULL << info.order;
    while (d->size / d->unit > MAP_MAX_BITS)
        d->unit <<= 1;
    d->map = calloc((size_t)((d->size / d->unit + 8) / 8), 1);
    if (d->map == NULL)
        return;
    if (rbdio_diff(d->img, d->from_snap, d->size, 1, 1, on_changed_object, d) < 0 ||
        list_windows(d) < 0) {
        free(d->map);
        free(d->wins);
        d->map = NULL;
        d->wins = NULL;
        d->nwindows = d->allwindows;
    }
}

static void *walker_main(void *arg)
{
    dw_slot *s = arg;
    diffwalk *d = s->d;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stop && s->state != W_EMPTY)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stop || s->window >= d->nwindows)
            break;
        pthread_mutex_unlock(&d->mu);
        walk_window(d, s);
        pthread_mutex_lock(&d->mu);
        s->state = W_READY;
        pthread_cond_broadcast(&d->cv);
        if (s->rc < 0)
            break;
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int diffwalk_start(rbdio_image *img, const char *from_snap, uint64_t size, uint64_t window,
                   int threads, diffwalk **out)
{
    *out = NULL;
    if (window == 0 || threads < 1)
        return -EINVAL;
    diffwalk *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->img = img;
    d->from_snap = from_snap;
    d->size = size;
    d->window = window;
    d->allwindows = (size + window - 1) / window;
    d->nwindows = d->allwindows;
    build_map(d);
    d->nslots = d->nwindows < (uint64_t)threads ? (int)d->nwindows : threads;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->slots = calloc((size_t)(d->nslots > 0 ? d->nslots : 1), sizeof(*d->slots));
    if (d->slots == NULL) {
        diffwalk_free(d);
        return -ENOMEM;
    }
    for (int k = 0; k < d->nslots; k++) {
        dw_slot *s = &d->slots[k];
        *s = (dw_slot){ .d = d, .state = W_EMPTY, .window = (uint64_t)k };
        if (pthread_create(&s->thread, NULL, walker_main, s) != 0) {
            diffwalk_free(d);
            return -EAGAIN;
        }
        s->started = 1;
    }
    *out = d;
    return 0;
}

int diffwalk_next(diffwalk *d, const dw_extent **ext, size_t *n)
{
    *ext = NULL;
    *n = 0;
    if (d->next >= d->nwindows)
        return 1;
    dw_slot *s = &d->slots[d->next % (uint64_t)d->nslots];
    pthread_mutex_lock(&d->mu);
    /* The reader is done with the previous window: its walker goes on K windows ahead. */
    if (d->next > 0) {
        dw_slot *prev = &d->slots[(d->next - 1) % (uint64_t)d->nslots];
        prev->window += (uint64_t)d->nslots;
        prev->state = W_EMPTY;
        pthread_cond_broadcast(&d->cv);
    }
    while (s->state != W_READY)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    if (s->rc < 0) {
        d->why = s->why;
        return s->rc;
    }
    d->next++;
    *ext = s->ext;
    *n = s->n;
    return 0;
}

int diffwalk_map(const diffwalk *d, uint64_t *changed, uint64_t *total, uint64_t *unit)
{
    *changed = *total = *unit = 0;
    if (d->map == NULL)
        return 0;
    *unit = d->unit;
    *total = (d->size + d->unit - 1) / d->unit;
    for (uint64_t u = 0; u < *total; u++)
        *changed += (uint64_t)map_bit(d, u);
    return 1;
}

void diffwalk_windows(const diffwalk *d, uint64_t *walked, uint64_t *total)
{
    *walked = d->nwindows;
    *total = d->allwindows;
}

const char *diffwalk_invalid(const diffwalk *d)
{
    return d->invalid[0] != '\0' ? d->invalid : NULL;
}

const char *diffwalk_error(const diffwalk *d)
{
    return d->why != NULL ? d->why : "";
}

void diffwalk_free(diffwalk *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (int k = 0; d->slots != NULL && k < d->nslots; k++) {
        if (d->slots[k].started)
            pthread_join(d->slots[k].thread, NULL);
        free(d->slots[k].ext);
    }
    free(d->slots);
    free(d->map);
    free(d->wins);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
