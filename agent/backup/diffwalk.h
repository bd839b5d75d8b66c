/* diffwalk.h - the image diff walked ahead of the reads, window by window, by a few threads
 * at once, handed over in image order. */
#ifndef RBD2S3_DIFFWALK_H
#define RBD2S3_DIFFWALK_H

#include <stddef.h>
#include <stdint.h>

#include "rbdio/rbdio.h"

typedef struct dw_extent {
    uint64_t off, len;
    int exists;
} dw_extent;

typedef struct diffwalk diffwalk;

/* Start walking [0, size) of img against from_snap (NULL: from the beginning) in windows
 * of `window` bytes, with `threads` windows walked at once. 0 or -errno. */
int diffwalk_start(rbdio_image *img, const char *from_snap, uint64_t size, uint64_t window,
                   int threads, diffwalk **out);

/* The next window's extents, in order: 0 with the window's extents (*n may be 0: nothing
 * changed there), 1 after the last window, or the -errno of the walk (diffwalk_error()
 * says what). The array stays valid until the next call. */
int diffwalk_next(diffwalk *d, const dw_extent **ext, size_t *n);

/* Whether the walk lists only the objects that the object maps say changed (for a full
 * walk, from_snap NULL: that exist): 1 with *changed and *total (in units of *unit bytes,
 * the image's object size), or 0 when every window is walked whole (no valid fast-diff
 * map). */
int diffwalk_map(const diffwalk *d, uint64_t *changed, uint64_t *total, uint64_t *unit);

/* How many windows the walk lists (*walked: with a map, only those holding a changed
 * object) of the image's *total. Cannot fail. */
void diffwalk_windows(const diffwalk *d, uint64_t *walked, uint64_t *total);

/* "pool[/ns]/image[@snap]" whose object map (of the snapshot walked, the parent snapshot
 * or the head) is flagged invalid, so that no map is used and every window is walked
 * whole; NULL when none is. Valid until diffwalk_free(). */
const char *diffwalk_invalid(const diffwalk *d);

/* The text of the error diffwalk_next returned (rbdio's, taken on the walker's thread). */
const char *diffwalk_error(const diffwalk *d);

/* Stop the threads (a window being walked is finished first) and free everything. */
void diffwalk_free(diffwalk *d);

#endif
