/* listing.c - the JSON listing of serve: the images in the bucket and their backups, with
 * the URL of each point. */
#include "agent/serve/serve_internal.h"
#include "agent/repo/catalog.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What list_fn is given and gives back. */
typedef struct list_job {
    const naming_spec *spec;           /* NULL: every image */
    char *text;                        /* the document (malloc'ed), or NULL */
    size_t images;
} list_job;

static json_object *backup_json(const cat_entry *e)
{
    const manifest *m = &e->m;
    char created[21], url[NAMING_SPEC_MAX * 3 + NAMING_ID_LEN + 16];
    naming_iso8601(m->created, created);
    serve_point_path(&e->spec, e->id, url, sizeof(url));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(e->id));
    json_object_object_add(o, "type", json_object_new_string(m->full ? "full"
                                                                      : "incremental"));
    json_object_object_add(o, "parent", m->full ? NULL : json_object_new_string(m->parent_id));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)m->size));
    json_object_object_add(o, "created", json_object_new_string(created));
    json_object_object_add(o, "encrypted", json_object_new_boolean(m->enc.on));
    json_object_object_add(o, "url", json_object_new_string(url));
    return o;
}

static int same_image(const naming_spec *a, const naming_spec *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0;
}

/* One image's object, its backups those of c from i on with its spec; *next: the first
 * entry of the next image. */
static json_object *image_json(const catalog *c, size_t i, size_t *next)
{
    char name[NAMING_SPEC_MAX], url[NAMING_SPEC_MAX * 3 + 16];
    const naming_spec *spec = &c->e[i].spec;
    naming_spec_str(spec, name, sizeof(name));
    serve_point_path(spec, NULL, url, sizeof(url));
    json_object *o = json_object_new_object(), *bk = json_object_new_array();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "pool", json_object_new_string(spec->pool));
    json_object_object_add(o, "namespace", json_object_new_string(spec->ns));
    json_object_object_add(o, "name", json_object_new_string(spec->image));
    json_object_object_add(o, "url", json_object_new_string(url));
    for (; i < c->n && same_image(&c->e[i].spec, spec); i++)
        json_object_array_add(bk, backup_json(&c->e[i]));
    json_object_object_add(o, "backups", bk);
    *next = i;
    return o;
}

/* Under reader_with_ctx: load the catalog, make the document. */
static int list_fn(ag_ctx *ctx, void *arg)
{
    list_job *job = arg;
    catalog cat;
    if (catalog_load(ctx, job->spec, &cat) != 0)
        return -1;
    json_object *root = json_object_new_object(), *imgs = json_object_new_array();
    for (size_t i = 0; i < cat.n; job->images++)
        json_object_array_add(imgs, image_json(&cat, i, &i));
    json_object_object_add(root, "images", imgs);
    const char *t = json_object_to_json_string_ext(root, AG_JSON_OUT);
    job->text = t != NULL ? malloc(strlen(t) + 2) : NULL;
    if (job->text != NULL)
        snprintf(job->text, strlen(t) + 2, "%s\n", t);
    json_object_put(root);
    catalog_free(&cat);
    return job->text == NULL ? ag_fail(ctx, AG_EFAIL, "out of memory") : 0;
}

enum MHD_Result serve_listing(serve_server *s, struct MHD_Connection *c,
                              const naming_spec *spec)
{
    char why[NAMING_SPEC_MAX + 64];
    list_job job = { .spec = spec };
    int code = reader_with_ctx(s->ctx, list_fn, &job, why, sizeof(why));
    if (code != 0)
        return serve_error(c, code == AG_ENOTFOUND ? MHD_HTTP_NOT_FOUND
                                                   : MHD_HTTP_BAD_GATEWAY, why);
    if (spec != NULL && job.images == 0) {
        free(job.text);
        char name[NAMING_SPEC_MAX];
        naming_spec_str(spec, name, sizeof(name));
        snprintf(why, sizeof(why), "image %s: no backup", name);
        return serve_error(c, MHD_HTTP_NOT_FOUND, why);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(job.text), job.text,
                                                                MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(job.text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}
