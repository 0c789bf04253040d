/*
 * mcast.h - the election's UDP socket: multicast or broadcast, always bound
 * to one interface.
 *
 * A packet sent without an interface would follow the default route out of
 * the machine, so the socket is tied to networking.interfaceName: multicast
 * uses IP_MULTICAST_IF and joins the group on that interface's address;
 * broadcast uses SO_BINDTODEVICE. Several agents on one host share the port
 * (SO_REUSEADDR + SO_REUSEPORT) and hear each other (IP_MULTICAST_LOOP).
 * Loss simulation (rx/tx loss and error percentages) lives here, so the
 * election core never knows about it.
 */
#ifndef BOSUN_AGENT_MCAST_H
#define BOSUN_AGENT_MCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

typedef struct mcast mcast_t;

typedef struct {
    uint64_t tx_packets, tx_bytes, tx_errors, tx_dropped_sim, tx_corrupted_sim;
    uint64_t rx_packets, rx_bytes, rx_errors, rx_dropped_sim, rx_corrupted_sim;
} mcast_stats_t;

/*
 * Opens the socket per net (interfaceName, address, port, ttl, tos and the
 * loss percentages). The interface must exist and have an IPv4 address;
 * otherwise the error names it ("interface 'eth9' not found" / "has no IPv4
 * address"). *out is owned by the caller.
 */
bosun_status_t mcast_open(const bosun_net_config_t *net, mcast_t **out, bosun_err_t *err);

/* Closes; NULL is a no-op. */
void mcast_close(mcast_t *m);

/* The socket, for poll(). */
int mcast_fd(const mcast_t *m);

/* "239.255.85.13:8513 on lo (127.0.0.1)", for logs and the dashboard. */
const char *mcast_describe(const mcast_t *m);

/*
 * Sends one datagram (subject to simulated tx loss and corruption). Never
 * blocks: a full socket buffer counts as a tx error.
 */
bosun_status_t mcast_send(mcast_t *m, const uint8_t *buf, size_t len);

/*
 * Receives one datagram without blocking into buf (cap bytes). Returns the
 * length, 0 when nothing (more) is waiting or the datagram was dropped by
 * simulated rx loss, -1 on a socket error. Simulated rx errors corrupt one
 * byte of what is returned.
 */
long mcast_recv(mcast_t *m, uint8_t *buf, size_t cap);

/* Counters since open. */
void mcast_stats(const mcast_t *m, mcast_stats_t *out);

#endif
