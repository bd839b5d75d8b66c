/* policy.h - retention and chain policy keys: config file sections, command options,
 * and the policy in force for a pool. */
#ifndef RBD2S3_POLICY_H
#define RBD2S3_POLICY_H

#include "agent/common/context.h"

/* All fields unset (-1). */
void policy_unset(ag_policy *p);

/* Set one policy key ("keep last", "keep-daily", "full every", "max_chain", ...) from a
 * config file or the command line. 1 if name is a policy key and value was taken, 0 if
 * name is not a policy key, -1 with a usage error recorded (where names the source). */
int policy_set_key(ag_ctx *ctx, ag_policy *p, const char *name, const char *value,
                   const char *where);

/* A key of a [pool:NAME] section: a policy key, `images`, `exclude` or `window`
 * (HH:MM-HH:MM, local time; may wrap midnight). 1 taken, 0 unknown, -1 error. */
int policy_set_pool_key(ag_ctx *ctx, ag_pool_conf *pc, const char *name, const char *value,
                        const char *where);

/* 1 if minute-of-day m (local time) is inside pc's window (always, without one). */
int policy_in_window(const ag_pool_conf *pc, int m);

/* The [pool:NAME] entry of pool, created if create is set (NULL when full or absent). */
ag_pool_conf *policy_pool(ag_ctx *ctx, const char *pool, int create);

/* The policy in force for pool (and namespace ns, "" for none): [global], then
 * [pool:POOL], then [pool:POOL/NS], then cmd (may be NULL); what is still unset
 * becomes 0. */
void policy_resolve(ag_ctx *ctx, const char *pool, const char *ns, const ag_policy *cmd,
                    ag_policy *out);

#endif
