/* workload.c - the seeded stream of commands (see workload.h). */
#include "workload.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

#define TRACE_FILE "textLogging.log"

void workload_init(workload_t *w, uint64_t seed, int n_nodes, bool retries)
{
    w->rng = schedule_rng_state(seed, 2);
    w->next_token = 1;
    w->n_nodes = n_nodes;
    w->retries = retries;
}

/* Draws the same amount of numbers whatever the mask, so a seed keeps its stream. */
static int pick_node(workload_t *w, unsigned down_mask)
{
    /* A fifth of the messages go to a node that is down or cut, when there is one. */
    int down[HIST_MAX_NODES], n_down = 0;
    for (int i = 0; i < w->n_nodes; i++)
        if (down_mask & (1u << i))
            down[n_down++] = i;
    bool to_down = schedule_uniform(&w->rng, 0, 4) == 0;
    int64_t pick = schedule_uniform(&w->rng, 0, 1000000);
    if (to_down && n_down > 0)
        return down[pick % n_down];
    return (int)(pick % w->n_nodes);
}

void workload_next(workload_t *w, unsigned down_mask, workload_drop_t *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->token, sizeof d->token, "k%06llu", (unsigned long long)w->next_token++);
    int64_t m = schedule_uniform(&w->rng, 0, 99);
    d->method = m < 75 ? HIST_SHELL : HIST_TEXT;
    d->slow = m >= 55 && m < 75;
    bool several = schedule_uniform(&w->rng, 0, 19) == 0;
    int64_t how_many = schedule_uniform(&w->rng, 2, WORKLOAD_MAX_TARGETS);
    d->n_targets = several ? (int)how_many : 1;
    if (d->n_targets > w->n_nodes)
        d->n_targets = w->n_nodes;
    for (int k = 0; k < WORKLOAD_MAX_TARGETS; k++) {
        int node = pick_node(w, down_mask);
        if (k >= d->n_targets)
            continue;
        for (int j = 0; j < k; j++) /* distinct targets: the next free one */
            if (d->nodes[j] == node) {
                node = (node + 1) % w->n_nodes;
                j = -1;
            }
        d->nodes[k] = node;
    }
    bool ttl = schedule_uniform(&w->rng, 0, 1) == 1;
    int64_t ttl_s = schedule_uniform(&w->rng, 3, 30);
    d->ttl_ms = ttl ? ttl_s * 1000 : 0;
    bool limited = schedule_uniform(&w->rng, 0, 9) == 0; /* drawn either way: one seed, one stream */
    d->retries = w->retries && limited ? 2 : -1;
}

char *workload_json(const workload_drop_t *d)
{
    json_t *msg = json_object(), *arr = json_array(), *data = json_array();
    char text[256], name[16];
    if (d->method == HIST_SHELL) {
        snprintf(text, sizeof text,
                 "echo S %s >> " TRACE_FILE "; %secho E %s >> " TRACE_FILE, d->token,
                 d->slow ? "sleep 0.3; " : "", d->token);
        json_array_append_new(data, json_string("/bin/sh"));
        json_array_append_new(data, json_string("-c"));
        json_array_append_new(data, json_string(text));
    } else {
        snprintf(text, sizeof text, "T %s", d->token);
        json_array_append_new(data, json_string(text));
    }
    if (d->n_targets == 1) {
        snprintf(name, sizeof name, "n%d", d->nodes[0] + 1);
        json_object_set_new(msg, "toNode", json_string(name));
    } else {
        json_t *to = json_array();
        for (int k = 0; k < d->n_targets; k++) {
            snprintf(name, sizeof name, "n%d", d->nodes[k] + 1);
            json_array_append_new(to, json_string(name));
        }
        json_object_set_new(msg, "toNodes", to);
    }
    json_object_set_new(msg, "method", json_string(d->method == HIST_SHELL ? "shellCommand" : "textLogging"));
    json_object_set_new(msg, "data", data);
    if (d->ttl_ms > 0)
        json_object_set_new(msg, "ttl", json_integer(d->ttl_ms / 1000));
    if (d->retries >= 0) {
        json_object_set_new(msg, "retries", json_integer(d->retries));
        json_object_set_new(msg, "ackTimeout", json_integer(1));
    }
    json_array_append_new(arr, msg);
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (body == NULL)
        return NULL;
    size_t len = strlen(body);
    char *line = realloc(body, len + 2);
    if (line == NULL) {
        free(body);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}

static bool take_token(const char *s, char token[HIST_TOKEN_MAX])
{
    char t[HIST_TOKEN_MAX];
    unsigned long long n;
    if (sscanf(s, "%23s", t) != 1 || sscanf(t, "k%llu", &n) != 1)
        return false;
    snprintf(token, HIST_TOKEN_MAX, "%s", t);
    return true;
}

bool workload_token(const char *method, char *const *data, size_t n_data, char token[HIST_TOKEN_MAX])
{
    if (strcmp(method, "shellCommand") == 0 && n_data == 3 && strncmp(data[2], "echo S ", 7) == 0)
        return take_token(data[2] + 7, token);
    if (strcmp(method, "textLogging") == 0 && n_data == 1 && strncmp(data[0], "T ", 2) == 0)
        return take_token(data[0] + 2, token);
    return false;
}

bool workload_trace_line(const char *line, char *phase, char token[HIST_TOKEN_MAX])
{
    if ((line[0] != 'S' && line[0] != 'E' && line[0] != 'T') || line[1] != ' ')
        return false;
    *phase = line[0];
    return take_token(line + 2, token);
}
