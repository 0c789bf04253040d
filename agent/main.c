/*
 * main.c - bosun-agent: command line, configuration, and the process's life.
 *
 * Flags override the config file; the agent runs with no file at all on
 * defaults. Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or
 * configuration.
 */
#include <getopt.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "log.h"

static const char usage_text[] =
    "usage: bosun-agent [options]\n"
    "\n"
    "Runs the bosun agent of one node: heartbeats, commands and elections.\n"
    "\n"
    "  -c, --config-file FILE    JSON configuration (default: none, built-in defaults)\n"
    "  -i, --id NODE             node name, [A-Za-z0-9_-]{1,64} (also --node)\n"
    "  -b, --brokerAddress URLS  NATS servers, comma-separated (nats://127.0.0.1:4222)\n"
    "  -d, --data-dir DIR        where the ledger and text log live\n"
    "  -l, --log-level N         0 FATAL, 1 ERROR, 2 WARN, 3 INFO, 4 DEBUG, 5 CHATTY\n"
    "      --max-run-secs S      stop after S seconds (testing)\n"
    "      --fixed-token T       use election token T instead of a random draw\n"
    "      --dashboard-token     show election tokens in the dashboard\n"
    "      --check-config        validate the configuration, print it, and exit\n"
    "  -h, --help                this text\n"
    "  -V, --version             print the version\n";

enum { OPT_MAX_RUN = 1000, OPT_FIXED_TOKEN, OPT_DASH_TOKEN, OPT_CHECK };

static const struct option options[] = {
    {"config-file", required_argument, NULL, 'c'},
    {"id", required_argument, NULL, 'i'},
    {"node", required_argument, NULL, 'i'},
    {"brokerAddress", required_argument, NULL, 'b'},
    {"data-dir", required_argument, NULL, 'd'},
    {"log-level", required_argument, NULL, 'l'},
    {"max-run-secs", required_argument, NULL, OPT_MAX_RUN},
    {"fixed-token", required_argument, NULL, OPT_FIXED_TOKEN},
    {"dashboard-token", no_argument, NULL, OPT_DASH_TOKEN},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *config_file;
    const char *id;
    const char *brokers;
    const char *data_dir;
    const char *log_level;
    const char *max_run;
    const char *fixed_token;
    int dashboard_token;
    int check_only;
} flags_t;

/* Returns -1 to go on, else the exit code. */
static int parse_flags(int argc, char **argv, flags_t *f)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:i:b:d:l:hV", options, NULL)) != -1) {
        switch (c) {
        case 'c': f->config_file = optarg; break;
        case 'i': f->id = optarg; break;
        case 'b': f->brokers = optarg; break;
        case 'd': f->data_dir = optarg; break;
        case 'l': f->log_level = optarg; break;
        case OPT_MAX_RUN: f->max_run = optarg; break;
        case OPT_FIXED_TOKEN: f->fixed_token = optarg; break;
        case OPT_DASH_TOKEN: f->dashboard_token = 1; break;
        case OPT_CHECK: f->check_only = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("bosun-agent %s\n", BOSUN_VERSION); return 0;
        case ':':
            fprintf(stderr, "bosun-agent: %s needs a value\n\n%s", argv[optind - 1], usage_text);
            return 2;
        default:
            fprintf(stderr, "bosun-agent: unknown option '%s'\n\n%s", argv[optind - 1], usage_text);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bosun-agent: unexpected argument '%s'\n\n%s", argv[optind], usage_text);
        return 2;
    }
    return -1;
}

/* Applies flags over the loaded file; the error names the flag. */
static bosun_status_t apply_flags(const flags_t *f, bosun_agent_config_t *cfg, bosun_err_t *err)
{
    bosun_status_t rc = BOSUN_OK;
    long v;
    if (f->id && (rc = bosun_config_set_str(&cfg->id, f->id)) != BOSUN_OK)
        return rc;
    if (f->data_dir && (rc = bosun_config_set_str(&cfg->data_dir, f->data_dir)) != BOSUN_OK)
        return rc;
    if (f->brokers && (rc = bosun_nats_config_set_servers(&cfg->nats, f->brokers, err)) != BOSUN_OK)
        return rc;
    if (f->log_level) {
        if ((rc = cli_parse_int("--log-level", f->log_level, 0, 5, &v, err)) != BOSUN_OK)
            return rc;
        cfg->logging.level = (int)v;
    }
    if (f->max_run &&
        (rc = cli_parse_double("--max-run-secs", f->max_run, 0, 1e9, &cfg->max_run_secs, err)) !=
            BOSUN_OK)
        return rc;
    if (f->fixed_token) {
        if ((rc = cli_parse_int("--fixed-token", f->fixed_token, 0, 0x7fffffffffffffffL, &v, err)) !=
            BOSUN_OK)
            return rc;
        cfg->fixed_token_set = true;
        cfg->fixed_token = (uint64_t)v;
    }
    cfg->dashboard_token = f->dashboard_token != 0;
    return BOSUN_OK;
}

int main(int argc, char **argv)
{
    flags_t flags = {0};
    int code = parse_flags(argc, argv, &flags);
    if (code >= 0)
        return code;

    bosun_agent_config_t cfg;
    bosun_err_t err = {0};
    if (bosun_agent_config_init(&cfg) != BOSUN_OK) {
        fprintf(stderr, "bosun-agent: out of memory\n");
        return 1;
    }
    bosun_status_t rc = BOSUN_OK;
    if (flags.config_file)
        rc = bosun_agent_config_load(&cfg, flags.config_file, &err);
    if (rc == BOSUN_OK)
        rc = apply_flags(&flags, &cfg, &err);
    if (rc == BOSUN_OK)
        rc = bosun_agent_config_finish(&cfg, flags.config_file ? flags.config_file : "command line",
                                       &err);
    if (rc != BOSUN_OK) {
        fprintf(stderr, "bosun-agent: %s\n", err.msg[0] ? err.msg : bosun_status_str(rc));
        bosun_agent_config_free(&cfg);
        return 2;
    }
    if (flags.check_only) {
        printf("bosun-agent: configuration OK: node %s, %zu resources, %zu NATS servers, data %s\n",
               cfg.id, cfg.n_resources, cfg.nats.n_servers, cfg.data_dir);
        bosun_agent_config_free(&cfg);
        return 0;
    }

    bosun_log_t log = {.level = cfg.logging.level, .out = stderr};
    int sigfd = cli_signalfd();
    if (sigfd < 0) {
        log_fatal(&log, "agent", "cannot set up signal handling");
        bosun_agent_config_free(&cfg);
        return 1;
    }
    if (cfg.net.crypto_password == NULL || cfg.net.crypto_password[0] == '\0')
        log_debug(&log, "agent", "no networking.cryptoPassword: election packets would be in clear");

    agent_t *agent = NULL;
    rc = agent_new(&cfg, &log, &agent, &err);
    if (rc != BOSUN_OK) {
        log_fatal(&log, "agent", "cannot start: %s", err.msg[0] ? err.msg : bosun_status_str(rc));
        code = 1;
    } else {
        code = agent_run(agent, sigfd);
    }
    agent_free(agent);
    close(sigfd);
    bosun_agent_config_free(&cfg);
    nats_Close();
    return code;
}
