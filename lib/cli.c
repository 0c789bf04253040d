/* cli.c - flag values and termination signals. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

bosun_status_t cli_parse_int(const char *flag, const char *s, long min, long max, long *out,
                             bosun_err_t *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s must be an integer from %ld to %ld, got '%s'",
                          flag, min, max, s);
    *out = v;
    return BOSUN_OK;
}

bosun_status_t cli_parse_double(const char *flag, const char *s, double min, double max, double *out,
                                bosun_err_t *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s must be a number from %g to %g, got '%s'", flag,
                          min, max, s);
    *out = v;
    return BOSUN_OK;
}

int cli_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC);
}
