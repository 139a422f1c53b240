/*
 * node_label.h — the form of a node label ("key=value"), checked where it
 * is given (`muster-agent --label`) and where it arrives (musterd, from
 * agent.register), so a label that could not match a selector is said at
 * once rather than silently never matching.
 */
#ifndef MU_NODE_LABEL_H
#define MU_NODE_LABEL_H

#include <stddef.h>

#define MU_NODE_LABEL_PART_MAX 63

/* "key=value", key and value each 1..63 of [A-Za-z0-9._/-].  0, or
 * MUSTER_EINVAL with a sentence naming the label in err. */
int mu_node_label_check (const char *kv, char *err, size_t errlen);
/* The same for a name alone (a tenant, a key): 1 if s[0..len) is one. */
int mu_node_label_name_ok (const char *s, size_t len);

#endif
