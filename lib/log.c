/* log.c - one formatted line per call, to the sink's stream. */
#include "log.h"

#include <stdarg.h>
#include <time.h>

static const char *const level_names[] = {"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "CHATTY"};

const char *bosun_log_level_str(int level)
{
    if (level < 0 || level > BOSUN_LOG_CHATTY)
        return "?";
    return level_names[level];
}

bool bosun_log_enabled(const bosun_log_t *log, bosun_log_level_t lvl)
{
    return log != NULL && (int)lvl <= log->level;
}

void bosun_logf(const bosun_log_t *log, bosun_log_level_t lvl, const char *component,
                const char *fmt, ...)
{
    if (!bosun_log_enabled(log, lvl))
        return;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    char line[2048];
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int k = snprintf(line + n, sizeof line - n, ".%03ldZ %-6s %s: ", ts.tv_nsec / 1000000L,
                     bosun_log_level_str(lvl), component ? component : "-");
    if (k > 0 && (size_t)k < sizeof line - n)
        n += (size_t)k;

    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k < 0)
        k = 0;
    n += (size_t)k;
    if (n >= sizeof line - 1) {
        n = sizeof line - 5;
        line[n++] = '.';
        line[n++] = '.';
        line[n++] = '.';
    }
    line[n++] = '\n';
    line[n] = '\0';

    FILE *out = log->out ? log->out : stderr;
    fputs(line, out);
    fflush(out);
}
