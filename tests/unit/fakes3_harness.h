/* fakes3_harness.h - start tests/fakes3/fakes3.py, script it and read its log (unit tests).
 *
 * Included by the cmocka test programs that drive the s3 module against the fake server
 * (one copy of the harness per program: everything here is static). The includer
 * includes <cmocka.h> (with its prerequisites), <curl/curl.h> and "s3/s3_internal.h"
 * first, and builds with -DFAKES3_PY (the script's path).
 */
#ifndef RBD2S3_FAKES3_HARNESS_H
#define RBD2S3_FAKES3_HARNESS_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define AK "FAKEACCESSKEY"
#define SK "fake/secret+key=0123456789"
#define BUCKET "bkt"

static pid_t fake_pid = -1;
static int fake_port;
static char endpoint[64];

/* ---- the fake server: start, control, stop ---- */

static const char *fake_script(void)
{
    static char path[4096];
    const char *env = getenv("FAKES3");
    const char *srcdir = getenv("srcdir");
    if (env && *env)
        return env;
#ifdef FAKES3_PY
    if (access(FAKES3_PY, R_OK) == 0)
        return FAKES3_PY;
#endif
    snprintf(path, sizeof(path), "%s/tests/fakes3/fakes3.py", srcdir ? srcdir : ".");
    return path;
}

/* Start fakes3.py and read its port. Returns 0, or -1 with a message on stderr. */
static int start_fake(void)
{
    const char *python = getenv("PYTHON");
    const char *script = fake_script();
    int pfd[2];
    char line[32];
    size_t n = 0;

    if (!python || !*python)
        python = "python3";
    if (pipe(pfd) != 0)
        return -1;
    fake_pid = fork();
    if (fake_pid < 0)
        return -1;
    if (fake_pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execlp(python, python, script, "--access-key", AK, "--secret-key", SK,
               "--bucket", BUCKET, (char *)NULL);
        fprintf(stderr, "fakes3_harness: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    while (n < sizeof(line) - 1) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (poll(&p, 1, 15000) <= 0)
            break;
        ssize_t r = read(pfd[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(pfd[0]);
    fake_port = (int)strtol(line, NULL, 10);
    if (fake_port <= 0 || fake_port > 65535) {
        fprintf(stderr, "fakes3_harness: fake S3 server %s (via %s) did not start\n",
                script, python);
        kill(fake_pid, SIGKILL);
        waitpid(fake_pid, NULL, 0);
        fake_pid = -1;
        return -1;
    }
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", fake_port);
    return 0;
}

static void stop_fake(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
        fake_pid = -1;
    }
}

/* Start the fake server for program prog: 0, or 1 with a FAIL line (never a skip). */
static __attribute__((unused)) int fake_main_start(const char *prog)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_fake() != 0) {
        fprintf(stderr, "%s: FAIL: the fake S3 server is required (python3)\n", prog);
        return 1;
    }
    return 0;
}

/* Stop the fake server; the exit code of a program whose cmocka run returned rc. */
static __attribute__((unused)) int fake_main_stop(int rc)
{
    stop_fake();
    return rc ? 1 : 0;
}

/* The body of main() of a program that runs the cmocka array tests against the fake. */
#define FAKE_MAIN(prog, tests) \
    (fake_main_start(prog) != 0 ? 1 : fake_main_stop(cmocka_run_group_tests(tests, NULL, NULL)))

static size_t ctl_write(char *p, size_t size, size_t n, void *arg)
{
    s3_sb_add(arg, p, size * n);
    return size * n;
}

/* A control request to the fake; the answer body goes to out (may be NULL). */
static void ctl(const char *method, const char *path, const char *body, s3_sb *out)
{
    char url[256];
    s3_sb sink;
    long code = 0;
    CURL *e = curl_easy_init();

    assert_non_null(e);
    s3_sb_init(&sink, 16 * 1024 * 1024);
    snprintf(url, sizeof(url), "%s%s", endpoint, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ctl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out ? out : &sink);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    }
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    curl_easy_cleanup(e);
    s3_sb_free(&sink);
}

/* cmocka setup: the fake forgets objects, uploads, rules and log before each test. */
static __attribute__((unused)) int fake_reset(void **state)
{
    (void)state;
    ctl("POST", "/_ctl/reset", "", NULL);
    return 0;
}

static __attribute__((unused)) void set_rules(const char *rules)
{
    ctl("POST", "/_ctl/rules", rules, NULL);
}

/* One logged request. */
struct logrec {
    char method[8];
    char path[256];
    char query[512];
    char date[20];
    char sig[72];
    char auth[40];
    char action[16];
    int status;
    int port;
};

/* The fake's log; returns the number of records (at most max). */
static __attribute__((unused)) int get_log(struct logrec *recs, int max)
{
    s3_sb out;
    int n = 0;

    s3_sb_init(&out, 16 * 1024 * 1024);
    ctl("GET", "/_ctl/log", NULL, &out);
    for (char *line = out.p; line && *line && n < max;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        struct logrec *r = &recs[n];
        char *f[9];
        int nf = 0;
        for (char *p = line; nf < 9;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        assert_int_equal(nf, 9);
        s3_strlcpy(r->method, f[0], sizeof(r->method));
        s3_strlcpy(r->path, f[1], sizeof(r->path));
        s3_strlcpy(r->query, f[2], sizeof(r->query));
        s3_strlcpy(r->date, f[3], sizeof(r->date));
        s3_strlcpy(r->sig, f[4], sizeof(r->sig));
        s3_strlcpy(r->auth, f[5], sizeof(r->auth));
        s3_strlcpy(r->action, f[6], sizeof(r->action));
        r->status = (int)strtol(f[7], NULL, 10);
        r->port = (int)strtol(f[8], NULL, 10);
        n++;
        line = nl ? nl + 1 : NULL;
    }
    s3_sb_free(&out);
    return n;
}

/* Count log records of method whose query contains q (NULL: any). */
static __attribute__((unused)) int count_log(const struct logrec *recs, int n,
                                           const char *method, const char *q)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(recs[i].method, method) && (!q || strstr(recs[i].query, q)))
            k++;
    return k;
}

#endif
