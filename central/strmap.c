/* strmap.c - linear probing with backward-shift deletion. */
#include "strmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16u

/* FNV-1a, then a final avalanche (murmur3's fmix64) so low bits mix well. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

void strmap_init(strmap_t *m) { memset(m, 0, sizeof *m); }

void strmap_free(strmap_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or the free slot where it would go. */
static size_t find_slot(const strmap_t *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slots[i].key != NULL && (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    const strmap_slot_t *s = &m->slots[find_slot(m, key, hash_str(key))];
    return s->key != NULL ? s->value : NULL;
}

static bosun_status_t grow(strmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
    strmap_slot_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return BOSUN_ERR_NOMEM;
    strmap_t bigger = {.slots = slots, .cap = cap, .count = m->count};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL)
            slots[find_slot(&bigger, m->slots[i].key, m->slots[i].hash)] = m->slots[i];
    free(m->slots);
    *m = bigger;
    return BOSUN_OK;
}

bosun_status_t strmap_put(strmap_t *m, const char *key, void *value)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) != BOSUN_OK)
        return BOSUN_ERR_NOMEM;
    uint64_t h = hash_str(key);
    strmap_slot_t *s = &m->slots[find_slot(m, key, h)];
    if (s->key == NULL)
        m->count++;
    s->key = key;
    s->hash = h;
    s->value = value;
    return BOSUN_OK;
}

void *strmap_remove(strmap_t *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    size_t mask = m->cap - 1, i = find_slot(m, key, hash_str(key));
    if (m->slots[i].key == NULL)
        return NULL;
    void *value = m->slots[i].value;
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)m->slots[j].hash & mask;
        /* j may move to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->slots[i].value = NULL;
    m->count--;
    return value;
}
