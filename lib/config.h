/*
 * config.h - typed configuration for bosun-agent and bosun-central.
 *
 * A JSON file (jansson) is parsed once into these structs, on top of the
 * defaults; nothing downstream ever sees a json_t. An unknown key, a wrong
 * type or an out-of-range value is an error naming the file, the full key
 * path (e.g. "networking.port") and what was expected. Command-line flags are
 * applied by the binaries afterwards, then bosun_*_config_finish() checks the
 * cross-field rules once more (so a bad flag is caught the same way).
 *
 * Keys of the Network State Manager's nsm_conf.json (id, priority,
 * networking.*, resources, run.*, timing.*, electionToken.*, logging.*) keep
 * their meaning; "nats" (servers, credentials, TLS), "dataDir" and the
 * "commands" section are bosun's additions. README.md's configuration reference lists every key.
 *
 * Ownership: every char * in these structs is owned by the struct and freed
 * by the matching _free(); secrets are wiped with sodium_memzero.
 */
#ifndef BOSUN_CONFIG_H
#define BOSUN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "status.h"

/* NATS connection settings, shared by both binaries ("nats" section). */
typedef struct {
    char **servers;          /* "servers": list, or one comma-separated string */
    size_t n_servers;        /* default: one, nats://127.0.0.1:4222 */
    char *user;              /* "user" + "password" */
    char *password;
    char *token;             /* "token" */
    char *nkey_seed_file;    /* "nkeySeedFile": file holding an nkey seed */
    char *creds_file;        /* "credsFile": a .creds file (JWT + seed) */
    char *tls_ca;            /* "tls.ca": CA bundle; enables TLS */
    char *tls_cert;          /* "tls.cert" + "tls.key": client certificate */
    char *tls_key;
    char *tls_server_name;   /* "tls.serverName": expected name in the server cert */
    double reconnect_wait_secs;   /* "reconnectWaitSecs", default 0.25 */
    double reconnect_jitter_secs; /* "reconnectJitterSecs", default 0.25 */
    double connect_timeout_secs;  /* "connectTimeoutSecs", default 2 */
} bosun_nats_config_t;

/* "logging" section. */
typedef struct {
    int level;               /* "level" 0..5 (FATAL..CHATTY), default 3 */
    bool dashboard;          /* "dashboard": terminal dashboard, default false */
    bool log_command_output; /* "logCommandOutput": log what scripts print */
} bosun_logging_config_t;

/*
 * resources[].priority of an entry that gave none, until
 * bosun_agent_config_finish() replaces it with the top-level "priority"
 * (so the order of keys in the file does not matter).
 */
#define BOSUN_PRIORITY_UNSET (-1)

/* One entry of "resources": a string, or {"id", "priority", "preempt"}. */
typedef struct {
    char *id;                /* a node-name-like token */
    int priority;            /* 0..255; default: top-level "priority" (100) */
    bool preempt;            /* default true */
} bosun_resource_config_t;

/* "networking" section (election transport and loss simulation). */
typedef struct {
    char *interface_name;    /* "interfaceName", default "lo" */
    char *address;           /* "address", default "239.255.85.13" */
    int port;                /* "port" 1..65535, default 8513 */
    int ttl;                 /* "ttl" 0..255, default 1 */
    int tos;                 /* "tos" 0..255, default 0 */
    int tx_oversend;         /* "txOversend" 0..10 extra copies, default 0 */
    char *crypto_password;   /* "cryptoPassword"; empty: clear text (warned) */
    double rx_loss_pct;      /* "rxLossPercentage" 0..100 */
    double tx_loss_pct;      /* "txLossPercentage" 0..100 */
    double rx_error_pct;     /* "rxErrorPercentage" 0..100 */
    double tx_error_pct;     /* "txErrorPercentage" 0..100 */
} bosun_net_config_t;

/* "run" section: transition scripts, each optional. */
typedef struct {
    char *on_idle;               /* "onIdle" */
    char *before_going_active;   /* "beforeGoingActive": prints "A-B" */
    char *on_going_active;       /* "onGoingActive" */
    char *before_active;         /* "beforeActive": prints "1" to confirm */
    char *on_active;             /* "onActive" */
    double script_timeout_secs;  /* "scriptTimeoutSecs", default 5 */
} bosun_run_config_t;

/* "timing" section. All election timers are multiplied by the multiplier. */
typedef struct {
    double internal_multiplier;  /* "internalMultiplier" > 0, default 1 */
    double tx_interval_secs;     /* "txIntervalSecs" > 0, default 1 */
    double transition_wait_secs; /* "transitionWaitSecs" >= 0, default 3 */
    int heartbeat_interval_ms;   /* "heartbeatIntervalMs" 10..3600000, default 500 */
} bosun_timing_config_t;

/* "commands" section: how the agent runs what it is asked. */
typedef struct {
    int max_concurrent;            /* "maxConcurrent" 1..1024, default 8 */
    int max_queued;                /* "maxQueued" 0..100000, default 256 */
    int max_output_bytes;          /* "maxOutputBytes" 0..16 MiB, default 65536 */
    double default_timeout_secs;   /* "defaultTimeoutSecs" > 0, default 60 */
    double result_retention_secs;  /* "resultRetentionSecs" > 0, default 86400 */
    double shutdown_grace_secs;    /* "shutdownGraceSecs" >= 0, default 5 */
    int max_payload_bytes;         /* "maxPayloadBytes", default 1 MiB */
} bosun_commands_config_t;

/* One entry of "security.allow.shellCommand": an argv pattern. */
typedef struct {
    char **args;                 /* fnmatch(3) patterns; a final "**" matches any rest */
    size_t n_args;
} bosun_argv_pattern_t;

/* "security.allow": what this node runs. Absent lists allow everything. */
typedef struct {
    bool methods_set;            /* "methods" given (even empty: then nothing runs) */
    char **methods;
    size_t n_methods;
    bool shell_set;              /* "shellCommand" given */
    bosun_argv_pattern_t *shell; /* argv patterns, one must match */
    size_t n_shell;
} bosun_allow_config_t;

/* "security" section of the agent. */
typedef struct {
    char **trusted_keys;         /* "trustedKeys": base64 Ed25519 public keys of central */
    size_t n_trusted_keys;       /* 0: unsigned commands accepted (loud warning) */
    bosun_allow_config_t allow;  /* "allow" */
    char *run_as_user;           /* "runAsUser": NULL = the agent's own user */
} bosun_security_config_t;

/* One entry of "probes.peers": a node name, or {"node", "address"}. */
typedef struct {
    char *node;                  /* "node", required */
    char *address;               /* "address": its probe listener; NULL = what it advertises */
} bosun_probe_peer_config_t;

/* "probes": connectivity probes to other agents (lib/config_probes.c). */
typedef struct {
    int interval_ms;             /* "intervalMs" 100..3600000, default 10000 */
    int timeout_ms;              /* "timeoutMs" 10..600000, default 2000; <= intervalMs */
    char *listen;                /* "listen": ADDR:PORT of the TCP listener; NULL = none */
    char *advertise;             /* "advertise": ADDR:PORT told to peers; NULL = listen */
    bosun_probe_peer_config_t *peers; /* "peers" */
    size_t n_peers;
    bool probe_peers;            /* "probePeers": also probe every node heard from */
    int forget_after_ms;         /* "forgetAfterMs" 1000..86400000, default 60000 */
    int max_targets;             /* "maxTargets" 1..4096, default 256 */
} bosun_probes_config_t;

typedef struct {
    char *id;                    /* node name; "" or absent: generated */
    char *data_dir;              /* "dataDir", default "/var/lib/bosun/agent" */
    int priority;                /* top-level "priority", default 100 */
    bosun_resource_config_t *resources;
    size_t n_resources;
    uint64_t token_start;        /* "electionToken.start", default 1000000 */
    uint64_t token_end;          /* "electionToken.end", default 2000000 */
    bosun_net_config_t net;
    bosun_run_config_t run;
    bosun_timing_config_t timing;
    bosun_logging_config_t logging;
    bosun_nats_config_t nats;
    bosun_commands_config_t commands;
    bosun_security_config_t security;
    bosun_probes_config_t probes;
    double max_run_secs;         /* "maxRunSecs": stop after this long; 0 = forever */
    /* Command line only (no file key): the seed's --fixed-token and --dashboard-token. */
    bool fixed_token_set;
    uint64_t fixed_token;
    bool dashboard_token;
} bosun_agent_config_t;

/* Defaults for messages dropped into inmsg.txt without these fields. */
typedef struct {
    double ack_timeout_secs;     /* "ackTimeoutSecs", default 5 */
    int retries;                 /* "retries" (-1: until ttl), default -1 */
    double retry_wait_secs;      /* "retryWaitSecs", default 1 (backoff base) */
    double max_retry_wait_secs;  /* "maxRetryWaitSecs", default 30 */
    double method_timeout_secs;  /* "methodTimeoutSecs", default 60 */
    double ttl_secs;             /* "ttlSecs", default 86400 */
} bosun_delivery_config_t;

/* "liveness": NoPE's heartbeat timings, in milliseconds since the last one. */
typedef struct {
    int slow_ms;                 /* "slowMs", default 1000 */
    int warn_ms;                 /* "warnMs", default 2000 */
    int dead_ms;                 /* "deadMs", default 5000 */
    int remove_ms;               /* "removeMs", default 10000 */
    int check_interval_ms;       /* "checkIntervalMs", default 250 */
} bosun_liveness_config_t;

/* "timeSync": clock offset estimates from periodic pings. */
typedef struct {
    double interval_secs;        /* "intervalSecs", default 10; 0 turns it off */
    double warn_offset_ms;       /* "warnOffsetMs", default 100 */
} bosun_timesync_config_t;

/* "recorder": every observed event, to rotated, compressed NDJSON files. */
typedef struct {
    bool enabled;                /* "enabled", default true */
    char **subjects;             /* "subjects", default ["*.event.>"] */
    size_t n_subjects;
    double storage_interval_secs;/* "storageIntervalSecs", default 600 */
    char *dir;                   /* "dir", default "" = <dataDir>/recorded */
    int queue_max;               /* "queueMax", default 100000 messages */
} bosun_recorder_config_t;

/* "http": metrics, API and dashboard. */
typedef struct {
    char *listen;                /* "listen", default "127.0.0.1:8756"; "" turns it off */
} bosun_http_config_t;

/* "signing": central's command-signing key. */
typedef struct {
    char *key_file;              /* "keyFile"; NULL = <dataDir>/central.key */
} bosun_signing_config_t;

typedef struct {
    char *id;                    /* node name, default "central" */
    char *data_dir;              /* "dataDir", default "/var/lib/bosun/central" */
    char **expected_nodes;       /* "expectedNodes": nodes reported missing when absent */
    size_t n_expected_nodes;
    bosun_logging_config_t logging;
    bosun_nats_config_t nats;
    bosun_delivery_config_t delivery;
    bosun_liveness_config_t liveness;
    bosun_timesync_config_t time_sync;
    bosun_recorder_config_t recorder;
    bosun_http_config_t http;
    bosun_signing_config_t signing;
} bosun_central_config_t;

/* Fills *c with the defaults above. Returns BOSUN_ERR_NOMEM on failure. */
bosun_status_t bosun_agent_config_init(bosun_agent_config_t *c);
bosun_status_t bosun_central_config_init(bosun_central_config_t *c);

/*
 * Reads the JSON file at path and applies it over *c (which holds defaults or
 * earlier values). On error returns BOSUN_ERR_CONFIG (or _IO when the file
 * cannot be read) and fills *err with e.g.
 *   "agent.json: unknown key 'networking.prot' (did you mean 'networking.port'?)"
 *   "agent.json: key 'networking.port' must be an integer from 1 to 65535, got 70000"
 *   "agent.json:4:12: invalid JSON: ..."
 * *c may be partly updated on error; it still only needs _free().
 */
bosun_status_t bosun_agent_config_load(bosun_agent_config_t *c, const char *path, bosun_err_t *err);
bosun_status_t bosun_central_config_load(bosun_central_config_t *c, const char *path, bosun_err_t *err);

/* As _load, from a buffer; `name` stands for the file in messages. */
bosun_status_t bosun_agent_config_parse(bosun_agent_config_t *c, const char *json, size_t len,
                                        const char *name, bosun_err_t *err);
bosun_status_t bosun_central_config_parse(bosun_central_config_t *c, const char *json, size_t len,
                                          const char *name, bosun_err_t *err);

/*
 * Checks the rules that span keys (token start <= end, distinct resource ids,
 * valid node name, TLS cert given with key...) and fills in derived values:
 * an empty agent id becomes "<hostname>-<6 hex>" made valid. `name` is the
 * source named in messages (the file, or "command line").
 */
bosun_status_t bosun_agent_config_finish(bosun_agent_config_t *c, const char *name, bosun_err_t *err);
bosun_status_t bosun_central_config_finish(bosun_central_config_t *c, const char *name, bosun_err_t *err);

/* Frees what *c owns (wiping secrets) and zeroes it; NULL is a no-op. */
void bosun_agent_config_free(bosun_agent_config_t *c);

/* Every key the files accept, as dotted paths (cfgschema_each_key). */
void bosun_agent_config_each_key(void (*fn)(const char *path, void *arg), void *arg);
void bosun_central_config_each_key(void (*fn)(const char *path, void *arg), void *arg);
void bosun_central_config_free(bosun_central_config_t *c);

/*
 * Replaces c->servers with the comma-separated list in `list`
 * ("nats://a:4222,nats://b:4222"). Used by --brokerAddress and the
 * "servers" key given as a string.
 */
bosun_status_t bosun_nats_config_set_servers(bosun_nats_config_t *c, const char *list, bosun_err_t *err);

/*
 * Parses a numeric socket address "A.B.C.D:PORT" or "[IPv6]:PORT" (port
 * 1..65535; no host names, so nothing blocks on DNS) into *out and *len.
 * With allow_any false, the unspecified address (0.0.0.0, [::]) is refused,
 * as it names no peer. On failure fills *err with one sentence quoting s
 * and returns BOSUN_ERR_INVALID.
 */
bosun_status_t bosun_sockaddr_parse(const char *s, bool allow_any, struct sockaddr_storage *out,
                                    socklen_t *len, bosun_err_t *err);

/* Replaces *slot with a copy of value (NULL allowed). */
bosun_status_t bosun_config_set_str(char **slot, const char *value);

#endif
