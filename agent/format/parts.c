/* parts.c - multipart part sizes that keep every upload within S3's 10,000 parts. */
#include "agent/format/parts.h"

#define MIB (1ULL << 20)
#define CHUNK_FRAMING (64ULL << 10)   /* a stored chunk's header, seal nonce and tag */

uint64_t parts_object_max(uint64_t pack, uint64_t chunk)
{
    /* a stored chunk is at most LZ4's bound (n + n / 255 + 16) plus 16 bytes a run, runs
     * of at least 1 KiB: under n + n / 32, plus its framing */
    return pack + chunk + chunk / 32 + CHUNK_FRAMING;
}

uint64_t parts_size(uint64_t part, uint64_t pack, uint64_t chunk)
{
    uint64_t obj = parts_object_max(pack, chunk);
    uint64_t need = (obj + PARTS_TARGET - 1) / PARTS_TARGET;
    if (need <= part)
        return part;
    need = (need + MIB - 1) / MIB * MIB;
    if (need > PARTS_SIZE_MAX)
        need = PARTS_SIZE_MAX;
    return need > part ? need : part;
}

uint64_t parts_grow(uint64_t part, int n)
{
    int doublings = n > 0 ? n / 1000 : 0;
    uint64_t size = part;
    if (part >= PARTS_SIZE_MAX)
        return part;
    for (int i = 0; i < doublings && size < PARTS_SIZE_MAX; i++)
        size *= 2;
    return size < PARTS_SIZE_MAX ? size : PARTS_SIZE_MAX;
}
