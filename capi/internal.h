/* Private to the capi package: the definition behind the opaque
 * struct procmapq, shared by the Go glue and the C shim. */
#ifndef PROCMAPQ_CAPI_INTERNAL_H
#define PROCMAPQ_CAPI_INTERNAL_H

#include <stdint.h>

/* "procmapq" in ASCII: a live handle. close() overwrites it. */
#define PMQ_HANDLE_MAGIC 0x70726f636d617071ULL

/* A handle: C memory holding only integers, never a Go pointer. id keys the
 * Go-side registry of live handles, so a stale or forged pointer is
 * detected (-EBADF) instead of being trusted. */
struct procmapq {
	uint64_t magic;
	uint64_t id;
};

/* Lowest address a caller's pointer may hold. The first page is never
 * mapped, and the Go runtime aborts the process if a pointer-typed value
 * below it sits on a Go stack, so such pointers are refused (-EFAULT)
 * before Go holds them. */
#define PMQ_MIN_POINTER 4096

/* Size of the per-thread message buffer behind procmapq_last_error(). */
#define PMQ_MSG_MAX 512

#endif
