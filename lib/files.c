/* files.c - mkdir -p, path joining and the data directory's lock. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The pid written by the holder, or 0 when the file holds none. */
static long lock_holder(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

bosun_status_t bosun_dir_lock(const char *dir, const char *program, int *fd_out, bosun_err_t *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path)
        return bosun_errf(err, BOSUN_ERR_INVALID, "data directory path too long: %.80s...", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return bosun_errf(err, BOSUN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = e == EWOULDBLOCK ? lock_holder(fd) : 0;
        close(fd);
        if (e != EWOULDBLOCK)
            return bosun_errf(err, BOSUN_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        if (pid > 0)
            return bosun_errf(err, BOSUN_ERR_EXISTS,
                              "data directory %s is in use by another %s (pid %ld); one directory per process",
                              dir, program, pid);
        return bosun_errf(err, BOSUN_ERR_EXISTS,
                          "data directory %s is in use by another %s; one directory per process", dir, program);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return bosun_errf(err, BOSUN_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return BOSUN_OK;
}
