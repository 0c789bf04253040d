/*
 * suggest.h - the distance behind every "did you mean" (config keys,
 * inmsg.txt fields).
 */
#ifndef BOSUN_SUGGEST_H
#define BOSUN_SUGGEST_H

#include <stddef.h>

/* Longest string compared; longer ones are never close to anything. */
#define BOSUN_SUGGEST_MAX_LEN 64

/*
 * Case-insensitive Levenshtein distance of a and b (0 for a case slip);
 * SIZE_MAX when either is longer than BOSUN_SUGGEST_MAX_LEN.
 */
size_t bosun_edit_distance(const char *a, const char *b);

#endif
