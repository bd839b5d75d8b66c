/* test_rbdio_image.c - the image tests of test_rbdio: image A (writes, snapshots, diffs,
 * reads, zeroes, resize, clone) and a striped image. */
#include "tests/integration/rbdio/rbdio_check.h"

static int diff_list(rbdio_image *img, const char *from, uint64_t size, int parent, int whole,
                     extlist *l)
{
    memset(l, 0, sizeof(*l));
    return rbdio_diff(img, from, size, parent, whole, collect_cb, l);
}

/* Everything about image A: writes, snapshots, diffs, reads, zeroes, resize, clone. */
void test_image_a(rbdio_cluster *c)
{
    rbdio_spec a = { pool, NULL, name_a }, cs = { pool, NULL, name_c };
    aio_tally t = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    rbdio_image *img = NULL, *at = NULL, *clone = NULL;
    model m = model_new(16 * MIB), s1, s2, s3, mc;
    extlist l, cli;
    rbdio_snap *snaps = NULL;
    char spec[128];
    rbdio_aio *w = NULL;
    rbdio_info info;
    int rc, n = 0;
    double t0;

    if (rbdio_open(c, &a, NULL, &img) != 0) {
        CHECK(0, "open %s", name_a);
        return;
    }
    CHECK(rbdio_aio_new(img, 0, &w) == -EINVAL && w == NULL, "aio window of depth 0: -EINVAL");

    /* 6 MiB through a window of depth 8, 256 KiB at a time. */
    fill(m.b, 0, 6 * MIB, 1);
    t0 = now_s();
    rc = write_range(img, &m, 0, 6 * MIB, 256 * KIB, 8, &t);
    CHECK(rc == 0 && t.calls == 24 && t.bad == 0,
          "aio write 6 MiB at depth 8: rc %d, %d callbacks with the byte count (%.2f s)", rc,
          t.calls, now_s() - t0);
    CHECK(rbdio_flush(img) == 0, "flush");

    /* snapshots */
    CHECK(rbdio_snap_create(img, "s1") == 0, "snap create s1");
    s1 = model_copy(&m);
    CHECK(rbdio_snap_exists(img, "s1") == 1, "snap exists s1");
    CHECK(rbdio_snap_exists(img, "nope") == 0, "snap exists nope = 0");
    rc = rbdio_snap_create(img, "s1");
    CHECK(rc == -EEXIST, "snap create s1 again: -EEXIST, %s", rbdio_last_error());

    /* diff from nothing */
    rc = diff_list(img, NULL, m.size, 0, 0, &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == 6 * MIB &&
          ext_covers(&l, 0, 6 * MIB, 1), "diff from nothing: %zu extents, 6 MiB, in order",
          l.n);
    ext_free(&l);
    rc = diff_list(img, NULL, m.size, 0, 1, &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == 6 * MIB &&
          ext_covers(&l, 0, 6 * MIB, 1), "diff from nothing, whole objects (fast-diff): %zu "
          "extents", l.n);
    ext_free(&l);
    memset(&l, 0, sizeof(l));
    rc = rbdio_diff_range(img, NULL, 512 * KIB, MIB, 0, collect_cb, &l);
    ext_print("diff_range 512K~1M from nothing", &l);
    CHECK(rc == 0 && !l.out_of_order && ext_total(&l) == MIB && l.v[0].off == 512 * KIB &&
          ext_covers(&l, 512 * KIB, MIB, 1), "diff_range 512K~1M: clipped to the range");
    ext_free(&l);
    memset(&l, 0, sizeof(l));
    l.stop_after = 2;
    rc = rbdio_diff(img, NULL, m.size, 0, 0, collect_cb, &l);
    CHECK(rc == 7 && l.n == 2, "a callback returning 7 stops the walk with 7 (after %zu)", l.n);
    ext_free(&l);

    /* Changes after s1: overwrite inside object 1, a new object past the written part,
     * discard a whole object and an aligned 64 KiB inside another. */
    t.calls = t.bad = 0;
    fill(m.b + MIB + 4 * KIB, MIB + 4 * KIB, 8 * KIB, 2);
    fill(m.b + 12 * MIB, 12 * MIB, 300 * KIB, 3);
    rc = write_range(img, &m, MIB + 4 * KIB, 8 * KIB, 256 * KIB, 8, &t);
    if (rc == 0) {
        rc = write_range(img, &m, 12 * MIB, 300 * KIB, 256 * KIB, 8, &t);
    }
    CHECK(rc == 0 && t.bad == 0, "aio writes after s1");
    rc = raw_discard(name_a, 3 * MIB, MIB);
    memset(m.b + 3 * MIB, 0, MIB);
    CHECK(rc == 0, "(setup) discard 3M~1M (%d)", rc);
    rc = raw_discard(name_a, 5 * MIB + 64 * KIB, 64 * KIB);
    memset(m.b + 5 * MIB + 64 * KIB, 0, 64 * KIB);
    CHECK(rc == 0, "(setup) discard 5M+64K~64K (%d)", rc);
    CHECK(rbdio_snap_create(img, "s2") == 0, "snap create s2");
    s2 = model_copy(&m);

    /* diff s1 -> s2, from a handle opened at s2 */
    rc = rbdio_open(c, &a, "s2", &at);
    CHECK(rc == 0, "open %s@s2 read-only (%d)", name_a, rc);
    if (rc == 0) {
        rc = diff_list(at, "s1", m.size, 1, 0, &l);
        ext_print("diff s1 -> s2", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &s1, &s2, "s1->s2"),
              "diff s1 -> s2 is sound (%zu extents)", l.n);
        CHECK(ext_covers(&l, MIB + 4 * KIB, 8 * KIB, 1) && ext_covers(&l, 12 * MIB,
              300 * KIB, 1) && ext_covers(&l, 3 * MIB, MIB, -1) &&
              ext_covers(&l, 5 * MIB + 64 * KIB, 64 * KIB, -1),
              "  ... reports both writes and both discards");
        CHECK(ext_total(&l) == 8 * KIB + 300 * KIB + MIB + 64 * KIB,
              "  ... and nothing else (%" PRIu64 " bytes)", ext_total(&l));
        memset(&cli, 0, sizeof(cli));
        snprintf(spec, sizeof(spec), "%s@s2", name_a);
        rc = cli_diff(spec, "s1", &cli);
        ext_normalize(&cli);
        ext_normalize(&l);
        ext_print("rbd diff --from-snap s1 (CLI)", &cli);
        CHECK(rc == 0 && ext_equal(&l, &cli), "diff s1 -> s2 equals `rbd diff --from-snap s1`");
        ext_free(&cli);
        ext_free(&l);

        /* the same diff walked in 3 MiB windows */
        rc = diff_list(at, "s1", m.size, 0, 0, &l);
        memset(&cli, 0, sizeof(cli));
        for (uint64_t o = 0; rc == 0 && o < m.size; o += 3 * MIB) {
            rc = rbdio_diff_range(at, "s1", o, m.size - o < 3 * MIB ? m.size - o : 3 * MIB, 0,
                                  collect_cb, &cli);
        }
        ext_normalize(&l);
        ext_normalize(&cli);
        CHECK(rc == 0 && !cli.out_of_order && ext_equal(&l, &cli),
              "diff s1 -> s2 in 3 MiB windows equals the whole walk");
        ext_free(&l);
        ext_free(&cli);

        rc = diff_list(at, "s2", m.size, 0, 0, &l);
        CHECK(rc == 0 && l.n == 0, "diff s2 -> s2 is empty");
        ext_free(&l);
        rc = diff_list(at, "nope", m.size, 0, 0, &l);
        CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "snapshot 'nope'"),
              "diff from a missing snapshot: -ENOENT, %s", rbdio_last_error());
        ext_free(&l);
        CHECK(read_matches(at, &s2, 4, "read @s2"), "aio read of %s@s2 equals what was written",
              name_a);
        rc = rbdio_snap_create(at, "on-readonly");
        CHECK(rc < 0, "snap create on a read-only handle fails (%d)", rc);
        rbdio_close(at);
        at = NULL;
    }
    rc = rbdio_open(c, &a, "s1", &at);
    if (rc == 0) {
        CHECK(read_matches(at, &s1, 8, "read @s1"), "aio read of %s@s1 equals s1", name_a);
        rc = diff_list(at, "s2", m.size, 0, 0, &l);
        CHECK(rc == -EINVAL, "diff from a newer snapshot: -EINVAL, %s", rbdio_last_error());
        ext_free(&l);
        rbdio_close(at);
        at = NULL;
    }
    CHECK(read_matches(img, &m, 8, "read head"), "aio read of the head equals the model");

    /* write_zeroes: part of an object, and a whole object */
    t.calls = t.bad = 0;
    rc = rbdio_aio_new(img, 4, &w);
    if (rc == 0) {
        rc = rbdio_aio_write_zeroes(w, 4 * MIB + 256 * KIB, 128 * KIB, tally_cb,
                                    req_new(&t, (ssize_t)(128 * KIB)));
    }
    if (rc == 0) {
        rc = rbdio_aio_write_zeroes(w, 2 * MIB, MIB, tally_cb, req_new(&t, (ssize_t)MIB));
    }
    if (rc == 0) {
        rc = rbdio_aio_drain(w);
    }
    rbdio_aio_free(w);
    memset(m.b + 4 * MIB + 256 * KIB, 0, 128 * KIB);
    memset(m.b + 2 * MIB, 0, MIB);
    CHECK(rc == 0 && t.calls == 2 && t.bad == 0, "aio write_zeroes 128K and 1M (%d)", rc);
    CHECK(read_matches(img, &m, 8, "read after zeroes"), "aio read after write_zeroes");
    rc = diff_list(img, "s2", m.size, 0, 0, &l);
    ext_print("diff s2 -> head after write_zeroes", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s2, &m, "s2->head") &&
          ext_covers(&l, 4 * MIB + 256 * KIB, 128 * KIB, -1) && ext_covers(&l, 2 * MIB, MIB, -1),
          "diff s2 -> head reports the zeroed ranges");
    ext_free(&l);

    /* short read at the end of the image */
    {
        uint8_t buf[8192];
        aio_tally t2 = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };

        memset(buf, 0xee, sizeof(buf));
        rc = rbdio_aio_new(img, 1, &w);
        if (rc == 0) {
            rc = rbdio_aio_read(w, m.size - 4096, sizeof(buf), buf, tally_cb,
                                req_new(&t2, 4096));
            if (rc == 0) {
                rc = rbdio_aio_drain(w);
            }
            rbdio_aio_free(w);
        }
        CHECK(rc == 0 && t2.calls == 1 && t2.bad == 0 && buf[4096] == 0 && buf[8191] == 0 &&
              memcmp(buf, m.b + m.size - 4096, 4096) == 0,
              "a read across the end returns the bytes up to the end, rest zeroed");
    }

    /* grow, write past the old end, snapshot; then shrink and grow again */
    rc = rbdio_resize(img, 24 * MIB);
    model_resize(&m, 24 * MIB);
    CHECK(rc == 0 && rbdio_stat(img, &info) == 0 && info.size == 24 * MIB,
          "resize to 24 MiB");
    t.calls = t.bad = 0;
    fill(m.b + 20 * MIB, 20 * MIB, 256 * KIB, 4);
    rc = write_range(img, &m, 20 * MIB, 256 * KIB, 256 * KIB, 2, &t);
    CHECK(rc == 0 && t.bad == 0, "write past the old end");
    CHECK(rbdio_snap_create(img, "s3") == 0, "snap create s3");
    s3 = model_copy(&m);
    rc = diff_list(img, "s2", m.size, 0, 0, &l);
    ext_print("diff s2 -> s3 (grown 16 -> 24 MiB)", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s2, &s3, "s2->s3") && ext_covers(&l, 20 * MIB,
          256 * KIB, 1) && !ext_covers(&l, 16 * MIB, 4 * KIB, -1),
          "diff across a grow reports the new data only");
    ext_free(&l);
    rc = rbdio_resize(img, 18 * MIB);
    if (rc == 0) {
        rc = rbdio_resize(img, 24 * MIB);
    }
    memset(m.b + 18 * MIB, 0, 6 * MIB);
    CHECK(rc == 0, "shrink to 18 MiB and grow back to 24 MiB");
    rc = diff_list(img, "s3", m.size, 0, 0, &l);
    ext_print("diff s3 -> head (after shrink+grow)", &l);
    CHECK(rc == 0 && diff_is_sound(&l, &s3, &m, "s3->head(shrunk)") &&
          ext_covers(&l, 20 * MIB, 256 * KIB, -1),
          "diff after shrink+grow reports the lost data");
    ext_free(&l);
    CHECK(read_matches(img, &m, 8, "read after shrink"), "read after shrink+grow: zeros");

    /* snapshot list, protect, remove */
    rc = rbdio_snap_list(img, &snaps, &n);
    CHECK(rc == 0 && n == 3 && strcmp(snaps[0].name, "s1") == 0 &&
          strcmp(snaps[1].name, "s2") == 0 && strcmp(snaps[2].name, "s3") == 0 &&
          snaps[0].id < snaps[1].id && snaps[1].id < snaps[2].id &&
          snaps[0].size == 16 * MIB && snaps[2].size == 24 * MIB && !snaps[1].is_protected &&
          llabs((long long)(snaps[0].timestamp - (int64_t)time(NULL))) < 600,
          "snap list: s1 s2 s3 in id order, sizes, timestamps, unprotected (%d)", n);
    free(snaps);
    CHECK(rbdio_snap_protect(img, "s2") == 0, "protect s2");
    CHECK(rbdio_snap_protect(img, "s2") == 0, "protect s2 again: 0");
    rc = rbdio_snap_protect(img, "nope");
    CHECK(rc == -ENOENT, "protect a missing snapshot: -ENOENT (%d)", rc);
    rc = rbdio_snap_list(img, &snaps, &n);
    CHECK(rc == 0 && n == 3 && snaps[1].is_protected && !snaps[0].is_protected,
          "snap list shows s2 protected");
    free(snaps);
    rc = rbdio_snap_remove(img, "s2");
    CHECK(rc == -EBUSY, "remove protected s2: -EBUSY, %s", rbdio_last_error());
    rc = rbdio_snap_remove(img, "nope");
    CHECK(rc == -ENOENT, "remove a missing snapshot: -ENOENT");

    /* a clone of s2: its own writes, and include_parent */
    rc = raw_clone(name_a, "s2", name_c);
    CHECK(rc == 0, "(setup) clone %s@s2 -> %s (%d)", name_a, name_c, rc);
    rc = rbdio_open(c, &cs, NULL, &clone);
    if (rc == 0) {
        mc = model_copy(&s2);
        t.calls = t.bad = 0;
        fill(mc.b + 8 * MIB + 4 * KIB, 8 * MIB + 4 * KIB, 4 * KIB, 5);
        rc = write_range(clone, &mc, 8 * MIB + 4 * KIB, 4 * KIB, 4 * KIB, 1, &t);
        CHECK(rc == 0 && t.bad == 0, "write 4 KiB into the clone");
        CHECK(read_matches(clone, &mc, 8, "read clone"), "read of the clone: parent + own data");

        rc = diff_list(clone, NULL, mc.size, 0, 0, &l);
        ext_print("clone: diff from nothing, no parent", &l);
        CHECK(rc == 0 && ext_covers(&l, 8 * MIB + 4 * KIB, 4 * KIB, 1) &&
              !ext_covers(&l, 0, 4 * KIB, -1), "clone without parent: own write only");
        ext_free(&l);
        rc = diff_list(clone, NULL, mc.size, 1, 0, &l);
        ext_print("clone: diff from nothing, include_parent", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &(model){ NULL, 0 }, &mc,
              "clone+parent"), "clone with include_parent: parent data too");
        ext_free(&l);
        rc = diff_list(clone, NULL, mc.size, 1, 1, &l);
        ext_print("clone: include_parent, whole objects", &l);
        CHECK(rc == 0 && !l.out_of_order && diff_is_sound(&l, &(model){ NULL, 0 }, &mc,
              "clone+parent whole"), "clone with include_parent, whole objects: parent data");
        ext_free(&l);
        rc = cli_diff(name_c, NULL, &cli);
        ext_normalize(&cli);
        rc = rc == 0 ? diff_list(clone, NULL, mc.size, 1, 0, &l) : rc;
        ext_normalize(&l);
        CHECK(rc == 0 && ext_equal(&l, &cli), "clone diff equals `rbd diff` of the clone");
        ext_free(&l);
        ext_free(&cli);

        /* the pipeline pattern: blocking callback submitting reads, depth 2 */
        {
            pipe_state ps = { .m = &mc, .lock = PTHREAD_MUTEX_INITIALIZER };

            rc = rbdio_aio_new(clone, 2, &ps.w);
            if (rc == 0) {
                rc = rbdio_diff(clone, NULL, mc.size, 1, 0, pipe_extent, &ps);
                if (rc == 0) {
                    rc = rbdio_aio_drain(ps.w);
                }
                rbdio_aio_free(ps.w);
            }
            CHECK(rc == 0 && ps.mismatches == 0 && ps.bytes > 0,
                  "diff callback blocking on an aio window of depth 2: %" PRIu64
                  " bytes read, %d mismatches", ps.bytes, ps.mismatches);
        }
        free(mc.b);
        rbdio_close(clone);
    }

    CHECK(rbdio_snap_remove(img, "s1") == 0 && rbdio_snap_exists(img, "s1") == 0,
          "remove s1");
    free(s1.b);
    free(s2.b);
    free(s3.b);
    free(m.b);
    rbdio_close(img);
}

/* The striped image: extents come in order, exact, and match the CLI. */
void test_striped(rbdio_cluster *c)
{
    static const uint64_t ranges[][2] = {
        { 0, 1024 * 1024 }, { 5 * 1024 * 1024 + 100 * 1024, 200 * 1024 },
        { 17 * 1024 * 1024, 64 * 1024 }, { 31 * 1024 * 1024 + 4096, 8192 },
    };
    rbdio_spec b = { pool, NULL, name_b };
    aio_tally t = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    model m = model_new(32 * MIB), empty = { NULL, 0 };
    rbdio_image *img = NULL;
    extlist l, cli;
    uint64_t total = 0;
    int rc = 0;

    if (rbdio_open(c, &b, NULL, &img) != 0) {
        CHECK(0, "open %s", name_b);
        return;
    }
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        fill(m.b + ranges[i][0], ranges[i][0], ranges[i][1], 9);
        total += ranges[i][1];
        if (rc == 0) {
            rc = write_range(img, &m, ranges[i][0], ranges[i][1], 128 * KIB, 8, &t);
        }
    }
    CHECK(rc == 0 && t.bad == 0, "striped: aio writes");
    CHECK(read_matches(img, &m, 8, "read striped"), "striped: read back");
    for (int whole = 0; whole <= 1; whole++) {
        rc = diff_list(img, NULL, m.size, 0, whole, &l);
        if (!whole) {
            ext_print("striped: diff from nothing", &l);
        }
        CHECK(rc == 0 && !l.out_of_order && ext_total(&l) >= total &&
              diff_is_sound(&l, &empty, &m, "striped"),
              "striped (whole_object=%d): %zu extents in increasing order, covering what was "
              "written", whole, l.n);
        ext_free(&l);
    }
    printf("#   striped: raw librbd callbacks out of order: %d times\n", raw_disorder(name_b));
    rc = diff_list(img, NULL, m.size, 0, 0, &l);
    memset(&cli, 0, sizeof(cli));
    rc = rc == 0 ? cli_diff(name_b, NULL, &cli) : rc;
    ext_normalize(&cli);
    ext_normalize(&l);
    CHECK(rc == 0 && ext_equal(&l, &cli), "striped: diff equals `rbd diff` (sorted, merged)");
    ext_free(&l);
    ext_free(&cli);
    memset(&l, 0, sizeof(l));
    l.stop_after = 1;
    rc = rbdio_diff(img, NULL, m.size, 0, 0, collect_cb, &l);
    CHECK(rc == 7 && l.n == 1, "striped: a callback returning 7 stops the walk");
    ext_free(&l);
    free(m.b);
    rbdio_close(img);
}
