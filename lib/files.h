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

/*
 * Takes the data directory dir for this process alone: an exclusive flock on
 * "dir/.lock" (created 0640, close-on-exec), which then holds our pid. The
 * lock lasts until *fd_out is closed or the process dies (also by kill -9),
 * so a restart never finds a stale lock. BOSUN_ERR_EXISTS, naming the
 * directory and the holder's pid, when another process holds it (two
 * daemons on one directory would both deliver, execute or record);
 * BOSUN_ERR_IO when the file cannot be made. On success the caller owns
 * *fd_out.
 */
bosun_status_t bosun_dir_lock(const char *dir, const char *program, int *fd_out, bosun_err_t *err);

#endif
