/* status.c - names and formatting for the project's one error type. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *bosun_status_str(bosun_status_t st)
{
    switch (st) {
    case BOSUN_OK: return "ok";
    case BOSUN_ERR_NOMEM: return "out of memory";
    case BOSUN_ERR_INVALID: return "invalid argument";
    case BOSUN_ERR_CONFIG: return "configuration error";
    case BOSUN_ERR_IO: return "i/o error";
    case BOSUN_ERR_NATS: return "nats error";
    case BOSUN_ERR_DECODE: return "decode error";
    case BOSUN_ERR_CRYPTO: return "crypto error";
    case BOSUN_ERR_DB: return "database error";
    case BOSUN_ERR_NOT_FOUND: return "not found";
    case BOSUN_ERR_TIMEOUT: return "timed out";
    case BOSUN_ERR_EXISTS: return "already exists";
    case BOSUN_ERR_TOO_BIG: return "too big";
    case BOSUN_ERR_SYS: return "system error";
    case BOSUN_ERR_CLOSED: return "closed";
    }
    return "unknown status";
}

bosun_status_t bosun_errf(bosun_err_t *err, bosun_status_t st, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

void bosun_err_clear(bosun_err_t *err)
{
    if (err != NULL) {
        err->status = BOSUN_OK;
        err->msg[0] = '\0';
    }
}
