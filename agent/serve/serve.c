/* serve.c - the HTTP server of backup points: the listening socket, the daemon
 * (libmicrohttpd, a thread per connection), the bearer token, the URL's dispatch. */
#include "agent/serve/serve_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_IDLE_SECS 120            /* an idle connection is closed after this */
#define SERVE_PEM_MAX (1u << 20)       /* the largest certificate or key file read */

size_t serve_point_path(const naming_spec *spec, const char *backup, char *out, size_t n)
{
    const char *parts[4] = { spec->pool, spec->ns, spec->image, backup };
    const char *seps[4] = { "/", "/", "/", "@" };
    size_t len = 0;
    for (int i = 0; i < 4; i++) {
        if (parts[i] == NULL || parts[i][0] == '\0')
            continue;
        len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, "%s",
                                seps[i]);
        len += naming_escape(parts[i], out + (len < n ? len : n), len < n ? n - len : 0);
    }
    len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, ".raw");
    return len;
}

enum MHD_Result serve_error(struct MHD_Connection *c, unsigned status, const char *text)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(text));
    const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(t);
    char *body = malloc(len + 2);
    if (body == NULL) {
        json_object_put(o);
        return MHD_NO;
    }
    memcpy(body, t, len);
    memcpy(body + len, "\n", 2);
    json_object_put(o);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len + 1, body,
                                                                MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"rbd2s3\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* 1 when the request carries "Authorization: Bearer <token>" (or no token is set). */
static int authorized(const serve_server *s, struct MHD_Connection *c)
{
    if (s->token == NULL)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(s->token);
    return strlen(h) == n && CRYPTO_memcmp(h, s->token, n) == 0;
}

/* 1 when a component of path (decoded) is "..". */
static int has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return 1;
    return 0;
}

/* Route a decoded URL path: "/", "/POOL[/NS]/IMAGE/", "/POOL[/NS]/IMAGE[@BACKUP].raw". */
static enum MHD_Result route(serve_server *s, struct MHD_Connection *c, const char *url,
                             int head)
{
    if (strcmp(url, "/") == 0)
        return serve_listing(s, c, NULL);
    size_t len = strlen(url);
    if (url[0] != '/' || len >= NAMING_SPEC_MAX + NAMING_MAX + 8 || has_dotdot(url))
        return serve_error(c, MHD_HTTP_BAD_REQUEST, "bad path");
    char text[NAMING_SPEC_MAX + NAMING_MAX + 8];
    int listing = url[len - 1] == '/';
    int raw = len > 4 && strcmp(url + len - 4, ".raw") == 0;
    if (!listing && !raw)
        return serve_error(c, MHD_HTTP_NOT_FOUND, "not found: try / for the listing, "
                           "/POOL/IMAGE@BACKUP.raw for a backup point");
    snprintf(text, sizeof(text), "%.*s", (int)(len - 1 - (raw ? 4 : 1)), url + 1);
    naming_spec spec;
    if (naming_parse_spec(text, raw, &spec) != 0)
        return serve_error(c, MHD_HTTP_BAD_REQUEST, "bad path: not POOL[/NS]/IMAGE[@BACKUP]");
    return listing ? serve_listing(s, c, &spec) : serve_raw(s, c, &spec, head);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    serve_server *s = cls;
    static int seen;
    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        /* First call: the headers only. Answering now would make MHD close the
         * connection after the answer (the request might have had a body); the second
         * call comes once the request is whole, and the connection is kept alive. */
        *con_cls = &seen;
        return MHD_YES;
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_RANGE);
    ag_debug(s->ctx, "serve: %s %s%s%s", method, url, range != NULL ? " " : "",
             range != NULL ? range : "");
    if (*upload_size != 0) {
        *upload_size = 0;      /* a body is not read: the answer comes at its end */
        return MHD_YES;
    }
    int head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return serve_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
    if (!authorized(s, c))
        return serve_error(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed");
    return route(s, c, url, head);
}

/* MHD's own messages, on stderr with -v only. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
    serve_server *s = cls;
    if (!s->ctx->opts.verbose)
        return;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    ag_debug(s->ctx, "serve: microhttpd: %s", line);
}

/* Split "HOST:PORT" ("[V6]:PORT") into host and port. 0, or -1. */
static int split_listen(const char *l, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(l, ':');
    if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
        strlen(colon + 1) || strlen(colon + 1) >= pn)
        return -1;
    const char *h = l;
    size_t n = (size_t)(colon - l);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hn || strtoul(colon + 1, NULL, 10) > 65535)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, pn, "%s", colon + 1);
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* Open the listening socket of o->listen into s->fd, s->port. 0, or an exit code. */
static int open_listener(serve_server *s, const char *listen_at, char *why, size_t n)
{
    char host[256], port[8];
    if (split_listen(listen_at, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(why, n, "listen address '%s': not HOST:PORT", listen_at);
        return AG_EUSAGE;
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, n, "cannot listen on %s: %s", listen_at, gai_strerror(rc));
        return AG_EUSAGE;
    }
    if (!is_loopback(ai->ai_addr) && s->token == NULL) {
        freeaddrinfo(ai);
        snprintf(why, n, "listen address %s is not a loopback address: a token is needed "
                 "(--token-file)", listen_at);
        return AG_EUSAGE;
    }
    int one = 1, code = 0;
    s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s->fd, 64) != 0) {
        code = errno == EADDRINUSE ? AG_EBUSY : AG_EUSAGE;
        snprintf(why, n, "cannot listen on %s: %s", listen_at, strerror(errno));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (code == 0 && getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return code;
}

/* The whole PEM file at path (at most SERVE_PEM_MAX bytes), NUL-terminated, or NULL. */
static char *read_pem(const char *path, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    char *buf = f != NULL ? malloc(SERVE_PEM_MAX + 1) : NULL;
    size_t got = buf != NULL ? fread(buf, 1, SERVE_PEM_MAX + 1, f) : 0;
    int err = errno;
    if (f != NULL)
        fclose(f);
    if (buf == NULL || got == 0 || got > SERVE_PEM_MAX) {
        snprintf(why, n, "TLS file %s: %s", path, f == NULL ? strerror(err)
                 : got == 0 ? "empty or unreadable" : "too large for a PEM file");
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    return buf;
}

/* Load the TLS files of s->o. 0, or an exit code. */
static int load_tls(serve_server *s, char *why, size_t n)
{
    if (s->o.tls_cert == NULL && s->o.tls_key == NULL)
        return 0;
    if (s->o.tls_cert == NULL || s->o.tls_key == NULL) {
        snprintf(why, n, "TLS needs both a certificate and its key (--tls-cert, --tls-key)");
        return AG_EUSAGE;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(why, n, "this libmicrohttpd has no TLS support");
        return AG_EUSAGE;
    }
    if ((s->cert = read_pem(s->o.tls_cert, why, n)) == NULL ||
        (s->key = read_pem(s->o.tls_key, why, n)) == NULL)
        return AG_EUSAGE;
    return 0;
}

static void wipe_free(char *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

/* Start the daemon on s->fd. 0, or an exit code. */
static int start_daemon(serve_server *s, char *why, size_t n)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (s->cert != NULL ? MHD_USE_TLS : 0);
    unsigned limit = s->o.max_connections ? s->o.max_connections : SERVE_MAX_CONN_DEFAULT;
    struct MHD_OptionItem tls[] = {
        { s->cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, s->key },
        { MHD_OPTION_END, 0, NULL },
    };
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
                              MHD_OPTION_LISTEN_SOCKET, s->fd,
                              MHD_OPTION_CONNECTION_LIMIT, limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_IDLE_SECS,
                              MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(why, n, "cannot start the HTTP server%s", s->cert != NULL
                 ? " (does the TLS key match its certificate?)" : "");
        return s->cert != NULL ? AG_EUSAGE : AG_EFAIL;
    }
    return 0;
}

int serve_start(ag_ctx *ctx, const serve_opts *o, serve_server **out, char *why, size_t n)
{
    serve_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(why, n, "out of memory");
        return AG_EFAIL;
    }
    s->ctx = ctx;
    s->o = *o;
    s->fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    int code = 0;
    if (o->token != NULL && (s->token = strdup(o->token)) == NULL) {
        snprintf(why, n, "out of memory");
        code = AG_EFAIL;
    }
    if (code == 0)
        code = load_tls(s, why, n);
    if (code == 0)
        code = open_listener(s, o->listen != NULL ? o->listen : SERVE_LISTEN_DEFAULT, why, n);
    if (code == 0)
        code = start_daemon(s, why, n);
    if (code != 0) {
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        serve_stop(s);
        return code;
    }
    *out = s;
    return 0;
}

uint16_t serve_port(const serve_server *s)
{
    return s->port;
}

void serve_stop(serve_server *s)
{
    if (s == NULL)
        return;
    if (s->mhd != NULL)
        MHD_stop_daemon(s->mhd);     /* closes the socket, joins the connections */
    serve_points_close(s);
    pthread_mutex_destroy(&s->lock);
    wipe_free(s->token);
    wipe_free(s->cert);
    wipe_free(s->key);
    free(s);
}
