/*
 * netns.c - a switched network of network namespaces for tests (see netns.h).
 *
 * Namespaces are made with `ip netns add` and configured with `ip -n`;
 * nftables runs through `ip netns exec`. All of it goes through harness_run,
 * so every command has a time limit. A namespace is deleted the way
 * `ip netns del` does it, umount2(MNT_DETACH) and unlink of
 * /var/run/netns/NAME: two system calls, safe in a signal handler, so the
 * same code path serves netns_free, the atexit handler and SIGINT/SIGTERM/
 * SIGHUP. Processes still inside a deleted namespace keep it alive until
 * they exit (the harness kills its children by pid, and they die with the
 * test process through PR_SET_PDEATHSIG), but its name is gone at once.
 *
 * The registry of live topologies is static: this is test-only code, used
 * from the test's main thread.
 */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NETNS_DIR "/var/run/netns"
#define NAME_PREFIX "bosun-nt"
#define CMD_TIMEOUT_MS 10000
#define MAX_LIVE 8
#define MAX_ARGS 32

#define NS_NAME_MAX 64

typedef struct {
    char name[NS_NAME_MAX];
    char path[96];               /* NETNS_DIR "/" name */
    volatile sig_atomic_t made;  /* the name exists and is ours to delete */
} ns_t;

struct netns {
    int n_hosts;
    ns_t bridge;
    ns_t host[NETNS_MAX_HOSTS];
    char addr[NETNS_MAX_HOSTS][16];
    char port[NETNS_MAX_HOSTS][8];
    int loss[NETNS_MAX_HOSTS];
};

static netns_t *volatile live[MAX_LIVE];
static bool hooks_done;
static pid_t owner;
static int counter;

/* ---- deleting ------------------------------------------------------------------------ */

/* Deletes one namespace name; async-signal-safe. */
static void ns_delete(ns_t *ns)
{
    if (!ns->made)
        return;
    ns->made = 0;
    umount2(ns->path, MNT_DETACH);
    unlink(ns->path);
}

static void topology_delete(netns_t *t)
{
    for (int i = 0; i < t->n_hosts; i++)
        ns_delete(&t->host[i]);
    ns_delete(&t->bridge);
}

/* Deletes every live topology; only in the process that made them (a forked
 * child inherits the atexit and signal hooks). Async-signal-safe. */
static void delete_all_live(void)
{
    if (getpid() != owner)
        return;
    for (int k = 0; k < MAX_LIVE; k++)
        if (live[k] != NULL)
            topology_delete(live[k]);
}

static void on_signal(int sig)
{
    delete_all_live();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* True when pid no longer runs: no such process, or a zombie nobody reaped yet. */
static bool pid_gone(long pid)
{
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *stat = harness_read_file(path, NULL);
    if (stat == NULL)
        return false;
    /* The state follows the command name, which may hold spaces and ')'. */
    const char *paren = strrchr(stat, ')');
    bool gone = paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    free(stat);
    return gone;
}

/* Names of our own, left by a run of this helper that was SIGKILLed. */
static void sweep_stale(void)
{
    DIR *d = opendir(NETNS_DIR);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0)
            continue;
        char *end = NULL;
        long pid = strtol(e->d_name + strlen(NAME_PREFIX), &end, 10);
        if (pid <= 0 || end == NULL || *end != '-' || pid == (long)getpid())
            continue;
        if (!pid_gone(pid))
            continue; /* its maker still runs */
        if (strlen(e->d_name) >= NS_NAME_MAX)
            continue; /* not a name this helper makes */
        ns_t ns = {.made = 1};
        snprintf(ns.name, sizeof ns.name, "%.63s", e->d_name);
        snprintf(ns.path, sizeof ns.path, NETNS_DIR "/%.63s", e->d_name);
        fprintf(stderr, "netns: removing %s, left by process %ld which is gone\n", ns.name, pid);
        ns_delete(&ns);
    }
    closedir(d);
}

static void install_hooks(void)
{
    if (hooks_done)
        return;
    hooks_done = true;
    owner = getpid();
    atexit(delete_all_live);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        struct sigaction old;
        if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
            struct sigaction sa = {.sa_handler = on_signal};
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[k], &sa, NULL);
        }
    }
}

/* ---- running tools --------------------------------------------------------------------- */

const char *netns_tool(const char *name)
{
    /* Found paths are kept for the life of the process, so callers may keep them. */
    static struct {
        char name[16];
        char path[48];
    } cache[8];
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    size_t k = 0;
    for (; k < sizeof cache / sizeof cache[0] && cache[k].name[0] != '\0'; k++)
        if (strcmp(cache[k].name, name) == 0)
            return cache[k].path;
    if (k == sizeof cache / sizeof cache[0] || strlen(name) >= sizeof cache[k].name)
        return NULL;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        snprintf(cache[k].path, sizeof cache[k].path, "%s/%s", dirs[d], name);
        if (access(cache[k].path, X_OK) == 0) {
            snprintf(cache[k].name, sizeof cache[k].name, "%s", name);
            return cache[k].path;
        }
    }
    return NULL;
}

/* Runs argv; 0 if it exited 0, else -1 with its output on stderr. */
static int run_argv(char *const argv[])
{
    char *output = NULL;
    int code = -1;
    int rc = harness_run(argv, CMD_TIMEOUT_MS, &output, &code);
    if (rc != 0 || code != 0) {
        fprintf(stderr, "netns: command failed (exit %d):", code);
        for (int k = 0; argv[k] != NULL; k++)
            fprintf(stderr, " %s", argv[k]);
        fprintf(stderr, "\n%s", output ? output : "");
        rc = -1;
    }
    free(output);
    return rc;
}

/* Runs tool with the NULL-terminated arguments that follow. */
static int run_tool(const char *tool, ...)
{
    const char *path = netns_tool(tool);
    if (path == NULL) {
        fprintf(stderr, "netns: '%s' not found in /usr/sbin, /sbin, /usr/bin or /bin\n", tool);
        return -1;
    }
    char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = (char *)path;
    va_list ap;
    va_start(ap, tool);
    for (char *a = va_arg(ap, char *); a != NULL && n < MAX_ARGS - 1; a = va_arg(ap, char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_argv(argv);
}

/* ---- building ------------------------------------------------------------------------------ */

static int ns_add(ns_t *ns)
{
    snprintf(ns->path, sizeof ns->path, NETNS_DIR "/%.63s", ns->name);
    if (access(ns->path, F_OK) == 0) {
        fprintf(stderr, "netns: %s exists already; not touching it\n", ns->name);
        return -1;
    }
    if (run_tool("ip", "netns", "add", ns->name, NULL) != 0)
        return -1;
    ns->made = 1;
    return run_tool("ip", "-n", ns->name, "link", "set", "lo", "up", NULL);
}

static int add_host(netns_t *t, int i)
{
    ns_t *h = &t->host[i];
    const char *br = t->bridge.name;
    char cidr[24];
    snprintf(cidr, sizeof cidr, "%s/24", t->addr[i]);
    if (ns_add(h) != 0)
        return -1;
    /* Both ends are made directly in their namespaces: nothing appears in ours. */
    if (run_tool("ip", "link", "add", NETNS_HOST_IF, "netns", h->name, "type", "veth", "peer", "name",
                 t->port[i], "netns", br, NULL) != 0 ||
        run_tool("ip", "-n", h->name, "addr", "add", cidr, "dev", NETNS_HOST_IF, NULL) != 0 ||
        run_tool("ip", "-n", h->name, "link", "set", NETNS_HOST_IF, "up", NULL) != 0 ||
        run_tool("ip", "-n", h->name, "route", "add", "224.0.0.0/4", "dev", NETNS_HOST_IF, NULL) != 0 ||
        run_tool("ip", "-n", br, "link", "set", t->port[i], "master", "br0", NULL) != 0 ||
        run_tool("ip", "-n", br, "link", "set", t->port[i], "up", NULL) != 0)
        return -1;
    return 0;
}

int netns_new(int n_hosts, netns_t **out)
{
    *out = NULL;
    if (n_hosts < 1 || n_hosts > NETNS_MAX_HOSTS) {
        fprintf(stderr, "netns: %d hosts asked, 1..%d possible\n", n_hosts, NETNS_MAX_HOSTS);
        return -1;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "netns: network namespaces need root (euid is %d)\n", (int)geteuid());
        return -1;
    }
    install_hooks();
    sweep_stale();
    int slot = -1;
    for (int k = 0; k < MAX_LIVE && slot < 0; k++)
        if (live[k] == NULL)
            slot = k;
    if (slot < 0) {
        fprintf(stderr, "netns: more than %d topologies at once\n", MAX_LIVE);
        return -1;
    }
    netns_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    t->n_hosts = n_hosts;
    int k = counter++;
    snprintf(t->bridge.name, sizeof t->bridge.name, NAME_PREFIX "%d-%d-br", (int)getpid(), k);
    for (int i = 0; i < n_hosts; i++) {
        snprintf(t->host[i].name, sizeof t->host[i].name, NAME_PREFIX "%d-%d-h%d", (int)getpid(), k,
                 i + 1);
        snprintf(t->host[i].path, sizeof t->host[i].path, NETNS_DIR "/" NAME_PREFIX "%d-%d-h%d",
                 (int)getpid(), k, i + 1);
        snprintf(t->addr[i], sizeof t->addr[i], "10.199.0.%d", i + 1);
        snprintf(t->port[i], sizeof t->port[i], "p%d", i + 1);
    }
    live[slot] = t; /* from here on, exit and signals delete what is made */

    int rc = ns_add(&t->bridge);
    if (rc == 0)
        rc = run_tool("ip", "-n", t->bridge.name, "link", "add", "br0", "type", "bridge",
                      "mcast_snooping", "0", NULL);
    if (rc == 0)
        rc = run_tool("ip", "-n", t->bridge.name, "link", "set", "br0", "up", NULL);
    for (int i = 0; i < n_hosts && rc == 0; i++)
        rc = add_host(t, i);
    if (rc != 0) {
        netns_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void netns_free(netns_t *t)
{
    if (t == NULL)
        return;
    topology_delete(t);
    for (int k = 0; k < MAX_LIVE; k++)
        if (live[k] == t)
            live[k] = NULL;
    free(t);
}

/* ---- using ------------------------------------------------------------------------------------ */

int netns_hosts(const netns_t *t) { return t->n_hosts; }

static bool valid(const netns_t *t, int i) { return i == NETNS_BRIDGE || (i >= 0 && i < t->n_hosts); }

const char *netns_name(const netns_t *t, int i)
{
    if (!valid(t, i))
        return NULL;
    return i == NETNS_BRIDGE ? t->bridge.name : t->host[i].name;
}

const char *netns_addr(const netns_t *t, int i) { return i >= 0 && i < t->n_hosts ? t->addr[i] : NULL; }

const char *netns_port(const netns_t *t, int i) { return i >= 0 && i < t->n_hosts ? t->port[i] : NULL; }

static int set_port(netns_t *t, int i, const char *updown)
{
    if (i < 0 || i >= t->n_hosts)
        return -1;
    return run_tool("ip", "-n", t->bridge.name, "link", "set", t->port[i], updown, NULL);
}

int netns_cut(netns_t *t, int i) { return set_port(t, i, "down"); }

int netns_heal(netns_t *t, int i) { return set_port(t, i, "up"); }

/* Runs `nft ARGS...` in the bridge namespace. */
static int nft(const netns_t *t, const char *const args[])
{
    const char *ip = netns_tool("ip"), *nftp = netns_tool("nft");
    if (ip == NULL || nftp == NULL) {
        fprintf(stderr, "netns: needs ip and nft (apt-get install iproute2 nftables)\n");
        return -1;
    }
    char *argv[MAX_ARGS] = {(char *)ip, "netns", "exec", (char *)t->bridge.name, (char *)nftp};
    int n = 5;
    for (int k = 0; args[k] != NULL && n < MAX_ARGS - 1; k++)
        argv[n++] = (char *)args[k];
    argv[n] = NULL;
    return run_argv(argv);
}

int netns_set_loss(netns_t *t, int i, int percent)
{
    if (i < 0 || i >= t->n_hosts || percent < 0 || percent > 100)
        return -1;
    char table[32], match[64];
    snprintf(table, sizeof table, "bosun_loss_%s", t->port[i]);
    if (t->loss[i] > 0) {
        const char *del[] = {"delete", "table", "bridge", table, NULL};
        if (nft(t, del) != 0)
            return -1;
        t->loss[i] = 0;
    }
    if (percent == 0)
        return 0;
    snprintf(match, sizeof match, "iifname \"%s\" numgen random mod 100 < %d drop", t->port[i], percent);
    const char *add_table[] = {"add", "table", "bridge", table, NULL};
    const char *add_chain[] = {"add", "chain", "bridge", table, "forward",
                               "{ type filter hook forward priority 0 ; policy accept ; }", NULL};
    const char *add_rule[] = {"add", "rule", "bridge", table, "forward", match, NULL};
    if (nft(t, add_table) != 0)
        return -1;
    t->loss[i] = percent; /* the table exists: delete it next time */
    if (nft(t, add_chain) != 0 || nft(t, add_rule) != 0)
        return -1;
    return 0;
}

char **netns_exec_argv(const netns_t *t, int i, char *const argv[])
{
    const char *ip = netns_tool("ip");
    const char *name = netns_name(t, i);
    if (ip == NULL || name == NULL || argv == NULL || argv[0] == NULL)
        return NULL;
    int n = 0;
    while (argv[n] != NULL)
        n++;
    char **out = calloc((size_t)n + 5, sizeof *out);
    if (out == NULL)
        return NULL;
    out[0] = (char *)ip;
    out[1] = "netns";
    out[2] = "exec";
    out[3] = (char *)name;
    for (int k = 0; k < n; k++)
        out[4 + k] = argv[k];
    return out;
}

int netns_run(const netns_t *t, int i, char *const argv[], int timeout_ms, char **output,
              int *exit_code)
{
    char **full = netns_exec_argv(t, i, argv);
    if (full == NULL) {
        fprintf(stderr, "netns: cannot build the command for namespace %d\n", i);
        return -1;
    }
    int rc = harness_run(full, timeout_ms, output, exit_code);
    free(full);
    return rc;
}
