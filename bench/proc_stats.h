/*
 * proc_stats.h — what a benchmark reads about another process (musterd)
 * from /proc: resident memory, split by where it lives, and CPU time; and
 * the kernel's cost of one TCP socket, from the slab caches it allocates.
 *
 * The split answers "whose bytes are these": musterd's own allocations
 * come from its main thread's heap ([heap]); libzmq's per-connection state
 * is allocated by its I/O thread, whose malloc arena is an anonymous
 * mapping; file-backed pages are the shared libraries, paid once.
 */
#ifndef BENCH_PROC_STATS_H
#define BENCH_PROC_STATS_H

/* Resident kB of pid by kind of mapping (from /proc/PID/smaps). */
typedef struct ps_mem
{
  long heap_kb;  /* [heap]: the main thread's malloc arena (musterd's own) */
  long anon_kb;  /* anonymous mappings: other threads' arenas (libzmq's I/O
                    thread), large malloc blocks, stacks */
  long file_kb;  /* file-backed: binaries and shared libraries */
  long other_kb; /* [stack], [vdso] ... */
} ps_mem_t;

/* A field of /proc/PID/status in kB (e.g. "VmRSS"), or -1. */
long ps_status_kb (long pid, const char *field);
/* utime + stime of pid in seconds, or -1. */
double ps_cpu_s (long pid);
/* zsim: the same for its main thread alone (/proc/PID/task/PID/stat):
 * musterd's loop, without libzmq's I/O thread. */
double ps_main_thread_cpu_s (long pid);
/* 0, or -1 if smaps cannot be read. */
int ps_mem (long pid, ps_mem_t *out);
/* Bytes the kernel allocates for one accepted TCP socket held by an
 * epoll-driven server: the objects of the TCP, sock_inode_cache, filp,
 * dentry and eventpoll_epi slab caches (their sizes, from /proc/slabinfo),
 * before any data is queued; -1 if slabinfo cannot be read. */
long ps_kernel_tcp_socket_b (void);

#endif
