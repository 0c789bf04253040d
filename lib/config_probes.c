/*
 * config_probes.c - the agent's "probes" section: connectivity probes to
 * other agents (Netring's matrix), and the socket-address format they use.
 *
 * "peers" entries are a node name or {"node", "address"}; addresses are
 * numeric ("10.0.0.2:8757", "[fd00::2]:8757"), so probing never waits on
 * DNS. README.md's configuration reference documents these keys.
 */
#include "config_probes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

/* Longest "[IPv6]:PORT" accepted. */
#define ADDR_TEXT_MAX 64

bosun_status_t bosun_sockaddr_parse(const char *s, bool allow_any, struct sockaddr_storage *out,
                                    socklen_t *len, bosun_err_t *err)
{
    char host[ADDR_TEXT_MAX];
    const char *port_text;
    size_t n = strlen(s);
    memset(out, 0, sizeof *out);
    if (n == 0 || n >= ADDR_TEXT_MAX)
        goto bad;
    bool v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || close == s + 1)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || colon == s)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port_text = colon + 1;
    }
    unsigned long port = 0;
    size_t digits = strspn(port_text, "0123456789");
    if (digits == 0 || digits > 5 || port_text[digits] != '\0')
        goto bad;
    port = strtoul(port_text, NULL, 10);
    if (port < 1 || port > 65535)
        goto bad;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad;
        if (!allow_any && IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            goto any;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad;
        if (!allow_any && a->sin_addr.s_addr == htonl(INADDR_ANY))
            goto any;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof *a;
    }
    return BOSUN_OK;
bad:
    return bosun_errf(err, BOSUN_ERR_INVALID,
                      "'%.80s' is not a numeric ADDRESS:PORT like 10.0.0.2:8757 or [fd00::2]:8757", s);
any:
    return bosun_errf(err, BOSUN_ERR_INVALID,
                      "'%.80s' is the unspecified address, which names no peer; give the address "
                      "others reach this node at", s);
}

/* ---- value checks ------------------------------------------------------------------ */

static bosun_status_t check_node_name(const char *s, bosun_err_t *err)
{
    return bosun_name_check(s, "node name", err);
}

/* A listener may bind the unspecified address. */
static bosun_status_t check_listen(const char *s, bosun_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return bosun_sockaddr_parse(s, true, &ss, &len, err);
}

/* An address to connect to must name a host. */
static bosun_status_t check_peer_address(const char *s, bosun_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return bosun_sockaddr_parse(s, false, &ss, &len, err);
}

/* ---- "peers": node names or {"node", "address"} --------------------------------------- */

/*
 * Bound on the list itself; maxTargets (at most this) is checked at finish.
 * 512 results of the worst size (~345 bytes: long names and errors) keep a
 * heartbeat under 180 kB, within central's 256 KiB per report and NATS's
 * default 1 MiB payload.
 */
#define PEERS_MAX 512

static const cfgschema_key_t peer_keys[] = {
    CFGSCHEMA_STR("node", bosun_probe_peer_config_t, node, NULL, CFGSCHEMA_F_REQUIRED, check_node_name),
    CFGSCHEMA_STR("address", bosun_probe_peer_config_t, address, NULL, CFGSCHEMA_F_NULLABLE,
                  check_peer_address),
    CFGSCHEMA_END,
};

static const cfgschema_list_t peer_list = {
    .keys = peer_keys,
    .size = sizeof(bosun_probe_peer_config_t),
    .key_offset = offsetof(bosun_probe_peer_config_t, node),
    .max = PEERS_MAX,
    .key_what = "node",
    .name = "peers",
    .expect_list = "a list of node names or objects {\"node\", \"address\"}",
    .expect_entry = "a node name or an object {\"node\", \"address\"}",
};

/* ---- the table and the cross-key rules ---------------------------------------------- */

const cfgschema_key_t bosun_probes_keys[] = {
    CFGSCHEMA_INT("intervalMs", bosun_probes_config_t, interval_ms, 100, 3600000, 10000),
    CFGSCHEMA_INT("timeoutMs", bosun_probes_config_t, timeout_ms, 10, 600000, 2000),
    CFGSCHEMA_STR("listen", bosun_probes_config_t, listen, NULL, CFGSCHEMA_F_NULLABLE, check_listen),
    CFGSCHEMA_STR("advertise", bosun_probes_config_t, advertise, NULL, CFGSCHEMA_F_NULLABLE,
                  check_peer_address),
    CFGSCHEMA_LIST("peers", bosun_probes_config_t, peers, n_peers, &peer_list),
    CFGSCHEMA_BOOL("probePeers", bosun_probes_config_t, probe_peers, false),
    CFGSCHEMA_INT("forgetAfterMs", bosun_probes_config_t, forget_after_ms, 1000, 86400000, 60000),
    CFGSCHEMA_INT("maxTargets", bosun_probes_config_t, max_targets, 1, PEERS_MAX, 256),
    CFGSCHEMA_END,
};

bosun_status_t bosun_probes_config_check(cfgschema_walk_t *w, const bosun_probes_config_t *p,
                                         const char *self)
{
    if (p->timeout_ms > p->interval_ms)
        return bosun_errf(w->err, BOSUN_ERR_CONFIG,
                          "%s: key 'probes.timeoutMs' (%d) must not be greater than 'probes.intervalMs' "
                          "(%d): one attempt per peer at a time",
                          w->source, p->timeout_ms, p->interval_ms);
    if (p->n_peers > (size_t)p->max_targets)
        return bosun_errf(w->err, BOSUN_ERR_CONFIG,
                          "%s: key 'probes.peers' lists %zu peers, more than 'probes.maxTargets' (%d)",
                          w->source, p->n_peers, p->max_targets);
    for (size_t i = 0; self != NULL && i < p->n_peers; i++)
        if (p->peers[i].node != NULL && strcmp(p->peers[i].node, self) == 0)
            return bosun_errf(w->err, BOSUN_ERR_CONFIG,
                              "%s: key 'probes.peers[%zu]': '%s' is this node itself; a node does "
                              "not probe itself",
                              w->source, i, self);
    return BOSUN_OK;
}
