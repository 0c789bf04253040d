/*
 * seal.h - sealing and opening election packets for the wire.
 *
 * With a cryptoPassword, the key is derived once with Argon2id (libsodium
 * crypto_pwhash, a fixed bosun salt, so every node derives the same key) and
 * each ElectionPacket is sealed with XChaCha20-Poly1305. The nonce is derived
 * from (instance_id, sequence), which travel in clear in the SealedPacket
 * envelope; a wrong key, a flipped bit, or a changed instance or sequence
 * fails authentication. Without a password packets travel in clear (the
 * agent warns loudly) and a receiver drops packets of the other kind.
 *
 * Opening follows STYLE.md habit 8: size check, envelope decode,
 * authenticate, inner decode, validate the fields' shape. Replay and
 * freshness are judged by the election core, which knows the peers.
 */
#ifndef BOSUN_AGENT_SEAL_H
#define BOSUN_AGENT_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "status.h"

/* Largest datagram we send or accept. */
#define SEAL_MAX_DATAGRAM 1400

typedef struct seal seal_t;

/* Why an incoming datagram was dropped (counted per reason). */
typedef enum {
    SEAL_OK = 0,
    SEAL_DROP_SIZE,       /* empty or larger than SEAL_MAX_DATAGRAM */
    SEAL_DROP_MALFORMED,  /* envelope or inner packet does not decode */
    SEAL_DROP_AUTH,       /* authentication failed: wrong key or tampered */
    SEAL_DROP_MODE,       /* clear packet while we have a key, or the reverse */
    SEAL_DROP_INVALID,    /* decoded, but a field is out of shape */
    SEAL_DROP_COUNT
} seal_verdict_t;

/* "ok", "size", "malformed", "auth", "mode", "invalid". */
const char *seal_verdict_str(seal_verdict_t v);

/*
 * Creates a sealer. password may be NULL or "" for clear text. Key
 * derivation takes a moment (Argon2id); do it once at start.
 */
bosun_status_t seal_new(const char *password, seal_t **out, bosun_err_t *err);

/* Frees, wiping the key; NULL is a no-op. */
void seal_free(seal_t *s);

/* True when packets are encrypted. */
bool seal_encrypted(const seal_t *s);

/*
 * Seals p (whose instance_id and sequence identify it) into buf (cap bytes);
 * *len receives the datagram size. BOSUN_ERR_TOO_BIG if it does not fit.
 */
bosun_status_t seal_packet(const seal_t *s, const Bosun__ElectionPacket *p, uint8_t *buf, size_t cap,
                           size_t *len);

/*
 * Opens a datagram. On SEAL_OK, *out is a new ElectionPacket (instance_id and
 * sequence filled from the envelope), to be freed with
 * bosun__election_packet__free_unpacked(*out, NULL). Validation: sender is a
 * valid node name, at most 1024 bids, every resource a valid name, states
 * within the enum, priority <= 256, no resource twice.
 */
seal_verdict_t seal_open(const seal_t *s, const uint8_t *buf, size_t len, Bosun__ElectionPacket **out);

/* Bounds seal_open enforces on a packet's fields. */
#define SEAL_MAX_BIDS 1024
#define SEAL_MAX_PRIORITY 256
#define SEAL_MAX_TX_INTERVAL_MS 60000

/*
 * The field checks seal_open applies after decoding (also exposed for tests
 * and for packets built locally): SEAL_OK or SEAL_DROP_INVALID. Besides the
 * checks listed at seal_open, tx_interval_ms must be at most
 * SEAL_MAX_TX_INTERVAL_MS.
 */
seal_verdict_t seal_validate(const Bosun__ElectionPacket *p);

#endif
