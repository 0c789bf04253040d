/*
 * status.h - the one error type of bosun.
 *
 * Every fallible function returns a bosun_status_t. Where a caller needs to
 * know what exactly went wrong, the function also takes a bosun_err_t * (which
 * may be NULL) and fills it with one sentence naming the culprit. Library
 * errors (natsStatus, SQLite codes, jansson's json_error_t, libsodium's -1)
 * are translated into these in the one file that wraps each library.
 */
#ifndef BOSUN_STATUS_H
#define BOSUN_STATUS_H

#include <stddef.h>

typedef enum {
    BOSUN_OK = 0,
    BOSUN_ERR_NOMEM,      /* an allocation failed */
    BOSUN_ERR_INVALID,    /* bad argument or bad input */
    BOSUN_ERR_CONFIG,     /* a configuration file or flag is wrong */
    BOSUN_ERR_IO,         /* a file or socket operation failed */
    BOSUN_ERR_NATS,       /* the NATS client reported an error */
    BOSUN_ERR_DECODE,     /* a payload could not be decoded */
    BOSUN_ERR_CRYPTO,     /* sealing, opening or signing failed */
    BOSUN_ERR_DB,         /* the SQLite store reported an error */
    BOSUN_ERR_NOT_FOUND,  /* the thing asked for does not exist */
    BOSUN_ERR_TIMEOUT,    /* a deadline passed */
    BOSUN_ERR_EXISTS,     /* the thing to create already exists */
    BOSUN_ERR_TOO_BIG,    /* input larger than its bound */
    BOSUN_ERR_SYS,        /* a system call failed */
    BOSUN_ERR_CLOSED,     /* the object is shutting down */
} bosun_status_t;

/* Returns a constant, human-readable name for st ("invalid argument"...). */
const char *bosun_status_str(bosun_status_t st);

/* Details of a failure: one sentence, always NUL-terminated. */
typedef struct {
    bosun_status_t status;
    char msg[512];
} bosun_err_t;

/*
 * Records status st and a printf-style message in *err (if err is not NULL)
 * and returns st, so that callers can write `return bosun_errf(err, ...)`.
 */
bosun_status_t bosun_errf(bosun_err_t *err, bosun_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears *err to BOSUN_OK with an empty message. */
void bosun_err_clear(bosun_err_t *err);

#endif
