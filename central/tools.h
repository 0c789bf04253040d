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

#endif
