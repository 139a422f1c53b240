/*
 * smap.c — string-keyed open-addressing hash map (see smap.h).
 *
 * FNV-1a hashing, power-of-two capacity kept at most 70% full, linear
 * probing, and backward-shift deletion so lookups never wade through
 * tombstones after many deletes.
 */
#include "common/smap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
  char *key;
  void *val;
  uint64_t hash;
} slot_t;

struct mu_smap {
  slot_t *slots;
  size_t cap; /* power of two */
  size_t size;
};

static uint64_t
hash_str (const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    {
      h ^= (unsigned char)*s;
      h *= 1099511628211ull;
    }
  return h;
}

mu_smap_t *
mu_smap_new (void)
{
  mu_smap_t *m = calloc (1, sizeof *m);
  if (m == NULL)
    return NULL;
  m->cap = 16;
  m->slots = calloc (m->cap, sizeof *m->slots);
  if (m->slots == NULL)
    {
      free (m);
      return NULL;
    }
  return m;
}

void
mu_smap_destroy (mu_smap_t **m_p)
{
  if (m_p == NULL || *m_p == NULL)
    return;
  mu_smap_t *m = *m_p;
  for (size_t i = 0; i < m->cap; i++)
    free (m->slots[i].key);
  free (m->slots);
  free (m);
  *m_p = NULL;
}

static size_t
find (const mu_smap_t *m, const char *key, uint64_t h)
{
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask)
    {
      slot_t *s = &m->slots[i];
      if (s->key == NULL || (s->hash == h && strcmp (s->key, key) == 0))
        return i;
    }
}

void *
mu_smap_get (const mu_smap_t *m, const char *key)
{
  size_t i = find (m, key, hash_str (key));
  return m->slots[i].key ? m->slots[i].val : NULL;
}

static int
grow (mu_smap_t *m)
{
  size_t ncap = m->cap * 2;
  slot_t *ns = calloc (ncap, sizeof *ns);
  if (ns == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < m->cap; i++)
    {
      slot_t *s = &m->slots[i];
      if (s->key == NULL)
        continue;
      size_t j = s->hash & (ncap - 1);
      while (ns[j].key != NULL)
        j = (j + 1) & (ncap - 1);
      ns[j] = *s;
    }
  free (m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

int
mu_smap_put (mu_smap_t *m, const char *key, void *val, void **old)
{
  if (old != NULL)
    *old = NULL;
  if ((m->size + 1) * 10 > m->cap * 7 && grow (m) != 0)
    return -ENOMEM;
  uint64_t h = hash_str (key);
  size_t i = find (m, key, h);
  slot_t *s = &m->slots[i];
  if (s->key != NULL)
    {
      if (old != NULL)
        *old = s->val;
      s->val = val;
      return 0;
    }
  s->key = strdup (key);
  if (s->key == NULL)
    return -ENOMEM;
  s->val = val;
  s->hash = h;
  m->size++;
  return 0;
}

void *
mu_smap_del (mu_smap_t *m, const char *key)
{
  uint64_t h = hash_str (key);
  size_t i = find (m, key, h);
  if (m->slots[i].key == NULL)
    return NULL;
  void *val = m->slots[i].val;
  free (m->slots[i].key);
  m->slots[i].key = NULL;
  m->size--;
  size_t mask = m->cap - 1;
  /* Backward-shift: move later entries of the probe run into the hole. */
  for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask)
    {
      size_t home = m->slots[j].hash & mask;
      int between = (i <= j) ? (i < home && home <= j)
                             : (i < home || home <= j);
      if (!between)
        {
          m->slots[i] = m->slots[j];
          m->slots[j].key = NULL;
          i = j;
        }
    }
  return val;
}

size_t
mu_smap_size (const mu_smap_t *m)
{
  return m->size;
}

int
mu_smap_next (const mu_smap_t *m, size_t *pos, const char **key, void **val)
{
  for (; *pos < m->cap; (*pos)++)
    {
      slot_t *s = &m->slots[*pos];
      if (s->key != NULL)
        {
          if (key)
            *key = s->key;
          if (val)
            *val = s->val;
          (*pos)++;
          return 1;
        }
    }
  return 0;
}
