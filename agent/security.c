/* security.c - trusted keys, allow-lists and the command user (see security.h). */
#include "security.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bosun_status_t security_user_resolve(const char *name, security_user_t *u, bosun_err_t *err)
{
    memset(u, 0, sizeof *u);
    if (name == NULL || name[0] == '\0')
        return BOSUN_OK;
    char buf[16384];
    struct passwd pw, *res = NULL;
    int e = getpwnam_r(name, &pw, buf, sizeof buf, &res);
    if (res == NULL)
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "key 'security.runAsUser': no user '%.64s' on this system%s%s", name,
                          e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    if (u->uid == geteuid())
        return BOSUN_OK; /* already that user: nothing to switch */
    if (geteuid() != 0)
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "key 'security.runAsUser': the agent runs as uid %u, not root, so it "
                          "cannot run commands as '%.64s' (uid %u); run it as root or drop the key",
                          (unsigned)geteuid(), name, (unsigned)u->uid);
    int n = 64;
    for (int tries = 0; tries < 4; tries++) {
        gid_t *g = realloc(u->groups, (size_t)n * sizeof *g);
        if (g == NULL) {
            security_user_free(u);
            return BOSUN_ERR_NOMEM;
        }
        u->groups = g;
        int want = n;
        if (getgrouplist(name, pw.pw_gid, u->groups, &want) >= 0) {
            u->n_groups = (size_t)want;
            u->switch_user = true;
            return BOSUN_OK;
        }
        n = want > n ? want : n * 2;
    }
    security_user_free(u);
    return bosun_errf(err, BOSUN_ERR_CONFIG, "key 'security.runAsUser': cannot list the groups of '%.64s'",
                      name);
}

void security_user_free(security_user_t *u)
{
    free(u->groups);
    memset(u, 0, sizeof *u);
}

bosun_status_t security_init(const bosun_security_config_t *cfg, const bosun_log_t *log, security_t *s,
                             bosun_err_t *err)
{
    memset(s, 0, sizeof *s);
    if (cfg->n_trusted_keys > 0) {
        s->keys = calloc(cfg->n_trusted_keys, sizeof *s->keys);
        if (s->keys == NULL)
            return BOSUN_ERR_NOMEM;
        for (size_t i = 0; i < cfg->n_trusted_keys; i++) {
            bosun_status_t st = sign_pubkey_parse(cfg->trusted_keys[i], &s->keys[i], err);
            if (st != BOSUN_OK) {
                security_free(s);
                return st;
            }
        }
        s->n_keys = cfg->n_trusted_keys;
        log_info(log, "security", "commands must be signed by one of %zu trusted keys", s->n_keys);
    } else {
        log_warn(log, "security",
                 "NO security.trustedKeys: this agent accepts unsigned commands from anyone who can "
                 "publish on NATS; set security.trustedKeys to central's public key (central.pub)");
    }
    if (cfg->run_as_user != NULL && cfg->run_as_user[0] != '\0') {
        security_user_t u;
        bosun_status_t st = security_user_resolve(cfg->run_as_user, &u, err);
        if (st != BOSUN_OK) {
            security_free(s);
            return st;
        }
        /* security_t keeps the user's fields flat (commands read them). */
        s->switch_user = u.switch_user;
        s->uid = u.uid;
        s->gid = u.gid;
        s->groups = u.groups;
        s->n_groups = u.n_groups;
        if (s->switch_user)
            log_info(log, "security", "commands run as user %s (uid %u, gid %u)", cfg->run_as_user,
                     (unsigned)s->uid, (unsigned)s->gid);
    }
    return BOSUN_OK;
}

void security_free(security_t *s)
{
    free(s->keys);
    free(s->groups);
    memset(s, 0, sizeof *s);
}

bool security_method_allowed(const bosun_allow_config_t *allow, const char *method)
{
    if (!allow->methods_set)
        return true;
    for (size_t i = 0; i < allow->n_methods; i++)
        if (strcmp(allow->methods[i], method) == 0)
            return true;
    return false;
}

bool security_argv_match(const bosun_argv_pattern_t *p, char *const *argv, size_t n)
{
    bool rest = p->n_args > 0 && strcmp(p->args[p->n_args - 1], "**") == 0;
    size_t fixed = rest ? p->n_args - 1 : p->n_args;
    if (rest ? n < fixed : n != fixed)
        return false;
    for (size_t i = 0; i < fixed; i++)
        if (fnmatch(p->args[i], argv[i], 0) != 0)
            return false;
    return true;
}

bool security_argv_allowed(const bosun_allow_config_t *allow, char *const *argv, size_t n)
{
    if (!allow->shell_set)
        return true;
    for (size_t i = 0; i < allow->n_shell; i++)
        if (security_argv_match(&allow->shell[i], argv, n))
            return true;
    return false;
}
