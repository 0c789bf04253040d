/*
 * replay.c - `bosun-central replay`: prints what the recorder wrote.
 *
 * Reads .ndjson and .ndjson.gz files (zlib's gzopen reads both) and prints
 * every recorded event as one JSON line, file after file in the order given
 * (a directory stands for its recorder files in name order, which is time
 * order), optionally only those whose subject matches a NATS pattern.
 */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "tools.h"

#define MAX_PATTERNS 16
#define MAX_LINE (64u << 20) /* a recorded payload is at most 4 MiB, base64'd */

typedef struct {
    const char *patterns[MAX_PATTERNS];
    size_t n_patterns;
    unsigned long bad_lines;
    unsigned long printed;
    char *line;
    size_t cap;
} replay_t;

/* A NATS subject pattern: non-empty tokens; '>' only as the last one. */
static bool pattern_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || p[0] == '.' || p[n - 1] == '.' || strstr(p, "..") != NULL)
        return false;
    const char *gt = strstr(p, ">");
    return gt == NULL || (gt[1] == '\0' && (gt == p || gt[-1] == '.'));
}

/* NATS wildcard semantics: '*' is one token, a final '>' one or more. */
static bool subject_matches(const char *pattern, const char *subject)
{
    const char *p = pattern, *s = subject;
    for (;;) {
        const char *pe = strchr(p, '.'), *se = strchr(s, '.');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t sl = se ? (size_t)(se - s) : strlen(s);
        if (sl == 0)
            return false;
        if (pe == NULL && pl == 1 && p[0] == '>')
            return true;
        if (!(pl == 1 && p[0] == '*') && (pl != sl || memcmp(p, s, pl) != 0))
            return false;
        if (pe == NULL || se == NULL)
            return pe == NULL && se == NULL;
        p = pe + 1;
        s = se + 1;
    }
}

static bool wanted(const replay_t *rp, const char *subject)
{
    if (rp->n_patterns == 0)
        return true;
    for (size_t i = 0; subject != NULL && i < rp->n_patterns; i++)
        if (subject_matches(rp->patterns[i], subject))
            return true;
    return false;
}

/*
 * Reads one line (without its newline) into rp->line. Returns its length,
 * -1 at the end of the file, or -2 for a line longer than MAX_LINE (skipped).
 */
static long read_line(replay_t *rp, gzFile gz)
{
    size_t len = 0;
    bool too_long = false;
    for (;;) {
        if (rp->cap - len < 2) {
            size_t ncap = rp->cap ? rp->cap * 2 : 65536;
            char *nl = ncap <= MAX_LINE ? realloc(rp->line, ncap) : NULL;
            if (nl == NULL && rp->cap < 2)
                return -1; /* out of memory */
            if (nl == NULL) {
                too_long = true; /* keep reading to the newline, in place */
                len = 0;
            } else {
                rp->line = nl;
                rp->cap = ncap;
            }
        }
        if (gzgets(gz, rp->line + len, (int)(rp->cap - len)) == NULL)
            return too_long ? -2 : (len > 0 ? (long)len : -1);
        len += strlen(rp->line + len);
        if (len > 0 && rp->line[len - 1] == '\n') {
            rp->line[--len] = '\0';
            return too_long ? -2 : (long)len;
        }
    }
}

/* Prints one file's events; false if it cannot be read to its end. */
static bool replay_file(replay_t *rp, const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL) {
        fprintf(stderr, "bosun-central replay: cannot open %s: %m\n", path);
        return false;
    }
    unsigned long lineno = 0;
    long len;
    while ((len = read_line(rp, gz)) != -1) {
        lineno++;
        if (len == -2) {
            fprintf(stderr, "%s:%lu: line longer than %u bytes, skipped\n", path, lineno, MAX_LINE);
            rp->bad_lines++;
            continue;
        }
        if (len == 0)
            continue;
        json_error_t jerr;
        json_t *ev = json_loadb(rp->line, (size_t)len, 0, &jerr);
        const char *subject = json_string_value(json_object_get(ev, "subject"));
        if (!json_is_object(ev) || json_object_get(ev, "received_ms") == NULL) {
            fprintf(stderr, "%s:%lu: not a recorded event: %s\n", path, lineno,
                    ev == NULL ? jerr.text : "no \"received_ms\"");
            rp->bad_lines++;
        } else if (wanted(rp, subject)) {
            fwrite(rp->line, 1, (size_t)len, stdout);
            putchar('\n');
            rp->printed++;
        }
        json_decref(ev);
    }
    int zerr = Z_OK;
    const char *ztext = gzerror(gz, &zerr);
    bool ok = zerr == Z_OK || zerr == Z_STREAM_END;
    if (!ok)
        fprintf(stderr, "bosun-central replay: %s: %s after line %lu (truncated or corrupt)\n", path,
                zerr == Z_ERRNO ? "read error" : ztext, lineno);
    gzclose(gz);
    return ok;
}

static bool is_recording(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 7 && strcmp(name + n - 7, ".ndjson") == 0) ||
                              (n > 10 && strcmp(name + n - 10, ".ndjson.gz") == 0));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every recorder file in dir, in name (= time) order; false if dir is unreadable. */
static bool replay_dir(replay_t *rp, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "bosun-central replay: cannot open %s: %m\n", dir);
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_recording(de->d_name))
            continue;
        char **nn = n == cap ? realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names) : names;
        char *name = nn != NULL ? strdup(de->d_name) : NULL;
        if (name == NULL) {
            if (nn != NULL)
                names = nn;
            ok = false;
            break;
        }
        names = nn;
        names[n++] = name;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        /* X.ndjson next to X.ndjson.gz: a compression that was cut short; the .gz is whole. */
        bool superseded = i + 1 < n && strncmp(names[i], names[i + 1], strlen(names[i])) == 0 &&
                          strcmp(names[i + 1] + strlen(names[i]), ".gz") == 0;
        char *path = NULL;
        if (!superseded && asprintf(&path, "%s/%s", dir, names[i]) >= 0) {
            ok = replay_file(rp, path) && ok;
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

int tool_replay(int argc, char **argv)
{
    static const char usage[] =
        "usage: bosun-central replay [--subject PATTERN]... FILE|DIR...\n"
        "  prints recorded events (.ndjson or .ndjson.gz; a directory: its files in time order)\n"
        "  as JSON lines; PATTERN uses NATS wildcards, e.g. '*.event.state' or 'ship1.>'\n";
    static const struct option opts[] = {
        {"subject", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    replay_t rp = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!pattern_valid(optarg)) {
                fprintf(stderr, "bosun-central replay: '%s' is not a NATS subject pattern\n", optarg);
                return 2;
            }
            if (rp.n_patterns == MAX_PATTERNS) {
                fprintf(stderr, "bosun-central replay: at most %d --subject patterns\n", MAX_PATTERNS);
                return 2;
            }
            rp.patterns[rp.n_patterns++] = optarg;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "bosun-central replay: name at least one file\n%s", usage);
        return 2;
    }
    bool ok = true;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            ok = replay_dir(&rp, argv[i]) && ok;
        else
            ok = replay_file(&rp, argv[i]) && ok;
    }
    free(rp.line);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "bosun-central replay: cannot write the output: %m\n");
        ok = false;
    }
    if (rp.bad_lines > 0)
        fprintf(stderr, "bosun-central replay: %lu lines were not recorded events (see above)\n", rp.bad_lines);
    return ok ? 0 : 1;
}
