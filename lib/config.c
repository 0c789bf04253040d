/*
 * config.c - bosun's configuration schemas and the rules that span keys.
 *
 * Every key of both binaries is one row in the static tables below (name,
 * type, field, range, default); the generic walker in cfgschema.c uses them
 * to set defaults, apply a file, check values again after command-line flags
 * and free. The "logging" and "nats" tables are shared by both binaries.
 * README.md's configuration reference documents these tables (test_config checks every key is there).
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgschema.h"
#include "config_probes.h"
#include "name.h"
#include "sign.h"

/* Largest configuration file read. */
#define CONFIG_MAX_BYTES (1024u * 1024u)
/* Bounds on lists, so a hostile file cannot make us allocate without end. */
#define RESOURCES_MAX 256
#define SERVERS_MAX 32
/* Longest duration accepted anywhere: one year, in seconds. */
#define SECS_MAX 31536000.0
#define MIB (1024 * 1024)

/* ---- value checks (attached to string rows) ---------------------------------- */

static bosun_status_t check_node_name(const char *s, bosun_err_t *err)
{
    return bosun_name_check(s, "node name", err);
}

static bosun_status_t check_resource_id(const char *s, bosun_err_t *err)
{
    return bosun_name_check(s, "resource id", err);
}

static bosun_status_t check_nonempty(const char *s, bosun_err_t *err)
{
    return s[0] == '\0' ? bosun_errf(err, BOSUN_ERR_INVALID, "must not be empty") : BOSUN_OK;
}

static bosun_status_t check_ipv4(const char *s, bosun_err_t *err)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return bosun_errf(err, BOSUN_ERR_INVALID, "'%.64s' is not an IPv4 address like 239.255.85.13",
                          s);
    return BOSUN_OK;
}

/* Parses "1".."65535" exactly; false for anything else. */
static bool parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/*
 * Accepts nats://[user[:pass]@]host[:port], the same with tls://, and a bare
 * host:port. host is a name, an IPv4 address or an [IPv6] literal.
 */
static bosun_status_t check_server(const char *url, bosun_err_t *err)
{
    const char *p = url;
    bool scheme = true;
    if (strncmp(p, "nats://", 7) == 0)
        p += 7;
    else if (strncmp(p, "tls://", 6) == 0)
        p += 6;
    else
        scheme = false;
    const char *at = strrchr(p, '@');
    if (scheme && at != NULL)
        p = at + 1;
    size_t host_len;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        host_len = close != NULL ? (size_t)(close - p) + 1 : 0;
        if (host_len <= 2)
            host_len = 0;
    } else {
        host_len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
    }
    const char *rest = p + host_len;
    bool ok = host_len > 0;
    if (ok && *rest == ':')
        ok = parse_port(rest + 1, strlen(rest + 1));
    else if (ok)
        ok = scheme && *rest == '\0';
    if (!ok)
        return bosun_errf(err, BOSUN_ERR_INVALID,
                          "server '%.100s' is not like nats://host:4222, tls://host:4222 or host:4222", url);
    return BOSUN_OK;
}

/* ---- "resources": strings or objects ------------------------------------------ */

static const cfgschema_key_t resource_keys[] = {
    CFGSCHEMA_STR("id", bosun_resource_config_t, id, NULL, CFGSCHEMA_F_REQUIRED, check_resource_id),
    CFGSCHEMA_INT("priority", bosun_resource_config_t, priority, 0, 255, BOSUN_PRIORITY_UNSET),
    CFGSCHEMA_BOOL("preempt", bosun_resource_config_t, preempt, true),
    CFGSCHEMA_END,
};

static const cfgschema_list_t resource_list = {
    .keys = resource_keys,
    .size = sizeof(bosun_resource_config_t),
    .key_offset = offsetof(bosun_resource_config_t, id),
    .max = RESOURCES_MAX,
    .key_what = "resource id",
    .name = "resources",
    .expect_list = "a list of resource ids or objects {\"id\", \"priority\", \"preempt\"}",
    .expect_entry = "a resource id or an object {\"id\", \"priority\", \"preempt\"}",
};

/* ---- "nats.servers": a list or one comma-separated string ------------------------ */

static void servers_free_list(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cfgschema_free_str(s[i]);
    free(s);
}

/* Replaces c->servers with the n strings in list (copied). */
static bosun_status_t servers_install(bosun_nats_config_t *c, const char *const *list, size_t n)
{
    char **s = calloc(n > 0 ? n : 1, sizeof *s);
    if (s == NULL)
        return BOSUN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] = strdup(list[i])) == NULL) {
            servers_free_list(s, i);
            return BOSUN_ERR_NOMEM;
        }
    }
    servers_free_list(c->servers, c->n_servers);
    c->servers = s;
    c->n_servers = n;
    return BOSUN_OK;
}

static bosun_status_t servers_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_nats_config_t *c = obj;
    bosun_err_t e;
    bosun_err_clear(&e);
    if (json_is_string(v)) {
        bosun_status_t st = bosun_nats_config_set_servers(c, json_string_value(v), &e);
        if (st == BOSUN_ERR_INVALID)
            return cfgschema_fail(w, "%s", e.msg);
        return st;
    }
    if (!json_is_array(v))
        return cfgschema_type_error(w, "a list of server URLs or one comma-separated string", v);
    size_t n = json_array_size(v);
    if (n == 0 || n > SERVERS_MAX)
        return cfgschema_fail(w, "must list 1 to %d servers, got %zu", SERVERS_MAX, n);
    const char *list[SERVERS_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        size_t mark = cfgschema_path_push_index(w, i);
        if (!json_is_string(s))
            return cfgschema_type_error(w, "a server URL", s);
        if (check_server(json_string_value(s), &e) != BOSUN_OK)
            return cfgschema_fail(w, "%s", e.msg);
        list[i] = json_string_value(s);
        cfgschema_path_pop(w, mark);
    }
    return servers_install(c, list, n);
}

static bosun_status_t servers_init(void *obj)
{
    static const char *const def[] = {"nats://127.0.0.1:4222"};
    return servers_install(obj, def, 1);
}

static bosun_status_t servers_validate(cfgschema_walk_t *w, const void *obj)
{
    const bosun_nats_config_t *c = obj;
    if (c->n_servers == 0 || c->n_servers > SERVERS_MAX)
        return cfgschema_fail(w, "must list 1 to %d servers, got %zu", SERVERS_MAX, c->n_servers);
    bosun_err_t e;
    bosun_err_clear(&e);
    for (size_t i = 0; i < c->n_servers; i++) {
        size_t mark = cfgschema_path_push_index(w, i);
        if (check_server(c->servers[i] != NULL ? c->servers[i] : "", &e) != BOSUN_OK)
            return cfgschema_fail(w, "%s", e.msg);
        cfgschema_path_pop(w, mark);
    }
    return BOSUN_OK;
}

static void servers_free(void *obj)
{
    bosun_nats_config_t *c = obj;
    servers_free_list(c->servers, c->n_servers);
    c->servers = NULL;
    c->n_servers = 0;
}

static const cfgschema_custom_t servers_hooks = {
    .parse = servers_parse, .init = servers_init, .validate = servers_validate, .free = servers_free,
};

/* ---- lists of strings: "expectedNodes", "recorder.subjects" ------------------------ */

#define STRLIST_MAX 100000

static void strlist_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cfgschema_free_str(items[i]);
    free(items);
}

/* Replaces (*items, *n) with copies of the strings in v, each passing check. */
static bosun_status_t strlist_parse(cfgschema_walk_t *w, const json_t *v, char ***items, size_t *n,
                                    const char *what, bosun_status_t (*check)(const char *, bosun_err_t *))
{
    if (!json_is_array(v))
        return cfgschema_type_error(w, what, v);
    size_t count = json_array_size(v);
    if (count > STRLIST_MAX)
        return cfgschema_fail(w, "may list at most %d entries, got %zu", STRLIST_MAX, count);
    char **list = calloc(count ? count : 1, sizeof *list);
    if (list == NULL)
        return BOSUN_ERR_NOMEM;
    bosun_err_t e;
    bosun_err_clear(&e);
    for (size_t i = 0; i < count; i++) {
        const json_t *s = json_array_get(v, i);
        size_t mark = cfgschema_path_push_index(w, i);
        bosun_status_t st = BOSUN_OK;
        if (!json_is_string(s))
            st = cfgschema_type_error(w, "a string", s);
        else if (check != NULL && check(json_string_value(s), &e) != BOSUN_OK)
            st = cfgschema_fail(w, "%s", e.msg);
        else if ((list[i] = strdup(json_string_value(s))) == NULL)
            st = BOSUN_ERR_NOMEM;
        if (st != BOSUN_OK) {
            strlist_free(list, i);
            return st;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(list[k], list[i]) == 0) {
                st = cfgschema_fail(w, "'%s' is listed twice", list[i]);
                strlist_free(list, i + 1);
                return st;
            }
        cfgschema_path_pop(w, mark);
    }
    strlist_free(*items, *n);
    *items = list;
    *n = count;
    return BOSUN_OK;
}

static bosun_status_t check_expected_node(const char *s, bosun_err_t *err)
{
    return bosun_name_check(s, "node name", err);
}

static bosun_status_t expected_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_central_config_t *c = obj;
    return strlist_parse(w, v, &c->expected_nodes, &c->n_expected_nodes, "a list of node names",
                         check_expected_node);
}

static void expected_free(void *obj)
{
    bosun_central_config_t *c = obj;
    strlist_free(c->expected_nodes, c->n_expected_nodes);
    c->expected_nodes = NULL;
    c->n_expected_nodes = 0;
}

static const cfgschema_custom_t expected_hooks = {.parse = expected_parse, .free = expected_free};

/* A NATS subject to subscribe to: tokens of printable non-space characters. */
static bosun_status_t check_subject(const char *s, bosun_err_t *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "'%.80s' is not a NATS subject", s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return bosun_errf(err, BOSUN_ERR_INVALID, "subject '%.80s' holds white space or a control character", s);
    return BOSUN_OK;
}

static bosun_status_t subjects_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_recorder_config_t *c = obj;
    return strlist_parse(w, v, &c->subjects, &c->n_subjects, "a list of NATS subjects", check_subject);
}

static bosun_status_t subjects_init(void *obj)
{
    bosun_recorder_config_t *c = obj;
    c->subjects = calloc(1, sizeof *c->subjects);
    if (c->subjects == NULL || (c->subjects[0] = strdup("*.event.>")) == NULL) {
        free(c->subjects);
        c->subjects = NULL;
        return BOSUN_ERR_NOMEM;
    }
    c->n_subjects = 1;
    return BOSUN_OK;
}

static void subjects_free(void *obj)
{
    bosun_recorder_config_t *c = obj;
    strlist_free(c->subjects, c->n_subjects);
    c->subjects = NULL;
    c->n_subjects = 0;
}

static const cfgschema_custom_t subjects_hooks = {
    .parse = subjects_parse, .init = subjects_init, .free = subjects_free,
};

/* "host:port" for the HTTP listener, or "" (off). */
static bosun_status_t check_listen(const char *s, bosun_err_t *err)
{
    if (s[0] == '\0')
        return BOSUN_OK;
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == s || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return bosun_errf(err, BOSUN_ERR_INVALID, "'%.80s' is not ADDRESS:PORT (e.g. 127.0.0.1:8756)", s);
    return BOSUN_OK;
}

/* ---- "security": trusted keys and allow-lists (agent) ------------------------------- */

/* Longest argv pattern, and most patterns, accepted. */
#define PATTERN_ARGS_MAX 256
#define PATTERNS_MAX 10000

static bosun_status_t check_pubkey(const char *s, bosun_err_t *err)
{
    sign_pubkey_t k;
    return sign_pubkey_parse(s, &k, err);
}

static bosun_status_t check_method_name(const char *s, bosun_err_t *err)
{
    if (!bosun_method_valid(s))
        return bosun_errf(err, BOSUN_ERR_INVALID, "'%.64s' is not a method name", s);
    return BOSUN_OK;
}

static bosun_status_t trusted_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_security_config_t *c = obj;
    return strlist_parse(w, v, &c->trusted_keys, &c->n_trusted_keys,
                         "a list of base64 public keys (the text of central.pub)", check_pubkey);
}

static void trusted_free(void *obj)
{
    bosun_security_config_t *c = obj;
    strlist_free(c->trusted_keys, c->n_trusted_keys);
    c->trusted_keys = NULL;
    c->n_trusted_keys = 0;
}

static const cfgschema_custom_t trusted_hooks = {.parse = trusted_parse, .free = trusted_free};

static bosun_status_t allow_methods_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_allow_config_t *c = obj;
    bosun_status_t st = strlist_parse(w, v, &c->methods, &c->n_methods, "a list of method names",
                                      check_method_name);
    if (st == BOSUN_OK)
        c->methods_set = true;
    return st;
}

static void allow_methods_free(void *obj)
{
    bosun_allow_config_t *c = obj;
    strlist_free(c->methods, c->n_methods);
    c->methods = NULL;
    c->n_methods = 0;
    c->methods_set = false;
}

static const cfgschema_custom_t allow_methods_hooks = {.parse = allow_methods_parse,
                                                       .free = allow_methods_free};

static void patterns_free_list(bosun_argv_pattern_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        strlist_free(p[i].args, p[i].n_args);
    free(p);
}

/* One argv pattern: a non-empty list of strings, "**" only as the last. */
static bosun_status_t pattern_parse_one(cfgschema_walk_t *w, const json_t *v, bosun_argv_pattern_t *p)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfgschema_type_error(w, "a non-empty list of argv patterns, e.g. [\"systemctl\", \"restart\", \"*\"]", v);
    if (json_array_size(v) > PATTERN_ARGS_MAX)
        return cfgschema_fail(w, "may hold at most %d elements", PATTERN_ARGS_MAX);
    size_t n = json_array_size(v);
    p->args = calloc(n, sizeof *p->args);
    if (p->args == NULL)
        return BOSUN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        size_t mark = cfgschema_path_push_index(w, i);
        if (!json_is_string(s))
            return cfgschema_type_error(w, "a string (an fnmatch pattern)", s);
        if (strcmp(json_string_value(s), "**") == 0 && i + 1 < n)
            return cfgschema_fail(w, "\"**\" (any further arguments) may only be the last element");
        if ((p->args[i] = strdup(json_string_value(s))) == NULL)
            return BOSUN_ERR_NOMEM;
        p->n_args = i + 1;
        cfgschema_path_pop(w, mark);
    }
    return BOSUN_OK;
}

static bosun_status_t allow_shell_parse(cfgschema_walk_t *w, const json_t *v, void *obj)
{
    bosun_allow_config_t *c = obj;
    if (!json_is_array(v))
        return cfgschema_type_error(w, "a list of argv patterns, e.g. [[\"uptime\"], [\"df\", \"**\"]]", v);
    size_t n = json_array_size(v);
    if (n > PATTERNS_MAX)
        return cfgschema_fail(w, "may list at most %d patterns, got %zu", PATTERNS_MAX, n);
    bosun_argv_pattern_t *p = calloc(n ? n : 1, sizeof *p);
    if (p == NULL)
        return BOSUN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t mark = cfgschema_path_push_index(w, i);
        bosun_status_t st = pattern_parse_one(w, json_array_get(v, i), &p[i]);
        if (st != BOSUN_OK) {
            patterns_free_list(p, i + 1);
            return st;
        }
        cfgschema_path_pop(w, mark);
    }
    patterns_free_list(c->shell, c->n_shell);
    c->shell = p;
    c->n_shell = n;
    c->shell_set = true;
    return BOSUN_OK;
}

static void allow_shell_free(void *obj)
{
    bosun_allow_config_t *c = obj;
    patterns_free_list(c->shell, c->n_shell);
    c->shell = NULL;
    c->n_shell = 0;
    c->shell_set = false;
}

static const cfgschema_custom_t allow_shell_hooks = {.parse = allow_shell_parse, .free = allow_shell_free};

/* ---- the tables -------------------------------------------------------------------- */

#define OPT (CFGSCHEMA_F_NULLABLE)
#define SECRET (CFGSCHEMA_F_NULLABLE | CFGSCHEMA_F_SECRET)
#define GT0 (CFGSCHEMA_F_MIN_EXCL)

static const cfgschema_key_t nats_tls_keys[] = {
    CFGSCHEMA_STR("ca", bosun_nats_config_t, tls_ca, NULL, OPT, NULL),
    CFGSCHEMA_STR("cert", bosun_nats_config_t, tls_cert, NULL, OPT, NULL),
    CFGSCHEMA_STR("key", bosun_nats_config_t, tls_key, NULL, OPT, NULL),
    CFGSCHEMA_STR("serverName", bosun_nats_config_t, tls_server_name, NULL, OPT, NULL),
    CFGSCHEMA_END,
};

static const cfgschema_key_t nats_keys[] = {
    CFGSCHEMA_CUSTOM("servers", &servers_hooks, 0),
    CFGSCHEMA_STR("user", bosun_nats_config_t, user, NULL, OPT, NULL),
    CFGSCHEMA_STR("password", bosun_nats_config_t, password, NULL, SECRET, NULL),
    CFGSCHEMA_STR("token", bosun_nats_config_t, token, NULL, SECRET, NULL),
    CFGSCHEMA_STR("nkeySeedFile", bosun_nats_config_t, nkey_seed_file, NULL, OPT, NULL),
    CFGSCHEMA_STR("credsFile", bosun_nats_config_t, creds_file, NULL, OPT, NULL),
    CFGSCHEMA_GROUP("tls", nats_tls_keys),
    CFGSCHEMA_NUM("reconnectWaitSecs", bosun_nats_config_t, reconnect_wait_secs, 0, 3600, 0.25, 0),
    CFGSCHEMA_NUM("reconnectJitterSecs", bosun_nats_config_t, reconnect_jitter_secs, 0, 3600, 0.25, 0),
    CFGSCHEMA_NUM("connectTimeoutSecs", bosun_nats_config_t, connect_timeout_secs, 0, 3600, 2, GT0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t logging_keys[] = {
    CFGSCHEMA_INT("level", bosun_logging_config_t, level, 0, 5, 3),
    CFGSCHEMA_BOOL("dashboard", bosun_logging_config_t, dashboard, false),
    CFGSCHEMA_BOOL("logCommandOutput", bosun_logging_config_t, log_command_output, false),
    CFGSCHEMA_END,
};

static const cfgschema_key_t net_keys[] = {
    CFGSCHEMA_STR("interfaceName", bosun_net_config_t, interface_name, "lo", 0, check_nonempty),
    CFGSCHEMA_STR("address", bosun_net_config_t, address, "239.255.85.13", 0, check_ipv4),
    CFGSCHEMA_INT("port", bosun_net_config_t, port, 1, 65535, 8513),
    CFGSCHEMA_INT("ttl", bosun_net_config_t, ttl, 0, 255, 1),
    CFGSCHEMA_INT("tos", bosun_net_config_t, tos, 0, 255, 0),
    CFGSCHEMA_INT("txOversend", bosun_net_config_t, tx_oversend, 0, 10, 0),
    CFGSCHEMA_STR("cryptoPassword", bosun_net_config_t, crypto_password, NULL, SECRET, NULL),
    CFGSCHEMA_NUM("rxLossPercentage", bosun_net_config_t, rx_loss_pct, 0, 100, 0, 0),
    CFGSCHEMA_NUM("txLossPercentage", bosun_net_config_t, tx_loss_pct, 0, 100, 0, 0),
    CFGSCHEMA_NUM("rxErrorPercentage", bosun_net_config_t, rx_error_pct, 0, 100, 0, 0),
    CFGSCHEMA_NUM("txErrorPercentage", bosun_net_config_t, tx_error_pct, 0, 100, 0, 0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t run_keys[] = {
    CFGSCHEMA_STR("onIdle", bosun_run_config_t, on_idle, NULL, OPT, NULL),
    CFGSCHEMA_STR("beforeGoingActive", bosun_run_config_t, before_going_active, NULL, OPT, NULL),
    CFGSCHEMA_STR("onGoingActive", bosun_run_config_t, on_going_active, NULL, OPT, NULL),
    CFGSCHEMA_STR("beforeActive", bosun_run_config_t, before_active, NULL, OPT, NULL),
    CFGSCHEMA_STR("onActive", bosun_run_config_t, on_active, NULL, OPT, NULL),
    CFGSCHEMA_NUM("scriptTimeoutSecs", bosun_run_config_t, script_timeout_secs, 0, 3600, 5, GT0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t timing_keys[] = {
    CFGSCHEMA_NUM("internalMultiplier", bosun_timing_config_t, internal_multiplier, 0, 1000, 1, GT0),
    CFGSCHEMA_NUM("txIntervalSecs", bosun_timing_config_t, tx_interval_secs, 0, 3600, 1, GT0),
    CFGSCHEMA_NUM("transitionWaitSecs", bosun_timing_config_t, transition_wait_secs, 0, 3600, 3, 0),
    CFGSCHEMA_INT("heartbeatIntervalMs", bosun_timing_config_t, heartbeat_interval_ms, 10, 3600000, 500),
    CFGSCHEMA_END,
};

static const cfgschema_key_t commands_keys[] = {
    CFGSCHEMA_INT("maxConcurrent", bosun_commands_config_t, max_concurrent, 1, 1024, 8),
    CFGSCHEMA_INT("maxQueued", bosun_commands_config_t, max_queued, 0, 100000, 256),
    CFGSCHEMA_INT("maxOutputBytes", bosun_commands_config_t, max_output_bytes, 0, 16 * MIB, 65536),
    CFGSCHEMA_NUM("defaultTimeoutSecs", bosun_commands_config_t, default_timeout_secs, 0, SECS_MAX, 60, GT0),
    CFGSCHEMA_NUM("resultRetentionSecs", bosun_commands_config_t, result_retention_secs, 0, SECS_MAX, 86400,
                  GT0),
    CFGSCHEMA_NUM("shutdownGraceSecs", bosun_commands_config_t, shutdown_grace_secs, 0, 3600, 5, 0),
    CFGSCHEMA_INT("maxPayloadBytes", bosun_commands_config_t, max_payload_bytes, 1024, 64 * MIB, MIB),
    CFGSCHEMA_END,
};

static const cfgschema_key_t allow_keys[] = {
    CFGSCHEMA_CUSTOM("methods", &allow_methods_hooks, 0),
    CFGSCHEMA_CUSTOM("shellCommand", &allow_shell_hooks, 0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t security_keys[] = {
    CFGSCHEMA_CUSTOM("trustedKeys", &trusted_hooks, 0),
    CFGSCHEMA_OBJ("allow", bosun_security_config_t, allow, allow_keys),
    CFGSCHEMA_STR("runAsUser", bosun_security_config_t, run_as_user, NULL, OPT, NULL),
    CFGSCHEMA_END,
};

static const cfgschema_key_t token_keys[] = {
    CFGSCHEMA_U64("start", bosun_agent_config_t, token_start, 0, LLONG_MAX, 1000000),
    CFGSCHEMA_U64("end", bosun_agent_config_t, token_end, 0, LLONG_MAX, 2000000),
    CFGSCHEMA_END,
};

static const cfgschema_key_t agent_keys[] = {
    CFGSCHEMA_STR("id", bosun_agent_config_t, id, NULL, OPT, check_node_name),
    CFGSCHEMA_STR("dataDir", bosun_agent_config_t, data_dir, "/var/lib/bosun/agent", 0, check_nonempty),
    CFGSCHEMA_INT("priority", bosun_agent_config_t, priority, 0, 255, 100),
    CFGSCHEMA_LIST("resources", bosun_agent_config_t, resources, n_resources, &resource_list),
    CFGSCHEMA_GROUP("electionToken", token_keys),
    CFGSCHEMA_OBJ("networking", bosun_agent_config_t, net, net_keys),
    CFGSCHEMA_OBJ("run", bosun_agent_config_t, run, run_keys),
    CFGSCHEMA_OBJ("timing", bosun_agent_config_t, timing, timing_keys),
    CFGSCHEMA_OBJ("logging", bosun_agent_config_t, logging, logging_keys),
    CFGSCHEMA_OBJ("nats", bosun_agent_config_t, nats, nats_keys),
    CFGSCHEMA_OBJ("commands", bosun_agent_config_t, commands, commands_keys),
    CFGSCHEMA_OBJ("security", bosun_agent_config_t, security, security_keys),
    CFGSCHEMA_OBJ("probes", bosun_agent_config_t, probes, bosun_probes_keys),
    CFGSCHEMA_NUM("maxRunSecs", bosun_agent_config_t, max_run_secs, 0, SECS_MAX, 0, 0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t delivery_keys[] = {
    CFGSCHEMA_NUM("ackTimeoutSecs", bosun_delivery_config_t, ack_timeout_secs, 0, 3600, 5, GT0),
    CFGSCHEMA_INT("retries", bosun_delivery_config_t, retries, -1, 1000000, -1),
    CFGSCHEMA_NUM("retryWaitSecs", bosun_delivery_config_t, retry_wait_secs, 0, 86400, 1, GT0),
    CFGSCHEMA_NUM("maxRetryWaitSecs", bosun_delivery_config_t, max_retry_wait_secs, 0, 86400, 30, GT0),
    CFGSCHEMA_NUM("methodTimeoutSecs", bosun_delivery_config_t, method_timeout_secs, 0, SECS_MAX, 60, GT0),
    CFGSCHEMA_NUM("ttlSecs", bosun_delivery_config_t, ttl_secs, 0, SECS_MAX, 86400, GT0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t liveness_keys[] = {
    CFGSCHEMA_INT("slowMs", bosun_liveness_config_t, slow_ms, 1, 86400000, 1000),
    CFGSCHEMA_INT("warnMs", bosun_liveness_config_t, warn_ms, 1, 86400000, 2000),
    CFGSCHEMA_INT("deadMs", bosun_liveness_config_t, dead_ms, 1, 86400000, 5000),
    CFGSCHEMA_INT("removeMs", bosun_liveness_config_t, remove_ms, 1, 86400000, 10000),
    CFGSCHEMA_INT("checkIntervalMs", bosun_liveness_config_t, check_interval_ms, 10, 60000, 250),
    CFGSCHEMA_END,
};

static const cfgschema_key_t timesync_keys[] = {
    CFGSCHEMA_NUM("intervalSecs", bosun_timesync_config_t, interval_secs, 0, 86400, 10, 0),
    CFGSCHEMA_NUM("warnOffsetMs", bosun_timesync_config_t, warn_offset_ms, 0, 86400000, 100, GT0),
    CFGSCHEMA_END,
};

static const cfgschema_key_t recorder_keys[] = {
    CFGSCHEMA_BOOL("enabled", bosun_recorder_config_t, enabled, true),
    CFGSCHEMA_CUSTOM("subjects", &subjects_hooks, 0),
    CFGSCHEMA_NUM("storageIntervalSecs", bosun_recorder_config_t, storage_interval_secs, 0, 86400 * 7, 600, GT0),
    CFGSCHEMA_STR("dir", bosun_recorder_config_t, dir, NULL, OPT, NULL),
    CFGSCHEMA_INT("queueMax", bosun_recorder_config_t, queue_max, 100, 100000000, 100000),
    CFGSCHEMA_END,
};

static const cfgschema_key_t http_keys[] = {
    CFGSCHEMA_STR("listen", bosun_http_config_t, listen, "127.0.0.1:8756", 0, check_listen),
    CFGSCHEMA_END,
};

static const cfgschema_key_t signing_keys[] = {
    CFGSCHEMA_STR("keyFile", bosun_signing_config_t, key_file, NULL, OPT, NULL),
    CFGSCHEMA_END,
};

static const cfgschema_key_t central_keys[] = {
    CFGSCHEMA_STR("id", bosun_central_config_t, id, "central", 0, check_node_name),
    CFGSCHEMA_STR("dataDir", bosun_central_config_t, data_dir, "/var/lib/bosun/central", 0, check_nonempty),
    CFGSCHEMA_CUSTOM("expectedNodes", &expected_hooks, 0),
    CFGSCHEMA_OBJ("logging", bosun_central_config_t, logging, logging_keys),
    CFGSCHEMA_OBJ("nats", bosun_central_config_t, nats, nats_keys),
    CFGSCHEMA_OBJ("delivery", bosun_central_config_t, delivery, delivery_keys),
    CFGSCHEMA_OBJ("liveness", bosun_central_config_t, liveness, liveness_keys),
    CFGSCHEMA_OBJ("timeSync", bosun_central_config_t, time_sync, timesync_keys),
    CFGSCHEMA_OBJ("recorder", bosun_central_config_t, recorder, recorder_keys),
    CFGSCHEMA_OBJ("http", bosun_central_config_t, http, http_keys),
    CFGSCHEMA_OBJ("signing", bosun_central_config_t, signing, signing_keys),
    CFGSCHEMA_END,
};

void bosun_agent_config_each_key(void (*fn)(const char *path, void *arg), void *arg)
{
    cfgschema_each_key(agent_keys, fn, arg);
}

void bosun_central_config_each_key(void (*fn)(const char *path, void *arg), void *arg)
{
    cfgschema_each_key(central_keys, fn, arg);
}

/* ---- cross-field rules ---------------------------------------------------------------- */

/* Fails when exactly one of a pair of "nats" keys is given. */
static bosun_status_t nats_pair(cfgschema_walk_t *w, const char *a, const char *va, const char *b,
                                const char *vb)
{
    if ((va != NULL) == (vb != NULL))
        return BOSUN_OK;
    return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key 'nats.%s' is given without 'nats.%s'; give both or neither",
                      w->source, va != NULL ? a : b, va != NULL ? b : a);
}

static bosun_status_t nats_check(cfgschema_walk_t *w, const bosun_nats_config_t *n)
{
    bosun_status_t st = nats_pair(w, "tls.cert", n->tls_cert, "tls.key", n->tls_key);
    if (st == BOSUN_OK)
        st = nats_pair(w, "user", n->user, "password", n->password);
    if (st != BOSUN_OK)
        return st;
    const char *kinds[] = {"user", "token", "nkeySeedFile", "credsFile"};
    const char *given[] = {n->user, n->token, n->nkey_seed_file, n->creds_file};
    const char *first = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (given[i] == NULL)
            continue;
        if (first != NULL)
            return bosun_errf(w->err, BOSUN_ERR_CONFIG,
                              "%s: keys 'nats.%s' and 'nats.%s' both set how to authenticate; give at "
                              "most one of user, token, nkeySeedFile, credsFile",
                              w->source, first, kinds[i]);
        first = kinds[i];
    }
    return BOSUN_OK;
}

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Sets *slot to "<short hostname>-<6 random hex>", made a valid node name. */
static bosun_status_t generate_id(char **slot, cfgschema_walk_t *w)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    host[strcspn(host, ".")] = '\0';
    for (char *p = host; *p != '\0'; p++)
        if (!name_char(*p))
            *p = '-';
    if (sodium_init() < 0)
        return bosun_errf(w->err, BOSUN_ERR_CRYPTO, "%s: cannot generate an id: libsodium failed to start",
                          w->source);
    unsigned char rnd[3];
    randombytes_buf(rnd, sizeof rnd);
    char id[BOSUN_NAME_MAX + 1];
    snprintf(id, sizeof id, "%.*s-%02x%02x%02x", BOSUN_NAME_MAX - 7, host[0] != '\0' ? host : "node",
             rnd[0], rnd[1], rnd[2]);
    return cfgschema_set_str(slot, id);
}

/* ---- public API ---------------------------------------------------------------------- */

/* Reads path (bounded) and applies it with table; wipes the buffer afterwards. */
static bosun_status_t config_load(const cfgschema_key_t *table, void *dst, const char *path,
                                  bosun_err_t *err)
{
    char *buf;
    size_t len;
    bosun_status_t st = cfgschema_read_file(path, CONFIG_MAX_BYTES, &buf, &len, err);
    if (st != BOSUN_OK)
        return st;
    st = cfgschema_parse(table, dst, buf, len, path, err);
    sodium_memzero(buf, len);
    free(buf);
    return st;
}

bosun_status_t bosun_agent_config_init(bosun_agent_config_t *c)
{
    memset(c, 0, sizeof *c);
    return cfgschema_defaults(agent_keys, c);
}

bosun_status_t bosun_central_config_init(bosun_central_config_t *c)
{
    memset(c, 0, sizeof *c);
    return cfgschema_defaults(central_keys, c);
}

bosun_status_t bosun_agent_config_load(bosun_agent_config_t *c, const char *path, bosun_err_t *err)
{
    return config_load(agent_keys, c, path, err);
}

bosun_status_t bosun_central_config_load(bosun_central_config_t *c, const char *path, bosun_err_t *err)
{
    return config_load(central_keys, c, path, err);
}

bosun_status_t bosun_agent_config_parse(bosun_agent_config_t *c, const char *json, size_t len,
                                        const char *name, bosun_err_t *err)
{
    return cfgschema_parse(agent_keys, c, json, len, name, err);
}

bosun_status_t bosun_central_config_parse(bosun_central_config_t *c, const char *json, size_t len,
                                          const char *name, bosun_err_t *err)
{
    return cfgschema_parse(central_keys, c, json, len, name, err);
}

bosun_status_t bosun_agent_config_finish(bosun_agent_config_t *c, const char *name, bosun_err_t *err)
{
    cfgschema_walk_t w;
    cfgschema_walk_init(&w, name, err);
    bosun_status_t st = BOSUN_OK;
    if (c->id == NULL || c->id[0] == '\0')
        st = generate_id(&c->id, &w);
    if (st == BOSUN_ERR_NOMEM)
        return bosun_errf(err, st, "%s: cannot generate an id: out of memory", w.source);
    if (st != BOSUN_OK)
        return st;
    for (size_t i = 0; i < c->n_resources; i++)
        if (c->resources[i].priority == BOSUN_PRIORITY_UNSET)
            c->resources[i].priority = c->priority;
    st = cfgschema_validate(&w, agent_keys, c);
    if (st != BOSUN_OK)
        return st;
    if (c->token_start > c->token_end)
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "%s: key 'electionToken.start' (%llu) must not be greater than "
                          "'electionToken.end' (%llu)",
                          w.source, (unsigned long long)c->token_start, (unsigned long long)c->token_end);
    st = bosun_probes_config_check(&w, &c->probes, c->id);
    if (st != BOSUN_OK)
        return st;
    return nats_check(&w, &c->nats);
}

bosun_status_t bosun_central_config_finish(bosun_central_config_t *c, const char *name, bosun_err_t *err)
{
    cfgschema_walk_t w;
    cfgschema_walk_init(&w, name, err);
    bosun_status_t st = cfgschema_validate(&w, central_keys, c);
    if (st != BOSUN_OK)
        return st;
    const bosun_delivery_config_t *d = &c->delivery;
    if (d->retry_wait_secs > d->max_retry_wait_secs)
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "%s: key 'delivery.retryWaitSecs' (%g) must not be greater than "
                          "'delivery.maxRetryWaitSecs' (%g)",
                          w.source, d->retry_wait_secs, d->max_retry_wait_secs);
    const bosun_liveness_config_t *l = &c->liveness;
    if (!(l->slow_ms <= l->warn_ms && l->warn_ms <= l->dead_ms && l->dead_ms <= l->remove_ms))
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "%s: keys 'liveness.slowMs' <= 'warnMs' <= 'deadMs' <= 'removeMs' must "
                          "hold, got %d, %d, %d, %d",
                          w.source, l->slow_ms, l->warn_ms, l->dead_ms, l->remove_ms);
    return nats_check(&w, &c->nats);
}

void bosun_agent_config_free(bosun_agent_config_t *c)
{
    if (c == NULL)
        return;
    cfgschema_free(agent_keys, c);
    memset(c, 0, sizeof *c);
}

void bosun_central_config_free(bosun_central_config_t *c)
{
    if (c == NULL)
        return;
    cfgschema_free(central_keys, c);
    memset(c, 0, sizeof *c);
}

bosun_status_t bosun_nats_config_set_servers(bosun_nats_config_t *c, const char *list, bosun_err_t *err)
{
    if (list == NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "server list is missing");
    char *copy = strdup(list);
    if (copy == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
    const char *items[SERVERS_MAX];
    size_t n = 0;
    bosun_status_t st = BOSUN_OK;
    char *save = NULL;
    /* strtok_r would skip empty entries; walk the commas by hand instead. */
    for (char *item = copy; st == BOSUN_OK && item != NULL; item = save) {
        char *comma = strchr(item, ',');
        save = comma != NULL ? comma + 1 : NULL;
        if (comma != NULL)
            *comma = '\0';
        item += strspn(item, " \t");
        size_t len = strlen(item);
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
            item[--len] = '\0';
        if (len == 0)
            st = bosun_errf(err, BOSUN_ERR_INVALID, "server list '%.100s' has an empty entry", list);
        else if (n == SERVERS_MAX)
            st = bosun_errf(err, BOSUN_ERR_INVALID, "server list has more than %d entries", SERVERS_MAX);
        else if ((st = check_server(item, err)) == BOSUN_OK)
            items[n++] = item;
    }
    if (st == BOSUN_OK && servers_install(c, items, n) != BOSUN_OK)
        st = bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
    free(copy);
    return st;
}

bosun_status_t bosun_config_set_str(char **slot, const char *value)
{
    return cfgschema_set_str(slot, value);
}
