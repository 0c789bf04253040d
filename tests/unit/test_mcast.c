/*
 * test_mcast.c - agent/mcast.c on the loopback interface only: multicast
 * delivery to every member (loop on), counters, simulated tx/rx loss and
 * corruption, oversize datagrams, interface and address errors, and
 * broadcast tied to `lo` with SO_BINDTODEVICE.
 *
 * Safety: every socket here is tied to lo (IP_MULTICAST_IF / membership on
 * 127.0.0.1, or SO_BINDTODEVICE lo, checked before anything is sent), so no
 * datagram leaves the machine. Every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mcast.h"

#define GROUP "239.255.85.99"
#define QUIET_MS 200

static char lo_name[] = "lo";
static char group_addr[] = GROUP;

/* A free UDP port: bind 127.0.0.1:0, read it back, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static bosun_net_config_t net_lo(char *address, int port)
{
    bosun_net_config_t n;
    memset(&n, 0, sizeof n);
    n.interface_name = lo_name;
    n.address = address;
    n.port = port;
    n.ttl = 1;
    return n;
}

static mcast_t *open_ok(const bosun_net_config_t *n)
{
    mcast_t *m = NULL;
    bosun_err_t err = {0};
    bosun_status_t st = mcast_open(n, &m, &err);
    if (st != BOSUN_OK)
        fail_msg("mcast_open: %s", err.msg);
    assert_non_null(m);
    return m;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits up to timeout_ms for one datagram that mcast_recv returns (> 0);
 * returns its length, or 0 at the deadline. Datagrams dropped by simulated
 * loss (mcast_recv 0) are skipped.
 */
static long recv_wait(mcast_t *m, uint8_t *buf, size_t cap, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        long n = mcast_recv(m, buf, cap);
        if (n != 0)
            return n;
        int64_t left = end - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = mcast_fd(m), .events = POLLIN};
        (void)poll(&p, 1, (int)left);
    }
}

static void test_loop_delivers_to_every_member(void **state)
{
    (void)state;
    int port = free_port();
    bosun_net_config_t n = net_lo(group_addr, port);
    mcast_t *a = open_ok(&n);
    n.tos = 0xb8;
    mcast_t *b = open_ok(&n);
    int tos = 0;
    socklen_t tos_len = sizeof tos;
    assert_int_equal(getsockopt(mcast_fd(b), IPPROTO_IP, IP_TOS, &tos, &tos_len), 0);
    assert_int_equal(tos, 0xb8);
    char want[64];
    snprintf(want, sizeof want, GROUP ":%d on lo (127.0.0.1)", port);
    assert_string_equal(mcast_describe(a), want);

    static const uint8_t msg[] = "bosun election datagram";
    assert_int_equal(mcast_send(a, msg, sizeof msg), BOSUN_OK);
    assert_int_equal(mcast_send(a, msg, 5), BOSUN_OK);
    uint8_t buf[256];
    mcast_t *both[] = {a, b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(recv_wait(both[i], buf, sizeof buf, 2000), sizeof msg);
        assert_memory_equal(buf, msg, sizeof msg);
        assert_int_equal(recv_wait(both[i], buf, sizeof buf, 2000), 5);
        /* Exactly one copy of each. */
        assert_int_equal(recv_wait(both[i], buf, sizeof buf, QUIET_MS), 0);
    }
    mcast_stats_t sa, sb;
    mcast_stats(a, &sa);
    mcast_stats(b, &sb);
    assert_int_equal(sa.tx_packets, 2);
    assert_int_equal(sa.tx_bytes, sizeof msg + 5);
    assert_int_equal(sa.rx_packets, 2);
    assert_int_equal(sa.rx_bytes, sizeof msg + 5);
    assert_int_equal(sb.tx_packets, 0);
    assert_int_equal(sb.rx_packets, 2);
    assert_int_equal(sb.rx_bytes, sizeof msg + 5);
    assert_int_equal(sa.tx_errors + sa.rx_errors + sb.rx_errors, 0);

    /* The group socket does not hear unicast to the port. */
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(u >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    (void)sendto(u, msg, sizeof msg, 0, (struct sockaddr *)&to, sizeof to);
    close(u);
    assert_int_equal(recv_wait(b, buf, sizeof buf, QUIET_MS), 0);
    mcast_close(a);
    mcast_close(b);
}

/*
 * 100% simulated loss on the sender (on_tx) or the receiver: the receiver
 * gets nothing within QUIET_MS, and the losing side counts every datagram.
 */
static void total_loss(bool on_tx)
{
    bosun_net_config_t n = net_lo(group_addr, free_port());
    mcast_t *clean = open_ok(&n);
    if (on_tx)
        n.tx_loss_pct = 100;
    else
        n.rx_loss_pct = 100;
    mcast_t *lossy = open_ok(&n);
    mcast_t *tx = on_tx ? lossy : clean, *rx = on_tx ? clean : lossy;
    static const uint8_t msg[] = "lost";
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcast_send(tx, msg, sizeof msg), BOSUN_OK);
    uint8_t buf[64];
    assert_int_equal(recv_wait(rx, buf, sizeof buf, QUIET_MS), 0);
    mcast_stats_t st, sr;
    mcast_stats(tx, &st);
    mcast_stats(rx, &sr);
    assert_int_equal(st.tx_dropped_sim, on_tx ? 3 : 0);
    assert_int_equal(st.tx_packets, on_tx ? 0 : 3);
    assert_int_equal(sr.rx_dropped_sim, on_tx ? 0 : 3);
    assert_int_equal(sr.rx_packets, 0);
    assert_int_equal(sr.rx_bytes, 0);
    mcast_close(clean);
    mcast_close(lossy);
}

static void test_tx_loss_sends_nothing(void **state)
{
    (void)state;
    total_loss(true);
}

static void test_rx_loss_receives_nothing(void **state)
{
    (void)state;
    total_loss(false);
}

/* Asserts got differs from want in exactly one byte. */
static void assert_one_byte_differs(const uint8_t *got, const uint8_t *want, size_t len)
{
    int diff = 0;
    for (size_t i = 0; i < len; i++)
        diff += got[i] != want[i];
    assert_int_equal(diff, 1);
}

static void test_rx_error_corrupts(void **state)
{
    (void)state;
    bosun_net_config_t n = net_lo(group_addr, free_port());
    mcast_t *tx = open_ok(&n);
    n.rx_error_pct = 100;
    mcast_t *rx = open_ok(&n);
    static const uint8_t msg[] = "spoiled on arrival";
    uint8_t buf[64];
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mcast_send(tx, msg, sizeof msg), BOSUN_OK);
        assert_int_equal(recv_wait(rx, buf, sizeof buf, 2000), sizeof msg);
        assert_one_byte_differs(buf, msg, sizeof msg);
    }
    mcast_stats_t s;
    mcast_stats(rx, &s);
    assert_int_equal(s.rx_corrupted_sim, 20);
    assert_int_equal(s.rx_packets, 20);
    /* The sender's own copy is intact. */
    assert_int_equal(recv_wait(tx, buf, sizeof buf, 2000), sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    mcast_close(tx);
    mcast_close(rx);
}

static void test_tx_error_corrupts(void **state)
{
    (void)state;
    bosun_net_config_t n = net_lo(group_addr, free_port());
    mcast_t *rx = open_ok(&n);
    n.tx_error_pct = 100;
    mcast_t *tx = open_ok(&n);
    uint8_t msg[32], keep[32], buf[64];
    memset(msg, 0x5a, sizeof msg);
    memcpy(keep, msg, sizeof msg);
    assert_int_equal(mcast_send(tx, msg, sizeof msg), BOSUN_OK);
    assert_memory_equal(msg, keep, sizeof msg); /* the caller's buffer is untouched */
    assert_int_equal(recv_wait(rx, buf, sizeof buf, 2000), sizeof msg);
    assert_one_byte_differs(buf, msg, sizeof msg);
    mcast_stats_t s;
    mcast_stats(tx, &s);
    assert_int_equal(s.tx_corrupted_sim, 1);
    assert_int_equal(s.tx_packets, 1);
    mcast_close(tx);
    mcast_close(rx);
}

static void test_oversize_datagram_is_error(void **state)
{
    (void)state;
    bosun_net_config_t n = net_lo(group_addr, free_port());
    mcast_t *a = open_ok(&n);
    uint8_t msg[100] = {1}, buf[100];
    assert_int_equal(mcast_send(a, msg, sizeof msg), BOSUN_OK);
    long r = 0;
    int64_t end = now_ms() + 2000;
    while ((r = mcast_recv(a, buf, 10)) == 0 && now_ms() < end) {
        struct pollfd p = {.fd = mcast_fd(a), .events = POLLIN};
        (void)poll(&p, 1, 100);
    }
    assert_int_equal(r, -1);
    assert_int_equal(errno, EMSGSIZE);
    mcast_stats_t s;
    mcast_stats(a, &s);
    assert_int_equal(s.rx_errors, 1);
    assert_int_equal(s.rx_packets, 0);
    /* The datagram is gone; the socket carries on. */
    assert_int_equal(mcast_recv(a, buf, sizeof buf), 0);
    mcast_close(a);
}

static void expect_open_error(bosun_net_config_t *n, const char *fragment)
{
    mcast_t *m = (mcast_t *)&m;
    bosun_err_t err = {0};
    assert_int_not_equal(mcast_open(n, &m, &err), BOSUN_OK);
    assert_null(m);
    if (strstr(err.msg, fragment) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, fragment);
}

static void test_open_errors(void **state)
{
    (void)state;
    char nonexistent[] = "nonexistent0", bad_addr[] = "not-an-address", unicast[] = "127.0.0.2";
    bosun_net_config_t n = net_lo(group_addr, free_port());
    n.interface_name = nonexistent;
    expect_open_error(&n, "interface 'nonexistent0' not found");

    n = net_lo(bad_addr, 8513);
    expect_open_error(&n, "not-an-address");
    n = net_lo(unicast, 8513);
    expect_open_error(&n, "neither multicast");
    n = net_lo(group_addr, 0);
    expect_open_error(&n, "port 0");
    mcast_close(NULL);
}

/* The device the socket is bound to, "" if none. */
static void bound_device(int fd, char *out, socklen_t cap)
{
    memset(out, 0, cap);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, out, &cap), 0);
}

static void test_broadcast_on_lo(void **state)
{
    (void)state;
    char bcast[] = "255.255.255.255";
    int port = free_port();
    bosun_net_config_t n = net_lo(bcast, port);
    mcast_t *a = NULL, *b = NULL;
    bosun_err_t err = {0};
    bosun_status_t st = mcast_open(&n, &a, &err);
    if (st != BOSUN_OK) {
        /* Only an unprivileged run may be refused, and it must say why. */
        print_message("broadcast refused (euid %d): %s\n", (int)geteuid(), err.msg);
        assert_int_not_equal(geteuid(), 0);
        assert_non_null(strstr(err.msg, "SO_BINDTODEVICE"));
        assert_non_null(strstr(err.msg, "'lo'"));
        assert_null(a);
        return;
    }
    /* Linux >= 5.7 lets unprivileged sockets bind a device too. */
    print_message("broadcast on lo opened (euid %d); round trip\n", (int)geteuid());
    b = open_ok(&n);
    char dev[IFNAMSIZ];
    bound_device(mcast_fd(a), dev, sizeof dev);
    assert_string_equal(dev, "lo"); /* checked before anything is sent */
    bound_device(mcast_fd(b), dev, sizeof dev);
    assert_string_equal(dev, "lo");
    char want[64];
    snprintf(want, sizeof want, "255.255.255.255:%d on lo (127.0.0.1)", port);
    assert_string_equal(mcast_describe(a), want);

    static const uint8_t msg[] = "broadcast bid";
    assert_int_equal(mcast_send(a, msg, sizeof msg), BOSUN_OK);
    uint8_t buf[64];
    assert_int_equal(recv_wait(b, buf, sizeof buf, 2000), sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    assert_int_equal(recv_wait(a, buf, sizeof buf, 2000), sizeof msg);
    assert_int_equal(recv_wait(b, buf, sizeof buf, QUIET_MS), 0);
    mcast_close(a);
    mcast_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_delivers_to_every_member),
        cmocka_unit_test(test_tx_loss_sends_nothing),
        cmocka_unit_test(test_rx_loss_receives_nothing),
        cmocka_unit_test(test_rx_error_corrupts),
        cmocka_unit_test(test_tx_error_corrupts),
        cmocka_unit_test(test_oversize_datagram_is_error),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_broadcast_on_lo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
