/* fuzz_restore.c - libFuzzer harness: the ordered restore (agent/restore/ordered.c, as used by
 * restore to stdout, export-diff and verify --source) over a chain of backups whose data
 * objects are served by a fake s3_get (ld --wrap). Input: up to 3 backups (oldest first),
 * each an image size, a chunk size (4 KiB .. 64 MiB) and up to 8 records: gap, declared
 * length, flags (zero, raw, xxh3, a flipped stored byte, a wrong stored length, pack 0
 * or 1). The harness writes the chunks as backup does (lz4 or raw, digest of the bytes)
 * when the length is at most GEN_MAX; a longer record is taken as declared, with a few
 * stored bytes (what a hostile bucket can say). Records pass the bounds a restore
 * applies: the project's index writer and reader (index_load), then apply_plan's
 * plan_check_src against the manifest's chunk size and data object sizes. Checks: the
 * plan is refused (exit 8) exactly when plan_check_src refuses a source; every byte the
 * walk hands out, in order, is the byte of the newest backup that has it. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/restore/apply.h"
#include "agent/restore/ordered.h"

#include <errno.h>
#include <lz4.h>

#define MAX_SRC 3
#define MAX_REC 8
#define GEN_MAX (256u << 10)

typedef struct fsrc {
    manifest m;
    index_rec *recs;            /* as index_load returned them */
    size_t n;
    uint8_t *content[MAX_REC];  /* uncompressed bytes by record (NULL: unknown / zero) */
    uint8_t *pack[2];
    size_t packlen[2];
    uint64_t limit;
} fsrc;

static fsrc S[MAX_SRC];
static size_t NS;

int __wrap_s3_get(s3_client *c, const char *key, uint64_t off, uint64_t len, size_t max_size,
                  s3_buf *out, s3_error *err)
{
    memset(out, 0, sizeof(*out));
    unsigned src, pk;
    if (sscanf(key, "b%u/data.%u", &src, &pk) != 2 || src >= NS || pk > 1)
        return -ENOENT;
    const fsrc *s = &S[src];
    if (off >= s->packlen[pk] || len == 0)
        return -EINVAL;             /* 416 InvalidRange */
    size_t n = len < s->packlen[pk] - off ? (size_t)len : s->packlen[pk] - (size_t)off;
    out->data = malloc(n);
    FUZZ_CHECK(out->data != NULL, "malloc");
    memcpy(out->data, s->pack[pk] + off, n);
    out->len = out->cap = n;
    return 0;
}

static void append(fsrc *s, int pk, const void *p, size_t n, index_rec *r)
{
    uint8_t *np = realloc(s->pack[pk], s->packlen[pk] + n + 1);
    FUZZ_CHECK(np != NULL, "realloc");
    memcpy(np + s->packlen[pk], p, n);
    s->pack[pk] = np;
    r->obj = (uint32_t)pk;
    r->obj_offset = s->packlen[pk];
    r->stored_length = (uint32_t)n;
    s->packlen[pk] += n;
}

/* One data record as backup writes it (or as declared, when too long to generate). */
static uint8_t *make_data(fz_in *in, fsrc *s, index_rec *r, uint8_t flags)
{
    int pk = (flags >> 6) & 1;
    uint8_t seed = fz_u8(in);
    if (r->length > GEN_MAX) {
        uint8_t junk[16];
        for (int i = 0; i < 16; i++)
            junk[i] = fz_u8(in);
        append(s, pk, junk, sizeof(junk), r);
        return NULL;
    }
    uint8_t *d = malloc(r->length);
    FUZZ_CHECK(d != NULL, "malloc");
    for (uint64_t j = 0; j < r->length; j++)
        d[j] = (flags & 32) ? seed : (uint8_t)(seed + j * 131 + (j >> 7));
    uint8_t dig[DIGEST_LEN];
    digest_kind k = (flags & 4) ? DIGEST_XXH3 : DIGEST_SHA256;
    digest_compute(k, d, r->length, dig);
    index_rec_set_digest(r, k, dig);
    if (flags & 2) {
        r->flags |= INDEX_FLAG_RAW;
        append(s, pk, d, r->length, r);
    } else {
        int cap = LZ4_compressBound((int)r->length);
        char *z = malloc((size_t)cap);
        FUZZ_CHECK(z != NULL, "malloc");
        int zn = LZ4_compress_default((const char *)d, z, (int)r->length, cap);
        FUZZ_CHECK(zn > 0, "LZ4_compress_default");
        append(s, pk, z, (size_t)zn, r);
        free(z);
    }
    if (flags & 8)
        s->pack[pk][r->obj_offset + seed % r->stored_length] ^= 1;
    if (flags & 16)
        r->stored_length += 1;
    return d;
}

/* The records through the project's index writer and reader, as a restore gets them. */
static void admit(fsrc *s, const index_rec *gen, uint8_t **content, size_t n)
{
    index_writer *w = NULL;
    FUZZ_CHECK(index_writer_new(&w) == 0, "index_writer_new");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (index_writer_add(w, &gen[i]) == 0)
            s->content[k++] = content[i];
        else
            free(content[i]);
    }
    const unsigned char *obj;
    size_t len;
    FUZZ_CHECK(index_writer_finish(w, &obj, &len) == 0, "index_writer_finish");
    FUZZ_CHECK(index_load(obj, len, &s->recs, &s->n) == 0 && s->n == k, "index_load");
    index_writer_free(w);
}

static void make_source(fz_in *in, size_t i)
{
    fsrc *s = &S[i];
    index_rec gen[MAX_REC];
    uint8_t *content[MAX_REC];
    size_t n = 0, want = fz_u8(in) % (MAX_REC + 1);
    uint64_t pos = 0;
    char key[32];
    manifest_init(&s->m);
    snprintf(s->m.id, sizeof(s->m.id), "2026120%zuT000000Z", i + 1);
    s->m.size = fz_var(in);
    s->m.chunk_size = 4096ull << (fz_u8(in) % 15);
    while (n < want) {
        index_rec *r = &gen[n];
        uint64_t gap = fz_var(in), len = fz_var(in);
        uint8_t flags = fz_u8(in);
        memset(r, 0, sizeof(*r));
        if (len == 0 || gap > UINT64_MAX - pos || len > UINT64_MAX - pos - gap)
            break;
        r->offset = pos + gap;
        r->length = len;
        pos = r->offset + len;
        content[n] = NULL;
        if (flags & 1)
            r->flags = INDEX_FLAG_ZERO;
        else
            content[n] = make_data(in, s, r, flags);
        n++;
    }
    admit(s, gen, content, n);
    /* the data objects as the bucket lists them */
    for (int pk = 0; pk < 2; pk++) {
        snprintf(key, sizeof(key), "b%zu/data.%d", i, pk);
        FUZZ_CHECK(manifest_add_object(&s->m, key, s->packlen[pk], "e") == 0,
                   "manifest_add_object");
    }
}

/* 1 if every source passes plan_check_src (what apply_plan applies). */
static int sources_fit(void)
{
    for (size_t i = 0; i < NS; i++) {
        uint64_t sizes[2] = { S[i].m.objects[0].size, S[i].m.objects[1].size };
        plan_src ps = { S[i].recs, S[i].n, S[i].m.size };
        size_t bad;
        if (plan_check_src(&ps, S[i].m.chunk_size, sizes, 2, &bad) != 0)
            return 0;
    }
    return 1;
}

/* The newest source with a record covering x: 1 and *src, *rec; 0 for a hole. */
static int reference(uint64_t x, size_t *src, size_t *rec)
{
    for (size_t i = NS; i-- > 0;) {
        if (x >= S[i].limit)
            continue;
        for (size_t r = 0; r < S[i].n; r++)
            if (S[i].recs[r].offset <= x && x - S[i].recs[r].offset < S[i].recs[r].length) {
                *src = i;
                *rec = r;
                return 1;
            }
    }
    return 0;
}

static uint64_t walked;     /* the next offset the walk must hand out */

static int on_data(void *arg, uint64_t off, const unsigned char *data, uint64_t len)
{
    size_t i, r;
    FUZZ_CHECK(off == walked && len > 0, "data at %llu, expected %llu",
               (unsigned long long)off, (unsigned long long)walked);
    FUZZ_CHECK(reference(off, &i, &r), "data at %llu where no backup has any",
               (unsigned long long)off);
    const index_rec *x = &S[i].recs[r];
    FUZZ_CHECK(!(x->flags & INDEX_FLAG_ZERO) && S[i].content[r] != NULL,
               "data at %llu from a zero record or one with unknown bytes",
               (unsigned long long)off);
    FUZZ_CHECK(len <= x->length - (off - x->offset) &&
               memcmp(data, S[i].content[r] + (off - x->offset), len) == 0,
               "wrong bytes at %llu", (unsigned long long)off);
    walked += len;
    return 0;
}

static int on_zero(void *arg, uint64_t off, uint64_t len, int kind)
{
    size_t i, r;
    FUZZ_CHECK(off == walked && len > 0, "zeros at %llu, expected %llu",
               (unsigned long long)off, (unsigned long long)walked);
    int found = reference(off, &i, &r);
    FUZZ_CHECK(kind == 2 ? !found : (found && (S[i].recs[r].flags & INDEX_FLAG_ZERO)),
               "zeros (kind %d) at %llu", kind, (unsigned long long)off);
    walked += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    static int dummy;
    NS = 1 + fz_u8(&in) % MAX_SRC;
    memset(S, 0, sizeof(S));
    for (size_t i = 0; i < NS; i++)
        make_source(&in, i);
    for (size_t i = NS; i-- > 0;)
        S[i].limit = (i == NS - 1 || S[i].m.size < S[i + 1].limit) ? S[i].m.size
                                                                     : S[i + 1].limit;
    apply_src es[MAX_SRC];
    for (size_t i = 0; i < NS; i++)
        es[i] = (apply_src){ &S[i].m, NULL, S[i].recs, S[i].n };
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.s3 = (s3_client *)&dummy;
    ctx.command = "restore";
    ctx.opts.tun.fetch_size = 4u << 20;
    plan p;
    int fit = sources_fit(), rc = apply_plan(&ctx, es, NS, &p);
    FUZZ_CHECK(fit ? rc == 0 : (rc != 0 && ctx.exit_code == AG_EINTEGRITY),
               "apply_plan %d (exit code %d: %s) where plan_check_src says %d", rc,
               ctx.exit_code, ctx.errmsg, fit);
    if (rc == 0) {
        ordered_sink o = { .data = on_data, .zero = on_zero };
        walked = 0;
        rc = ordered_restore(&ctx, &p, es, &o);
        FUZZ_CHECK(rc != 0 || walked == p.size, "the walk ended at %llu of %llu",
                   (unsigned long long)walked, (unsigned long long)p.size);
        FUZZ_CHECK(rc == 0 || ctx.exit_code == AG_EINTEGRITY || ctx.exit_code == AG_EFAIL,
                   "failed with exit code %d: %s", ctx.exit_code, ctx.errmsg);
        plan_free(&p);
    }
    for (size_t i = 0; i < NS; i++) {
        for (size_t r = 0; r < S[i].n; r++)
            free(S[i].content[r]);
        free(S[i].recs);
        free(S[i].pack[0]);
        free(S[i].pack[1]);
        manifest_clear(&S[i].m);
    }
    return 0;
}
