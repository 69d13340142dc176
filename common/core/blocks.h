#ifndef HW_BLOCKS_H
#define HW_BLOCKS_H

/*
 * Blocks of one size, given back to a free list and taken from it again
 * (most recent first), for an owner that makes and frees many short-lived
 * blocks of a few KiB: glibc keeps per-thread caches only for blocks up to
 * about 1 KiB, and a larger one costs a search of its bins on malloc() and
 * a merge with its neighbours on free(). A block asked for larger than the
 * size is malloc'd and freed as it is. At most keep blocks wait on the list;
 * one given back beyond that is freed. The list is linked through the
 * blocks' own first bytes. Not thread-safe: one owner.
 */
#include <stddef.h>

struct hw_blocks {
    size_t size; /* every listed block's size */
    size_t keep; /* most blocks on the list */
    size_t n;    /* blocks on the list */
    void *head;
};

/* An empty list of blocks of size bytes (at least a pointer's), keeping at most keep. */
void hw_blocks_init(struct hw_blocks *b, size_t size, size_t keep);

/* Frees the blocks on the list; b is empty and reusable afterwards. */
void hw_blocks_cleanup(struct hw_blocks *b);

/*
 * A block of at least len bytes (uninitialised): from the list, or a new one
 * of b->size, when len fits; a malloc'd one of len otherwise. NULL when out
 * of memory.
 */
void *hw_blocks_get(struct hw_blocks *b, size_t len);

/* Gives back p (NULL: nothing), from hw_blocks_get(b, len) with the same len. */
void hw_blocks_put(struct hw_blocks *b, void *p, size_t len);

#endif
