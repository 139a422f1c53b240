/*
 * mem_trim.h — musterd gives the heap's free pages back after a burst
 * (mem area; see mem_trim.c).
 */
#ifndef MU_MEM_TRIM_H
#define MU_MEM_TRIM_H

#include <uv.h>

typedef struct mu_coord mu_coord_t;

/* Set up the trim timer on `loop` (mu_coord_start, after every step that
 * can fail). */
void mu_mem_trim_init (mu_coord_t *c, uv_loop_t *loop);
/* A burst happened (a round closed, a job ended): trim once it is over.
 * Cheap, and idempotent within a burst; nothing before init or after
 * close. */
void mu_mem_trim_soon (mu_coord_t *c);
/* Close the timer (mu_coord_stop). */
void mu_mem_trim_close (mu_coord_t *c);

#endif
