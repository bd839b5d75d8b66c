/* fuzz_index.c - libFuzzer harness: the chunk index codec (agent/format/index.c).
 * Input: a mode byte, then either the index object itself (mode bit 0 clear) or the
 * decompressed content, which the harness puts into a valid lz4 frame (bit 0 set, so
 * that the fuzzer reaches the record checks behind the frame checksums). Checks: the
 * streaming reader, the reader fed in pieces (of a size the mode byte gives) and index_load
 * agree; the records accepted, written again with the
 * project's writer, load back identical. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/format/index.h"

#include <lz4frame.h>

static uint8_t *frame(const uint8_t *content, size_t n, size_t *len)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(n, &prefs);
    uint8_t *out = malloc(cap);
    FUZZ_CHECK(out != NULL, "malloc");
    size_t r = LZ4F_compressFrame(out, cap, content, n, &prefs);
    FUZZ_CHECK(!LZ4F_isError(r), "LZ4F_compressFrame");
    *len = r;
    return out;
}

/* Field by field (the struct has padding). */
static int rec_eq(const index_rec *a, const index_rec *b)
{
    return a->offset == b->offset && a->length == b->length && a->obj == b->obj &&
           a->flags == b->flags && a->obj_offset == b->obj_offset &&
           a->stored_length == b->stored_length &&
           memcmp(a->digest, b->digest, sizeof(a->digest)) == 0;
}

/* The object given in pieces of step bytes (index_reader_new_source). */
typedef struct pieces {
    const uint8_t *p;
    size_t len, pos, step;
} pieces;

static int give(void *arg, const unsigned char **data, size_t *len)
{
    pieces *g = arg;
    *data = g->p + g->pos;
    *len = g->len - g->pos < g->step ? g->len - g->pos : g->step;
    g->pos += *len;
    return 0;
}

/* A reader fed in pieces sees the records of index_load and its verdict. */
static void check_source(const uint8_t *obj, size_t len, size_t step, int rc,
                         const index_rec *recs, size_t n)
{
    pieces g = { obj, len, 0, step };
    index_reader *r = NULL;
    index_rec rec;
    size_t k = 0;
    int rrc = index_reader_new_source(give, &g, &r), got = 0;
    while (rrc == 0 && (got = index_reader_next(r, &rec)) == 1) {
        FUZZ_CHECK(rc != 0 || (k < n && rec_eq(&rec, &recs[k])),
                   "source reader and index_load disagree at record %zu", k);
        k++;
    }
    index_reader_free(r);
    FUZZ_CHECK((rc == 0) == (rrc == 0 && got == 0 && k == n),
               "source reader and index_load disagree: %d %d %d", rc, rrc, got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    const uint8_t *obj = data + 1;
    size_t len = size - 1;
    uint8_t *framed = NULL;
    if (data[0] & 1)
        obj = framed = frame(data + 1, size - 1, &len);

    index_rec *recs = NULL;
    size_t n = 0;
    int rc = index_load(obj, len, &recs, &n);

    /* the streaming reader sees the same records and the same verdict */
    index_reader *r = NULL;
    size_t k = 0;
    int rrc = index_reader_new(obj, len, &r), got = 0;
    index_rec rec;
    while (rrc == 0 && (got = index_reader_next(r, &rec)) == 1) {
        FUZZ_CHECK(rc != 0 || (k < n && rec_eq(&rec, &recs[k])),
                   "reader and index_load disagree at record %zu", k);
        k++;
    }
    index_reader_free(r);
    FUZZ_CHECK((rc == 0) == (rrc == 0 && got == 0), "reader and index_load disagree: %d %d %d",
               rc, rrc, got);
    check_source(obj, len, (size_t)(data[0] >> 1) + 1, rc, recs, n);

    if (rc == 0) {
        index_writer *w = NULL;
        FUZZ_CHECK(index_writer_new(&w) == 0, "index_writer_new");
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(index_writer_add(w, &recs[i]) == 0,
                       "the writer refuses record %zu the reader accepted", i);
        const unsigned char *out = NULL;
        size_t olen = 0;
        FUZZ_CHECK(index_writer_finish(w, &out, &olen) == 0, "index_writer_finish");
        FUZZ_CHECK(index_writer_count(w) == n, "writer count");
        index_rec *back = NULL;
        size_t nb = 0;
        FUZZ_CHECK(index_load(out, olen, &back, &nb) == 0, "the rewritten index does not load");
        FUZZ_CHECK(nb == n, "%zu records, %zu after the round trip", n, nb);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(rec_eq(&back[i], &recs[i]), "record %zu differs after the round trip", i);
        free(back);
        index_writer_free(w);
    }
    free(recs);
    free(framed);
    return 0;
}
