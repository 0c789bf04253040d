/*
 * tools_store.c - `send`, `results` and `keygen`: the subcommands that work
 * on central's data directory (inmsg.txt, the store, the signing key) rather
 * than on NATS.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "files.h"
#include "inbox.h"
#include "name.h"
#include "sign.h"
#include "store.h"
#include "tools.h"

/* The data directory from --data-dir, else the config file, else the default. */
static int data_dir_of(const char *flag_dir, const char *config_file, char **out, const char *tool)
{
    bosun_central_config_t cfg;
    bosun_err_t err = {0};
    if (bosun_central_config_init(&cfg) != BOSUN_OK)
        return 1;
    if (config_file != NULL && bosun_central_config_load(&cfg, config_file, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central %s: %s\n", tool, err.msg);
        bosun_central_config_free(&cfg);
        return 2;
    }
    *out = strdup(flag_dir ? flag_dir : cfg.data_dir);
    bosun_central_config_free(&cfg);
    return *out ? 0 : 1;
}

/* The send flags that take seconds, and their inmsg.txt field. */
typedef struct {
    int opt;
    const char *flag;
    const char *key;
} seconds_flag_t;

static const seconds_flag_t seconds_flags[] = {
    {'A', "--ack-timeout", "ackTimeout"},
    {'W', "--retry-wait", "retryWait"},
    {'M', "--method-timeout", "methodTimeout"},
    {'T', "--ttl", "ttl"},
};

static const seconds_flag_t *seconds_flag(int opt)
{
    for (size_t i = 0; i < sizeof seconds_flags / sizeof seconds_flags[0]; i++)
        if (seconds_flags[i].opt == opt)
            return &seconds_flags[i];
    return &seconds_flags[0];
}

static int bad(const char *tool, const char *msg, const char *usage)
{
    fprintf(stderr, "bosun-central %s: %s\n%s", tool, msg, usage);
    return 2;
}

int tool_send(int argc, char **argv)
{
    static const char usage[] =
        "usage: bosun-central send [--data-dir DIR | --config-file F] --to NODE[,NODE...] --method M\n"
        "                          [--event] [--ack-timeout S] [--retries N] [--retry-wait S]\n"
        "                          [--method-timeout S] [--ttl S] [-- DATA...]\n"
        "  e.g. bosun-central send --to ship1 --method shellCommand -- bash -c 'ls -l ../'\n";
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},   {"config-file", required_argument, NULL, 'c'},
        {"to", required_argument, NULL, 't'},         {"method", required_argument, NULL, 'm'},
        {"event", no_argument, NULL, 'e'},            {"ack-timeout", required_argument, NULL, 'A'},
        {"retries", required_argument, NULL, 'R'},    {"retry-wait", required_argument, NULL, 'W'},
        {"method-timeout", required_argument, NULL, 'M'}, {"ttl", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    const char *dir_flag = NULL, *config = NULL, *to = NULL, *method = NULL;
    json_t *msg = json_object();
    bosun_err_t err = {0};
    int c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:c:t:m:eh", opts, NULL)) != -1) {
        double v;
        long n;
        switch (c) {
        case 'd': dir_flag = optarg; break;
        case 'c': config = optarg; break;
        case 't': to = optarg; break;
        case 'm': method = optarg; break;
        case 'e': json_object_set_new(msg, "commandOrEvent", json_string("event")); break;
        case 'A': case 'W': case 'M': case 'T': {
            const seconds_flag_t *f = seconds_flag(c);
            if (cli_parse_double(f->flag, optarg, 0.001, 315576000.0, &v, &err) != BOSUN_OK)
                goto usage_err;
            json_object_set_new(msg, f->key, json_real(v));
            break;
        }
        case 'R':
            if (cli_parse_int("--retries", optarg, -1, 1000000, &n, &err) != BOSUN_OK)
                goto usage_err;
            json_object_set_new(msg, "retries", json_integer(n));
            break;
        case 'h': fputs(usage, stdout); json_decref(msg); return 0;
        default: json_decref(msg); return bad("send", "bad option", usage);
        }
    }
    if (to == NULL || method == NULL) {
        json_decref(msg);
        return bad("send", "--to and --method are required", usage);
    }
    /* --to a,b,c: toNodes; each name checked here so the operator hears at once. */
    json_t *nodes = json_array();
    char *list = strdup(to);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (bosun_name_check(tok, "--to", &err) != BOSUN_OK) {
            free(list);
            json_decref(nodes);
            goto usage_err;
        }
        json_array_append_new(nodes, json_string(tok));
    }
    free(list);
    if (!bosun_method_valid(method)) {
        json_decref(nodes);
        bosun_errf(&err, BOSUN_ERR_INVALID, "--method '%s' is not a valid method name", method);
        goto usage_err;
    }
    if (json_array_size(nodes) == 1)
        json_object_set(msg, "toNode", json_array_get(nodes, 0));
    else
        json_object_set(msg, "toNodes", nodes);
    json_decref(nodes);
    json_object_set_new(msg, "method", json_string(method));
    if (!json_object_get(msg, "commandOrEvent"))
        json_object_set_new(msg, "commandOrEvent", json_string("command"));
    json_t *data = json_array();
    for (int i = optind; i < argc; i++)
        json_array_append_new(data, json_string(argv[i]));
    json_object_set_new(msg, "data", data);
    json_t *drop = json_array();
    json_array_append_new(drop, msg);
    msg = NULL;
    char *text = json_dumps(drop, JSON_COMPACT);
    json_decref(drop);

    char *dir = NULL, *path = NULL;
    if ((rc = data_dir_of(dir_flag, config, &dir, "send")) == 0) {
        path = bosun_path_join(dir, "inmsg.txt");
        size_t len = strlen(text);
        text[len] = '\n'; /* one line per drop; text was NUL-terminated at len */
        if (path == NULL || inbox_append(path, text, len + 1, &err) != BOSUN_OK) {
            fprintf(stderr, "bosun-central send: %s\n", err.msg[0] ? err.msg : "out of memory");
            rc = 1;
        } else {
            printf("queued in %s\n", path);
        }
    }
    free(text);
    free(path);
    free(dir);
    return rc;
usage_err:
    json_decref(msg);
    return bad("send", err.msg, usage);
}

/* Parses --since: epoch ms, or a duration ago (30s, 10m, 2h, 1d). */
static bool parse_since(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    uint64_t unit = 0;
    if (*end == '\0')
        unit = 0;
    else if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return false;
    uint64_t now = bosun_wall_ms();
    *out = unit == 0 ? v : (v * unit > now ? 0 : now - v * unit);
    return true;
}

static void print_result(void *arg, const Bosun__Result *r)
{
    size_t *count = arg;
    json_t *j = bosun_codec_to_json(&r->base);
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (line != NULL)
        puts(line);
    free(line);
    json_decref(j);
    (*count)++;
}

int tool_results(int argc, char **argv)
{
    static const char usage[] =
        "usage: bosun-central results [--data-dir DIR | --config-file F] [--node N] [--id ID]\n"
        "                             [--since T] [--pending] [--limit N]\n"
        "  T: milliseconds since the epoch, or how long ago: 30s, 10m, 2h, 1d\n";
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"config-file", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},     {"id", required_argument, NULL, 'i'},
        {"since", required_argument, NULL, 's'},    {"pending", no_argument, NULL, 'p'},
        {"limit", required_argument, NULL, 'l'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir_flag = NULL, *config = NULL;
    store_query_t q = {0};
    bosun_err_t err = {0};
    long n;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:c:n:i:s:pl:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_flag = optarg; break;
        case 'c': config = optarg; break;
        case 'n': q.node = optarg; break;
        case 'i': q.id = optarg; break;
        case 'p': q.include_pending = true; break;
        case 's':
            if (!parse_since(optarg, &q.since_ms))
                return bad("results", "--since takes epoch milliseconds or 30s, 10m, 2h, 1d", usage);
            break;
        case 'l':
            if (cli_parse_int("--limit", optarg, 1, 100000000, &n, &err) != BOSUN_OK)
                return bad("results", err.msg, usage);
            q.limit = (size_t)n;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return bad("results", "bad option", usage);
        }
    }
    char *dir = NULL;
    int rc = data_dir_of(dir_flag, config, &dir, "results");
    if (rc != 0)
        return rc;
    store_t *s = NULL;
    size_t count = 0;
    if (store_open_readonly(dir, &s, &err) != BOSUN_OK ||
        store_results(s, &q, print_result, &count, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central results: %s\n", err.msg);
        rc = 1;
    }
    store_close(s);
    free(dir);
    return rc;
}

int tool_keygen(int argc, char **argv)
{
    static const char usage[] =
        "usage: bosun-central keygen [--data-dir DIR | --config-file F] [--force]\n"
        "  writes central's signing key (signing.keyFile, default <dataDir>/central.key, mode 0600)\n"
        "  and its public key beside it (central.pub); prints the public key\n";
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"config-file", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'f'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *config_file = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:c:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'c': config_file = optarg; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        return bad("keygen", "unexpected argument", usage);

    bosun_central_config_t cfg;
    bosun_err_t err = {0};
    if (bosun_central_config_init(&cfg) != BOSUN_OK)
        return 1;
    if (config_file != NULL && bosun_central_config_load(&cfg, config_file, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central keygen: %s\n", err.msg);
        bosun_central_config_free(&cfg);
        return 2;
    }
    const char *data_dir = dir ? dir : cfg.data_dir;
    const char *kf = cfg.signing.key_file;
    char *sk_path = NULL, *pk_path = NULL;
    int code = 1;
    sign_key_t *key = NULL;
    if (sign_key_paths(kf, data_dir, &sk_path, &pk_path) != BOSUN_OK)
        fprintf(stderr, "bosun-central keygen: out of memory\n");
    else if ((kf == NULL || kf[0] == '\0') && bosun_mkdirs(data_dir, 0750, &err) != BOSUN_OK)
        fprintf(stderr, "bosun-central keygen: %s\n", err.msg);
    else if (sign_keygen(sk_path, pk_path, force, &key, &err) != BOSUN_OK)
        fprintf(stderr, "bosun-central keygen: %s\n", err.msg);
    else {
        char pub[SIGN_PK_B64_LEN];
        sign_pubkey_b64(&key->pub, pub);
        printf("%s\n", pub);
        fprintf(stderr, "bosun-central keygen: private key %s, public key %s\n", sk_path, pk_path);
        code = 0;
    }
    sign_key_free(key);
    free(sk_path);
    free(pk_path);
    bosun_central_config_free(&cfg);
    return code;
}
