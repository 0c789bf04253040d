/*
 * codec.h - bosun's protobuf messages as JSON, for people.
 *
 * One reflective converter walks protobuf-c descriptors, so every message in
 * proto/bosun.proto (and every field added later) renders without further
 * code. Used by `watch`, the recorder, the HTTP API and tests.
 *
 * JSON mapping: field names as in the .proto (snake_case); enums as their
 * value name without the type prefix ("ACTIVE", "OK"); 64-bit integers as
 * numbers when they fit in a signed 64-bit JSON integer, else as decimal
 * strings; bytes as a string when they are valid UTF-8, else as
 * {"base64": "..."}; repeated fields as arrays; fields holding their proto3
 * default are included (a person reading a heartbeat wants to see 0).
 *
 * Decoding from the wire treats input as hostile: a size bound is checked
 * before protobuf-c sees a byte.
 */
#ifndef BOSUN_CODEC_H
#define BOSUN_CODEC_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "bosun.pb-c.h"
#include "status.h"

/* Largest payload any decoder accepts, unless the caller bounds it lower. */
#define BOSUN_CODEC_MAX_PAYLOAD (4u * 1024u * 1024u)

/* Renders msg as a new JSON object (caller owns the reference); NULL on OOM. */
json_t *bosun_codec_to_json(const ProtobufCMessage *msg);

/*
 * Builds a new message of type d from a JSON object as produced by
 * bosun_codec_to_json (missing fields keep their defaults). An unknown field,
 * a wrong type or an unknown enum name is BOSUN_ERR_DECODE with *err naming
 * the field path. On success *out is owned by the caller: free it with
 * protobuf_c_message_free_unpacked(*out, NULL).
 */
bosun_status_t bosun_codec_from_json(const ProtobufCMessageDescriptor *d, const json_t *obj,
                                     ProtobufCMessage **out, bosun_err_t *err);

/*
 * Unpacks len bytes as a message of type d. Fails with BOSUN_ERR_TOO_BIG when
 * len > max_len (0 means BOSUN_CODEC_MAX_PAYLOAD) and BOSUN_ERR_DECODE on
 * malformed input, naming the type. *out as for bosun_codec_from_json.
 */
bosun_status_t bosun_codec_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len,
                                  size_t max_len, ProtobufCMessage **out, bosun_err_t *err);

/*
 * Packs msg into a new malloc'd buffer (*out, *len); caller frees *out.
 */
bosun_status_t bosun_codec_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/*
 * The message type carried on a subject, per DESIGN.md "Subjects":
 *   <node>.event.heartbeat -> Heartbeat     <node>.event.bid -> ElectionPacket
 *   <node>.event.state -> StateChange       central.event.result -> Result
 *   central.event.nodeStatus -> NodeStatus  <node>.command.<m> -> Command
 *   <node>.event.<other> -> Event           anything else -> NULL
 */
const ProtobufCMessageDescriptor *bosun_codec_type_for_subject(const char *subject);

/*
 * Decodes a payload seen on `subject` and returns a new JSON object
 *   {"subject": ..., "type": "Heartbeat", "message": {...}}
 * For a subject with no known type, or a payload that does not decode, the
 * object holds "error" and "payload_base64" instead of "message", so a watcher
 * or the recorder never loses what it saw. NULL only on OOM.
 */
json_t *bosun_codec_subject_json(const char *subject, const void *buf, size_t len);

/* The short type name of d ("Heartbeat"). */
const char *bosun_codec_type_name(const ProtobufCMessageDescriptor *d);

/* The JSON name of enum value v ("OK" for ACK_STATUS_OK); "?" if unknown. */
const char *bosun_codec_enum_name(const ProtobufCEnumDescriptor *ed, int v);

/* Finds a message descriptor by short name ("Ack"); NULL if none. */
const ProtobufCMessageDescriptor *bosun_codec_type_by_name(const char *name);

#endif
