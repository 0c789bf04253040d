/*
 * files.h - small file-system helpers both binaries use.
 */
#ifndef BOSUN_FILES_H
#define BOSUN_FILES_H

#include <sys/types.h>

#include "status.h"

/* Creates dir and its missing parents with mode (like mkdir -p). */
bosun_status_t bosun_mkdirs(const char *dir, mode_t mode, bosun_err_t *err);

/* Returns a new "dir/name" string (caller frees), NULL on OOM. */
char *bosun_path_join(const char *dir, const char *name);

#endif
