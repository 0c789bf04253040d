/*
 * config_probes.h - the agent's "probes" section, for config.c only.
 *
 * The schema table and the rules that span keys (a peer that is this node,
 * timeoutMs above intervalMs, more peers than maxTargets) live in
 * config_probes.c, so config.c stays one table per section and short.
 */
#ifndef BOSUN_CONFIG_PROBES_H
#define BOSUN_CONFIG_PROBES_H

#include "cfgschema.h"
#include "config.h"

/* The rows of "probes" (a CFGSCHEMA_OBJ table over bosun_probes_config_t). */
extern const cfgschema_key_t bosun_probes_keys[];

/*
 * Checks the rules of "probes" that need the rest of the config: no peer is
 * `self` (the node's final id), timeoutMs <= intervalMs, at most maxTargets
 * peers. Errors name the key, e.g. "agent.json: key 'probes.peers[1]': ...".
 */
bosun_status_t bosun_probes_config_check(cfgschema_walk_t *w, const bosun_probes_config_t *p,
                                         const char *self);

#endif
