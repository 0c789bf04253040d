/* namesort.c - sort records by an embedded name: pointers are sorted, records moved once. */
#include "namesort.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    size_t from; /* the record's position before sorting */
} entry_t;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

bosun_status_t namesort(void *base, size_t n, size_t size, size_t name_offset)
{
    if (n < 2)
        return BOSUN_OK;
    entry_t *e = malloc(n * sizeof *e);
    size_t *from = malloc(n * sizeof *from);
    unsigned char *tmp = malloc(size);
    if (e == NULL || from == NULL || tmp == NULL) {
        free(e);
        free(from);
        free(tmp);
        return BOSUN_ERR_NOMEM;
    }
    unsigned char *rec = base;
    for (size_t i = 0; i < n; i++)
        e[i] = (entry_t){.name = (const char *)(rec + i * size + name_offset), .from = i};
    qsort(e, n, sizeof *e, by_name);
    for (size_t i = 0; i < n; i++)
        from[i] = e[i].from; /* position i takes the record now at from[i] */
    /* Follow each cycle of the permutation with one record held aside. */
    for (size_t i = 0; i < n; i++) {
        if (from[i] == i)
            continue;
        memcpy(tmp, rec + i * size, size);
        size_t j = i;
        while (from[j] != i) {
            size_t k = from[j];
            memcpy(rec + j * size, rec + k * size, size);
            from[j] = j;
            j = k;
        }
        memcpy(rec + j * size, tmp, size);
        from[j] = j;
    }
    free(tmp);
    free(from);
    free(e);
    return BOSUN_OK;
}
