/* parts.h - multipart part sizes that keep every upload within S3's 10,000 parts (pure). */
#ifndef RBD2S3_PARTS_H
#define RBD2S3_PARTS_H

#include <stdint.h>

#define PARTS_MAX 10000          /* S3's bound on the parts of one upload */
#define PARTS_TARGET 9000        /* what the part size aims at: a margin below it */
#define PARTS_SIZE_MAX (5ULL << 30)  /* S3's largest part */

/* The largest a data object can get with pack size pack and chunks of at most chunk
 * bytes: the pack writer begins the next object once one reached pack, so the last
 * chunk appended overshoots it by up to one stored chunk (a chunk that did not
 * compress, plus its framing and seal: chunk + chunk / 32 + 64 KiB). Cannot fail. */
uint64_t parts_object_max(uint64_t pack, uint64_t chunk);

/* The part size the data objects use: part when an object of parts_object_max(pack,
 * chunk) bytes takes at most PARTS_TARGET parts of it, else ceil(object max /
 * PARTS_TARGET) rounded up to a MiB (at most PARTS_SIZE_MAX). Cannot fail. */
uint64_t parts_size(uint64_t part, uint64_t pack, uint64_t chunk);

/* The size of part number n + 1 of an upload whose size is not known ahead (the streamed
 * chunk index) after n parts, starting from part: doubled after every 1,000 parts (at
 * most PARTS_SIZE_MAX), so that 10,000 parts hold over 1,000 x part x 1,023 bytes and
 * every part but the last is at least part. Cannot fail. */
uint64_t parts_grow(uint64_t part, int n);

#endif
