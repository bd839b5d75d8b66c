/* detach.c - `restore --instant --detach`: the program runs again in a session of its own,
 * the parent returns once the target is usable, the child goes on (pid and log files). */
#include "agent/command/instant/instant.h"
#include "agent/common/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMDLINE_MAX (256 * 1024)
#define ARGS_MAX 1024

/* A file name part of s: what is not [A-Za-z0-9._-] becomes '_'. */
static void file_part(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s != '\0' && k + 1 < n; s++, k++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[k] = ok ? c : '_';
    }
    out[k] = '\0';
}

void instant_paths(instant_job *j)
{
    const char *dir = getenv("XDG_RUNTIME_DIR");
    char name[NAMING_SPEC_MAX];
    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    file_part(name, sizeof(name), j->dest_name);
    snprintf(j->pid_path, sizeof(j->pid_path), "%s/rbd2s3-instant.%.200s.pid", dir, name);
    snprintf(j->log_path, sizeof(j->log_path), "%s/rbd2s3-instant.%.200s.log", dir, name);
    if (j->pid_file != NULL)
        snprintf(j->pid_path, sizeof(j->pid_path), "%s", j->pid_file);
    if (j->log_file != NULL)
        snprintf(j->log_path, sizeof(j->log_path), "%s", j->log_file);
}

/* This process's command line (/proc/self/cmdline) as a NULL-terminated argv in buf. */
static int own_argv(char *buf, size_t n, char **av, int max)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t len = 0, r;
    while (fd >= 0 && (size_t)len < n - 1 && (r = read(fd, buf + len, n - 1 - (size_t)len)) > 0)
        len += r;
    if (fd >= 0)
        close(fd);
    if (len <= 0 || (size_t)len >= n - 1)
        return -1;
    buf[len] = '\0';
    int k = 0;
    for (char *p = buf; p < buf + len && k < max - 1; p += strlen(p) + 1)
        av[k++] = p;
    av[k] = NULL;
    return k > 0 ? 0 : -1;
}

/* environ plus INSTANT_CHILD_ENV=W:S, built before fork (the child only execs). */
static char **child_env(int wfd, int sfd, char *var, size_t n)
{
    extern char **environ;
    size_t k = 0;
    while (environ[k] != NULL)
        k++;
    char **env = calloc(k + 2, sizeof(*env));
    if (env == NULL)
        return NULL;
    snprintf(var, n, "%s=%d:%d", INSTANT_CHILD_ENV, wfd, sfd);
    size_t m = 0, plen = strlen(INSTANT_CHILD_ENV) + 1;
    for (size_t i = 0; i < k; i++)
        if (strncmp(environ[i], var, plen) != 0)
            env[m++] = environ[i];
    env[m++] = var;
    env[m] = NULL;
    return env;
}

/* The child after fork: a session of its own, stdin from /dev/null, the program again. */
static void child_exec(char **av, char **env)
{
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || setsid() < 0)
        _exit(AG_EFAIL);
    if (nul != STDIN_FILENO)
        close(nul);
    execve("/proc/self/exe", av, env);
    _exit(AG_EFAIL);
}

/* Read what the child sends until it closes the pipe: its usable line, or nothing. */
static size_t read_line(int fd, char *buf, size_t n)
{
    size_t len = 0;
    ssize_t r;
    while (len < n - 1 && ((r = read(fd, buf + len, n - 1 - len)) > 0 || (r < 0 &&
                                                                             errno == EINTR)))
        len += r > 0 ? (size_t)r : 0;
    buf[len] = '\0';
    return len;
}

/* A pipe holding the S3 secret key for the child (our environment no longer has it): its
 * read end, or -1 (none, or it could not be made: the child then says it has no key). */
static int secret_pipe(const ag_ctx *ctx)
{
    const char *k = ctx->opts.secret_key;
    int s[2];
    if (k == NULL || strlen(k) >= sizeof(((instant_job *)0)->secret) || pipe(s) < 0)
        return -1;
    ssize_t w = write(s[1], k, strlen(k));   /* far below a pipe's buffer: no blocking */
    close(s[1]);
    if (w != (ssize_t)strlen(k)) {
        close(s[0]);
        return -1;
    }
    return s[0];
}

/* Fork and exec the child with its end of the pipe p: its pid, or -1 (errno set). */
static pid_t spawn(const ag_ctx *ctx, int p[2])
{
    char *buf = malloc(CMDLINE_MAX), *av[ARGS_MAX], var[64];
    char **env = NULL;
    pid_t pid = -1;
    int sfd = secret_pipe(ctx);
    if (buf != NULL && own_argv(buf, CMDLINE_MAX, av, ARGS_MAX) == 0 &&
        (env = child_env(p[1], sfd, var, sizeof(var))) != NULL) {
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_exec(av, env);
        }
    } else {
        errno = errno ? errno : ENOMEM;
    }
    if (sfd >= 0)
        close(sfd);
    free(env);
    free(buf);
    return pid;
}

void instant_child_setup(instant_job *j)
{
    const char *v = getenv(INSTANT_CHILD_ENV);
    char *end = NULL;
    long w = -1, s = -1;
    j->child_fd = -1;
    if (v != NULL) {
        w = strtol(v, &end, 10);
        if (end != v && *end == ':')
            s = strtol(end + 1, &end, 10);
    }
    unsetenv(INSTANT_CHILD_ENV);
    if (v == NULL || end == NULL || *end != '\0' || w < 0 || w > 65535 || s < -1 || s > 65535)
        return;
    j->child_fd = (int)w;
    if (s < 0)
        return;
    ssize_t n = read((int)s, j->secret, sizeof(j->secret) - 1);
    close((int)s);
    if (n > 0 && j->ctx->opts.secret_key == NULL) {
        j->secret[n] = '\0';
        j->ctx->opts.secret_key = j->secret;
    }
}

int instant_detach(instant_job *j)
{
    ag_ctx *ctx = j->ctx;
    char line[4096];
    int p[2];
    if (pipe(p) < 0)
        return ag_fail(ctx, AG_EFAIL, "--detach: pipe: %s", strerror(errno)), ctx->exit_code;
    pid_t pid = spawn(ctx, p);
    int e = errno;
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return ag_fail(ctx, AG_EFAIL, "--detach: cannot start the detached run: %s",
                       strerror(e)), ctx->exit_code;
    }
    size_t len = read_line(p[0], line, sizeof(line));
    close(p[0]);
    if (len > 0) {
        fputs(line, stdout);
        return AG_OK;          /* the child goes on, in a session of its own */
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : AG_EFAIL;
    ag_fail(ctx, code != 0 ? code : AG_EFAIL, "the detached run ended before the target was "
            "usable");
    if (WIFEXITED(st) && code != 0)
        ag_watchdog_claim_line();  /* the child printed its error line on our stderr */
    return ctx->exit_code;
}

void instant_detached(instant_job *j, const char *line)
{
    size_t len = strlen(line);
    int log = open(j->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    fflush(NULL);
    while (len > 0) {
        ssize_t w = write(j->child_fd, line, len);
        if (w <= 0 && errno != EINTR)
            break;
        line += w > 0 ? w : 0;
        len -= w > 0 ? (size_t)w : 0;
    }
    if (log >= 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        close(log);
    } else {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) {
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
            close(nul);
        }
    }
    close(j->child_fd);
    j->child_fd = -1;
}

int instant_pid_write(instant_job *j)
{
    char text[32];
    int fd = open(j->pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return ag_fail(j->ctx, AG_EFAIL, "pid file %s: %s", j->pid_path, strerror(e));
    }
    close(fd);
    j->pid_written = 1;
    return 0;
}

void instant_pid_remove(instant_job *j)
{
    if (j->pid_written)
        unlink(j->pid_path);
    j->pid_written = 0;
}
