/* suggest.c - case-insensitive Levenshtein distance of short strings. */
#include "suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

size_t bosun_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > BOSUN_SUGGEST_MAX_LEN || lb > BOSUN_SUGGEST_MAX_LEN)
        return SIZE_MAX;
    size_t row[BOSUN_SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t ins = row[j - 1] + 1, del = up + 1;
            row[j] = sub < ins ? (sub < del ? sub : del) : (ins < del ? ins : del);
            diag = up;
        }
    }
    return row[lb];
}
