/* metrics.c - the node_exporter textfile of `run --metrics-file` (see run.h). */
#include "agent/command/run/run.h"
#include "agent/command/run/jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAST_OK "rbd2s3_backup_last_success_timestamp_seconds"

/* Label value escaping of the text format: backslash, double quote, newline. */
static void label(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *in != '\0' && o + 3 < outsz; in++) {
        if (*in == '\\' || *in == '"' || *in == '\n') {
            out[o++] = '\\';
            out[o++] = *in == '\n' ? 'n' : *in;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* The previous file, read once (NULL if there is none); at most 16 MiB. Only a regular
 * file is read: a symlink, FIFO or device planted at path is never opened or waited on. */
static char *read_previous(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    FILE *f = NULL;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        f = fdopen(fd, "r");
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t cap = 16u << 20, n;
    char *buf = malloc(cap + 1);
    if (buf != NULL) {
        n = fread(buf, 1, cap, f);
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

/* A new temp file next to path ("<path>.tmp.XXXXXX", name into tmp), created with
 * O_EXCL: whatever is planted there (a symlink, another file) is never followed or
 * reused. Mode 0644 for node_exporter. The fd, or -1 with errno set. */
static int create_temp(const char *path, char *tmp, size_t tmpsz)
{
    int n = snprintf(tmp, tmpsz, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= tmpsz) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0 && fchmod(fd, 0644) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    return fd;
}

/* The previous file's last-success value for the (escaped) image label, or 0. */
static double previous_success(const char *prev, const char *lab)
{
    char want[3500];
    snprintf(want, sizeof(want), "\n" LAST_OK "{image=\"%s\"} ", lab);
    const char *hit = prev != NULL ? strstr(prev, want) : NULL;
    return hit != NULL ? strtod(hit + strlen(want), NULL) : 0;
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_image(FILE *f, const char *prev, const run_item *it, size_t n, time_t now)
{
    static const struct { const char *name, *help; } m[] = {
        { "rbd2s3_backup_success", "1 if the image's backup in the last run succeeded" },
        { LAST_OK, "Unix time of the image's last successful backup" },
        { "rbd2s3_backup_duration_seconds", "Duration of the image's backup in the last run" },
        { "rbd2s3_backup_read_bytes", "Changed bytes read from the image in the last run" },
        { "rbd2s3_backup_stored_bytes", "Bytes stored in the bucket by the last run" },
        { "rbd2s3_snapshot_cleanup_errors",
          "Failed steps of the image's snapshot cleanup in the last run (0: none)" },
    };
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        head(f, m[k].name, "gauge", m[k].help);
        for (size_t i = 0; i < n; i++) {
            if (it[i].status != RUN_OK && it[i].status != RUN_FAILED)
                continue;
            char lab[3300];
            label(it[i].name, lab, sizeof(lab));
            int ok = it[i].status == RUN_OK;
            double v = k == 0   ? ok
                       : k == 1 ? (ok ? (double)now : previous_success(prev, lab))
                       : k == 2 ? it[i].seconds
                       : k == 3 ? (double)it[i].res.data_bytes
                       : k == 4 ? (double)it[i].res.stored_bytes
                                : (double)it[i].res.cleanup_errors;
            if (k == 1 && v == 0)
                continue;     /* never succeeded: no sample rather than a 1970 one */
            fprintf(f, "%s{image=\"%s\"} %.17g\n", m[k].name, lab, v);
        }
    }
}

static void per_run(FILE *f, const run_item *it, size_t n, time_t started, double seconds)
{
    size_t cnt[4] = { 0, 0, 0, 0 };
    for (size_t i = 0; i < n; i++)
        cnt[it[i].status]++;
    head(f, "rbd2s3_run_timestamp_seconds", "gauge", "Unix time the last run started");
    fprintf(f, "rbd2s3_run_timestamp_seconds %lld\n", (long long)started);
    head(f, "rbd2s3_run_duration_seconds", "gauge", "Duration of the last run");
    fprintf(f, "rbd2s3_run_duration_seconds %.3f\n", seconds);
    head(f, "rbd2s3_run_images", "gauge", "Images of the last run by result");
    fprintf(f, "rbd2s3_run_images{result=\"ok\"} %zu\n", cnt[RUN_OK]);
    fprintf(f, "rbd2s3_run_images{result=\"failed\"} %zu\n", cnt[RUN_FAILED]);
    fprintf(f, "rbd2s3_run_images{result=\"skipped\"} %zu\n", cnt[RUN_SKIPPED]);
    head(f, "rbd2s3_run_peak_rss_bytes", "gauge", "Peak resident memory of the last run");
    fprintf(f, "rbd2s3_run_peak_rss_bytes %llu\n", (unsigned long long)jobs_peak_rss());
}

int metrics_write(ag_ctx *ctx, const char *path, const run_item *items, size_t n,
                  time_t started, double seconds)
{
    char tmp[4200];
    int fd = create_temp(path, tmp, sizeof(tmp));
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return ag_fail(ctx, AG_EFAIL, "metrics file %s: %s", tmp, strerror(e));
    }
    char *prev = read_previous(path);
    per_image(f, prev, items, n, time(NULL));
    free(prev);
    per_run(f, items, n, started, seconds);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ag_fail(ctx, AG_EFAIL, "metrics file %s: %s", path, strerror(e));
    }
    return 0;
}
