/* test_rbdio_migrate.c - rbdio's import-only live migration against the sandbox: a raw
 * file stream (read by this process's librbd) imported, read before and after execute,
 * written during the migration, committed; an abort; the states on the way. */
#include "tests/integration/rbdio/rbdio_check.h"

#include <fcntl.h>

#define MIG_SIZE (12 * MIB)

typedef struct seen {
    int calls;
    uint64_t last_done, last_total;
} seen;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
    seen *s = arg;
    s->calls++;
    s->last_done = done;
    s->last_total = total;
}

/* The file the import reads: MIG_SIZE bytes of fill() pattern 9. 0 or -1. */
static int write_source(const char *path, model *m)
{
    *m = model_new(MIG_SIZE);
    fill(m->b, 0, MIG_SIZE, 9);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t w = fd >= 0 ? write(fd, m->b, MIG_SIZE) : -1;
    if (fd >= 0)
        close(fd);
    return w == (ssize_t)MIG_SIZE ? 0 : -1;
}

static void check_state(rbdio_cluster *c, const rbdio_spec *s, rbdio_mig_state want,
                        const char *path, const char *what)
{
    rbdio_migration m;
    int rc = rbdio_migration_get(c, s, &m);
    CHECK(rc == 0 && m.state == want, "%s: state %d (want %d, rc %d, '%s')", what,
          (int)m.state, (int)want, rc, m.description);
    if (path != NULL)
        CHECK(strstr(m.source_spec, path) != NULL, "  ... source spec %s", m.source_spec);
}

/* Prepare, read (before any copy), write 4 KiB, execute, commit: the model plus the write. */
static void test_import(rbdio_cluster *c, const char *path, const char *spec, model *m)
{
    rbdio_spec s = { pool, NULL, name_c };
    rbdio_info geom = { .order = 21, .features = RBD_FEATURE_LAYERING |
                        RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP };
    rbdio_image *img = NULL;
    rbdio_info info;
    uint8_t patch[4096];
    seen sn = { 0, 0, 0 };

    int rc = rbdio_migration_import(c, &s, spec, &geom);
    CHECK(rc == 0, "prepare the import of %s (%d: %s)", path, rc, rbdio_last_error());
    check_state(c, &s, RBDIO_MIG_PREPARED, path, "after prepare");
    rc = rbdio_migration_import(c, &s, spec, &geom);
    CHECK(rc == -EEXIST, "a second prepare: -EEXIST (%d: %s)", rc, rbdio_last_error());
    memset(&info, 0, sizeof(info));
    rc = rbdio_open(c, &s, NULL, &img);
    if (rc == 0)
        rc = rbdio_stat(img, &info);
    CHECK(rc == 0 && info.size == MIG_SIZE && info.order == 21,
          "the target opens: size %" PRIu64 ", order %d", info.size, info.order);
    if (img == NULL)
        return;
    CHECK(read_matches(img, m, 4, "the target before execute"),
          "the target reads the source's bytes before execute");
    rbdio_close(img);
    fill(patch, 0, sizeof(patch), 77);
    CHECK(raw_write(name_c, 5 * MIB + 512, patch, sizeof(patch)) == 0,
          "4 KiB written into the target during the migration");
    memcpy(m->b + 5 * MIB + 512, patch, sizeof(patch));
    rc = rbdio_migration_execute(c, &s, on_progress, &sn);
    CHECK(rc == 0, "execute (%d: %s), %d progress calls, last %" PRIu64 "/%" PRIu64, rc,
          rbdio_last_error(), sn.calls, sn.last_done, sn.last_total);
    check_state(c, &s, RBDIO_MIG_EXECUTED, NULL, "after execute");
    rc = rbdio_migration_commit(c, &s);
    CHECK(rc == 0, "commit (%d: %s)", rc, rbdio_last_error());
    check_state(c, &s, RBDIO_MIG_NONE, NULL, "after commit");
    unlink(path);               /* the committed image needs its source no more */
    CHECK(rbdio_open(c, &s, NULL, &img) == 0 && read_matches(img, m, 4, "committed"),
          "the committed target equals the source plus the write");
    rbdio_close(img);
    CHECK(rbdio_image_remove(c, &s) == 0, "(cleanup) the target removed");
}

void test_migrate(rbdio_cluster *c)
{
    char path[96], moved[128], spec[256];
    rbdio_spec s = { pool, NULL, name_c };
    rbdio_info geom = { .order = 22 };
    rbdio_migration mg;
    model m;

    snprintf(path, sizeof(path), "/tmp/test_rbdio_mig_%ld.raw", (long)getpid());
    snprintf(spec, sizeof(spec), "{\"type\":\"raw\",\"stream\":{\"type\":\"file\","
             "\"file_path\":\"%s\"}}", path);
    int rc = rbdio_migration_get(c, &s, &mg);
    CHECK(rc == -ENOENT, "state of a missing image: -ENOENT (%d: %s)", rc, rbdio_last_error());
    if (write_source(path, &m) < 0) {
        CHECK(0, "(setup) write %s", path);
        return;
    }
    rc = rbdio_migration_import(c, &s, spec, &geom);
    CHECK(rc == 0, "prepare an import to abort (%d: %s)", rc, rbdio_last_error());
    snprintf(moved, sizeof(moved), "%s.moved", path);
    rc = rename(path, moved);
    check_state(c, &s, RBDIO_MIG_PREPARED, path, "with the source gone");
    if (rc == 0)
        rename(moved, path);
    rc = rbdio_migration_abort(c, &s);
    CHECK(rc == 0 && rbdio_image_exists(c, &s) == 0, "abort removes the target (%d: %s)", rc,
          rbdio_last_error());
    rc = rbdio_migration_import(c, &s, "{\"type\":\"raw\",\"stream\":{\"type\":\"file\","
                                "\"file_path\":\"/nonexistent.raw\"}}", &geom);
    CHECK(rc < 0 && rbdio_image_exists(c, &s) == 0, "a source that cannot be read: %d, no "
          "target (%s)", rc, rbdio_last_error());
    test_import(c, path, spec, &m);
    unlink(path);
    free(m.b);
}
