/* signals.h - SIGINT/SIGTERM/SIGHUP and the watchdog that bounds the cleanup after them. */
#ifndef RBD2S3_SIGNALS_H
#define RBD2S3_SIGNALS_H

#include "agent/common/context.h"

/* Install the handlers of SIGINT, SIGTERM, SIGHUP (the first sets ag_interrupted, a
 * second ends the process) and ignore SIGPIPE. Cannot fail. */
void ag_signals_install(void);
/* Start the watchdog thread for ctx (after ag_signals_install()). From the first signal
 * (or ag_watchdog_arm()) on, the run has ctx->opts.abort_timeout seconds to finish its
 * cleanup; after that the watchdog prints the run's error line, naming what was left
 * (ag_pending()), and ends the process with _exit(). A second signal ends it at once.
 * Returns 0, or -1 with the error recorded in ctx. */
int ag_watchdog_start(ag_ctx *ctx);
/* Start the cleanup bound now (a Ceph call timed out: what follows may hang as well);
 * ag_watchdog_start() registers it with ag_on_ceph_timeout().
 * Safe to call more than once; only the first call starts the clock. */
void ag_watchdog_arm(void);
/* The cleanup after a Ceph timeout has ended (e.g. one image of `run` is done): stop the
 * clock started by ag_watchdog_arm(), unless a signal came or another thread (a job of
 * run --jobs) armed it and has not disarmed it yet. */
void ag_watchdog_disarm(void);
/* Name what the cleanup is doing (printf-style, e.g. "snapshot X not removed"), so that
 * an exit by the watchdog or by a second signal says what was left; NULL clears it. */
void ag_pending(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The calling thread's ag_pending() text goes to slot (0..AG_JOBS_MAX; 0 is the default
 * of every thread): run --jobs gives each job its own, and the final line names what
 * every slot left. Cannot fail. */
void ag_pending_slot(int slot);
/* Claim the run's final error line: 1 if the caller prints it, 0 if the watchdog has
 * already printed one (then the caller prints nothing). */
int ag_watchdog_claim_line(void);

#endif
