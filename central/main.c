/*
 * main.c - bosun-central: command line, subcommands, and the daemon's life.
 *
 *   bosun-central [options]              run the daemon
 *   bosun-central watch SUBJECT...       print bosun messages as JSON lines
 *   bosun-central request --to N --method M -- DATA...
 *   bosun-central send --to N --method M -- DATA...     (appends to inmsg.txt)
 *   bosun-central results [--node N] [--id ID] [--since T]
 *   bosun-central replay [--subject PATTERN] FILE...      (recorded events)
 *   bosun-central keygen [--data-dir DIR] [--force]        (command-signing key)
 *   bosun-central health [--http ADDR:PORT]                 (Docker healthcheck)
 *
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or configuration.
 */
#include <getopt.h>
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "central.h"
#include "cli.h"
#include "config.h"
#include "http.h"
#include "tools.h"

static const char usage_text[] =
    "usage: bosun-central [options]\n"
    "       bosun-central watch [--brokerAddress URLS] SUBJECT...\n"
    "       bosun-central request [--brokerAddress URLS] --to NODE --method M [-- DATA...]\n"
    "       bosun-central send [--data-dir DIR] --to NODE[,NODE...] --method M [-- DATA...]\n"
    "       bosun-central results [--data-dir DIR] [--node N] [--id ID] [--since T]\n"
    "       bosun-central replay [--subject PATTERN]... FILE|DIR...\n"
    "       bosun-central keygen [--data-dir DIR | --config-file F] [--force]\n"
    "       bosun-central health [--http ADDR:PORT]\n"
    "\n"
    "Runs bosun's central node, or one of its tools.\n"
    "\n"
    "  -c, --config-file FILE    JSON configuration (default: none, built-in defaults)\n"
    "  -n, --node NAME           this node's name (default central; also --id)\n"
    "  -b, --brokerAddress URLS  NATS servers, comma-separated (nats://127.0.0.1:4222)\n"
    "  -d, --data-dir DIR        where central keeps its state\n"
    "      --http ADDR:PORT      serve /health, /metrics, /api and the dashboard there\n"
    "                            (default 127.0.0.1:8756; \"\" turns it off)\n"
    "  -l, --log-level N         0 FATAL, 1 ERROR, 2 WARN, 3 INFO, 4 DEBUG, 5 CHATTY\n"
    "      --check-config        validate the configuration, print it, and exit\n"
    "  -h, --help                this text\n"
    "  -V, --version             print the version\n";

enum { OPT_CHECK = 1000, OPT_HTTP };

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "watch") == 0)
        return tool_watch(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "request") == 0)
        return tool_request(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "send") == 0)
        return tool_send(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "results") == 0)
        return tool_results(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "replay") == 0)
        return tool_replay(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return tool_keygen(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "health") == 0)
        return tool_health(argc - 1, argv + 1);

    static const struct option options[] = {
        {"config-file", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'n'},
        {"brokerAddress", required_argument, NULL, 'b'},
        {"data-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"http", required_argument, NULL, OPT_HTTP},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL, *node = NULL, *brokers = NULL, *data_dir = NULL, *level = NULL,
               *http = NULL;
    int check_only = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:n:b:d:l:hV", options, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'n': node = optarg; break;
        case 'b': brokers = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'l': level = optarg; break;
        case OPT_CHECK: check_only = 1; break;
        case OPT_HTTP: http = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("bosun-central %s\n", BOSUN_VERSION); return 0;
        case ':':
            fprintf(stderr, "bosun-central: %s needs a value\n\n%s", argv[optind - 1], usage_text);
            return 2;
        default:
            fprintf(stderr, "bosun-central: unknown option '%s'\n\n%s", argv[optind - 1], usage_text);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bosun-central: unexpected argument '%s'\n\n%s", argv[optind], usage_text);
        return 2;
    }

    bosun_central_config_t cfg;
    bosun_err_t err = {0};
    if (bosun_central_config_init(&cfg) != BOSUN_OK)
        return 1;
    bosun_status_t rc = BOSUN_OK;
    long v;
    if (config_file)
        rc = bosun_central_config_load(&cfg, config_file, &err);
    if (rc == BOSUN_OK && node)
        rc = bosun_config_set_str(&cfg.id, node);
    if (rc == BOSUN_OK && data_dir)
        rc = bosun_config_set_str(&cfg.data_dir, data_dir);
    if (rc == BOSUN_OK && brokers)
        rc = bosun_nats_config_set_servers(&cfg.nats, brokers, &err);
    if (rc == BOSUN_OK && http && http[0] != '\0') {
        struct sockaddr_storage addr;
        unsigned alen;
        rc = http_parse_listen(http, &addr, &alen, &err);
    }
    if (rc == BOSUN_OK && http)
        rc = bosun_config_set_str(&cfg.http.listen, http);
    if (rc == BOSUN_OK && level && (rc = cli_parse_int("--log-level", level, 0, 5, &v, &err)) == BOSUN_OK)
        cfg.logging.level = (int)v;
    if (rc == BOSUN_OK)
        rc = bosun_central_config_finish(&cfg, config_file ? config_file : "command line", &err);
    if (rc != BOSUN_OK) {
        fprintf(stderr, "bosun-central: %s\n", err.msg[0] ? err.msg : bosun_status_str(rc));
        bosun_central_config_free(&cfg);
        return 2;
    }
    if (check_only) {
        printf("bosun-central: configuration OK: node %s, %zu NATS servers, data %s\n", cfg.id,
               cfg.nats.n_servers, cfg.data_dir);
        bosun_central_config_free(&cfg);
        return 0;
    }

    bosun_log_t log = {.level = cfg.logging.level, .out = stderr};
    int sigfd = cli_signalfd();
    central_t *central = NULL;
    int code = 1;
    if (sigfd < 0)
        log_fatal(&log, "central", "cannot set up signal handling");
    else if ((rc = central_new(&cfg, &log, &central, &err)) != BOSUN_OK)
        log_fatal(&log, "central", "cannot start: %s", err.msg[0] ? err.msg : bosun_status_str(rc));
    else
        code = central_run(central, sigfd);
    central_free(central);
    if (sigfd >= 0)
        close(sigfd);
    bosun_central_config_free(&cfg);
    nats_Close();
    return code;
}
