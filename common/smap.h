/*
 * smap.h — a string-keyed hash map of pointers (open addressing, linear
 * probing, tombstone-free backward-shift deletion).
 *
 * The coordinator looks nodes, jobs, KV keys and barriers up by name on
 * every message; this keeps each lookup O(1) with one allocation per key
 * (the map copies keys; values are borrowed pointers the caller owns).
 */
#ifndef MU_SMAP_H
#define MU_SMAP_H

#include <stddef.h>

typedef struct mu_smap mu_smap_t;

/* Create an empty map; NULL on allocation failure. */
mu_smap_t *mu_smap_new (void);
/* Destroy the map and its key copies (not the values); accepts NULL. */
void mu_smap_destroy (mu_smap_t **m_p);
/* Value stored under key, or NULL. */
void *mu_smap_get (const mu_smap_t *m, const char *key);
/* Insert or replace; 0 or -ENOMEM.  *old (if not NULL) receives the value
 * that was replaced, or NULL. */
int mu_smap_put (mu_smap_t *m, const char *key, void *val, void **old);
/* Remove key; returns its value or NULL. */
void *mu_smap_del (mu_smap_t *m, const char *key);
size_t mu_smap_size (const mu_smap_t *m);
/* Iterate: start with *pos = 0; returns 1 and fills key/val while entries
 * remain.  The map must not be modified during iteration. */
int mu_smap_next (const mu_smap_t *m, size_t *pos, const char **key,
                  void **val);

#endif
