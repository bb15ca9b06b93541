/* Intrusive circular doubly linked list on cio__node.
 *
 * A zero-filled head ({NULL, NULL}) is a valid empty list, so objects in
 * caller memory need no init call; a head is made circular on first use.
 * A node that is on no list has next == NULL. */
#ifndef CIO_LIST_H
#define CIO_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "cio.h"

#define cio__container_of(ptr, type, member)                                                       \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void cio__list_init(cio__node *head)
{
    head->next = head->prev = head;
}

static inline bool cio__list_empty(const cio__node *head)
{
    return head->next == NULL || head->next == head;
}

static inline bool cio__node_linked(const cio__node *node)
{
    return node->next != NULL;
}

static inline void cio__list_insert_before(cio__node *pos, cio__node *node)
{
    node->next = pos;
    node->prev = pos->prev;
    pos->prev->next = node;
    pos->prev = node;
}

static inline void cio__list_push_back(cio__node *head, cio__node *node)
{
    if (head->next == NULL)
        cio__list_init(head);
    cio__list_insert_before(head, node);
}

static inline void cio__list_push_front(cio__node *head, cio__node *node)
{
    if (head->next == NULL)
        cio__list_init(head);
    cio__list_insert_before(head->next, node);
}

static inline void cio__list_remove(cio__node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

static inline cio__node *cio__list_first(const cio__node *head)
{
    return cio__list_empty(head) ? NULL : head->next;
}

static inline cio__node *cio__list_pop_front(cio__node *head)
{
    cio__node *node = cio__list_first(head);
    if (node)
        cio__list_remove(node);
    return node;
}

/* Iterate safely against removal of the current node. */
#define cio__list_each_safe(pos, tmp, head)                                                        \
    for ((pos) = cio__list_first(head), (tmp) = (pos) ? (pos)->next : NULL;                        \
         (pos) != NULL && (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
