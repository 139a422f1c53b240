/*
 * join_queue.h — joins whose rdzv.progress is held back (decision 107).
 *
 * A node that joins a round used to get an rdzv.progress at once, so a
 * 10,000-node round sent 10,000 of them (a third of its messages) that
 * no agent needed: the round closed a moment later and job.start said
 * everything.  The progress is display only ("waiting for nodes 3/8"), so
 * it is now held back: a join is noted with the time its progress falls
 * due (join + the delay), and only a node still waiting then is told.
 * Every join waits the same delay, so the queue is in due order (FIFO)
 * and popping what is due is O(due).
 *
 * Pure: no clock, no node table; the caller passes the times and decides
 * what "still waiting" means (join_progress.c).  Tested in
 * join_queue_test.c.
 */
#ifndef MU_JOIN_QUEUE_H
#define MU_JOIN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mu_jq_entry {
  uint32_t key;    /* the node's key */
  uint64_t due_ms; /* when its progress falls due */
} mu_jq_entry_t;

typedef struct mu_join_queue {
  mu_jq_entry_t *v;
  size_t head, len, cap; /* entries v[head .. len-1] are pending */
} mu_join_queue_t;

/* Note that `key` joined at `now`; its progress falls due at now + delay.
 * Times must not go backwards (an earlier one is raised to the last).
 * 0 or -ENOMEM. */
int mu_jq_note (mu_join_queue_t *q, uint32_t key, uint64_t now,
                uint64_t delay);

/* The oldest entry due at `now`: 1 and *key set (and taken off), else 0. */
int mu_jq_pop_due (mu_join_queue_t *q, uint64_t now, uint32_t *key);

/* When the oldest pending entry falls due; 0 when none is pending. */
uint64_t mu_jq_next_due (const mu_join_queue_t *q);

/* Pending entries. */
size_t mu_jq_pending (const mu_join_queue_t *q);

/* Forget every pending entry (each node just heard its progress, or the
 * round closed); the memory is kept for the next round. */
void mu_jq_clear (mu_join_queue_t *q);

/* Free the memory; the queue is empty and reusable. */
void mu_jq_free (mu_join_queue_t *q);

#endif
