/* fuzz_lifecycle.c - libFuzzer harness: the bucket lifecycle document as the lifecycle
 * command reads, merges and shows it (agent/command/lifecycle.c). The S3 calls are fakes
 * (ld --wrap): the bucket's document is the input. Input: a mode byte (bit 0 apply,
 * else show; bit 1 --format json; bit 2 a versioned bucket), then the document. Round
 * trip: applying to the document just written writes the same bytes again (from the
 * second rewrite on: the first may drop blank text of the bucket's document). libxml2's
 * printer is silenced as the real ag_s3 silences it (s3_xml_silence, when it creates the
 * client). */
#include "fuzz/harness/fuzz_util.h"
#include "agent/common/context.h"
#include "agent/command/command.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>

static const uint8_t *bucket_doc;   /* what GET ?lifecycle answers */
static size_t bucket_len;
static char *written;               /* what PUT ?lifecycle received */
static int versioned;               /* what GET ?versioning answers */
static size_t written_len;

s3_client *__wrap_ag_s3(ag_ctx *ctx)
{
    static int dummy;
    s3_xml_silence();       /* as creating the client does */
    return (s3_client *)&dummy;
}

int __wrap_s3_get_lifecycle(s3_client *c, s3_buf *out, s3_error *err)
{
    memset(out, 0, sizeof(*out));
    if (bucket_len == 0)
        return -ENOENT;     /* NoSuchLifecycleConfiguration */
    out->data = malloc(bucket_len);
    FUZZ_CHECK(out->data != NULL, "malloc");
    memcpy(out->data, bucket_doc, bucket_len);
    out->len = out->cap = bucket_len;
    return 0;
}

int __wrap_s3_put_lifecycle(s3_client *c, const char *xml, size_t len, s3_error *err)
{
    free(written);
    written = malloc(len + 1);
    FUZZ_CHECK(written != NULL, "malloc");
    memcpy(written, xml, len);
    written[len] = '\0';
    written_len = len;
    return 0;
}

int __wrap_s3_get_versioning(s3_client *c, int *state, s3_error *err)
{
    *state = versioned;
    return 0;
}

static int run(int apply, int json)
{
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts.prefix = "rbd2s3";
    ctx.opts.quiet = 1;
    ctx.opts.json = json;
    ctx.command = "lifecycle";
    char *argv[] = { apply ? "apply" : "show", NULL };
    return cmd_lifecycle(&ctx, 1, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int apply = data[0] & 1, json = data[0] & 2;
    versioned = (data[0] & 4) != 0;
    bucket_doc = data + 1;
    bucket_len = size - 1;
    free(written);
    written = NULL;
    int rc = run(apply, json);
    FUZZ_CHECK(rc != AG_OK || !apply || written != NULL, "apply succeeded, wrote nothing");
    if (rc == AG_OK && apply) {
        /* applied to what it wrote, apply writes it again; the first rewrite may still
         * drop blank text the bucket's document had */
        char *prev = NULL;
        size_t prev_len = 0;
        for (int round = 0; round < 2; round++) {
            free(prev);
            prev = written;
            prev_len = written_len;
            written = NULL;
            bucket_doc = (const uint8_t *)prev;
            bucket_len = prev_len;
            rc = run(1, json);
            FUZZ_CHECK(rc == AG_OK && written != NULL,
                       "applying to the document just written fails (%d):\n%s", rc, prev);
        }
        FUZZ_CHECK(written_len == prev_len && memcmp(written, prev, prev_len) == 0,
                   "applying again changes the document:\n%s\n----\n%s", prev, written);
        free(prev);
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd = open("/dev/null", O_WRONLY);   /* the rules shown go nowhere */
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    xmlInitParser();
    return 0;
}
