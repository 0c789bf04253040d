/*
 * inbox.h - inmsg.txt: the operators' way to command the fleet.
 *
 * The file holds steward's drops: JSON arrays of message objects, appended
 * one after another (`cat m.json >> inmsg.txt`). Central follows it with
 * inotify and never truncates it in place (steward lost appends made between
 * its read and its truncate). It reads from a persisted offset: the store
 * commits the accepted messages and the new offset in one transaction, so
 * after a crash nothing is lost and nothing is read twice. When everything
 * was read and the file has been quiet for a while, it is renamed aside and
 * drained (a writer that had it open may still append) before it is deleted;
 * a new inmsg.txt starts at offset 0.
 *
 * Parsing (inbox_parse) is separate from the file, for tests and fuzzing:
 *  - each complete drop is one JSON array; each element an object with
 *    toNode or toNodes, method, optional data (array of strings),
 *    commandOrEvent ("command" default, or "event"), ackTimeout, retries,
 *    retryWait, methodTimeout, ttl (seconds; defaults from the config);
 *  - a drop that is not valid JSON is rejected whole, and parsing resumes at
 *    the next line that starts with '[';
 *  - an element with a bad field is rejected with the reason; the valid
 *    elements of the same drop still go;
 *  - toNodes makes one message per node;
 *  - an incomplete drop at the end waits for more data, unless `final`.
 */
#ifndef BOSUN_CENTRAL_INBOX_H
#define BOSUN_CENTRAL_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "message.h"
#include "status.h"

/* Largest single drop; a larger one is rejected. */
#define INBOX_MAX_DROP (8u * 1024u * 1024u)

/* The follower's timing, in ms of the caller's now_ms clock. */
#define INBOX_ROTATE_BYTES (64u * 1024u) /* rotate a fully read file at least this big */
#define INBOX_ROTATE_QUIET_MS 2000u      /* ... once it has not grown for this long */
#define INBOX_DRAIN_QUIET_MS 10000u      /* delete a drained file quiet this long */
#define INBOX_FINAL_QUIET_MS 10000u      /* an incomplete tail quiet this long is rejected */

typedef struct {
    char *reason;   /* "drop 3, element 2: toNode 'a.b' has a character not allowed ..." */
    char *text;     /* the offending JSON text (at most 4 KiB of it) */
} inbox_reject_t;

typedef struct {
    size_t consumed;        /* bytes of the input fully handled */
    message_t **messages;   /* accepted, in file order; ids not yet assigned */
    size_t n_messages;
    inbox_reject_t *rejects;
    size_t n_rejects;
    size_t drops;           /* complete drops seen */
} inbox_batch_t;

void inbox_batch_init(inbox_batch_t *b);
void inbox_batch_free(inbox_batch_t *b);

/*
 * Parses buf[0..len) (not NUL-terminated). Appends messages and rejects to
 * *out and sets out->consumed. A trailing incomplete drop is left
 * unconsumed unless final is true (then it is rejected as incomplete).
 * first_drop numbers drops in reasons. Returns BOSUN_ERR_NOMEM only.
 */
bosun_status_t inbox_parse(const char *buf, size_t len, bool final, size_t first_drop,
                           const bosun_delivery_config_t *defaults, inbox_batch_t *out);

typedef struct inbox inbox_t;

/* Where reading stands: the file identity and the bytes consumed. */
typedef struct {
    uint64_t inode;
    uint64_t offset;
    uint64_t draining_inode;   /* a renamed-aside file still being drained, or 0 */
    uint64_t draining_offset;
} inbox_position_t;

/*
 * Opens the inbox for path (e.g. <dataDir>/inmsg.txt), creating the file if
 * missing, resuming at pos (from the store; zeroed for a fresh start).
 */
bosun_status_t inbox_open(const char *path, const inbox_position_t *pos,
                          const bosun_delivery_config_t *defaults, inbox_t **out, bosun_err_t *err);
void inbox_close(inbox_t *ib);

/* An inotify fd to poll; readable when the file (or its directory) changed. */
int inbox_fd(const inbox_t *ib);

/*
 * When inbox_tick and inbox_read should run next even if inbox_fd() stays
 * quiet (a rotation, a deletion, an incomplete tail to give up on), in the
 * now_ms clock; UINT64_MAX when nothing is pending.
 */
uint64_t inbox_next_deadline(const inbox_t *ib);

/* Rotates once the file holds at least `bytes` (INBOX_ROTATE_BYTES); for tests. */
void inbox_set_rotate_bytes(inbox_t *ib, uint64_t bytes);

/*
 * Reads what is new (draining a renamed-aside file first), parses it into
 * *out and returns the position to commit together with the messages. Call
 * inbox_committed() once the store has committed them; until then the same
 * data is offered again. *more is set when more data is waiting (call again).
 */
bosun_status_t inbox_read(inbox_t *ib, uint64_t now_ms, inbox_batch_t *out, inbox_position_t *pos,
                          bool *more, bosun_err_t *err);
void inbox_committed(inbox_t *ib, const inbox_position_t *pos);

/*
 * Housekeeping at now_ms: renames a fully read, quiet file aside; deletes a
 * drained one. Returns the position to commit if it changed (*changed).
 */
bosun_status_t inbox_tick(inbox_t *ib, uint64_t now_ms, inbox_position_t *pos, bool *changed,
                          bosun_err_t *err);

/*
 * Appends one drop to path in a single write (O_APPEND), as `bosun-central
 * send` does; concurrent writers never interleave inside it.
 */
bosun_status_t inbox_append(const char *path, const char *drop, size_t len, bosun_err_t *err);

#endif
