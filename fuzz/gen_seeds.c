/* gen_seeds.c - writes the seed inputs of the fuzz harnesses with the project's own
 * writers (manifest, index, export-diff stream, keys, dates), plus S3 answers as RGW
 * gives them. usage: gen_seeds DIR (creates DIR/<harness>/<name>). Deterministic. */
#include "agent/common/context.h"
#include "agent/format/index.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *top;

static void put(const char *h, const char *name, int mode, const void *d, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", top, h);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", top, h, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (mode >= 0 && fputc(mode, f) == EOF) || fwrite(d, 1, n, f) != n ||
        fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void puts_seed(const char *h, const char *name, int mode, const char *s)
{
    put(h, name, mode, s, strlen(s));
}

static void fail(const char *what)
{
    fprintf(stderr, "gen_seeds: %s failed\n", what);
    exit(1);
}

/* ---- manifest ---- */

static void fill_manifest(manifest *m, int full)
{
    manifest_init(m);
    snprintf(m->id, sizeof(m->id), "%s", full ? "20261121T083000Z" : "20261122T083000Z");
    m->created = 1795250000;
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 0.1.0");
    snprintf(m->pool, sizeof(m->pool), "rbd");
    snprintf(m->ns, sizeof(m->ns), "%s", full ? "" : "ns1");
    snprintf(m->image, sizeof(m->image), "vm1");
    snprintf(m->image_id, sizeof(m->image_id), "10a2b3");
    m->size = 1 << 30;
    m->order = 22;
    m->features = 61;
    m->stripe_unit = 4 << 20;
    m->stripe_count = 1;
    snprintf(m->snap_name, sizeof(m->snap_name), "rbd2s3-%s", m->id);
    m->snap_id = full ? 4 : 5;
    m->snap_time = 1795249800;
    m->full = full;
    if (!full) {
        snprintf(m->parent_id, sizeof(m->parent_id), "20261121T083000Z");
        snprintf(m->parent_snap, sizeof(m->parent_snap), "rbd2s3-20261121T083000Z");
    }
    m->chunk_size = 1 << 20;
    /* the keys the naming rules derive for the manifest's own folder */
    naming_spec spec;
    char ip[256], key[300];
    if (naming_parse_spec(full ? "rbd/vm1" : "rbd/ns1/vm1", 0, &spec) != 0 ||
        naming_image_prefix("rbd2s3", &spec, ip, sizeof(ip)) != 0)
        fail("naming");
    for (unsigned i = 0; i < (full ? 2u : 1u); i++) {
        if (naming_data_key(ip, m->id, i, key, sizeof(key)) != 0 ||
            manifest_add_object(m, key, 123456 + i, "0123456789abcdef0123456789abcdef-2") != 0)
            fail("manifest_add_object");
    }
    if (naming_index_key(ip, m->id, key, sizeof(key)) != 0 ||
        manifest_set_index(m, key, 219) != 0)
        fail("manifest_set_index");
    memset(m->index_sha256, 'a', 64);
    m->index_records = 3;
    m->data_bytes = 3 << 20;
    m->zero_bytes = 1 << 20;
    m->stored_bytes = 123456;
    m->chunks = 4;
    m->zero_chunks = 1;
}

/* m made an encrypted backup (format 2): made-up key id, kdf, wrap and macs. */
static void seal_manifest(manifest *m)
{
    m->enc.on = 1;
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "0123456789abcdef");
    m->enc.has_kdf = m->full;
    if (m->full) {
        memset(m->enc.kdf.salt, 0x5a, SEAL_SALT_LEN);
        m->enc.kdf.n = 1u << 15;
        m->enc.kdf.r = 8;
        m->enc.kdf.p = 1;
    }
    memset(m->enc.wrapped, 0x11, SEAL_WRAPPED_LEN);
    m->enc.has_parent_mac = !m->full;
    if (!m->full)
        memset(m->enc.parent_mac, 0x22, SEAL_MAC_LEN);
    memset(m->enc.mac, 0x33, SEAL_MAC_LEN);
}

static void gen_manifest(void)
{
    for (int k = 0; k < 4; k++) {
        int full = k & 1, sealed = k >> 1;
        static const char *const names[4][2] = {
            { "incremental", "incremental-fixsum" }, { "full", "full-fixsum" },
            { "sealed-incremental", "sealed-incremental-fixsum" },
            { "sealed-full", "sealed-full-fixsum" },
        };
        manifest m;
        char *j = NULL;
        size_t n = 0;
        fill_manifest(&m, full);
        if (sealed)
            seal_manifest(&m);
        if (manifest_to_json(&m, &j, &n) != 0) {
            fprintf(stderr, "gen_seeds: manifest_to_json failed\n");
            exit(1);
        }
        put("manifest", names[k][0], 0, j, n);
        put("manifest", names[k][1], 1, j, n);
        free(j);
        manifest_clear(&m);
    }
}

/* ---- index ---- */

static void gen_index(void)
{
    index_writer *w = NULL;
    index_rec r[3];
    const unsigned char *obj;
    size_t len;
    memset(r, 0, sizeof(r));
    r[0] = (index_rec){ .offset = 0, .length = 1 << 20, .obj = 0, .obj_offset = 0,
                        .stored_length = 4096 };
    digest_compute(DIGEST_XXH3, "x", 1, r[0].digest);
    r[0].flags = INDEX_FLAG_XXH3;
    r[1] = (index_rec){ .offset = 1 << 20, .length = 1 << 20, .flags = INDEX_FLAG_ZERO };
    r[2] = (index_rec){ .offset = 3 << 20, .length = 65536, .flags = INDEX_FLAG_RAW,
                        .obj = 1, .obj_offset = 4096, .stored_length = 65536 };
    digest_compute(DIGEST_SHA256, "y", 1, r[2].digest);
    if (index_writer_new(&w) != 0 || index_writer_add(w, &r[0]) != 0 ||
        index_writer_add(w, &r[1]) != 0 || index_writer_add(w, &r[2]) != 0 ||
        index_writer_finish(w, &obj, &len) != 0) {
        fprintf(stderr, "gen_seeds: index writer failed\n");
        exit(1);
    }
    put("index", "v2-object", 0, obj, len);
    /* the same as decompressed content (the harness frames it) */
    unsigned char content[16 + 3 * INDEX_REC_SIZE + 64];
    size_t clen = sizeof(content), slen = len;
    LZ4F_dctx *d;
    LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
    LZ4F_decompress(d, content, &clen, obj, &slen, NULL);
    LZ4F_freeDecompressionContext(d);
    put("index", "v2-content", 1, content, clen);
    index_writer_free(w);
    index_writer_new(&w);
    index_writer_finish(w, &obj, &len);
    put("index", "empty-object", 0, obj, len);
    index_writer_free(w);
}

/* ---- export-diff streams ---- */

static void gen_diffstream(void)
{
    for (int v = 1; v <= 2; v++) {
        rbdio_ds_header h;
        memset(&h, 0, sizeof(h));
        h.version = v;
        h.has_from = v == 1;
        snprintf(h.from_snap, sizeof(h.from_snap), "rbd2s3-20261121T083000Z");
        h.has_to = 1;
        snprintf(h.to_snap, sizeof(h.to_snap), "rbd2s3-20261122T083000Z");
        h.has_protected = v == 2;
        h.has_size = 1;
        h.size = 1 << 20;
        int fd = memfd_create("seed", 0);
        rbdio_ds_writer *w = NULL;
        if (fd < 0 || rbdio_ds_writer_new(fd, &h, &w) != 0 ||
            rbdio_ds_write(w, 0, 16, "0123456789abcdef") != 0 ||
            rbdio_ds_zero(w, 4096, 8192) != 0 || rbdio_ds_write(w, 65536, 3, "xyz") != 0 ||
            rbdio_ds_finish(w) != 0) {
            fprintf(stderr, "gen_seeds: export-diff writer failed\n");
            exit(1);
        }
        off_t n = lseek(fd, 0, SEEK_END);
        char buf[512];
        if (n <= 0 || n > (off_t)sizeof(buf) || pread(fd, buf, (size_t)n, 0) != n)
            exit(1);
        put("diffstream", v == 1 ? "v1" : "v2", -1, buf, (size_t)n);
        close(fd);
    }
}

/* ---- values ---- */

static void gen_values(void)
{
    static const char *const v[][2] = {
        { "\0", "4M" }, { "\0", "1GiB" }, { "\0", "512K" }, { "\1", "30s" }, { "\1", "7d" },
        { "\2", "rbd/vm1" }, { "\x0a", "rbd/ns1/vm1@20261121T083000Z" },
        { "\3", "a b/c%d" }, { "\5", "2026-11-21T08:30:00Z" }, { "\7", "20261121T083000Z-2" },
    };
    char name[32], key[600], ip[600], in[700];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        snprintf(name, sizeof(name), "value-%zu", i);
        puts_seed("values", name, (unsigned char)v[i][0][0], v[i][1]);
    }
    naming_spec spec;
    naming_parse_spec("rbd/ns 1/vm.1", 0, &spec);
    naming_image_prefix("rbd2s3", &spec, ip, sizeof(ip));
    naming_manifest_key(ip, "20261121T083000Z", key, sizeof(key));
    size_t n = (size_t)snprintf(in, sizeof(in), "rbd2s3%c%s", 0, key);
    put("values", "manifest-key", 4, in, n);
    unsigned char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(1795250000ull >> (8 * i));
    put("values", "time", 6, t, 8);
}

/* ---- S3 answers (as RGW writes them) ---- */

static void gen_s3xml(void)
{
    static const char *const doc[] = {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
        "<Message>The key does not exist</Message><RequestId>tx1</RequestId></Error>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>2~abc</UploadId></InitiateMultipartUploadResult>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>l</Location>"
        "<Bucket>b</Bucket><Key>k</Key><ETag>&quot;0123456789abcdef-2&quot;</ETag>"
        "</CompleteMultipartUploadResult>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
        "<Prefix>rbd2s3/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>"
        "<Contents><Key>rbd2s3/rbd/vm1/20261121T083000Z/manifest.json</Key>"
        "<LastModified>2026-11-21T08:30:05.000Z</LastModified><ETag>&quot;e&quot;</ETag>"
        "<Size>1102</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>rbd2s3/rbd/</Prefix></CommonPrefixes></ListBucketResult>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Deleted><Key>a</Key></Deleted>"
        "<Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
        "</DeleteResult>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
        "<NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>u</NextUploadIdMarker>"
        "<IsTruncated>true</IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId>"
        "<Initiated>2026-11-21T08:30:05.000Z</Initiated></Upload>"
        "</ListMultipartUploadsResult>",
        "2026-11-21T08:30:05.000Z",
    };
    char name[16];
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "doc-%d", i);
        puts_seed("s3xml", name, i, doc[i]);
    }
}

/* ---- structured inputs of the plan and restore harnesses ---- */

typedef struct sb {
    unsigned char b[512];
    size_t n;
} sb;

static void b8(sb *s, unsigned v)
{
    s->b[s->n++] = (unsigned char)v;
}

/* fz_var: a width byte (0: 1 byte, 1: 2, 2: 4, 3: 8), then the value. */
static void bvar(sb *s, uint64_t v)
{
    int w = v < 256 ? 0 : v < 65536 ? 1 : v < (1ull << 32) ? 2 : 3;
    b8(s, (unsigned)w);
    for (int i = 0; i < (1 << w); i++)
        b8(s, (unsigned)(v >> (8 * i)));
}

static void gen_plan(void)
{
    sb s = { .n = 0 };
    b8(&s, 1);                  /* 2 sources */
    bvar(&s, 4 << 20);          /* fetch size */
    bvar(&s, 64 << 10);         /* gap */
    b8(&s, 3);                  /* the full: 3 records */
    bvar(&s, 8 << 20);
    bvar(&s, 0), bvar(&s, 1 << 20), b8(&s, 0), bvar(&s, 0), bvar(&s, 4000);
    bvar(&s, 0), bvar(&s, 1 << 20), b8(&s, 1);
    bvar(&s, 1 << 20), bvar(&s, 1 << 20), b8(&s, 0), bvar(&s, 4000), bvar(&s, 5000);
    b8(&s, 2);                  /* the incremental, shrunk: 2 records */
    bvar(&s, 6 << 20);
    bvar(&s, 512 << 10), bvar(&s, 1 << 20), b8(&s, 0x40), bvar(&s, 0), bvar(&s, 3000);
    bvar(&s, 1 << 20), bvar(&s, 4096), b8(&s, 1);
    put("plan", "chain", -1, s.b, s.n);
}

static void gen_restore(void)
{
    sb s = { .n = 0 };
    b8(&s, 1);                  /* 2 backups */
    b8(&s, 3);                  /* the full: 3 records */
    bvar(&s, 256 << 10);
    b8(&s, 8);                  /* chunk size 1 MiB */
    bvar(&s, 0), bvar(&s, 64 << 10);
    size_t flags_at = s.n;
    b8(&s, 0), b8(&s, 7);                                               /* lz4, sha256 */
    bvar(&s, 0), bvar(&s, 32 << 10), b8(&s, 1);                       /* zeros */
    bvar(&s, 16 << 10), bvar(&s, 8 << 10), b8(&s, 2 | 4 | 0x40), b8(&s, 9);  /* raw, xxh3 */
    b8(&s, 2);                  /* the incremental: 2 records */
    bvar(&s, 192 << 10);
    b8(&s, 4);                  /* chunk size 64 KiB */
    bvar(&s, 32 << 10), bvar(&s, 64 << 10), b8(&s, 4 | 32), b8(&s, 0x55);  /* runs, xxh3 */
    bvar(&s, 0), bvar(&s, 4096), b8(&s, 0), b8(&s, 3);
    put("restore", "chain", -1, s.b, s.n);
    s.b[flags_at] ^= 8;         /* a flipped stored byte in the first record */
    put("restore", "chain-flipped", -1, s.b, s.n);
}

/* ---- config and lifecycle ---- */

static void gen_config(void)
{
    puts_seed("config", "pools", -1,
              "[global]\nendpoint = http://127.0.0.1:8000\nbucket = b\nprefix = rbd2s3\n"
              "chunk size = 4M\nsparse_size = 64K\nthreads = 4\nkeep last = 7\n"
              "snap cleanup = immediate\nchunk-digest = sha256\ninsecure = false\n"
              "[pool:rbd]\nimages = *\nexclude = scratch,tmp\nwindow = 22:00-06:00\n"
              "keep daily = 7\nfull every = 7d\nmax chain = 14\n"
              "[pool:rbd/ns1]\nimages = vm1,vm2\n");
}

static void gen_lifecycle(void)
{
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ID>other</ID><Filter><And>"
        "<Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>"
        "<Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>"
        "<Rule><ID>rbd2s3-abort-uploads:rbd2s3/</ID><Prefix>rbd2s3/</Prefix>"
        "<Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>9"
        "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
        "</LifecycleConfiguration>\n";
    puts_seed("lifecycle", "two-rules-apply", 1, doc);
    puts_seed("lifecycle", "two-rules-show-json", 2, doc);
    puts_seed("lifecycle", "none-apply", 1, "");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR\n");
        return 2;
    }
    top = argv[1];
    mkdir(top, 0755);
    gen_manifest();
    gen_index();
    gen_diffstream();
    gen_values();
    gen_s3xml();
    gen_plan();
    gen_restore();
    gen_config();
    gen_lifecycle();
    return 0;
}
