/* files.c - mkdir -p and path joining. */
#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bosun_status_t bosun_mkdirs(const char *dir, mode_t mode, bosun_err_t *err)
{
    char buf[4096];
    if (dir == NULL || dir[0] == '\0')
        return bosun_errf(err, BOSUN_ERR_INVALID, "empty directory path");
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return bosun_errf(err, BOSUN_ERR_INVALID, "directory path too long: %.80s...", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return bosun_errf(err, BOSUN_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    return BOSUN_OK;
}

char *bosun_path_join(const char *dir, const char *name)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", dir, name) < 0)
        return NULL;
    return s;
}
