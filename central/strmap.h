/*
 * strmap.h - a small open-addressing hash map from strings to pointers.
 *
 * Central keys its fleet (nodes) and its ownership view (nodes, resources)
 * by name, and must find an entry in O(1) per heartbeat for fleets of
 * 100,000 nodes. Linear probing with the hash kept beside each key, a load
 * factor of at most 1/2, and backward-shift deletion (no tombstones, so a
 * table that sees many adds and removes never degrades).
 *
 * Keys are borrowed: the map stores the caller's pointer, which must stay
 * valid and unchanged until the entry is removed (in practice the key is a
 * name inside the value it maps to). Not thread-safe; the owner locks.
 */
#ifndef BOSUN_CENTRAL_STRMAP_H
#define BOSUN_CENTRAL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct {
    const char *key; /* NULL: free slot */
    void *value;
    uint64_t hash;
} strmap_slot_t;

typedef struct {
    strmap_slot_t *slots;
    size_t cap;   /* a power of two, or 0 before the first put */
    size_t count;
} strmap_t;

/* An empty map; needs no allocation until the first put. */
void strmap_init(strmap_t *m);

/* Frees the table (not the keys or values); m is empty afterwards. */
void strmap_free(strmap_t *m);

/* The value stored under key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);

/*
 * Stores value under key (borrowed, see above), replacing an existing
 * value. Returns BOSUN_ERR_NOMEM when the table cannot grow (m unchanged).
 */
bosun_status_t strmap_put(strmap_t *m, const char *key, void *value);

/* Removes key; returns its value, or NULL when it was absent. */
void *strmap_remove(strmap_t *m, const char *key);

#endif
