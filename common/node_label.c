/*
 * node_label.c — checks of node labels and the names that share their
 * alphabet (node_label.h).  Pure.
 */
#include "common/node_label.h"

#include <stdio.h>
#include <string.h>

#include <muster/error.h>

static int
name_char (char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
         || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'
         || ch == '/';
}

int
mu_node_label_name_ok (const char *s, size_t len)
{
  if (len == 0 || len > MU_NODE_LABEL_PART_MAX)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!name_char (s[i]))
      return 0;
  return 1;
}

int
mu_node_label_check (const char *kv, char *err, size_t errlen)
{
  const char *eq = strchr (kv, '=');
  if (eq == NULL || !mu_node_label_name_ok (kv, (size_t)(eq - kv))
      || !mu_node_label_name_ok (eq + 1, strlen (eq + 1)))
    {
      snprintf (err, errlen,
                "label '%s': expected key=value, each 1-%d of "
                "[A-Za-z0-9._/-]", kv, MU_NODE_LABEL_PART_MAX);
      return MUSTER_EINVAL;
    }
  return 0;
}
