/*
 * tools.c - `watch` and `request`: NATS clients that print JSON lines.
 *
 * `request` signs its command with central's key (signing.keyFile, default
 * <dataDir>/central.key: the key that central and `send` use), so agents
 * that trust central.pub execute it. Without a key file it sends the
 * command unsigned and says so; a key file it cannot use is an error.
 */
#include "tools.h"

#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "name.h"
#include "natsconn.h"
#include "sign.h"

typedef struct {
    bosun_central_config_t cfg;  /* defaults, or the --config-file */
    bosun_log_t log;
} client_t;

/*
 * Loads central's config (defaults, then config_file when not NULL) into
 * c->cfg, with --brokerAddress over its servers. Returns 0, or the exit code
 * after saying what was wrong. client_close frees c->cfg either way.
 */
static int client_config(client_t *c, const char *config_file, const char *brokers)
{
    bosun_err_t err = {0};
    memset(&c->cfg, 0, sizeof c->cfg); /* freeing a zeroed config is a no-op */
    c->log = (bosun_log_t){.level = BOSUN_LOG_WARN, .out = stderr};
    if (bosun_central_config_init(&c->cfg) != BOSUN_OK)
        return 1;
    if (config_file != NULL && bosun_central_config_load(&c->cfg, config_file, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central: %s\n", err.msg);
        return 2;
    }
    if (brokers && bosun_nats_config_set_servers(&c->cfg.nats, brokers, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central: %s\n", err.msg);
        return 2;
    }
    return 0;
}

static int client_open(client_t *c, const char *name, bosun_nats_t **out)
{
    bosun_err_t err = {0};
    bosun_nats_opts_t opts = {.client_name = name};
    if (bosun_nats_open(&c->cfg.nats, &opts, &c->log, out, &err) != BOSUN_OK) {
        fprintf(stderr, "bosun-central: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static void client_close(client_t *c, bosun_nats_t *n)
{
    bosun_nats_close(n, 1000);
    bosun_central_config_free(&c->cfg);
}

static void print_json_line(json_t *obj)
{
    char *line = json_dumps(obj, JSON_COMPACT);
    if (line != NULL) {
        puts(line);
        fflush(stdout);
        free(line);
    }
}

static void on_watch(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    json_t *obj = bosun_codec_subject_json(natsMsg_GetSubject(msg), natsMsg_GetData(msg),
                                           (size_t)natsMsg_GetDataLength(msg));
    if (obj != NULL) {
        json_object_set_new(obj, "received_ms", json_integer((json_int_t)bosun_wall_ms()));
        print_json_line(obj);
        json_decref(obj);
    }
    natsMsg_Destroy(msg);
}

int tool_watch(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokerAddress", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *brokers = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        if (c == 'b')
            brokers = optarg;
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: bosun-central watch [--brokerAddress URLS] SUBJECT...\n"
                    "  e.g. bosun-central watch '*.event.>'\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "bosun-central watch: name at least one subject, e.g. '*.event.>'\n");
        return 2;
    }
    int sigfd = cli_signalfd();
    client_t cl;
    bosun_nats_t *n = NULL;
    int rc = client_config(&cl, NULL, brokers);
    if (rc == 0)
        rc = client_open(&cl, "bosun-central watch", &n);
    if (rc != 0) {
        client_close(&cl, n);
        close(sigfd);
        return rc;
    }
    natsSubscription *subs[16] = {0};
    int nsubs = 0;
    for (int i = optind; i < argc && nsubs < 16; i++) {
        natsStatus s = natsConnection_Subscribe(&subs[nsubs], bosun_nats_conn(n), argv[i], on_watch, NULL);
        if (s != NATS_OK) {
            fprintf(stderr, "bosun-central watch: cannot subscribe to '%s': %s\n", argv[i],
                    natsStatus_GetText(s));
            rc = 2;
            break;
        }
        nsubs++;
    }
    if (rc == 0) {
        struct pollfd pf = {.fd = sigfd, .events = POLLIN};
        while (poll(&pf, 1, -1) < 0) {
        }
    }
    for (int i = 0; i < nsubs; i++)
        natsSubscription_Destroy(subs[i]);
    client_close(&cl, n);
    close(sigfd);
    nats_Close();
    return rc;
}

/*
 * Loads central's signing key for `request` into *key: signing.keyFile, else
 * <dir_flag or dataDir>/central.key. No such file: *key stays NULL and a
 * warning says the command goes unsigned. Returns 0 or an exit code.
 */
static int request_key(const bosun_central_config_t *cfg, const char *dir_flag, sign_key_t **key)
{
    char *sk_path = NULL, *pk_path = NULL;
    bosun_err_t err = {0};
    *key = NULL;
    if (sign_key_paths(cfg->signing.key_file, dir_flag ? dir_flag : cfg->data_dir, &sk_path,
                       &pk_path) != BOSUN_OK) {
        fprintf(stderr, "bosun-central request: out of memory\n");
        return 1;
    }
    int rc = 0;
    bosun_status_t st = sign_key_load(sk_path, key, &err);
    if (st == BOSUN_ERR_NOT_FOUND) {
        fprintf(stderr, "bosun-central request: no signing key at %s: the command goes UNSIGNED, "
                "and agents with security.trustedKeys refuse it (create the key with "
                "`bosun-central keygen`, or name central's with --data-dir/--config-file)\n",
                sk_path);
    } else if (st != BOSUN_OK) {
        fprintf(stderr, "bosun-central request: %s\n", err.msg);
        rc = 2;
    }
    free(sk_path);
    free(pk_path);
    return rc;
}

int tool_request(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokerAddress", required_argument, NULL, 'b'},
        {"data-dir", required_argument, NULL, 'd'},
        {"config-file", required_argument, NULL, 'c'},
        {"to", required_argument, NULL, 't'},
        {"method", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 'T'},
        {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] =
        "usage: bosun-central request [--brokerAddress URLS] [--data-dir DIR | --config-file F]\n"
        "                             --to NODE --method M [--timeout SECS] [--id ID] [-- DATA...]\n"
        "  signs with central's key (signing.keyFile, default <dataDir>/central.key);\n"
        "  the config file's nats section (servers, credentials, TLS) is used too\n"
        "  e.g. bosun-central request --to ship1 --method shellCommand -- bash -c 'uptime'\n";
    const char *brokers = NULL, *to = NULL, *method = NULL, *id = NULL;
    const char *dir_flag = NULL, *config_file = NULL;
    double timeout = 10;
    bosun_err_t err = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:d:c:t:m:T:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': brokers = optarg; break;
        case 'd': dir_flag = optarg; break;
        case 'c': config_file = optarg; break;
        case 't': to = optarg; break;
        case 'm': method = optarg; break;
        case 'i': id = optarg; break;
        case 'T':
            if (cli_parse_double("--timeout", optarg, 0.001, 86400, &timeout, &err) != BOSUN_OK) {
                fprintf(stderr, "bosun-central request: %s\n", err.msg);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (to == NULL || method == NULL) {
        fprintf(stderr, "bosun-central request: --to and --method are required\n%s", usage);
        return 2;
    }
    if (bosun_name_check(to, "--to", &err) != BOSUN_OK ||
        (!bosun_method_valid(method) &&
         bosun_errf(&err, BOSUN_ERR_INVALID, "--method '%s' is not a valid method name", method))) {
        fprintf(stderr, "bosun-central request: %s\n", err.msg);
        return 2;
    }
    char idbuf[64];
    if (id == NULL) {
        uint8_t rnd[6];
        randombytes_buf(rnd, sizeof rnd);
        snprintf(idbuf, sizeof idbuf, "req-%llu-%02x%02x%02x%02x%02x%02x",
                 (unsigned long long)bosun_wall_ms(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        id = idbuf;
    }

    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    cmd.id = (char *)id;
    cmd.node = (char *)to;
    cmd.method = (char *)method;
    cmd.data = argv + optind;
    cmd.n_data = (size_t)(argc - optind);
    cmd.created_ms = bosun_wall_ms();
    cmd.method_timeout_ms = (uint64_t)(timeout * 1000.0);
    cmd.sender = "bosun-central-request";
    cmd.attempt = 1;

    client_t cl;
    bosun_nats_t *n = NULL;
    int rc = client_config(&cl, config_file, brokers);
    sign_key_t *key = NULL;
    sign_sig_t sig;
    if (rc == 0)
        rc = request_key(&cl.cfg, dir_flag, &key);
    if (rc == 0 && key != NULL && sign_command(key, &cmd, &sig) != BOSUN_OK)
        rc = 1;
    sign_key_free(key);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rc == 0 && bosun_codec_encode(&cmd.base, &buf, &len) != BOSUN_OK)
        rc = 1;
    if (rc == 0)
        rc = client_open(&cl, "bosun-central request", &n);
    if (rc != 0) {
        free(buf);
        client_close(&cl, n);
        return rc;
    }
    char subject[BOSUN_NAME_MAX * 2 + 16];
    snprintf(subject, sizeof subject, "%s.command.%s", to, method);
    natsMsg *reply = NULL;
    /* Give the command its timeout plus a margin to answer. While the
     * connection is still coming up, nats.c buffers the request. */
    int64_t wait_ms = (int64_t)(timeout * 1000.0) + 2000;
    natsStatus s = natsConnection_Request(&reply, bosun_nats_conn(n), subject, buf, (int)len, wait_ms);
    free(buf);
    if (s != NATS_OK) {
        fprintf(stderr, "bosun-central request: no answer from %s on %s: %s\n", to, subject,
                s == NATS_TIMEOUT ? "timed out" : natsStatus_GetText(s));
        client_close(&cl, n);
        nats_Close();
        return 1;
    }
    ProtobufCMessage *ack = NULL;
    rc = 1;
    if (bosun_codec_decode(&bosun__ack__descriptor, natsMsg_GetData(reply),
                           (size_t)natsMsg_GetDataLength(reply), 0, &ack, &err) == BOSUN_OK) {
        json_t *obj = bosun_codec_to_json(ack);
        print_json_line(obj);
        json_decref(obj);
        rc = ((Bosun__Ack *)ack)->status == BOSUN__ACK_STATUS__ACK_STATUS_OK ? 0 : 1;
        protobuf_c_message_free_unpacked(ack, NULL);
    } else {
        fprintf(stderr, "bosun-central request: %s\n", err.msg);
    }
    natsMsg_Destroy(reply);
    client_close(&cl, n);
    nats_Close();
    return rc;
}
