/*
 * recorder.h - every observed event, to rotated NDJSON files compressed in
 * the background (the Network State Recorder's pipeline, done without loss).
 *
 *   nats.c callback --push--> bounded queue --writer thread--> current .ndjson
 *                                                  | (rotated every storageInterval)
 *                                                  v
 *                                   compress queue --compressor thread--> .ndjson.gz
 *
 * - The callback only stamps the receive time, copies subject and payload
 *   into the queue (at most recorder.queueMax events) and wakes the writer.
 *   A full queue refuses the event, counts a drop and logs at a bounded
 *   rate; it never blocks nats.c's thread.
 * - The writer turns each event into one JSON line (bosun_codec_subject_json
 *   plus "received_ms"; an undecodable payload keeps its bytes as base64)
 *   and appends it to <dir>/YYYY_MM_DD_HH-MM-SS_events.ndjson, named after
 *   the UTC second the file was started. All subjects go to one "events"
 *   stream, so one file holds everything in arrival order and `replay
 *   --subject` selects. A name is never reused: a new file starts no
 *   earlier than the next second after the previous one's name.
 * - Write errors (ENOSPC, EIO, a directory that cannot be made) are logged
 *   at a bounded rate and counted; the events stay queued (a partial write
 *   is cut off again) and the writer retries every second, so recording
 *   resumes by itself. Only a queue that overflows meanwhile drops events.
 * - The compressor gzips a finished file (level 6) to <name>.ndjson.gz.tmp,
 *   fsyncs it, renames it to <name>.ndjson.gz and unlinks the .ndjson: a
 *   crash never leaves a half-written .gz under its final name. Files left
 *   as .ndjson by a crash are compressed when the recorder starts.
 * - Stopping (recorder_stop, also from recorder_free) drains the NATS
 *   subscriptions (every message the server sent before is still taken),
 *   writes the whole queue, closes and compresses the current file and any
 *   pending ones, and joins both threads; bounded by a timeout, after which
 *   what is left is logged (and an uncompressed .ndjson waits for the next
 *   start).
 *
 * The recorder has its own NATS connection, without no-echo, so central's
 * own central.event.result and central.event.nodeStatus are recorded too.
 */
#ifndef BOSUN_CENTRAL_RECORDER_H
#define BOSUN_CENTRAL_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "status.h"

/* How long recorder_free() lets the recorder finish its work. */
#define RECORDER_STOP_TIMEOUT_MS 30000

typedef struct recorder recorder_t;

/* Counters since start (for /metrics). Each is read atomically on its own. */
typedef struct {
    uint64_t received;      /* events accepted into the queue */
    uint64_t messages;      /* events written to .ndjson files */
    uint64_t bytes;         /* NDJSON bytes written */
    uint64_t files;         /* files compressed to .ndjson.gz */
    uint64_t drops;         /* events refused: queue full, or nats.c's slow-consumer drops */
    uint64_t write_errors;  /* failed directory creations, file opens, writes, compressions */
    uint64_t lost;          /* events still queued when a stop timed out */
    uint64_t queued;        /* events waiting to be written now */
    uint64_t pending_files; /* finished files waiting for compression now */
} recorder_stats_t;

/*
 * Starts the writer and compressor threads for cfg (borrowed only during
 * the call). Files go to cfg->dir, or <data_dir>/recorded when that is
 * empty. The directory is made when needed; failing to make it is a write
 * error retried every second, not a start failure. No subscription yet:
 * see recorder_subscribe(); recorder_push() works at once.
 * *out is owned by the caller (recorder_free).
 */
bosun_status_t recorder_new(const bosun_recorder_config_t *cfg, const char *data_dir,
                            const bosun_log_t *log, recorder_t **out, bosun_err_t *err);

/*
 * Opens the recorder's own NATS connection per nats (client_name shown by
 * the server) and subscribes to cfg->subjects given to recorder_new. Once
 * connected, waits (at most 2 s) until the server has the subscriptions.
 */
bosun_status_t recorder_subscribe(recorder_t *r, const bosun_nats_config_t *nats,
                                  const char *client_name, bosun_err_t *err);

/*
 * Queues one event seen on subject at received_ms (wall clock). Copies
 * subject and data; never blocks beyond a short lock. Returns false (and
 * counts a drop) when the queue is full or the recorder is stopping.
 * Thread-safe: this is what the NATS callback calls.
 */
bool recorder_push(recorder_t *r, const char *subject, const void *data, size_t len,
                   uint64_t received_ms);

/* Fills *out (zeroes when r is NULL). Thread-safe (takes the queue lock briefly). */
void recorder_stats(recorder_t *r, recorder_stats_t *out);

/* The directory the files go to (borrowed). */
const char *recorder_dir(const recorder_t *r);

/*
 * Stops as described above, waiting at most timeout_ms in all. Returns
 * BOSUN_OK when everything received was written and compressed,
 * BOSUN_ERR_TIMEOUT otherwise (logged). Idempotent.
 */
bosun_status_t recorder_stop(recorder_t *r, int timeout_ms);

/* recorder_stop(r, RECORDER_STOP_TIMEOUT_MS), then frees. NULL is a no-op. */
void recorder_free(recorder_t *r);

#endif
