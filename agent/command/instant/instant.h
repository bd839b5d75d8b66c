/* instant.h - what the files of `restore --instant` share (private to agent/command/instant/):
 * the job, the source spec of the migration (source.c) and the detached run (detach.c). */
#ifndef RBD2S3_INSTANT_H
#define RBD2S3_INSTANT_H

#include "agent/common/context.h"
#include "agent/serve/serve.h"

#define INSTANT_HOST "127.0.0.1"
/* Set in the detached child's environment: "W:S", the fd of the pipe to its parent and
 * of the one that brings it the S3 secret key (-1: none). */
#define INSTANT_CHILD_ENV "RBD2S3_INSTANT_CHILD_FD"
/* The debug hooks of the tests: wait until the file they name exists, after prepare or
 * halfway through the copy. */
#define INSTANT_PAUSE_ENV "RBD2S3_DEBUG_INSTANT_PAUSE"
#define INSTANT_PAUSE_COPY_ENV "RBD2S3_DEBUG_INSTANT_PAUSE_COPY"

typedef struct instant_job {
    ag_ctx *ctx;
    double t0;                      /* when the command started (ag_now) */
    naming_spec spec;               /* the restore point (at: its id once resolved) */
    char name[NAMING_SPEC_MAX];     /* "POOL/IMAGE" of the source */
    char id[NAMING_MAX];            /* the backup id */
    char snap_name[NAMING_MAX];     /* the backup's snapshot, created on the target */
    rbdio_info geom;                /* the backup's geometry (size, order, features, ...) */
    naming_spec dest;
    char dest_name[NAMING_SPEC_MAX];
    rbdio_spec dspec;               /* dest as rbdio names it */
    const char *dest_conf, *dest_id;
    rbdio_cluster *dcluster;
    int own_dcluster;
    int detach, resume;
    const char *pid_file, *log_file;
    char pid_path[4096], log_path[4096];
    int pid_written;
    int child_fd;                   /* the detached child's pipe to its parent, or -1 */
    char secret[1024];              /* the child's S3 secret key, from its parent */
    unsigned port;                  /* the served port (resume: the spec's) */
    serve_server *srv;
    double usable_s, copied_s;       /* since t0: usable, copied and committed */
    int fail_code;                  /* a failure while the server ran: an exit code, */
    int fail_rc;                    /* or (fail_code 0) a Ceph rc ... */
    char fail_text[4096];           /* ... and its text, recorded once the server stops */
} instant_job;

/* ---- source.c ---- */
/* The source spec of the job's point served on port: a raw image on an http stream at
 * http://127.0.0.1:PORT/POOL[/NS]/IMAGE@ID.raw, into out (n bytes). 0, or -1 if it does
 * not fit. */
int instant_spec_build(const instant_job *j, unsigned port, char *out, size_t n);
/* Whether spec (as Ceph shows it) is the one of a migration rbd2s3 started for the job's
 * image: 1 with *port and id (NAMING_MAX bytes) set, 0 if not ours. j->spec.at, when
 * given, must be the spec's id too. Cannot fail. */
int instant_spec_ours(const instant_job *j, const char *spec, unsigned *port, char *id);

/* ---- detach.c ---- */
/* The default paths of the pid and log files of a detached run into j->pid_path and
 * j->log_path (j->pid_file and j->log_file win). Cannot fail. */
void instant_paths(instant_job *j);
/* In the parent: start the detached run (this program again, with INSTANT_CHILD_ENV set)
 * and wait until it says the target is usable, or ends. Returns the exit code for the
 * parent: 0 once the target is usable, else the child's (its error line is already on
 * stderr: this run prints none). The command line is this process's own. */
int instant_detach(instant_job *j);
/* In any run: take INSTANT_CHILD_ENV out of the environment; in the detached child, set
 * j->child_fd and read the S3 secret key that the parent sent (the parent took it out of
 * its environment) into ctx's options. Cannot fail: a bad value means not a child. */
void instant_child_setup(instant_job *j);
/* In the detached child, once the target is usable: tell the parent what to print (the
 * usable line, the pid and log file), then send stdout and stderr to the log file, close
 * the pipe. The child goes on either way. */
void instant_detached(instant_job *j, const char *line);
/* In the child: write the pid file (0, or -1 with the error recorded); remove it. */
int instant_pid_write(instant_job *j);
void instant_pid_remove(instant_job *j);

#endif
