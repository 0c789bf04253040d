/*
 * mcast.c - the election's UDP socket, tied to one interface, with simulated
 * loss and corruption.
 *
 * Sits under the agent's loop: the loop polls mcast_fd(), drains it with
 * mcast_recv() and hands datagrams to seal_open(); it sends what
 * seal_packet() produced with mcast_send(). Nothing here knows the packet
 * format.
 *
 * Safety: no datagram may leave through the default route. A multicast
 * socket sets IP_MULTICAST_IF to the interface before anything is sent, and a
 * broadcast socket is bound to the device with SO_BINDTODEVICE; if either
 * step fails, mcast_open fails and the socket is closed unused.
 *
 * Threads: an mcast_t belongs to one thread (the agent's loop), so the
 * counters are plain fields; another thread wanting them asks the owner.
 *
 * Counters: tx_packets/tx_bytes count datagrams the kernel accepted (a
 * corrupted one included), tx_dropped_sim those the loss simulation ate;
 * rx_packets/rx_bytes count datagrams handed to the caller (a corrupted one
 * included), rx_dropped_sim those read and discarded. tx_errors/rx_errors
 * count failed system calls and, on receive, datagrams larger than the
 * caller's buffer (mcast_recv returns -1 with errno EMSGSIZE; the datagram
 * is gone, the socket is fine).
 */
#include "mcast.h"

#include "rng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct mcast {
    int fd;
    struct sockaddr_in dst; /* address:port we send to */
    mcast_stats_t stats;
    uint64_t rng;           /* xorshift64* state for the loss simulation; never 0 */
    double rx_loss_pct, tx_loss_pct, rx_error_pct, tx_error_pct;
    char desc[128];
};

/* True with probability pct/100 (pct 0 never, 100 always). */
static bool rng_chance(mcast_t *m, double pct)
{
    if (pct <= 0.0)
        return false;
    double u = (double)(bosun_rng_next(&m->rng) >> 11) * 0x1.0p-53; /* [0, 1) */
    return u * 100.0 < pct;
}

/* XORs one random byte of buf[0..len) with a random non-zero mask. */
static void corrupt_one_byte(mcast_t *m, uint8_t *buf, size_t len)
{
    uint64_t r = bosun_rng_next(&m->rng);
    buf[(r >> 8) % len] ^= (uint8_t)(1 + (r & 0xff) % 255);
}

/*
 * Finds ifname's first IPv4 address and index. When want_bcast is not
 * INADDR_ANY, also reports in *bcast_ok whether it is 255.255.255.255 or the
 * broadcast address of one of ifname's IPv4 addresses.
 */
static bosun_status_t resolve_interface(const char *ifname, struct in_addr want_bcast, struct in_addr *addr,
                                        unsigned *ifindex, bool *bcast_ok, bosun_err_t *err)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return bosun_errf(err, BOSUN_ERR_SYS, "cannot list network interfaces to find '%s': %s", ifname,
                          strerror(errno));
    bool seen = false, have_v4 = false;
    *bcast_ok = want_bcast.s_addr == htonl(INADDR_BROADCAST);
    for (struct ifaddrs *a = list; a != NULL; a = a->ifa_next) {
        if (strcmp(a->ifa_name, ifname) != 0)
            continue;
        seen = true;
        if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET)
            continue;
        if (!have_v4)
            *addr = ((const struct sockaddr_in *)(const void *)a->ifa_addr)->sin_addr;
        have_v4 = true;
        const struct sockaddr_in *brd = (const struct sockaddr_in *)(const void *)a->ifa_broadaddr;
        if ((a->ifa_flags & IFF_BROADCAST) && brd != NULL && brd->sin_addr.s_addr == want_bcast.s_addr)
            *bcast_ok = true;
    }
    freeifaddrs(list);
    if (!seen)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "interface '%s' not found (networking.interfaceName)",
                          ifname);
    if (!have_v4)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "interface '%s' has no IPv4 address", ifname);
    *ifindex = if_nametoindex(ifname);
    if (*ifindex == 0)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "interface '%s' not found: %s", ifname, strerror(errno));
    return BOSUN_OK;
}

/* setsockopt that names the option in its error. */
static bosun_status_t set_opt(int fd, int level, int name, const void *val, socklen_t len, const char *what,
                              const char *ifname, bosun_err_t *err)
{
    if (setsockopt(fd, level, name, val, len) != 0)
        return bosun_errf(err, BOSUN_ERR_SYS, "setsockopt %s on the election socket (interface '%s'): %s",
                          what, ifname, strerror(errno));
    return BOSUN_OK;
}

static bosun_status_t set_int(int fd, int level, int name, int val, const char *what, const char *ifname,
                              bosun_err_t *err)
{
    return set_opt(fd, level, name, &val, sizeof val, what, ifname, err);
}

/* Multicast: bound to group:port, joined and sending on the interface. */
static bosun_status_t setup_multicast(mcast_t *m, const bosun_net_config_t *net, struct in_addr ifaddr,
                                      unsigned ifindex, bosun_err_t *err)
{
    const char *ifn = net->interface_name;
    /* Bound to the group, the socket hears nothing sent to the port unicast. */
    if (bind(m->fd, (const struct sockaddr *)&m->dst, sizeof m->dst) != 0)
        return bosun_errf(err, BOSUN_ERR_SYS, "cannot bind the election socket to %s:%d: %s", net->address,
                          net->port, strerror(errno));
    struct ip_mreqn mr = {.imr_multiaddr = m->dst.sin_addr, .imr_address = ifaddr,
                          .imr_ifindex = (int)ifindex};
    bosun_status_t st =
        set_opt(m->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr, "IP_ADD_MEMBERSHIP", ifn, err);
    if (st != BOSUN_OK)
        return st;
    struct ip_mreqn out = {.imr_address = ifaddr, .imr_ifindex = (int)ifindex};
    st = set_opt(m->fd, IPPROTO_IP, IP_MULTICAST_IF, &out, sizeof out, "IP_MULTICAST_IF", ifn, err);
    if (st == BOSUN_OK)
        st = set_int(m->fd, IPPROTO_IP, IP_MULTICAST_TTL, net->ttl, "IP_MULTICAST_TTL", ifn, err);
    if (st == BOSUN_OK)
        st = set_int(m->fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP", ifn, err);
    if (st == BOSUN_OK) {
        /* Only the group joined here, on this interface: not every group some
         * other socket on the host has joined (Linux's default). Best effort. */
        int zero = 0;
        (void)setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    }
    return st;
}

/* Broadcast: bound to the device, so the limited broadcast stays on it. */
static bosun_status_t setup_broadcast(mcast_t *m, const bosun_net_config_t *net, bosun_err_t *err)
{
    const char *ifn = net->interface_name;
    if (setsockopt(m->fd, SOL_SOCKET, SO_BINDTODEVICE, ifn, (socklen_t)strlen(ifn) + 1) != 0) {
        int e = errno;
        if (e == EPERM || e == EACCES)
            return bosun_errf(err, BOSUN_ERR_SYS,
                              "broadcast on interface '%s' needs SO_BINDTODEVICE, which was refused (%s): "
                              "run as root or with CAP_NET_RAW, or use a multicast address",
                              ifn, strerror(e));
        return bosun_errf(err, BOSUN_ERR_SYS, "setsockopt SO_BINDTODEVICE '%s': %s", ifn, strerror(e));
    }
    bosun_status_t st = set_int(m->fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST", ifn, err);
    if (st == BOSUN_OK && net->ttl > 0)
        st = set_int(m->fd, IPPROTO_IP, IP_TTL, net->ttl, "IP_TTL", ifn, err);
    if (st != BOSUN_OK)
        return st;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = m->dst.sin_port,
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(m->fd, (const struct sockaddr *)&any, sizeof any) != 0)
        return bosun_errf(err, BOSUN_ERR_SYS, "cannot bind the election socket to port %d on '%s': %s",
                          net->port, ifn, strerror(errno));
    return BOSUN_OK;
}

bosun_status_t mcast_open(const bosun_net_config_t *net, mcast_t **out, bosun_err_t *err)
{
    *out = NULL;
    const char *ifn = net->interface_name != NULL ? net->interface_name : "";
    struct in_addr group;
    if (net->address == NULL || inet_pton(AF_INET, net->address, &group) != 1)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "networking.address '%s' is not an IPv4 address",
                          net->address != NULL ? net->address : "");
    if (net->port < 1 || net->port > 65535)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "networking.port %d is outside 1..65535", net->port);
    if (ifn[0] == '\0' || strlen(ifn) >= IFNAMSIZ)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "interface '%s' is not a valid interface name", ifn);
    bool multicast = IN_MULTICAST(ntohl(group.s_addr));

    struct in_addr ifaddr = {0}, want_bcast = {0};
    if (!multicast)
        want_bcast = group;
    unsigned ifindex = 0;
    bool bcast_ok = false;
    bosun_status_t st = resolve_interface(ifn, want_bcast, &ifaddr, &ifindex, &bcast_ok, err);
    if (st != BOSUN_OK)
        return st;
    if (!multicast && !bcast_ok)
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "networking.address %s is neither multicast (224.0.0.0/4) nor 255.255.255.255 "
                          "nor the broadcast address of interface '%s'",
                          net->address, ifn);

    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    mcast_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory opening the election socket");
    m->dst = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)net->port),
                                  .sin_addr = group};
    m->rx_loss_pct = net->rx_loss_pct;
    m->tx_loss_pct = net->tx_loss_pct;
    m->rx_error_pct = net->rx_error_pct;
    m->tx_error_pct = net->tx_error_pct;
    bosun_rng_seed(&m->rng);
    char ifaddr_s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ifaddr, ifaddr_s, sizeof ifaddr_s);
    snprintf(m->desc, sizeof m->desc, "%s:%d on %s (%s)", net->address, net->port, ifn, ifaddr_s);

    m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->fd < 0) {
        st = bosun_errf(err, BOSUN_ERR_SYS, "cannot create the election socket: %s", strerror(errno));
        free(m);
        return st;
    }
    /* Several agents on one host share the port. */
    st = set_int(m->fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", ifn, err);
    if (st == BOSUN_OK)
        st = set_int(m->fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", ifn, err);
    if (st == BOSUN_OK && net->tos != 0)
        st = set_int(m->fd, IPPROTO_IP, IP_TOS, net->tos, "IP_TOS", ifn, err);
    if (st == BOSUN_OK)
        st = multicast ? setup_multicast(m, net, ifaddr, ifindex, err) : setup_broadcast(m, net, err);
    if (st != BOSUN_OK) {
        mcast_close(m);
        return st;
    }
    *out = m;
    return BOSUN_OK;
}

void mcast_close(mcast_t *m)
{
    if (m == NULL)
        return;
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}

int mcast_fd(const mcast_t *m) { return m->fd; }

const char *mcast_describe(const mcast_t *m) { return m->desc; }

bosun_status_t mcast_send(mcast_t *m, const uint8_t *buf, size_t len)
{
    if (rng_chance(m, m->tx_loss_pct)) {
        m->stats.tx_dropped_sim++;
        return BOSUN_OK;
    }
    uint8_t *copy = NULL;
    if (len > 0 && rng_chance(m, m->tx_error_pct)) {
        copy = malloc(len);
        if (copy == NULL)
            return BOSUN_ERR_NOMEM;
        memcpy(copy, buf, len);
        corrupt_one_byte(m, copy, len);
        m->stats.tx_corrupted_sim++;
        buf = copy;
    }
    ssize_t n;
    do
        n = sendto(m->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&m->dst,
                   sizeof m->dst);
    while (n < 0 && errno == EINTR);
    free(copy);
    if (n < 0 || (size_t)n != len) {
        m->stats.tx_errors++;
        return BOSUN_ERR_IO;
    }
    m->stats.tx_packets++;
    m->stats.tx_bytes += len;
    return BOSUN_OK;
}

long mcast_recv(mcast_t *m, uint8_t *buf, size_t cap)
{
    ssize_t n;
    do
        n = recvfrom(m->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, NULL, NULL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        m->stats.rx_errors++;
        return -1;
    }
    if ((size_t)n > cap) {
        /* MSG_TRUNC reports the full length: the datagram did not fit. */
        m->stats.rx_errors++;
        errno = EMSGSIZE;
        return -1;
    }
    if (rng_chance(m, m->rx_loss_pct)) {
        m->stats.rx_dropped_sim++;
        return 0;
    }
    if (n > 0 && rng_chance(m, m->rx_error_pct)) {
        corrupt_one_byte(m, buf, (size_t)n);
        m->stats.rx_corrupted_sim++;
    }
    m->stats.rx_packets++;
    m->stats.rx_bytes += (uint64_t)n;
    return (long)n;
}

void mcast_stats(const mcast_t *m, mcast_stats_t *out) { *out = m->stats; }
