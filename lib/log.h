/*
 * log.h - logging with the seeds' six levels.
 *
 * A bosun_log_t is a sink (level, stream) owned by main() and passed by
 * pointer to every component; there is no global logger. Each line carries a
 * UTC timestamp with milliseconds, the level, and the component name:
 *
 *   2026-11-25T12:00:00.123Z INFO  election: res01 IDLE -> GOING_ACTIVE (orphaned)
 *
 * One call writes one line with a single stdio call, so lines from different
 * threads never interleave.
 */
#ifndef BOSUN_LOG_H
#define BOSUN_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    BOSUN_LOG_FATAL = 0,
    BOSUN_LOG_ERROR = 1,
    BOSUN_LOG_WARN = 2,
    BOSUN_LOG_INFO = 3,
    BOSUN_LOG_DEBUG = 4,
    BOSUN_LOG_CHATTY = 5,
} bosun_log_level_t;

typedef struct {
    int level;  /* lines above this level are dropped */
    FILE *out;  /* borrowed; stderr when NULL */
} bosun_log_t;

/* Returns "FATAL", "ERROR", ... for a level; "?" when out of range. */
const char *bosun_log_level_str(int level);

/* True when a line at lvl would be written (use to skip costly formatting). */
bool bosun_log_enabled(const bosun_log_t *log, bosun_log_level_t lvl);

/* Writes one line. log may be NULL (the line is dropped). */
void bosun_logf(const bosun_log_t *log, bosun_log_level_t lvl, const char *component,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_fatal(l, c, ...) bosun_logf((l), BOSUN_LOG_FATAL, (c), __VA_ARGS__)
#define log_error(l, c, ...) bosun_logf((l), BOSUN_LOG_ERROR, (c), __VA_ARGS__)
#define log_warn(l, c, ...) bosun_logf((l), BOSUN_LOG_WARN, (c), __VA_ARGS__)
#define log_info(l, c, ...) bosun_logf((l), BOSUN_LOG_INFO, (c), __VA_ARGS__)
#define log_debug(l, c, ...) bosun_logf((l), BOSUN_LOG_DEBUG, (c), __VA_ARGS__)
#define log_chatty(l, c, ...) bosun_logf((l), BOSUN_LOG_CHATTY, (c), __VA_ARGS__)

#endif
