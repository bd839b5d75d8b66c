/* import.c - the import-diff command: an `rbd export-diff` stream stored as a backup.
 * Without a from-snapshot it is a full backup; with one, an incremental on the newest
 * backup of the image whose snapshot has that name. The stream is checked while it is
 * read; anything malformed or truncated stores nothing (the upload is taken back). */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/repo/catalog.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/trust/retain.h"
#include "agent/format/chunk.h"
#include "agent/config/options.h"
#include "agent/repo/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct import_job {
    ag_ctx *ctx;
    naming_spec spec;
    char name[NAMING_SPEC_MAX];
    catalog cat;
    const cat_entry *parent;
    time_t lock_until;          /* retention of its objects (object lock), 0 for none */
    rbdio_ds_reader *rd;
    writer *w;
    manifest m;
    uint64_t chunk;
    unsigned char *buf;
    chunk_enc enc;
    uint64_t next;            /* records must come in offset order */
} import_job;

static int id_taken(const char *id, void *arg)
{
    import_job *im = arg;
    for (size_t i = 0; i < im->cat.n; i++)
        if (strcmp(im->cat.e[i].id, id) == 0)
            return 1;
    return 0;
}

static int stream_fail(import_job *im, int rc)
{
    return ag_fail(im->ctx, rc == -EINVAL ? AG_EUSAGE : AG_EFAIL, "%s", rbdio_last_error());
}

/* The parent: the newest backup of the image whose snapshot is the stream's from-snap;
 * encrypted and authenticated in an encrypted repository, plain in a plain one. */
static int find_parent(import_job *im, const rbdio_ds_header *h)
{
    if (enckeys_check_mix(im->ctx, &im->cat, &im->spec, !h->has_from) < 0)
        return -1;
    if (!h->has_from)
        return 0;
    for (size_t i = im->cat.n; i-- > 0;)
        if (strcmp(im->cat.e[i].m.snap_name, h->from_snap) == 0) {
            im->parent = &im->cat.e[i];
            if (enckeys_require(im->ctx, im->parent) < 0)
                return -1;
            if (!enckeys_parent_ok(im->ctx, im->parent))
                return ag_fail(im->ctx, AG_EUSAGE, "%s: backup %s (the stream's "
                               "from-snapshot) is %s: a chain never mixes", im->name,
                               im->parent->id, im->parent->m.enc.on ? "encrypted" : "plain");
            return 0;
        }
    return ag_fail(im->ctx, AG_ENOTFOUND, "no backup of %s has snapshot '%s' (the stream's "
                   "from-snapshot)", im->name, h->from_snap);
}

static void fill_manifest(import_job *im, const rbdio_ds_header *h, const char *id)
{
    manifest *m = &im->m;
    const manifest *pm = im->parent ? &im->parent->m : NULL;
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->pool, sizeof(m->pool), "%s", im->spec.pool);
    snprintf(m->ns, sizeof(m->ns), "%s", im->spec.ns);
    snprintf(m->image, sizeof(m->image), "%s", im->spec.image);
    snprintf(m->image_id, sizeof(m->image_id), "%s", pm ? pm->image_id : "");
    m->size = h->size;
    m->order = pm ? pm->order : 22;
    m->features = pm ? pm->features : 0;
    m->stripe_unit = pm ? pm->stripe_unit : (1ULL << m->order);
    m->stripe_count = pm ? pm->stripe_count : 1;
    if (h->has_to)
        memcpy(m->snap_name, h->to_snap, strlen(h->to_snap) + 1);    /* length checked */
    else
        snprintf(m->snap_name, sizeof(m->snap_name), "import-%s", id);
    m->snap_time = time(NULL);
    m->full = pm == NULL;
    if (pm != NULL) {
        snprintf(m->parent_id, sizeof(m->parent_id), "%s", pm->id);
        snprintf(m->parent_snap, sizeof(m->parent_snap), "%s", pm->snap_name);
    }
    enckeys_follow(im->ctx, &im->cat, im->parent, m);
    m->chunk_size = im->chunk;
}

/* One piece of a 'w' record, inside one chunk of the image's chunk grid. */
static int put_piece(import_job *im, uint64_t off, uint64_t len)
{
    int rc = rbdio_ds_read(im->rd, im->buf, (size_t)len);
    if (rc < 0)
        return stream_fail(im, rc);
    chunk_encode(&im->enc, im->buf, (size_t)len, off);
    return writer_pieces(im->w, &im->m, off, im->buf, &im->enc);
}

static int check_order(import_job *im, uint64_t off, uint64_t len)
{
    if (off < im->next)
        return ag_fail(im->ctx, AG_EUSAGE, "export-diff stream: record at %llu overlaps or "
                       "precedes the one before (rbd2s3 takes records in offset order, as "
                       "rbd export-diff writes them), at byte %llu", (unsigned long long)off,
                       (unsigned long long)rbdio_ds_offset(im->rd));
    im->next = off + len;
    return 0;
}

static int read_records(import_job *im)
{
    for (;;) {
        int kind;
        uint64_t off, len;
        int rc = rbdio_ds_next(im->rd, &kind, &off, &len);
        if (rc < 0)
            return stream_fail(im, rc);
        if (kind == RBDIO_DS_END)
            break;
        if (ag_interrupted)
            return ag_fail(im->ctx, AG_EINTR, "interrupted");
        if (check_order(im, off, len) < 0)
            return -1;
        if (kind == RBDIO_DS_ZERO) {
            if (writer_zero(im->w, &im->m, off, len) < 0)
                return -1;
            continue;
        }
        for (uint64_t end = off + len; off < end;) {
            uint64_t stop = (off / im->chunk + 1) * im->chunk;
            stop = stop < end ? stop : end;
            if (put_piece(im, off, stop - off) < 0)
                return -1;
            off = stop;
        }
    }
    int rc = rbdio_ds_expect_eof(im->rd);
    return rc < 0 ? stream_fail(im, rc) : 0;
}

static int prepare(import_job *im, int fd)
{
    ag_ctx *ctx = im->ctx;
    if (ctx->opts.tun.chunk_size > CHUNK_SIZE_MAX)
        return ag_fail(ctx, AG_EUSAGE, "chunk size may be at most %lluM",
                       (unsigned long long)(CHUNK_SIZE_MAX >> 20));
    if (ag_check_key_room(ctx, &im->spec) < 0)
        return -1;
    int rc = rbdio_ds_open(fd, &im->rd);
    if (rc < 0)
        return stream_fail(im, rc);
    const rbdio_ds_header *h = rbdio_ds_header_get(im->rd);
    if (!h->has_size)
        return ag_fail(ctx, AG_EUSAGE, "export-diff stream: no image size record");
    if (h->has_to && strlen(h->to_snap) >= sizeof(im->m.snap_name))
        return ag_fail(ctx, AG_EUSAGE, "export-diff stream: snapshot name longer than %zu "
                       "bytes", sizeof(im->m.snap_name) - 1);
    if (ag_s3(ctx) == NULL || retain_begin(ctx, &im->lock_until) < 0 ||
        catalog_load(ctx, &im->spec, &im->cat) < 0 ||
        head_check(ctx, &im->cat, &im->spec, 0) < 0 || find_parent(im, h) < 0)
        return -1;
    char prefix[2048], id[NAMING_ID_LEN];
    ag_image_prefix(ctx, &im->spec, prefix, sizeof(prefix));
    if (naming_backup_id(time(NULL), id_taken, im, id) < 0)
        return ag_fail(ctx, AG_EFAIL, "cannot make a backup id");
    im->chunk = ctx->opts.tun.chunk_size;
    im->buf = malloc(im->chunk);
    if (im->buf == NULL || chunk_enc_init(&im->enc, im->chunk, ctx->opts.tun.sparse_size,
                                          ctx->opts.tun.chunk_digest) < 0)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    fill_manifest(im, h, id);
    return writer_open(ctx, prefix, id, &im->w);
}

static void report(const import_job *im)
{
    const manifest *m = &im->m;
    char d[32], s[32];
    ag_fmt_size(m->data_bytes, d, sizeof(d));
    ag_fmt_size(m->stored_bytes, s, sizeof(s));
    if (im->ctx->opts.json) {
        writer_print_json(im->name, m);
        return;
    }
    printf("%s@%s: %s%s from stream, %s of data, %s stored\n", im->name, m->id,
               m->full ? "full" : "incremental on ", m->full ? "" : m->parent_id, d, s);
}

int cmd_import_diff(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, NULL, 0, &pos, &npos) < 0)
        return ctx->exit_code;
    import_job im;
    memset(&im, 0, sizeof(im));
    im.ctx = ctx;
    manifest_init(&im.m);
    if (npos != 2 || naming_parse_spec(pos[1], 0, &im.spec) < 0) {
        ag_fail(ctx, AG_EUSAGE, "usage: import-diff FILE|- POOL/IMAGE");
        return ctx->exit_code;
    }
    naming_spec_str(&im.spec, im.name, sizeof(im.name));
    int fd = strcmp(pos[0], "-") == 0 ? STDIN_FILENO : open(pos[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ag_fail(ctx, errno == ENOENT ? AG_ENOTFOUND : AG_EFAIL, "%s: %s", pos[0],
                strerror(errno));
        return ctx->exit_code;
    }
    int rc = prepare(&im, fd);
    if (rc == 0)
        rc = read_records(&im);
    if (rc == 0)
        rc = writer_commit(im.w, &im.m);
    if (rc == 0) {
        retain_chain(ctx, &im.cat, im.parent ? im.parent - im.cat.e : -1, im.lock_until);
        report(&im);
    } else {
        writer_abort(im.w);
    }
    retain_end(ctx);
    writer_free(im.w);
    rbdio_ds_close(im.rd);
    if (fd != STDIN_FILENO)
        close(fd);
    free(im.buf);
    chunk_enc_free(&im.enc);
    catalog_free(&im.cat);
    manifest_clear(&im.m);
    return ctx->exit_code;
}
