/* serve_internal.h - what the files of agent/serve/ share: the server, the table of open
 * readers, the Range parser and the responses. Private to agent/serve/. */
#ifndef RBD2S3_SERVE_INTERNAL_H
#define RBD2S3_SERVE_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/serve/serve.h"

#define SERVE_READERS_MAX 32           /* open readers kept at once */
#define SERVE_BLOCK (1u << 20)         /* bytes a body callback reads at a time */
#define SERVE_PREFETCH (8u << 20)      /* a body up to this size is read before its headers */
#define SERVE_NEWEST_IDLE 30.0         /* s without a request: the newest is looked up again */

/* An open reader of one point, shared by the responses that use it. */
typedef struct serve_point {
    char key[NAMING_SPEC_MAX + NAMING_MAX + 2];   /* "POOL/NS/IMAGE@AT" as requested */
    reader *r;
    int refs;                          /* responses using it; closed only at 0 */
    uint64_t used;                     /* tick of its last use (the oldest unused goes) */
    double last;                       /* ag_now() when a request last took or left it */
} serve_point;

struct serve_server {
    ag_ctx *ctx;
    serve_opts o;
    struct MHD_Daemon *mhd;
    int fd;                            /* the listening socket (MHD closes it) */
    uint16_t port;
    char *token;                       /* copy of o.token, wiped at stop */
    char *cert, *key;                  /* PEM contents for MHD (TLS), wiped at stop */
    pthread_mutex_t lock;              /* guards the table below */
    serve_point pts[SERVE_READERS_MAX];
    uint64_t tick;
};

/* One Range header against an image of size bytes: what to answer. */
enum { RANGE_ALL = 0, RANGE_PART, RANGE_UNSAT };
/* Parse header (NULL: none) for an image of size bytes. RANGE_ALL: no usable range (none,
 * malformed or several: the whole image, 200); RANGE_PART: bytes [*start, *start + *len),
 * 206; RANGE_UNSAT: a range wholly past the end, 416. Pure; cannot fail. */
int serve_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);

/* Take (opening it if needed) the reader of spec; release it with serve_points_put.
 * Returns the point, or NULL with an HTTP status (404 unknown, 502 the bucket failed,
 * 503 every slot busy, 500) in *status and a one-line text in why. */
serve_point *serve_points_get(serve_server *s, const naming_spec *spec, int *status,
                              char *why, size_t n);
void serve_points_put(serve_server *s, serve_point *p);
/* Close every reader (at stop, when no request runs). */
void serve_points_close(serve_server *s);

/* Answer a GET (head 0) or HEAD (head 1: no byte read) of a point (spec) on c: 200, 206,
 * 416, or an error (404; 502 when what is read before the headers fails). MHD_YES/MHD_NO. */
enum MHD_Result serve_raw(serve_server *s, struct MHD_Connection *c, const naming_spec *spec,
                          int head);

/* Answer a listing: spec NULL for every image, else one image's backups. */
enum MHD_Result serve_listing(serve_server *s, struct MHD_Connection *c,
                              const naming_spec *spec);

/* Queue a one-line JSON error {"error": text} with status. */
enum MHD_Result serve_error(struct MHD_Connection *c, unsigned status, const char *text);

#endif
