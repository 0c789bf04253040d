/* schedule.c - the seeded fault plan (see schedule.h). */
#include "schedule.h"

#include <stdbool.h>
#include <stdlib.h>

#include "rng.h"

#define CALM_MS 1000
#define END_MARGIN_MS 3000

/* One kind of fault: where it strikes, how often, and how long it lasts. */
typedef struct {
    fault_kind_t kind;
    host_role_t role;
    int weight;
    int64_t min_ms, max_ms;
} kind_t;

static const kind_t kinds[] = {
    {FAULT_AGENT_KILL, HOST_AGENT, 30, 1000, 6000},
    {FAULT_AGENT_TERM, HOST_AGENT, 20, 1000, 6000},
    {FAULT_CUT, HOST_AGENT, 30, 2000, 10000},
    {FAULT_LOSS, HOST_AGENT, 20, 5000, 20000},
    {FAULT_CENTRAL_KILL, HOST_CENTRAL, 7, 500, 4000},
    {FAULT_CUT, HOST_CENTRAL, 2, 2000, 8000},
    {FAULT_LOSS, HOST_CENTRAL, 2, 5000, 15000},
    {FAULT_NATS_KILL, HOST_NATS, 4, 1000, 6000},
    {FAULT_NATS_TERM, HOST_NATS, 3, 1000, 6000},
    {FAULT_CUT, HOST_NATS, 2, 2000, 8000},
    {FAULT_LOSS, HOST_NATS, 2, 5000, 15000},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

void schedule_defaults(schedule_config_t *cfg, int n_agents, int n_nats, int64_t duration_ms)
{
    cfg->n_agents = n_agents;
    cfg->n_nats = n_nats;
    cfg->duration_ms = duration_ms;
    cfg->mean_gap_ms = 2500;
    cfg->max_agents_out = 2;
}

uint64_t schedule_rng_state(uint64_t seed, uint64_t stream)
{
    /* splitmix64 of seed and stream: distinct, well-mixed, never 0 after |1. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) | 1;
}

int64_t schedule_uniform(uint64_t *state, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(bosun_rng_next(state) % (uint64_t)(hi - lo + 1));
}

static bool overlaps(const plan_fault_t *f, int64_t a, int64_t b)
{
    return f->at_ms < b && a < f->at_ms + f->dur_ms + CALM_MS;
}

static bool takes_agent_out(const plan_fault_t *f)
{
    return f->role == HOST_AGENT && f->kind != FAULT_LOSS;
}

/* Whether a fault of kind k on (role, index) over [a, b) fits the rules. */
static bool fits(const schedule_config_t *cfg, const plan_fault_t *plan, size_t n, const kind_t *k, int index,
                 int64_t a, int64_t b)
{
    int out = 0;
    for (size_t i = 0; i < n; i++) {
        const plan_fault_t *f = &plan[i];
        if (!overlaps(f, a, b))
            continue;
        if (f->role == k->role && f->index == index)
            return false; /* the host is busy */
        if (k->role == HOST_NATS && f->role == HOST_NATS)
            return false; /* one NATS server at a time */
        out += takes_agent_out(f);
    }
    if (k->role == HOST_AGENT && k->kind != FAULT_LOSS && out >= cfg->max_agents_out)
        return false;
    return true;
}

int schedule_make(uint64_t seed, const schedule_config_t *cfg, plan_fault_t **out, size_t *n)
{
    uint64_t rng = schedule_rng_state(seed, 1);
    int total = 0;
    for (size_t i = 0; i < N_KINDS; i++)
        total += kinds[i].weight;
    size_t cap = 64, count = 0;
    plan_fault_t *plan = malloc(cap * sizeof *plan);
    if (plan == NULL)
        return -1;
    int64_t t = 0;
    for (;;) {
        t += schedule_uniform(&rng, cfg->mean_gap_ms / 2, cfg->mean_gap_ms * 3 / 2);
        /* Every draw happens whether or not the fault fits, so one seed is one plan. */
        int64_t w = schedule_uniform(&rng, 0, total - 1);
        const kind_t *k = &kinds[0];
        for (size_t i = 0; i < N_KINDS; i++) {
            if (w < kinds[i].weight) {
                k = &kinds[i];
                break;
            }
            w -= kinds[i].weight;
        }
        int n_targets = k->role == HOST_AGENT ? cfg->n_agents : k->role == HOST_NATS ? cfg->n_nats : 1;
        int index = (int)schedule_uniform(&rng, 0, n_targets - 1);
        int64_t dur = schedule_uniform(&rng, k->min_ms, k->max_ms);
        int percent = (int)schedule_uniform(&rng, 10, 30);
        if (t + dur > cfg->duration_ms - END_MARGIN_MS) {
            if (t > cfg->duration_ms - END_MARGIN_MS)
                break;
            continue;
        }
        if (!fits(cfg, plan, count, k, index, t, t + dur + CALM_MS))
            continue;
        if (count == cap) {
            cap *= 2;
            plan_fault_t *g = realloc(plan, cap * sizeof *g);
            if (g == NULL) {
                free(plan);
                return -1;
            }
            plan = g;
        }
        plan[count++] = (plan_fault_t){.kind = k->kind,
                                       .role = k->role,
                                       .index = index,
                                       .percent = k->kind == FAULT_LOSS ? percent : 0,
                                       .at_ms = t,
                                       .dur_ms = dur};
    }
    *out = plan;
    *n = count;
    return 0;
}
