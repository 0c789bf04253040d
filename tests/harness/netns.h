/*
 * netns.h - a small switched network of network namespaces, for tests that
 * run real agents on several "hosts" (LAB.md, "Multicast").
 *
 * netns_new builds one bridge namespace and N host namespaces. Host i
 * (0-based) has an interface NETNS_HOST_IF with address 10.199.0.(i+1)/24,
 * lo up and a route for 224.0.0.0/4 on its interface; the other end of its
 * veth pair is port "p<i+1>" of bridge "br0" in the bridge namespace (IGMP
 * snooping off, so multicast floods). Namespace names carry the process id
 * and a counter ("bosun-nt<pid>-<k>-br", "...-h1", ...), so parallel runs
 * never collide. Nothing is routed out of these namespaces.
 *
 * Every namespace made is deleted by netns_free, and otherwise at exit
 * (atexit) or on SIGINT, SIGTERM or SIGHUP. Deleting is idempotent. Every
 * command is run with a bounded wait (tests/harness, harness_run).
 *
 * Functions return 0 on success and -1 on failure, with a line on stderr
 * saying why, so tests can assert_int_equal(..., 0). Root is required.
 */
#ifndef BOSUN_NETNS_H
#define BOSUN_NETNS_H

#include <stdbool.h>

/* The host's interface name inside each host namespace. */
#define NETNS_HOST_IF "veth0"
/* Pass as host index to address the bridge namespace. */
#define NETNS_BRIDGE (-1)
#define NETNS_MAX_HOSTS 16

typedef struct netns netns_t;

/*
 * Builds the bridge namespace and n_hosts (1..NETNS_MAX_HOSTS) host
 * namespaces. On failure everything made so far is deleted. *out is owned
 * by the caller (netns_free).
 */
int netns_new(int n_hosts, netns_t **out);

/* Deletes every namespace of t that still exists and frees t. NULL: no-op. */
void netns_free(netns_t *t);

int netns_hosts(const netns_t *t);

/* Namespace name of host i, or of the bridge for NETNS_BRIDGE (borrowed). */
const char *netns_name(const netns_t *t, int i);

/* "10.199.0.(i+1)" (borrowed). */
const char *netns_addr(const netns_t *t, int i);

/* Host i's port on the bridge, "p<i+1>" (borrowed). */
const char *netns_port(const netns_t *t, int i);

/* Cuts host i off (its bridge port down) / heals it (port up). */
int netns_cut(netns_t *t, int i);
int netns_heal(netns_t *t, int i);

/*
 * Drops percent (0..100) of the frames that host i sends into the bridge
 * (nftables, bridge family: table "bosun_loss_p<i+1>", chain "forward",
 * rule `iifname "PORT" numgen random mod 100 < percent drop`). 0 removes
 * the rule; setting a new value replaces the old one.
 */
int netns_set_loss(netns_t *t, int i, int percent);

/*
 * A new argv that runs argv inside namespace i: {"ip", "netns", "exec",
 * NAME, argv...} with the full path of ip. The array is the caller's
 * (free()); the strings are borrowed from argv and t. ip execs the command,
 * so a process started with it keeps its pid. NULL on failure.
 */
char **netns_exec_argv(const netns_t *t, int i, char *const argv[]);

/*
 * Runs argv inside namespace i to completion (at most timeout_ms), as
 * harness_run does. Returns 0 and sets *exit_code, or -1.
 */
int netns_run(const netns_t *t, int i, char *const argv[], int timeout_ms, char **output,
              int *exit_code);

/* Full path of a system tool ("ip", "nft") found in the usual sbin/bin directories, or NULL. */
const char *netns_tool(const char *name);

#endif
