/*
 * cli.h - process-level helpers both binaries share: parsing flag values
 * with errors that name the flag, and turning termination signals into a
 * file descriptor the main loop polls.
 */
#ifndef BOSUN_CLI_H
#define BOSUN_CLI_H

#include <stdint.h>

#include "status.h"

/* Parses an integer flag value in [min, max]; the error names the flag. */
bosun_status_t cli_parse_int(const char *flag, const char *s, long min, long max, long *out,
                             bosun_err_t *err);

/* Parses a number flag value in [min, max] (fractions allowed). */
bosun_status_t cli_parse_double(const char *flag, const char *s, double min, double max, double *out,
                                bosun_err_t *err);

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
 * thread created after it), ignores SIGPIPE, and returns a signalfd that
 * becomes readable when one arrives; -1 on failure. Call before any thread
 * (nats.c's included) starts.
 */
int cli_signalfd(void);

#endif
