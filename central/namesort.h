/*
 * namesort.h - sorts records by a name stored in them, moving each record
 * once. For snapshots of large records (fleet_view_t is ~700 bytes): qsort
 * on the records themselves would copy each one O(log n) times.
 */
#ifndef BOSUN_CENTRAL_NAMESORT_H
#define BOSUN_CENTRAL_NAMESORT_H

#include <stddef.h>

#include "status.h"

/*
 * Sorts the n records of `size` bytes at base by the NUL-terminated name at
 * byte name_offset of each (strcmp order). BOSUN_ERR_NOMEM (records left
 * as they were) when the index cannot be allocated.
 */
bosun_status_t namesort(void *base, size_t n, size_t size, size_t name_offset);

#endif
