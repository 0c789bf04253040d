/* fleet.c - namespaces, configurations and processes of a chaos run (see fleet.h). */
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "netns.h"

#define PATH_LEN 640
#define GROUP "239.255.199.7"
#define MCAST_PORT 8513
#define NATS_PORT 4222
#define ROUTE_PORT 6222
#define READY_MS 5000

struct fleet {
    netns_t *net;
    char dir[PATH_LEN];
    char inmsg[PATH_LEN];
    char central_dir[PATH_LEN];
    char servers[256];                  /* "nats://10.199.0.6:4222,..." */
    char conf[FLEET_HOSTS][PATH_LEN];   /* per host; none for the observer */
    char log[FLEET_HOSTS][PATH_LEN];
    char agent_dir[FLEET_AGENTS][PATH_LEN];
    harness_proc_t *proc[FLEET_HOSTS];
};

static const char *const res_ids[FLEET_RES] = {"r1", "r2", "r3"};
/* r1: n1 best; r2: n5 best; r3: n3 best, and no preemption (it stays where it is). */
static const int priorities[FLEET_RES][FLEET_AGENTS] = {
    {150, 140, 130, 120, 110},
    {110, 120, 130, 140, 150},
    {120, 130, 150, 140, 110},
};

const char *fleet_res_id(int r) { return r >= 0 && r < FLEET_RES ? res_ids[r] : "?"; }

int fleet_priority(int node, int r) { return priorities[r][node]; }

int fleet_host(host_role_t role, int index)
{
    switch (role) {
    case HOST_AGENT:
        return index;
    case HOST_NATS:
        return FLEET_AGENTS + index;
    case HOST_CENTRAL:
        return FLEET_AGENTS + FLEET_NATS;
    case HOST_OBSERVER:
        return FLEET_AGENTS + FLEET_NATS + 1;
    }
    return -1;
}

static const char *addr(const fleet_t *f, int host) { return netns_addr(f->net, host); }

static int write_nats_conf(fleet_t *f, int k)
{
    int host = fleet_host(HOST_NATS, k);
    char routes[256] = "", text[1024];
    for (int j = 0; j < FLEET_NATS; j++)
        if (j != k)
            snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%snats-route://%s:%d",
                     routes[0] ? ", " : "", addr(f, fleet_host(HOST_NATS, j)), ROUTE_PORT);
    /* Pings every 2 s: a cut peer (client or route) is noticed in seconds, not minutes. */
    snprintf(text, sizeof text,
             "server_name: s%d\nlisten: \"%s:%d\"\nping_interval: \"2s\"\nping_max: 2\n"
             "cluster {\n  name: chaos\n  listen: \"%s:%d\"\n  routes: [%s]\n}\n",
             k + 1, addr(f, host), NATS_PORT, addr(f, host), ROUTE_PORT, routes);
    return harness_write_file(f->conf[host], text);
}

static int write_agent_conf(fleet_t *f, int i, double tx, double tw)
{
    char res[512] = "", text[2048];
    for (int r = 0; r < FLEET_RES; r++)
        snprintf(res + strlen(res), sizeof res - strlen(res), "%s{\"id\": \"%s\", \"priority\": %d%s}",
                 r ? ", " : "", res_ids[r], priorities[r][i], r == 2 ? ", \"preempt\": false" : "");
    /* Each agent knows every server, its own first. */
    char servers[256] = "";
    for (int j = 0; j < FLEET_NATS; j++)
        snprintf(servers + strlen(servers), sizeof servers - strlen(servers), "%s\"nats://%s:%d\"",
                 j ? ", " : "", addr(f, fleet_host(HOST_NATS, (i + j) % FLEET_NATS)), NATS_PORT);
    snprintf(text, sizeof text,
             "{\"id\": \"n%d\", \"dataDir\": \"%s\",\n"
             " \"nats\": {\"servers\": [%s]},\n"
             " \"networking\": {\"interfaceName\": \"veth0\", \"address\": \"" GROUP "\", \"port\": %d,"
             " \"cryptoPassword\": \"chaos-suite\"},\n"
             " \"resources\": [%s],\n"
             " \"timing\": {\"txIntervalSecs\": %g, \"transitionWaitSecs\": %g, \"heartbeatIntervalMs\": 500},\n"
             " \"commands\": {\"shutdownGraceSecs\": 2}}\n",
             i + 1, f->agent_dir[i], servers, MCAST_PORT, res, tx, tw);
    return harness_write_file(f->conf[fleet_host(HOST_AGENT, i)], text);
}

static int write_central_conf(fleet_t *f)
{
    char servers[256] = "", text[2048];
    for (int j = 0; j < FLEET_NATS; j++)
        snprintf(servers + strlen(servers), sizeof servers - strlen(servers), "%s\"nats://%s:%d\"",
                 j ? ", " : "", addr(f, fleet_host(HOST_NATS, j)), NATS_PORT);
    snprintf(text, sizeof text,
             "{\"id\": \"central\", \"dataDir\": \"%s\",\n"
             " \"nats\": {\"servers\": [%s]},\n"
             " \"expectedNodes\": [\"n1\", \"n2\", \"n3\", \"n4\", \"n5\"],\n"
             " \"delivery\": {\"ackTimeoutSecs\": 2, \"retryWaitSecs\": 0.5, \"maxRetryWaitSecs\": 2},\n"
             " \"timeSync\": {\"intervalSecs\": 5},\n"
             " \"recorder\": {\"storageIntervalSecs\": 15}}\n",
             f->central_dir, servers);
    return harness_write_file(f->conf[fleet_host(HOST_CENTRAL, 0)], text);
}

int fleet_new(const char *dir, double tx, double tw, fleet_t **out)
{
    *out = NULL;
    fleet_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    if (strlen(dir) > 500) {
        fprintf(stderr, "chaos: run directory path too long: %s\n", dir);
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    if (netns_new(FLEET_HOSTS, &f->net) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->central_dir, sizeof f->central_dir, "%.500s/central", dir);
    snprintf(f->inmsg, sizeof f->inmsg, "%.500s/inmsg.txt", f->central_dir);
    for (int j = 0; j < FLEET_NATS; j++)
        snprintf(f->servers + strlen(f->servers), sizeof f->servers - strlen(f->servers), "%snats://%s:%d",
                 j ? "," : "", addr(f, fleet_host(HOST_NATS, j)), NATS_PORT);
    for (int i = 0; i < FLEET_AGENTS; i++) {
        int h = fleet_host(HOST_AGENT, i);
        snprintf(f->agent_dir[i], sizeof f->agent_dir[i], "%.500s/n%d", dir, i + 1);
        snprintf(f->conf[h], sizeof f->conf[h], "%.500s/n%d.json", dir, i + 1);
        snprintf(f->log[h], sizeof f->log[h], "%.500s/n%d.log", dir, i + 1);
    }
    for (int k = 0; k < FLEET_NATS; k++) {
        int h = fleet_host(HOST_NATS, k);
        snprintf(f->conf[h], sizeof f->conf[h], "%.500s/s%d.conf", dir, k + 1);
        snprintf(f->log[h], sizeof f->log[h], "%.500s/s%d.log", dir, k + 1);
    }
    int hc = fleet_host(HOST_CENTRAL, 0), ho = fleet_host(HOST_OBSERVER, 0);
    snprintf(f->conf[hc], sizeof f->conf[hc], "%.500s/central.json", dir);
    snprintf(f->log[hc], sizeof f->log[hc], "%.500s/central.log", dir);
    snprintf(f->log[ho], sizeof f->log[ho], "%.500s/observer.ndjson", dir);
    int rc = mkdir(f->central_dir, 0750);
    for (int i = 0; i < FLEET_AGENTS && rc == 0; i++)
        rc = mkdir(f->agent_dir[i], 0750);
    if (rc == 0)
        rc = write_central_conf(f);
    for (int k = 0; k < FLEET_NATS && rc == 0; k++)
        rc = write_nats_conf(f, k);
    for (int i = 0; i < FLEET_AGENTS && rc == 0; i++)
        rc = write_agent_conf(f, i, tx, tw);
    if (rc != 0) {
        fprintf(stderr, "chaos: cannot write the configurations under %s\n", dir);
        fleet_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void fleet_free(fleet_t *f)
{
    if (f == NULL)
        return;
    for (int h = 0; h < FLEET_HOSTS; h++)
        if (f->proc[h] != NULL)
            harness_proc_signal(f->proc[h], SIGTERM);
    for (int h = 0; h < FLEET_HOSTS; h++) {
        harness_proc_stop(f->proc[h], 3000, NULL);
        f->proc[h] = NULL;
    }
    netns_free(f->net);
    free(f);
}

static int start_in(fleet_t *f, int host, char *const argv[])
{
    char **full = netns_exec_argv(f->net, host, argv);
    if (full == NULL)
        return -1;
    int rc = harness_proc_start(full, f->log[host], &f->proc[host]);
    free(full);
    return rc;
}

/* Waits until the server's log says it is ready for clients, past what earlier runs wrote. */
static int wait_nats_ready(fleet_t *f, int host, size_t log_offset)
{
    for (int waited = 0; waited < READY_MS; waited += 20) {
        size_t len = 0;
        char *text = harness_read_file(f->log[host], &len);
        bool ready = text != NULL && len > log_offset && strstr(text + log_offset, "Server is ready") != NULL;
        free(text);
        if (ready)
            return 0;
        if (!harness_proc_running(f->proc[host])) {
            fprintf(stderr, "chaos: nats-server of host %d exited at start; see %s\n", host, f->log[host]);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "chaos: nats-server of host %d not ready within %d ms; see %s\n", host, READY_MS,
            f->log[host]);
    return -1;
}

int fleet_start(fleet_t *f, host_role_t role, int index)
{
    int host = fleet_host(role, index);
    if (host < 0 || f->proc[host] != NULL)
        return -1;
    switch (role) {
    case HOST_AGENT: {
        char *argv[] = {BOSUN_AGENT_BIN, "--config-file", f->conf[host], "--log-level", "3", NULL};
        return start_in(f, host, argv);
    }
    case HOST_NATS: {
        size_t offset = 0;
        char *old = harness_read_file(f->log[host], &offset);
        free(old);
        char *argv[] = {BOSUN_NATS_SERVER, "-c", f->conf[host], NULL};
        if (start_in(f, host, argv) != 0)
            return -1;
        return wait_nats_ready(f, host, old ? offset : 0);
    }
    case HOST_CENTRAL: {
        char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", f->conf[host], "--log-level", "3", NULL};
        return start_in(f, host, argv);
    }
    case HOST_OBSERVER: {
        char *argv[] = {BOSUN_CENTRAL_BIN, "watch", "--brokerAddress", f->servers, "*.event.>", NULL};
        return start_in(f, host, argv);
    }
    }
    return -1;
}

harness_proc_t *fleet_proc(fleet_t *f, host_role_t role, int index)
{
    int host = fleet_host(role, index);
    return host < 0 ? NULL : f->proc[host];
}

void fleet_forget(fleet_t *f, host_role_t role, int index)
{
    int host = fleet_host(role, index);
    if (host < 0 || f->proc[host] == NULL)
        return;
    harness_proc_stop(f->proc[host], 3000, NULL);
    f->proc[host] = NULL;
}

int fleet_cut(fleet_t *f, host_role_t role, int index, bool cut)
{
    int host = fleet_host(role, index);
    return cut ? netns_cut(f->net, host) : netns_heal(f->net, host);
}

int fleet_loss(fleet_t *f, host_role_t role, int index, int percent)
{
    return netns_set_loss(f->net, fleet_host(role, index), percent);
}

const char *fleet_dir(const fleet_t *f) { return f->dir; }
const char *fleet_inmsg(const fleet_t *f) { return f->inmsg; }
const char *fleet_central_dir(const fleet_t *f) { return f->central_dir; }
const char *fleet_agent_dir(const fleet_t *f, int i) { return f->agent_dir[i]; }

const char *fleet_log(const fleet_t *f, host_role_t role, int index)
{
    int host = fleet_host(role, index);
    return host < 0 ? NULL : f->log[host];
}
