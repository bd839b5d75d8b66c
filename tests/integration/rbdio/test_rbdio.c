/* test_rbdio.c - integration test of rbdio/ against the sandbox cluster (SRC_CEPH_CONF). */
#include "tests/integration/rbdio/rbdio_check.h"

/* ------------------------------------------------------------------ the tests */

static void test_connect(void)
{
    char path[] = "/tmp/test_rbdio_conf_XXXXXX";
    rbdio_cluster *c = NULL;
    double t0;
    FILE *f;
    int fd, rc;

    rc = rbdio_connect("/nonexistent/ceph.conf", NULL, 5, &c);
    CHECK(rc < 0 && c == NULL, "connect with a missing conf file fails (rc %d)", rc);
    CHECK(strstr(rbdio_last_error(), "cannot connect to cluster (conf /nonexistent/ceph.conf)")
          != NULL, "  ... and says so: %s", rbdio_last_error());

    /* A monitor address where nothing listens: bounded by timeout_s. */
    fd = mkstemp(path);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "[global]\nmon host = v1:127.0.0.1:9\nms bind msgr2 = false\n"
                   "auth cluster required = none\nauth service required = none\n"
                   "auth client required = none\n");
        fclose(f);
    }
    t0 = now_s();
    rc = rbdio_connect(path, "nobody", 3, &c);
    t0 = now_s() - t0;
    CHECK((rc == -ETIMEDOUT || rc == -ENOTCONN) && t0 < 15,
          "connect to an unreachable cluster fails in %.1f s (rc %d): %s", t0, rc,
          rbdio_last_error());
    unlink(path);
}

static void test_pool(rbdio_cluster *c)
{
    rbdio_info geom = { .size = 8 * MIB, .order = 22, .features = RBD_FEATURE_LAYERING };
    rbdio_spec spec = { pool, name_ns, name_nsimg };
    char **names = NULL;
    int rc;

    CHECK(rbdio_pool_check(c, pool, NULL) == 0, "pool '%s' exists", pool);
    CHECK(rbdio_pool_check(c, pool, "") == 0, "pool '%s', namespace \"\" exists", pool);
    rc = rbdio_pool_check(c, "no-such-pool", NULL);
    CHECK(rc == -ENOENT && strcmp(rbdio_last_error(), "pool 'no-such-pool' does not exist")
          == 0, "missing pool: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_pool_check(c, pool, name_ns);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "namespace") != NULL,
          "missing namespace: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_image_create(c, &spec, &geom);
    CHECK(rc == -ENOENT, "create in a missing namespace: -ENOENT (%d)", rc);

    rc = rbd_namespace_create(raw_io, name_ns);
    CHECK(rc == 0, "(setup) namespace created (%d)", rc);
    CHECK(rbdio_pool_check(c, pool, name_ns) == 0, "namespace '%s' exists now", name_ns);
    rc = rbdio_image_create(c, &spec, &geom);
    CHECK(rc == 0, "create image in namespace (%d)", rc);
    CHECK(rbdio_image_exists(c, &spec) == 1, "image exists in namespace");
    rc = rbdio_image_list(c, pool, name_ns, &names);
    CHECK(rc == 0 && names && names[0] && strcmp(names[0], name_nsimg) == 0 && !names[1],
          "list of the namespace is just that image");
    rbdio_free_names(names);
    spec.ns = NULL;
    CHECK(rbdio_image_exists(c, &spec) == 0, "not in the default namespace");
}

static void test_create_stat(rbdio_cluster *c)
{
    const uint64_t feats = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                           RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF |
                           RBD_FEATURE_DEEP_FLATTEN;
    rbdio_info geom = { .size = 16 * MIB, .order = 20,
                        .features = feats | RBD_FEATURE_OPERATIONS | RBD_FEATURE_DATA_POOL,
                        .stripe_unit = MIB, .stripe_count = 1 };
    rbdio_info sgeom = { .size = 32 * MIB, .order = 22,
                         .features = RBD_FEATURE_LAYERING | RBD_FEATURE_STRIPINGV2 |
                                     RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                                     RBD_FEATURE_FAST_DIFF,
                         .stripe_unit = 64 * KIB, .stripe_count = 4 };
    rbdio_spec a = { pool, NULL, name_a }, b = { pool, "", name_b };
    rbdio_image *img = NULL;
    rbdio_info info;
    int rc;

    rc = rbdio_image_create(c, &a, &geom);
    CHECK(rc == 0, "create %s (16 MiB, order 20, internal features masked) (%d)", name_a, rc);
    rc = rbdio_image_create(c, &a, &geom);
    CHECK(rc == -EEXIST && strstr(rbdio_last_error(), "already exists"),
          "create it again: -EEXIST, %s", rbdio_last_error());
    rc = rbdio_open(c, &a, NULL, &img);
    CHECK(rc == 0, "open %s (%d)", name_a, rc);
    if (rc == 0) {
        rc = rbdio_stat(img, &info);
        CHECK(rc == 0 && info.size == 16 * MIB && info.order == 20 && info.features == feats &&
              info.stripe_unit == MIB && info.stripe_count == 1 && info.id[0] != '\0',
              "stat: size %" PRIu64 " order %d features 0x%" PRIx64 " stripe %" PRIu64 "x%"
              PRIu64 " id %s", info.size, info.order, info.features, info.stripe_unit,
              info.stripe_count, info.id);
        rbdio_close(img);
    }

    rc = rbdio_image_create(c, &b, &sgeom);
    CHECK(rc == 0, "create striped %s (32 MiB, order 22, 64 KiB x 4) (%d)", name_b, rc);
    rc = rbdio_open(c, &b, NULL, &img);
    if (rc == 0) {
        rc = rbdio_stat(img, &info);
        CHECK(rc == 0 && info.size == 32 * MIB && info.order == 22 &&
              info.features == sgeom.features && info.stripe_unit == 64 * KIB &&
              info.stripe_count == 4, "stat striped: features 0x%" PRIx64 " stripe %" PRIu64
              "x%" PRIu64, info.features, info.stripe_unit, info.stripe_count);
        rbdio_close(img);
    }
}

static void test_open_errors(rbdio_cluster *c)
{
    rbdio_spec missing = { pool, NULL, "no-such-image" }, a = { pool, NULL, name_a };
    rbdio_spec nopool = { "no-such-pool", NULL, name_a };
    rbdio_spec nons = { pool, "no-such-ns", name_a };
    rbdio_image *img = NULL;
    int rc;

    rc = rbdio_open(c, &missing, NULL, &img);
    CHECK(rc == -ENOENT && img == NULL && strstr(rbdio_last_error(), "image '") &&
          strstr(rbdio_last_error(), "no-such-image' does not exist"),
          "open a missing image: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &a, "no-such-snap", &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "snapshot 'no-such-snap'"),
          "open at a missing snapshot: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &missing, "no-such-snap", &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "image '"),
          "open a missing image at a snapshot names the image: %s", rbdio_last_error());
    rc = rbdio_open(c, &nopool, NULL, &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "pool 'no-such-pool'"),
          "open in a missing pool: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_open(c, &nons, NULL, &img);
    CHECK(rc == -ENOENT && strstr(rbdio_last_error(), "namespace 'no-such-ns'"),
          "open in a missing namespace: -ENOENT, %s", rbdio_last_error());
    CHECK(rbdio_image_exists(c, &missing) == 0, "image_exists(missing) = 0");
    CHECK(rbdio_image_exists(c, &a) == 1, "image_exists(%s) = 1", name_a);
    CHECK(rbdio_image_exists(c, &nopool) == -ENOENT, "image_exists in a missing pool: -ENOENT");
}

static void test_list(rbdio_cluster *c)
{
    char **names = NULL;
    int found = 0, sorted = 1, rc;

    rc = rbdio_image_list(c, pool, NULL, &names);
    for (int i = 0; rc == 0 && names[i] != NULL; i++) {
        found += strcmp(names[i], name_a) == 0 || strcmp(names[i], name_b) == 0 ||
                 strcmp(names[i], name_c) == 0;
        if (i > 0 && strcmp(names[i - 1], names[i]) > 0) {
            sorted = 0;
        }
    }
    CHECK(rc == 0 && found == 3 && sorted, "image list has A, B and the clone, sorted");
    rbdio_free_names(names);
    rc = rbdio_image_list(c, "no-such-pool", NULL, &names);
    CHECK(rc == -ENOENT && names == NULL, "image list of a missing pool: -ENOENT");
}

static void test_remove(rbdio_cluster *c)
{
    rbdio_spec a = { pool, NULL, name_a }, cs = { pool, NULL, name_c };
    rbdio_spec nsi = { pool, name_ns, name_nsimg }, missing = { pool, NULL, "no-such-image" };
    rbdio_image *img = NULL;
    int rc;

    rc = rbdio_image_remove(c, &missing);
    CHECK(rc == -ENOENT, "remove a missing image: -ENOENT, %s", rbdio_last_error());
    rc = rbdio_image_remove(c, &a);
    CHECK(rc == -EBUSY, "remove an image with a protected snapshot: -EBUSY, %s",
          rbdio_last_error());
    rc = rbdio_open(c, &a, NULL, &img);
    CHECK(rc == 0 && rbdio_snap_exists(img, "s3") == 1, "  ... and nothing was removed");
    rbdio_close(img);
    CHECK(rbdio_image_remove(c, &cs) == 0 && rbdio_image_exists(c, &cs) == 0,
          "remove the clone");
    raw_unprotect(name_a, "s2");
    CHECK(rbdio_image_remove(c, &a) == 0 && rbdio_image_exists(c, &a) == 0,
          "remove %s with its snapshots", name_a);
    CHECK(rbdio_image_remove(c, &nsi) == 0 && rbdio_image_exists(c, &nsi) == 0,
          "remove the image in the namespace");
}

static void cleanup(void)
{
    rados_ioctx_t nsio;

    rbd_remove(raw_io, name_c);
    raw_unprotect(name_a, "s2");
    raw_purge(raw_io, name_a);
    raw_purge(raw_io, name_b);
    if (rados_ioctx_create(raw, pool, &nsio) == 0) {
        rados_ioctx_set_namespace(nsio, name_ns);
        rbd_remove(nsio, name_nsimg);
        rados_ioctx_destroy(nsio);
        rbd_namespace_remove(raw_io, name_ns);
    }
}

int main(void)
{
    rbdio_cluster *c = NULL;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(900);  /* a deadlock must fail the run, not hang it */
    conf = getenv("SRC_CEPH_CONF");
    pool = getenv("RBDIO_TEST_POOL") ? getenv("RBDIO_TEST_POOL") : "rbd";
    if (conf == NULL || conf[0] == '\0') {
        printf("SKIP - SRC_CEPH_CONF is not set (source the sandbox's env.sh)\n");
        return 77;
    }
    snprintf(name_a, sizeof(name_a), "rbdio-t%ld-a", (long)getpid());
    snprintf(name_b, sizeof(name_b), "rbdio-t%ld-striped", (long)getpid());
    snprintf(name_c, sizeof(name_c), "rbdio-t%ld-clone", (long)getpid());
    snprintf(name_ns, sizeof(name_ns), "rbdio-t%ld-ns", (long)getpid());
    snprintf(name_nsimg, sizeof(name_nsimg), "rbdio-t%ld-nsimg", (long)getpid());

    test_connect();
    rc = rbdio_connect(conf, NULL, 0, &c);
    CHECK(rc == 0, "connect with %s", conf);
    if (rc != 0 || raw_connect() != 0) {
        printf("%d passed, %d failed\n", passed, failed + 1);
        return 1;
    }
    test_pool(c);
    test_create_stat(c);
    test_open_errors(c);
    test_migrate(c);
    test_image_a(c);
    test_striped(c);
    test_list(c);
    test_remove(c);
    cleanup();
    rbdio_disconnect(c);
    rados_ioctx_destroy(raw_io);
    rados_shutdown(raw);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
