/* serve.h - an HTTP/1.1 server of backup points (libmicrohttpd): each point a raw image at
 * /POOL[/NS]/IMAGE@BACKUP.raw (the newest at /POOL[/NS]/IMAGE.raw), GET and HEAD with one
 * Range, a JSON listing at / and /POOL[/NS]/IMAGE/. Readers (agent/restore/reader.h) are
 * opened on first use and kept until serve_stop. Used by `rbd2s3 serve` and, in-process
 * on loopback, by `restore --instant`. */
#ifndef RBD2S3_SERVE_H
#define RBD2S3_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/common/context.h"
#include "agent/restore/reader.h"

#define SERVE_LISTEN_DEFAULT "127.0.0.1:8547"
#define SERVE_MAX_CONN_DEFAULT 16

typedef struct serve_server serve_server;

typedef struct serve_opts {
    const char *listen;         /* "HOST:PORT" (IPv4, [IPv6] or a name; port 0: any free
                                 * one, see serve_port); NULL: SERVE_LISTEN_DEFAULT */
    const char *token;          /* bearer token (the secret itself, not a path): requests
                                 * without "Authorization: Bearer TOKEN" get 401; NULL: none.
                                 * serve_start refuses a non-loopback host without one */
    const char *tls_cert;       /* PEM files (paths): both set, HTTPS; both NULL: HTTP */
    const char *tls_key;
    unsigned max_connections;   /* concurrent connections; 0: SERVE_MAX_CONN_DEFAULT */
    reader_opts reader;         /* for every reader the server opens */
} serve_opts;

/* Start serving on o->listen with threads of its own; ctx (its S3 client, keys and
 * options) must outlive the server and is used only through reader_with_ctx from then
 * on. Returns 0 with *out set, or an exit code with a one-line text in why[0..n):
 * AG_EUSAGE (bad listen address, a non-loopback host without a token, TLS files that do
 * not load), AG_EBUSY (cannot listen: "cannot listen on HOST:PORT: Address already in
 * use"), AG_EFAIL (anything else). ctx's error is left clean either way. */
int serve_start(ag_ctx *ctx, const serve_opts *o, serve_server **out, char *why, size_t n);

/* The port the server listens on (the one chosen when o->listen asked for port 0).
 * Cannot fail. */
uint16_t serve_port(const serve_server *s);

/* The URL path of a point, "/POOL[/NS]/IMAGE@BACKUP.raw" (backup "" or NULL: the newest,
 * "/POOL[/NS]/IMAGE.raw"), each part percent-escaped, into out. Returns the length
 * needed (like snprintf). Pure; cannot fail. */
size_t serve_point_path(const naming_spec *spec, const char *backup, char *out, size_t n);

/* Stop accepting, finish or cut the requests in flight, close every reader and free the
 * server. Safe on NULL. */
void serve_stop(serve_server *s);

#endif
