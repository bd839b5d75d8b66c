/* chunk.c - one chunk of image data into zero runs and hashed, compressed data runs,
 * and one stored data record back into checked bytes. */
#include "agent/format/chunk.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

int chunk_is_zero(const unsigned char *buf, size_t len)
{
    static const unsigned char zeros[4096];
    while (len >= sizeof(zeros)) {
        if (memcmp(buf, zeros, sizeof(zeros)) != 0)
            return 0;
        buf += sizeof(zeros);
        len -= sizeof(zeros);
    }
    return memcmp(buf, zeros, len) == 0;
}

int chunk_enc_init(chunk_enc *e, uint64_t chunk, uint64_t sparse, digest_kind dk)
{
    memset(e, 0, sizeof(*e));
    if (chunk == 0 || chunk > CHUNK_SIZE_MAX || sparse == 0)
        return -EINVAL;         /* lz4 takes an int: the format's bound keeps it exact */
    e->digest = dk;
    e->sparse = sparse < chunk ? sparse : chunk;
    e->max_pieces = (size_t)(chunk / e->sparse) + 2;   /* an unaligned start adds one */
    /* LZ4_compressBound(n) = n + n / 255 + 16, summed over the runs */
    e->cap = (size_t)LZ4_compressBound((int)chunk) + 16 * e->max_pieces;
    e->comp = malloc(e->cap);
    e->pieces = calloc(e->max_pieces, sizeof(chunk_piece));
    return e->comp != NULL && e->pieces != NULL ? 0 : -ENOMEM;
}

void chunk_enc_free(chunk_enc *e)
{
    free(e->comp);
    free(e->pieces);
    e->comp = NULL;
    e->pieces = NULL;
}

/* Runs whose first SAMPLE bytes do not shrink under lz4 are stored raw: random or
 * already-compressed data costs a full compression pass for nothing otherwise. */
#define SAMPLE (64u << 10)
#define SAMPLE_MIN_LEN (4 * SAMPLE)

static int looks_incompressible(const unsigned char *data, size_t len, unsigned char *comp,
                                size_t cap)
{
    if (len < SAMPLE_MIN_LEN)
        return 0;
    int n = LZ4_compress_default((const char *)data, (char *)comp, (int)SAMPLE, (int)cap);
    return n <= 0 || (unsigned)n > SAMPLE - SAMPLE / 32;
}

static void encode_data(const unsigned char *data, chunk_piece *p, digest_kind dk,
                        unsigned char *comp, size_t cap, size_t *used)
{
    const unsigned char *src = data + p->off;
    digest_compute(dk, src, (size_t)p->len, p->digest);
    p->raw = 1;
    p->comp_off = *used;
    p->comp_len = 0;
    unsigned char *dst = comp + *used;
    size_t room = cap - *used;
    if (looks_incompressible(src, (size_t)p->len, dst, room))
        return;
    int n = LZ4_compress_default((const char *)src, (char *)dst, (int)p->len, (int)room);
    if (n > 0 && (uint64_t)n < p->len) {
        p->raw = 0;
        p->comp_len = (uint32_t)n;
        *used += (size_t)n;
    }
}

size_t chunk_encode(chunk_enc *e, const unsigned char *data, size_t len, uint64_t off)
{
    chunk_piece *pieces = e->pieces;
    uint64_t sparse = e->sparse;
    size_t n = 0;
    uint64_t pos = 0;
    while (pos < len) {
        uint64_t end = ((off + pos) / sparse + 1) * sparse - off;
        if (end > len)
            end = len;
        int zero = chunk_is_zero(data + pos, (size_t)(end - pos));
        if (n > 0 && pieces[n - 1].zero == zero) {
            pieces[n - 1].len += end - pos;
        } else {
            memset(&pieces[n], 0, sizeof(pieces[n]));
            pieces[n].off = pos;
            pieces[n].len = end - pos;
            pieces[n].zero = zero;
            n++;
        }
        pos = end;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        if (!pieces[i].zero)
            encode_data(data, &pieces[i], e->digest, e->comp, e->cap, &used);
    e->n = n;
    return n;
}

/* The lengths of a plain data record that a valid index holds, with stored_len bytes
 * at hand. */
static int decode_sizes_ok(const index_rec *r, size_t stored_len)
{
    return !(r->flags & (INDEX_FLAG_ZERO | INDEX_FLAG_SEALED)) && r->length != 0 &&
           stored_len == r->stored_length && index_rec_sizes_ok(r);
}

int chunk_decode(const index_rec *r, const unsigned char *stored, size_t stored_len,
                 unsigned char *buf, size_t cap, const unsigned char **out)
{
    if (!decode_sizes_ok(r, stored_len))
        return -EINVAL;
    const unsigned char *data = stored;
    if (!(r->flags & INDEX_FLAG_RAW)) {
        if (buf == NULL || cap < r->length)
            return -EINVAL;
        /* both lengths are bounded by CHUNK_SIZE_MAX above: they fit an int */
        int n = LZ4_decompress_safe((const char *)stored, (char *)buf, (int)stored_len,
                                    (int)r->length);
        if (n < 0 || (uint64_t)n != r->length)
            return -EBADMSG;
        data = buf;
    }
    if (!index_rec_data_ok(r, data))
        return -EILSEQ;
    *out = data;
    return 0;
}

void chunk_place(const chunk_owner *o, const index_rec *r, seal_place *p)
{
    p->backup_id = o->backup_id;
    p->image_id = o->image_id;
    p->obj = r->obj;
    p->obj_offset = r->obj_offset;
    p->offset = r->offset;
    p->length = r->length;
    p->flags = r->flags;
}

int chunk_read(const chunk_owner *o, const index_rec *r, unsigned char *stored,
               size_t stored_len, unsigned char *buf, size_t cap, const unsigned char **out)
{
    if (!(r->flags & INDEX_FLAG_SEALED))
        return o->dk != NULL ? -EPERM : chunk_decode(r, stored, stored_len, buf, cap, out);
    if (o->dk == NULL)
        return -ENOKEY;
    if ((r->flags & INDEX_FLAG_ZERO) || r->length == 0 || stored_len != r->stored_length ||
        !index_rec_sizes_ok(r))
        return -EINVAL;
    seal_place p;
    chunk_place(o, r, &p);
    if (seal_open_chunk(o->dk, &p, stored, stored_len, stored) != 0)
        return -EKEYREJECTED;
    index_rec plain = *r;
    plain.flags &= ~INDEX_FLAG_SEALED;
    plain.stored_length -= SEAL_TAG_LEN;
    return chunk_decode(&plain, stored, plain.stored_length, buf, cap, out);
}

const char *chunk_read_error(int rc)
{
    switch (rc) {
    case -EBADMSG:
        return "cannot decompress";
    case -ENOKEY:
        return "sealed, and no data key";
    case -EPERM:
        return "not sealed in an encrypted backup";
    case -EKEYREJECTED:
        return "does not open (damaged, moved or forged)";
    default:
        return "checksum mismatch";
    }
}
