/*
 * tools.h - bosun-central's subcommands for people and scripts.
 *
 *   bosun-central watch [--brokerAddress URLS] SUBJECT...
 *       prints every bosun message on the subjects as one JSON line each
 *   bosun-central request [--brokerAddress URLS] --to NODE --method M
 *                         [--timeout SECS] [--id ID] -- DATA...
 *       sends one command straight to a node (no queue, no retry) and
 *       prints its Ack as JSON; exit 0 when the status is OK
 */
#ifndef BOSUN_CENTRAL_TOOLS_H
#define BOSUN_CENTRAL_TOOLS_H

int tool_watch(int argc, char **argv);
int tool_request(int argc, char **argv);

/*   bosun-central send [--data-dir DIR | --config-file F] --to NODE[,NODE...]
 *                      --method M [--event] [--ack-timeout S] [--retries N]
 *                      [--retry-wait S] [--method-timeout S] [--ttl S] [-- DATA...]
 *       appends one drop to <dataDir>/inmsg.txt, exactly as an operator would */
int tool_send(int argc, char **argv);

/*   bosun-central results [--data-dir DIR | --config-file F] [--node N] [--id ID]
 *                         [--since T] [--pending] [--limit N]
 *       prints stored outcomes as JSON lines (T: epoch ms, or 30s/10m/2h/1d ago) */
int tool_results(int argc, char **argv);

/*   bosun-central replay [--subject PATTERN]... FILE|DIR...
 *       prints the recorder's events (.ndjson or .ndjson.gz) as JSON lines, in file
 *       order; bad lines go to stderr as FILE:LINE; exit 1 if a file is unreadable */
int tool_replay(int argc, char **argv);

/*   bosun-central keygen [--data-dir DIR | --config-file F] [--force]
 *       writes central's Ed25519 signing key (mode 0600) and central.pub; prints
 *       the public key; never replaces an existing key without --force */
int tool_keygen(int argc, char **argv);

/*   bosun-central health [--http ADDR:PORT]
 *       GET /health from a running central (default 127.0.0.1:8756) within 2 s;
 *       prints the body; exit 0 on HTTP 200, 1 otherwise (the Docker healthcheck) */
int tool_health(int argc, char **argv);

#endif
