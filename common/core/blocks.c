/* Blocks of one size on a free list (see blocks.h). */
#include "blocks.h"

#include <stdlib.h>

void hw_blocks_init(struct hw_blocks *b, size_t size, size_t keep)
{
    *b = (struct hw_blocks){ .size = size < sizeof(void *) ? sizeof(void *) : size, .keep = keep };
}

void hw_blocks_cleanup(struct hw_blocks *b)
{
    while (b->head) {
        void *p = b->head;

        b->head = *(void **)p;
        free(p);
    }
    b->n = 0;
}

void *hw_blocks_get(struct hw_blocks *b, size_t len)
{
    void *p;

    if (len > b->size)
        return malloc(len);
    if (!b->head)
        return malloc(b->size);
    p = b->head;
    b->head = *(void **)p;
    b->n--;
    return p;
}

void hw_blocks_put(struct hw_blocks *b, void *p, size_t len)
{
    if (!p)
        return;
    if (len > b->size || b->n >= b->keep) {
        free(p);
        return;
    }
    *(void **)p = b->head;
    b->head = p;
    b->n++;
}
