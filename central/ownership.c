/* ownership.c - claims per (node, resource), owners and alarms, without I/O. */
#include "ownership.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namesort.h"
#include "strmap.h"

typedef struct onode onode_t;
typedef struct resource resource_t;

typedef struct {
    onode_t *node;
    resource_t *res;
    Bosun__ResourceState state;
    uint64_t since_ms;      /* node's clock */
    uint32_t priority;
    uint64_t token;
    bool from_heartbeat;    /* last set by a heartbeat (any later heartbeat replaces it) */
    bool seen;              /* scratch: listed in the heartbeat being applied */
    size_t node_pos, res_pos;
} claim_t;

struct onode {
    char name[BOSUN_NAME_MAX + 1];
    bool alive;
    uint64_t instance_id;
    uint32_t interval_ms;
    claim_t **claims;
    size_t n_claims, cap_claims;
};

struct resource {
    char name[BOSUN_NAME_MAX + 1];
    claim_t **members;
    size_t n_members, cap_members;
    ownership_alarm_t alarm;       /* raised */
    uint64_t alarm_mono_ms, alarm_wall_ms;
    ownership_alarm_t pending;     /* the condition now; == alarm when settled */
    uint64_t pending_mono_ms;
    char detail[256];
    bool dirty;
    uint64_t activations;          /* claims that entered ACTIVE */
};

struct ownership {
    pthread_mutex_t mu; /* guards everything below against readers on other threads */
    strmap_t nodes, resources;
    resource_t **dirty;
    size_t n_dirty, cap_dirty;
    bool nomem;         /* a dirty mark was lost: check everything next time */
};

static const char *const alarm_names[] = {"OK", "DOUBLE", "NONE"};

const char *ownership_alarm_str(ownership_alarm_t a)
{
    return (unsigned)a < sizeof alarm_names / sizeof alarm_names[0] ? alarm_names[a] : "?";
}

/* ---- actions ------------------------------------------------------------------------ */

void ownership_actions_init(ownership_actions_t *a) { memset(a, 0, sizeof *a); }

void ownership_actions_clear(ownership_actions_t *a)
{
    a->n_events = 0;
    a->nomem = false;
}

void ownership_actions_free(ownership_actions_t *a)
{
    free(a->events);
    memset(a, 0, sizeof *a);
}

static ownership_event_t *push_event(ownership_actions_t *a)
{
    if (a->n_events == a->cap_events) {
        size_t cap = a->cap_events ? a->cap_events * 2 : 16;
        ownership_event_t *e = realloc(a->events, cap * sizeof *e);
        if (e == NULL) {
            a->nomem = true;
            return NULL;
        }
        a->events = e;
        a->cap_events = cap;
    }
    ownership_event_t *e = &a->events[a->n_events++];
    memset(e, 0, sizeof *e);
    return e;
}

/* ---- growable pointer arrays --------------------------------------------------------- */

/* items, or a larger copy, with room for item n; NULL when out of memory (items kept). */
static void *room(void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(items, ncap * size);
    if (p != NULL)
        *cap = ncap;
    return p;
}

static void mark_dirty(ownership_t *o, resource_t *r)
{
    if (r->dirty)
        return;
    resource_t **v = room(o->dirty, o->n_dirty, &o->cap_dirty, sizeof *v);
    if (v == NULL) {
        o->nomem = true;
        return;
    }
    o->dirty = v;
    v[o->n_dirty++] = r;
    r->dirty = true;
}

/* ---- nodes, resources, claims ------------------------------------------------------------ */

static void copy_name(char *dst, const char *src)
{
    size_t n = strnlen(src, BOSUN_NAME_MAX);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The entry named name in m, made (size bytes, zeroed, the name its first member) if absent. */
static void *intern(strmap_t *m, const char *name, size_t size)
{
    if (name == NULL || !bosun_name_valid(name))
        return NULL;
    char *e = strmap_get(m, name);
    if (e != NULL)
        return e;
    if ((e = calloc(1, size)) == NULL)
        return NULL;
    copy_name(e, name);
    if (strmap_put(m, e, e) != BOSUN_OK) {
        free(e);
        return NULL;
    }
    return e;
}

_Static_assert(offsetof(onode_t, name) == 0, "intern() puts the name first");
_Static_assert(offsetof(resource_t, name) == 0, "intern() puts the name first");

static onode_t *get_node(ownership_t *o, const char *name) { return intern(&o->nodes, name, sizeof(onode_t)); }

static resource_t *get_resource(ownership_t *o, const char *name)
{
    return intern(&o->resources, name, sizeof(resource_t));
}

static claim_t *find_claim(const onode_t *n, const char *resource, size_t hint)
{
    if (hint < n->n_claims && strcmp(n->claims[hint]->res->name, resource) == 0)
        return n->claims[hint];
    for (size_t i = 0; i < n->n_claims; i++)
        if (strcmp(n->claims[i]->res->name, resource) == 0)
            return n->claims[i];
    return NULL;
}

/* The claim of n on resource, made (in state NONE) if needed; NULL on OOM or a bad name. */
static claim_t *get_claim(ownership_t *o, onode_t *n, const char *resource, size_t hint)
{
    claim_t *c = find_claim(n, resource, hint);
    if (c != NULL)
        return c;
    resource_t *r = get_resource(o, resource);
    if (r == NULL || (c = calloc(1, sizeof *c)) == NULL)
        return NULL;
    c->node = n;
    c->res = r;
    c->from_heartbeat = true;
    c->node_pos = n->n_claims;
    c->res_pos = r->n_members;
    claim_t **nc = room(n->claims, n->n_claims, &n->cap_claims, sizeof *nc);
    if (nc != NULL)
        n->claims = nc;
    claim_t **rc = nc != NULL ? room(r->members, r->n_members, &r->cap_members, sizeof *rc) : NULL;
    if (rc == NULL) {
        free(c);
        return NULL;
    }
    r->members = rc;
    n->claims[n->n_claims++] = c;
    r->members[r->n_members++] = c;
    mark_dirty(o, r);
    return c;
}

static void drop_claim(ownership_t *o, claim_t *c)
{
    onode_t *n = c->node;
    resource_t *r = c->res;
    claim_t *last = n->claims[--n->n_claims];
    n->claims[c->node_pos] = last;
    last->node_pos = c->node_pos;
    last = r->members[--r->n_members];
    r->members[c->res_pos] = last;
    last->res_pos = c->res_pos;
    mark_dirty(o, r);
    free(c);
}

/* Every change of a claim's state goes through here. */
static void set_claim(ownership_t *o, claim_t *c, Bosun__ResourceState state, uint64_t since_ms,
                      uint32_t priority, uint64_t token, bool from_heartbeat)
{
    if (c->state != state) {
        mark_dirty(o, c->res);
        if (state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE)
            c->res->activations++;
    }
    c->state = state;
    c->since_ms = since_ms;
    c->priority = priority;
    if (token != 0 || state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE)
        c->token = token;
    c->from_heartbeat = from_heartbeat;
}

/* A report "state since since_ms" that is not a heartbeat: applies unless older. */
static void report_event(ownership_t *o, claim_t *c, Bosun__ResourceState state, uint64_t since_ms,
                         uint32_t priority, uint64_t token)
{
    if (since_ms + OWNERSHIP_CLOCK_SLOP_MS < c->since_ms)
        return; /* older than what we know */
    if (c->state == state && c->since_ms != 0)
        since_ms = c->since_ms < since_ms ? c->since_ms : since_ms; /* a refresh: keep the entry time */
    set_claim(o, c, state, since_ms, priority, token, false);
}

/* A restart: what the old instance claimed no longer holds. */
static void node_restarted(ownership_t *o, onode_t *n, uint64_t instance_id)
{
    n->instance_id = instance_id;
    for (size_t i = 0; i < n->n_claims; i++) {
        claim_t *c = n->claims[i];
        set_claim(o, c, BOSUN__RESOURCE_STATE__RESOURCE_STATE_NONE, 0, c->priority, 0, true);
    }
}

/* False when a report of instance_id is from another instance than the current one. */
static bool same_instance(onode_t *n, uint64_t instance_id)
{
    if (n->instance_id == 0)
        n->instance_id = instance_id;
    return instance_id == 0 || n->instance_id == instance_id;
}

/* ---- life ------------------------------------------------------------------------------ */

bosun_status_t ownership_new(ownership_t **out)
{
    ownership_t *o = calloc(1, sizeof *o);
    if (o == NULL)
        return BOSUN_ERR_NOMEM;
    pthread_mutex_init(&o->mu, NULL);
    strmap_init(&o->nodes);
    strmap_init(&o->resources);
    *out = o;
    return BOSUN_OK;
}

static void free_entry_values(strmap_t *m, bool nodes)
{
    for (size_t i = 0; i < m->cap; i++) {
        void *v = m->slots[i].value;
        if (m->slots[i].key == NULL)
            continue;
        if (nodes) {
            onode_t *n = v;
            for (size_t k = 0; k < n->n_claims; k++)
                free(n->claims[k]);
            free(n->claims);
        } else {
            free(((resource_t *)v)->members);
        }
        free(v);
    }
}

void ownership_free(ownership_t *o)
{
    if (o == NULL)
        return;
    free_entry_values(&o->nodes, true);
    free_entry_values(&o->resources, false);
    strmap_free(&o->nodes);
    strmap_free(&o->resources);
    free(o->dirty);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

/* ---- input ------------------------------------------------------------------------------ */

void ownership_on_heartbeat(ownership_t *o, const Bosun__Heartbeat *hb, fleet_now_t now)
{
    (void)now;
    pthread_mutex_lock(&o->mu);
    onode_t *n = get_node(o, hb->node);
    if (n == NULL)
        goto done;
    if (n->instance_id != 0 && hb->instance_id != n->instance_id)
        node_restarted(o, n, hb->instance_id);
    n->instance_id = hb->instance_id;
    if (hb->interval_ms > 0)
        n->interval_ms = hb->interval_ms;
    for (size_t i = 0; i < n->n_claims; i++)
        n->claims[i]->seen = false;
    for (size_t i = 0; i < hb->n_resources; i++) {
        const Bosun__ResourceStatus *s = hb->resources[i];
        claim_t *c = s != NULL ? get_claim(o, n, s->resource, i) : NULL;
        if (c == NULL)
            continue;
        c->seen = true;
        /* Same state: the heartbeat caught up with an event, and knows the entry time. */
        if (c->from_heartbeat || s->state == c->state || s->since_ms > c->since_ms + OWNERSHIP_CLOCK_SLOP_MS)
            set_claim(o, c, s->state, s->since_ms, s->priority, c->token, true);
    }
    /* A resource no longer listed: the node's configuration changed. */
    for (size_t i = 0; i < n->n_claims;)
        if (!n->claims[i]->seen)
            drop_claim(o, n->claims[i]);
        else
            i++;
done:
    pthread_mutex_unlock(&o->mu);
}

void ownership_on_state(ownership_t *o, const char *node, const Bosun__StateChange *sc, fleet_now_t now)
{
    (void)now;
    pthread_mutex_lock(&o->mu);
    onode_t *n = get_node(o, node);
    claim_t *c = NULL;
    if (n != NULL && same_instance(n, sc->instance_id) && (c = get_claim(o, n, sc->resource, 0)) != NULL)
        report_event(o, c, sc->to, sc->time_ms, sc->priority, sc->token);
    pthread_mutex_unlock(&o->mu);
}

void ownership_on_bid(ownership_t *o, const char *node, const Bosun__ElectionPacket *p, fleet_now_t now)
{
    (void)now;
    pthread_mutex_lock(&o->mu);
    onode_t *n = get_node(o, node);
    if (n != NULL && same_instance(n, p->instance_id))
        for (size_t i = 0; i < p->n_bids; i++) {
            const Bosun__Bid *b = p->bids[i];
            claim_t *c = b != NULL ? get_claim(o, n, b->resource, i) : NULL;
            if (c == NULL)
                continue;
            Bosun__ResourceState st = b->release ? BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE : b->state;
            report_event(o, c, st, p->send_time_ms, b->priority, b->token);
        }
    pthread_mutex_unlock(&o->mu);
}

void ownership_node_alive(ownership_t *o, const char *node, bool alive, fleet_now_t now)
{
    (void)now;
    pthread_mutex_lock(&o->mu);
    onode_t *n = get_node(o, node);
    if (n != NULL && n->alive != alive) {
        n->alive = alive;
        for (size_t i = 0; i < n->n_claims; i++)
            mark_dirty(o, n->claims[i]->res);
    }
    pthread_mutex_unlock(&o->mu);
}

void ownership_forget_node(ownership_t *o, const char *node)
{
    pthread_mutex_lock(&o->mu);
    onode_t *n = strmap_remove(&o->nodes, node);
    if (n != NULL) {
        while (n->n_claims > 0)
            drop_claim(o, n->claims[n->n_claims - 1]);
        free(n->claims);
        free(n);
    }
    pthread_mutex_unlock(&o->mu);
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static bool is_state(const claim_t *c, Bosun__ResourceState s) { return c->node->alive && c->state == s; }

/* Appends ", name" to buf (truncating with "..."). */
static void append_name(char *buf, size_t len, const char *name, const char *suffix)
{
    size_t used = strlen(buf);
    if (used + 4 >= len)
        return;
    int k = snprintf(buf + used, len - used, "%s%s%s", used ? ", " : "", name, suffix);
    if (k < 0 || (size_t)k >= len - used)
        snprintf(buf + len - 4, 4, "...");
}

/* The condition of r now, its debounce, and a description of who is involved. */
static ownership_alarm_t condition(const resource_t *r, uint64_t *debounce_ms, char *detail, size_t len)
{
    size_t active = 0, going = 0, alive = 0;
    uint32_t interval = 0;
    for (size_t i = 0; i < r->n_members; i++) {
        const claim_t *c = r->members[i];
        if (!c->node->alive)
            continue;
        alive++;
        active += c->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
        going += c->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE;
        if (c->node->interval_ms > interval)
            interval = c->node->interval_ms;
    }
    *debounce_ms = 2u * (uint64_t)(interval ? interval : OWNERSHIP_DEFAULT_INTERVAL_MS);
    ownership_alarm_t cond = OWNERSHIP_OK;
    if (active >= 2)
        cond = OWNERSHIP_DOUBLE;
    else if (active == 0 && alive > 0 && (going == 0 || r->alarm == OWNERSHIP_NONE))
        cond = OWNERSHIP_NONE;

    /* Name the ACTIVE nodes, else those taking over, else every live one. */
    char names[200] = "";
    for (size_t i = 0; i < r->n_members; i++) {
        const claim_t *c = r->members[i];
        bool pick = active > 0 ? is_state(c, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE)
                    : going > 0 && cond == OWNERSHIP_OK
                        ? is_state(c, BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE)
                        : c->node->alive;
        if (pick)
            append_name(names, sizeof names, c->node->name,
                        cond == OWNERSHIP_NONE && c->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE
                            ? " (GOING_ACTIVE)" : "");
    }
    if (cond == OWNERSHIP_DOUBLE)
        snprintf(detail, len, "%zu live nodes claim ACTIVE: %s", active, names);
    else if (cond == OWNERSHIP_NONE)
        snprintf(detail, len, "no live node is ACTIVE; %zu list it: %s", alive, names);
    else if (active == 1)
        snprintf(detail, len, "ACTIVE: %s", names);
    else if (going > 0)
        snprintf(detail, len, "being taken over by %s", names);
    else
        snprintf(detail, len, "no live node lists it");
    return cond;
}

static void announce(resource_t *r, ownership_alarm_t previous, fleet_now_t now, ownership_actions_t *out)
{
    ownership_event_t *e = push_event(out);
    if (e == NULL)
        return;
    memcpy(e->resource, r->name, sizeof e->resource);
    e->alarm = r->alarm;
    e->previous = previous;
    e->lasted_ms = r->alarm == OWNERSHIP_OK && now.mono_ms > r->alarm_mono_ms ? now.mono_ms - r->alarm_mono_ms : 0;
    memcpy(e->detail, r->detail, sizeof e->detail);
}

/* Every alarm change goes through here. */
static void set_alarm(resource_t *r, ownership_alarm_t to, fleet_now_t now, ownership_actions_t *out)
{
    ownership_alarm_t from = r->alarm;
    r->alarm = to;
    announce(r, from, now, out);
    r->alarm_mono_ms = now.mono_ms;
    r->alarm_wall_ms = now.wall_ms;
}

/* Returns true while r must be looked at again (a condition waits for its debounce). */
static bool evaluate(resource_t *r, fleet_now_t now, ownership_actions_t *out)
{
    uint64_t debounce;
    char detail[sizeof r->detail];
    ownership_alarm_t cond = condition(r, &debounce, detail, sizeof detail);
    if (cond != r->pending) {
        r->pending = cond;
        r->pending_mono_ms = now.mono_ms;
    }
    if (cond == r->alarm || cond == OWNERSHIP_OK) {
        memcpy(r->detail, detail, sizeof r->detail);
        if (cond != r->alarm)
            set_alarm(r, cond, now, out);
        return false;
    }
    if (now.mono_ms - r->pending_mono_ms < debounce)
        return true;
    memcpy(r->detail, detail, sizeof r->detail);
    set_alarm(r, cond, now, out);
    return false;
}

static void delete_resource(ownership_t *o, resource_t *r)
{
    strmap_remove(&o->resources, r->name);
    free(r->members);
    free(r);
}

void ownership_check(ownership_t *o, fleet_now_t now, ownership_actions_t *out)
{
    pthread_mutex_lock(&o->mu);
    if (o->nomem) { /* a dirty mark was lost: look at everything */
        o->nomem = false;
        for (size_t i = 0; i < o->resources.cap; i++)
            if (o->resources.slots[i].key != NULL)
                mark_dirty(o, o->resources.slots[i].value);
    }
    size_t keep = 0;
    for (size_t i = 0; i < o->n_dirty; i++) {
        resource_t *r = o->dirty[i];
        if (r->n_members == 0) {
            if (r->alarm != OWNERSHIP_OK) {
                snprintf(r->detail, sizeof r->detail, "no node lists it any more");
                set_alarm(r, OWNERSHIP_OK, now, out);
            }
            delete_resource(o, r);
        } else if (evaluate(r, now, out)) {
            o->dirty[keep++] = r;
        } else {
            r->dirty = false;
        }
    }
    o->n_dirty = keep;
    pthread_mutex_unlock(&o->mu);
}

/* ---- reading from any thread ---------------------------------------------------------- */

static int by_member_name(const void *a, const void *b)
{
    return strcmp(((const ownership_member_t *)a)->node, ((const ownership_member_t *)b)->node);
}

static bool copy_view(const resource_t *r, ownership_view_t *v)
{
    memset(v, 0, sizeof *v);
    memcpy(v->resource, r->name, sizeof v->resource);
    v->alarm = r->alarm;
    v->alarm_since_ms = r->alarm != OWNERSHIP_OK ? r->alarm_wall_ms : 0;
    v->activations = r->activations;
    memcpy(v->detail, r->detail, sizeof v->detail);
    if (r->n_members > 0 && (v->members = calloc(r->n_members, sizeof *v->members)) == NULL)
        return false;
    v->n_members = r->n_members;
    for (size_t i = 0; i < r->n_members; i++) {
        const claim_t *c = r->members[i];
        ownership_member_t *m = &v->members[i];
        memcpy(m->node, c->node->name, sizeof m->node);
        m->state = c->state;
        m->since_ms = c->since_ms;
        m->priority = c->priority;
        m->token = c->token;
        m->alive = c->node->alive;
    }
    qsort(v->members, v->n_members, sizeof *v->members, by_member_name);
    for (size_t i = 0; i < v->n_members; i++) {
        const ownership_member_t *m = &v->members[i];
        if (m->alive && m->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE && v->n_active++ == 0) {
            memcpy(v->active, m->node, sizeof v->active);
            v->active_since_ms = m->since_ms;
        }
    }
    return true;
}

static int by_resource_name(const void *a, const void *b)
{
    return strcmp(((const ownership_view_t *)a)->resource, ((const ownership_view_t *)b)->resource);
}

bosun_status_t ownership_snapshot(ownership_t *o, ownership_view_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&o->mu);
    size_t count = o->resources.count, done = 0;
    ownership_view_t *v = calloc(count ? count : 1, sizeof *v);
    bool ok = v != NULL;
    for (size_t i = 0; ok && i < o->resources.cap; i++)
        if (o->resources.slots[i].key != NULL) {
            ok = copy_view(o->resources.slots[i].value, &v[done]);
            done++;
        }
    pthread_mutex_unlock(&o->mu);
    if (!ok) {
        ownership_views_free(v, done);
        return BOSUN_ERR_NOMEM;
    }
    if (namesort(v, count, sizeof *v, offsetof(ownership_view_t, resource)) != BOSUN_OK)
        qsort(v, count, sizeof *v, by_resource_name); /* slower, but needs no memory */
    *out = v;
    *n = count;
    return BOSUN_OK;
}

void ownership_views_free(ownership_view_t *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].members);
    free(v);
}

bool ownership_view_get(ownership_t *o, const char *resource, ownership_view_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&o->mu);
    const resource_t *r = strmap_get(&o->resources, resource);
    bool ok = r != NULL && copy_view(r, out);
    pthread_mutex_unlock(&o->mu);
    if (r != NULL && !ok)
        ownership_view_clear(out);
    return ok;
}

void ownership_view_clear(ownership_view_t *v)
{
    free(v->members);
    memset(v, 0, sizeof *v);
}
