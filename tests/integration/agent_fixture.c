/* agent_fixture.c - nats-server + bosun-agent for integration tests. */
#include "agent_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fixture_start_agent(agent_fixture_t *f)
{
    char log_path[600];
    snprintf(log_path, sizeof log_path, "%s/agent.log", f->dir);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", f->config, "--log-level", "4", NULL};
    if (harness_proc_start(argv, log_path, &f->agent) != 0)
        return -1;
    /* Ready when it answers a ping (the server answers "no responders" at
     * once until the agent has subscribed, so pace the tries). */
    for (int i = 0; i < 100; i++) {
        if (i > 0)
            usleep(100000);
        const char *none[] = {NULL};
        Bosun__Ack *ack = client_command(f->nc, f->node, "ping", "ready", none, 0, 200);
        if (ack != NULL) {
            bosun__ack__free_unpacked(ack, NULL);
            return 0;
        }
    }
    char *log = harness_proc_log(f->agent);
    fprintf(stderr, "fixture: agent %s did not answer ping; its log:\n%s\n", f->node,
            log ? log : "(none)");
    free(log);
    return -1;
}

int fixture_start(agent_fixture_t *f, const char *node, const char *extra)
{
    memset(f, 0, sizeof *f);
    f->node = node;
    f->dir = harness_tmpdir("agent");
    if (f->dir == NULL || harness_natsd_start(NULL, &f->natsd) != 0)
        return -1;
    snprintf(f->data_dir, sizeof f->data_dir, "%s/data", f->dir);
    snprintf(f->config, sizeof f->config, "%s/agent.json", f->dir);
    char json[4096];
    snprintf(json, sizeof json,
             "{\"id\": \"%s\", \"dataDir\": \"%s\",\n"
             " \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"timing\": {\"heartbeatIntervalMs\": 100}%s%s}\n",
             node, f->data_dir, harness_natsd_url(f->natsd), extra ? ",\n " : "", extra ? extra : "");
    if (harness_write_file(f->config, json) != 0)
        return -1;
    f->nc = client_connect(harness_natsd_url(f->natsd));
    if (f->nc == NULL)
        return -1;
    return fixture_start_agent(f);
}

void fixture_stop(agent_fixture_t *f)
{
    if (f->agent != NULL)
        harness_proc_stop(f->agent, 5000, NULL);
    f->agent = NULL;
    if (f->nc != NULL)
        natsConnection_Destroy(f->nc);
    f->nc = NULL;
    harness_natsd_stop(f->natsd);
    f->natsd = NULL;
    if (f->dir != NULL)
        harness_rmtree(f->dir);
    free(f->dir);
    f->dir = NULL;
}
