/*
 * job_spec_yaml_int.h — what the two files of the spec parser share: the
 * parse context (the libyaml document, the error list) and the value
 * readers of job_spec_yaml_values.c, which job_spec_yaml.c's field tables
 * call.  Not installed.
 */
#ifndef MU_JOB_SPEC_YAML_INT_H
#define MU_JOB_SPEC_YAML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "common/job_spec_yaml.h"

typedef struct ctx
{
  yaml_document_t *doc;
  const char *fname;
  char *err;
  size_t errlen, used;
  int nerr;
  int oom;
} ctx_t;

/* Record an error at node `at` (NULL: line 1) for field `path`. */
void mu_yaml_error (ctx_t *c, const yaml_node_t *at, const char *path,
                    const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* "a scalar", "a list", "a mapping". */
const char *mu_yaml_kind_name (const yaml_node_t *n);
yaml_node_t *mu_yaml_node (ctx_t *c, int id);
/* The text of scalar n, or NULL (error recorded: "expected WANT"). */
const char *mu_yaml_scalar (ctx_t *c, const yaml_node_t *n, const char *path,
                            const char *want);
/* strdup that records running out of memory in c. */
char *mu_yaml_dup (ctx_t *c, const char *s);
/* Readers: 0, or -1 with the error recorded. */
int mu_yaml_str (ctx_t *c, const yaml_node_t *n, const char *path, char **out);
int mu_yaml_u64 (ctx_t *c, const yaml_node_t *n, const char *path,
                 uint64_t *out);
int mu_yaml_i64 (ctx_t *c, const yaml_node_t *n, const char *path,
                 int64_t *out);
int mu_yaml_bool (ctx_t *c, const yaml_node_t *n, const char *path,
                  bool *out);
int mu_yaml_dur (ctx_t *c, const yaml_node_t *n, const char *path,
                 uint64_t *out);
int mu_yaml_choice (ctx_t *c, const yaml_node_t *n, const char *path,
                    const char *const *choices, char **out);
void mu_yaml_argv (ctx_t *c, const yaml_node_t *n, const char *path,
                   mu_strlist_t *out);
void mu_yaml_env (ctx_t *c, const yaml_node_t *n, const char *path,
                  mu_strmap_t *out);
void mu_yaml_labels (ctx_t *c, const yaml_node_t *n, const char *path,
                     mu_strlist_t *out);

/* Walk the pairs of mapping n: for each key, the index of its name in
 * fields (-1 unknown: reported), with duplicates reported.  fn is called
 * with the key index and the value node. */
typedef void (*field_fn) (ctx_t *c, void *obj, int field, yaml_node_t *key,
                          yaml_node_t *val, const char *path);
void mu_yaml_walk_map (ctx_t *c, const yaml_node_t *n, const char *path,
                       const char *const *fields, field_fn fn, void *obj);

#endif
