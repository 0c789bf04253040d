/*
 * security.h - who may command this agent, and what it may be told to run.
 *
 * Built once at start from the "security" section: the trusted central
 * public keys (commands must be signed by one of them, see lib/sign.h), the
 * allow-lists of methods and shellCommand argv patterns, and the user that
 * commands run as (resolved here, switched to in exec.c's child). The checks
 * themselves are pure functions over the config, so unit tests need no agent.
 */
#ifndef BOSUN_AGENT_SECURITY_H
#define BOSUN_AGENT_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "log.h"
#include "sign.h"

/* The unprivileged user commands and transition scripts run as. */
typedef struct {
    bool switch_user;         /* false: they run as the agent's own user */
    uid_t uid;
    gid_t gid;
    gid_t *groups;            /* supplementary groups of the user (owned) */
    size_t n_groups;
} security_user_t;

/*
 * Resolves name (NULL or "": the agent's own user, nothing to switch) into
 * *u. Fails with BOSUN_ERR_CONFIG for an unknown user, or a user other than
 * our own when we are not root (we could not switch to it).
 * security_user_free releases it.
 */
bosun_status_t security_user_resolve(const char *name, security_user_t *u, bosun_err_t *err);

void security_user_free(security_user_t *u);

typedef struct {
    sign_pubkey_t *keys;      /* trusted keys; n_keys == 0: unsigned commands accepted */
    size_t n_keys;
    bool switch_user;         /* commands run as uid/gid/groups below */
    uid_t uid;
    gid_t gid;
    gid_t *groups;            /* supplementary groups of the user */
    size_t n_groups;
} security_t;

/*
 * Fills *s from cfg: parses the trusted keys and resolves runAsUser. Fails
 * with BOSUN_ERR_CONFIG for an unknown user, or a user other than our own
 * when we are not root (we could not switch to it). Logs a loud warning when
 * no key is trusted. security_free releases it.
 */
bosun_status_t security_init(const bosun_security_config_t *cfg, const bosun_log_t *log, security_t *s,
                             bosun_err_t *err);

void security_free(security_t *s);

/* True when allow.methods is absent or lists method. */
bool security_method_allowed(const bosun_allow_config_t *allow, const char *method);

/*
 * True when pattern p matches argv[0..n): the same length, each element
 * fnmatch(3)-matched (flags 0: '*' also matches '/'), except that a final
 * "**" matches any remaining arguments (also none).
 */
bool security_argv_match(const bosun_argv_pattern_t *p, char *const *argv, size_t n);

/* True when allow.shellCommand is absent or one of its patterns matches. */
bool security_argv_allowed(const bosun_allow_config_t *allow, char *const *argv, size_t n);

#endif
