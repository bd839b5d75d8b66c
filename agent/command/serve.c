/* serve.c - the serve command: backup points over HTTP until SIGTERM or SIGINT. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/keyring.h"
#include "agent/config/options.h"
#include "agent/serve/serve.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVE_TOKEN_MAX 4096

/* The command line's values. */
typedef struct serve_args {
    const char *listen, *token_file, *cert, *key, *maxconn, *cache;
} serve_args;

/* Fill o from a (token into tok). 0, or -1 with the error recorded in ctx. */
static int serve_setup(ag_ctx *ctx, const serve_args *a, serve_opts *o, char *tok)
{
    memset(o, 0, sizeof(*o));
    o->listen = a->listen != NULL ? a->listen : ctx->opts.serve_listen;
    o->tls_cert = a->cert;
    o->tls_key = a->key;
    const char *tf = a->token_file != NULL ? a->token_file : ctx->opts.serve_token_file;
    char msg[512];
    if (tf != NULL && keyring_read_secret("token file", tf, tok, SERVE_TOKEN_MAX, msg,
                                          sizeof(msg)) != 0)
        return ag_fail(ctx, AG_EUSAGE, "%s", msg);
    o->token = tf != NULL ? tok : NULL;
    if (a->maxconn != NULL) {
        char *end;
        unsigned long v = strtoul(a->maxconn, &end, 10);
        if (*end != '\0' || v == 0 || v > 1024 || a->maxconn[0] == '-')
            return ag_fail(ctx, AG_EUSAGE, "--max-connections %s: not 1..1024", a->maxconn);
        o->max_connections = (unsigned)v;
    }
    if (a->cache != NULL && (ag_parse_size(a->cache, &o->reader.cache_bytes) != 0 ||
                             o->reader.cache_bytes == 0))
        return ag_fail(ctx, AG_EUSAGE, "--cache-size %s: not a size", a->cache);
    return 0;
}

/* Wait for SIGTERM or SIGINT (ag_interrupted). */
static void serve_wait(void)
{
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    while (!ag_interrupted)
        nanosleep(&tick, NULL);
}

int cmd_serve(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    serve_args a = { 0 };
    opts_cmd opt[] = {
        { "listen", 1, &a.listen }, { "token-file", 1, &a.token_file },
        { "tls-cert", 1, &a.cert }, { "tls-key", 1, &a.key },
        { "max-connections", 1, &a.maxconn }, { "cache-size", 1, &a.cache },
    };
    if (opts_parse_command(ctx, argc, argv, opt, 6, &pos, &npos) < 0)
        return ctx->exit_code;
    if (npos != 0)
        ag_fail(ctx, AG_EUSAGE, "serve takes no argument (try --help)");
    if (npos != 0)
        return ctx->exit_code;
    char *tok = malloc(SERVE_TOKEN_MAX);
    serve_opts o;
    serve_server *srv = NULL;
    char why[512];
    if (tok == NULL)
        ag_fail(ctx, AG_EFAIL, "out of memory");
    else if (serve_setup(ctx, &a, &o, tok) == 0 && ag_s3(ctx) != NULL) {
        int code = serve_start(ctx, &o, &srv, why, sizeof(why));
        if (code != 0)
            ag_fail(ctx, code, "%s", why);
    }
    if (tok != NULL)
        OPENSSL_cleanse(tok, SERVE_TOKEN_MAX);
    free(tok);
    if (srv == NULL)
        return ctx->exit_code;
    const char *l = o.listen != NULL ? o.listen : SERVE_LISTEN_DEFAULT;
    char url[300];
    snprintf(url, sizeof(url), "%s://%.*s:%u/", o.tls_cert != NULL ? "https" : "http",
             (int)(strrchr(l, ':') - l), l, (unsigned)serve_port(srv));
    printf("serving on %s\n", url);       /* for scripts: stdout, and stderr below */
    fflush(stdout);
    ag_info(ctx, "serve: serving on %s", url);
    serve_wait();
    ag_info(ctx, "serve: stopping");
    serve_stop(srv);
    return AG_OK;
}
