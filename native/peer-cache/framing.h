/*
 * A strict check of how a client's byte stream divides into HTTP/1.1 requests, run on every read
 * uWS makes from a plain-HTTP client connection, before uWS parses it (see framing.c).
 */
#ifndef WEIGHBRIDGE_FRAMING_H
#define WEIGHBRIDGE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

/* Per connection; all zero is a new connection. */
typedef struct {
  uint8_t state;
  /* Per request: FLAG_* below. */
  uint8_t flags;
  /* The field being read: FIELD_* in framing.c. */
  uint8_t field;
  /* Bytes in buf; NAME_TOO_LONG once a name outgrew it. */
  uint8_t length;
  /* Digits read of the current chunk size. */
  uint8_t digits;
  /* Whether a request's head ended on this connection: from then on the ingress may be answering. */
  uint8_t head_ended;
  /* Once refused: why (FAULT_* in framing.c). */
  uint8_t fault;
  /* Field lines of the current head. */
  uint8_t fields;
  /* The method, then the version; a field name, lowercased, then the value of a field the check reads. */
  char buf[24];
  /* Body bytes left: of a Content-Length body, or of a chunk's data. */
  uint64_t remaining;
  uint64_t content_length;
} framing_t;

/*
 * What a read must become before uWS parses it, for a request whose Content-Length has more than
 * the 9 digits uWS.js 20.30 reads (it closes the connection on more): the field's line is to say
 * `Transfer-Encoding: chunked` instead, and the body to come in chunks (rechunk.c does both).
 */
enum {
  /* The Content-Length line, whose LF is at `at`. */
  EDIT_LENGTH_LINE,
  /* Body bytes [at, at + length): one chunk. */
  EDIT_BODY,
  /* The body ends before `at`: the last chunk goes there. */
  EDIT_BODY_END,
};
typedef struct {
  uint8_t kind;
  size_t at;
  size_t length;
} framing_edit_t;

/* A read with more than this many edits is refused (it would hold several such requests). */
#define FRAMING_MAX_EDITS 8
typedef struct {
  unsigned count;
  int overflow;
  framing_edit_t edit[FRAMING_MAX_EDITS];
} framing_edits_t;

/*
 * Reads `n` more bytes of the connection. Returns n when every byte so far fits HTTP/1.1 framing
 * as uWS reads it and makes heads uWS answers, else the offset in this read of the first byte
 * that does not, and the connection is refused from then on. After a TLS record's first byte the rest of the connection
 * passes unread. Where the read must change for uWS (see above), `edits` (if not NULL) says how,
 * in the order of the read's bytes.
 */
size_t framing_feed(framing_t *f, const unsigned char *data, size_t n, framing_edits_t *edits);

/* Refuses the connection after a read it passed: its edits could not be made (FAULT_RECHUNK). */
void framing_refuse_rechunk(framing_t *f);

/* The connection no longer carries HTTP/1.1 requests (it became a WebSocket): the rest passes unread. */
void framing_stop(framing_t *f);

/* Whether the check has stopped reading this connection (TLS, or after an upgrade). */
int framing_opaque(const framing_t *f);

/* Whether the bytes so far end where a request may begin: none yet, or a whole request. */
int framing_between_requests(const framing_t *f);

/* Once refused, why, for the answer's body (given when no head had ended before the refused read: `head_ended`). */
const char *framing_refusal(const framing_t *f);

/* Once refused, the answer's status: 400, 413, 431, 501 or 505. */
int framing_status(const framing_t *f);

#endif
