/*
 * name.h - node names, as DESIGN.md fixes them: [A-Za-z0-9_-]{1,64}.
 *
 * A node name becomes a NATS subject token, so dots, spaces and wildcards
 * would change what a subject means. Every place a name enters bosun (config,
 * command line, inmsg.txt, a NATS subject) checks it with these.
 */
#ifndef BOSUN_NAME_H
#define BOSUN_NAME_H

#include <stdbool.h>

#include "status.h"

#define BOSUN_NAME_MAX 64

/* True when s is a valid node name. */
bool bosun_name_valid(const char *s);

/*
 * Checks s; on failure fills *err with a sentence naming `what` (for example
 * "node name" or "toNode"), the offending value and the first bad character,
 * and returns BOSUN_ERR_INVALID.
 */
bosun_status_t bosun_name_check(const char *s, const char *what, bosun_err_t *err);

/* Same rules for a method name, which is also one subject token. */
bool bosun_method_valid(const char *s);

#endif
