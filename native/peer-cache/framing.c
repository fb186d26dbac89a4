/*
 * Request framing as a strict HTTP/1.1 server reads it, checked before uWS.js 20.30 reads it.
 *
 * Why: uWS's own parser is lax where a proxy must not be. Its chunk-size reader takes any byte
 * above 0x20 as a digit (';' as 11, 'g' as 16), so `0;ext` is a chunk of 0xBADB bytes; it skips
 * the two bytes after a chunk's data without looking, reads to the next LF whatever follows the
 * digits, and takes trailers as the next request. Behind a front end that passes chunk framing
 * on as received, one client's request could then swallow the next request on that connection,
 * another client's, cookies and all (request smuggling, RFC 9112 section 11.2). Fixing that
 * takes the bytes as they arrive: uWS hands the ingress only decoded body data.
 *
 * What: every read uWS makes from a plain-HTTP client connection passes through framing_feed()
 * first (peer_cache.c's recv hook), which follows each request's head to its end and its body
 * through Content-Length or chunked framing, and refuses the connection at the first byte where
 * a strict reader and uWS could disagree on where a request ends: a chunk extension, a bad or
 * over-long chunk size, anything but CRLF after a chunk's data, trailers, bare CR or LF, an
 * obs-fold line, whitespace before a field's colon, Content-Length beside Transfer-Encoding, or
 * differing Content-Lengths. Those are what HAProxy and NGINX answer 400; here the read fails and
 * uWS closes the connection (peer_cache.c answers 400 first where it safely can). A
 * Transfer-Encoding other than chunked, which the ingress answers 400 itself, may be the
 * connection's last request. Everything else is left to uWS and the ingress. It keeps a
 * few bytes of state per connection and allocates nothing.
 *
 * It stops reading a connection that turns out not to carry HTTP/1.1 requests: one whose first
 * byte starts a TLS record (over TLS, uWS decrypts inside its own binary, out of reach of the
 * hook, so its parser is all there is), and one the ingress upgrades to a WebSocket (told by
 * peer_cache.c's asCallback, which runs the upgrade). Until the upgrade, a handshake's connection
 * is read as HTTP/1.1 like any other: a refused handshake leaves it one.
 */
#include "framing.h"

#include <string.h>

enum {
  FRESH, /* Nothing read yet: a TLS handshake or a request. */
  LINE_START, /* Before a request line (an empty line here is allowed, RFC 9112 section 2.2). */
  LEADING_LF,
  REQUEST_LINE,
  REQUEST_LINE_LF,
  FIELD_START,
  FIELD_NAME,
  FIELD_VALUE,
  FIELD_LF,
  HEAD_END_LF,
  BODY,
  CHUNK_SIZE,
  CHUNK_SIZE_LF,
  CHUNK_DATA,
  CHUNK_DATA_CR,
  CHUNK_DATA_LF,
  LAST_CR,
  LAST_LF,
  OPAQUE,
  REFUSED,
};

enum { FIELD_OTHER, FIELD_LENGTH, FIELD_CODING };

#define FLAG_LENGTH 1u
#define FLAG_CHUNKED 2u
#define FLAG_CODING 4u
/* The ingress answers this request 400 and closes: nothing may follow it (see end_field). */
#define FLAG_LAST 8u

#define NAME_TOO_LONG 0xFF
/* 16 hex digits would overflow uint64_t; uWS's own limit is lower still. */
#define MAX_CHUNK_DIGITS 15
/* TLS records begin with their content type; a handshake's is 22. */
#define TLS_HANDSHAKE 0x16

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int name_is(const framing_t *f, const char *name) {
  size_t n = strlen(name);
  return f->length == n && memcmp(f->buf, name, n) == 0;
}

/*
 * The value of a field the check reads, its trailing whitespace dropped: 1 if it passes. After a
 * Content-Length's digits only spaces, as llhttp (Node's parser) allows; RFC 9110 would allow a
 * tab too, which no client sends and llhttp refuses.
 */
static int end_field(framing_t *f) {
  while (f->length > 0 && (f->buf[f->length - 1] == ' ' || (f->field != FIELD_LENGTH && f->buf[f->length - 1] == '\t'))) f->length--;
  if (f->field == FIELD_LENGTH) {
    if (f->length == 0 || f->length > 18) return 0;
    uint64_t value = 0;
    for (uint8_t i = 0; i < f->length; i++) {
      if (f->buf[i] < '0' || f->buf[i] > '9') return 0;
      value = value * 10 + (uint64_t)(f->buf[i] - '0');
    }
    if ((f->flags & FLAG_LENGTH) && value != f->content_length) return 0;
    f->flags |= FLAG_LENGTH;
    f->content_length = value;
  } else if (f->field == FIELD_CODING) {
    /*
     * uWS reads a chunked body whatever the codings; the ingress answers any but one field of
     * chunked alone with 400 and closes. The body is read as uWS reads it, so that the 400 goes
     * out, and nothing after it passes: uWS would parse it while the connection closes.
     */
    if ((f->flags & FLAG_CODING) || f->length != 7 || memcmp(f->buf, "chunked", 7) != 0) f->flags |= FLAG_LAST;
    f->flags |= FLAG_CODING | FLAG_CHUNKED;
  }
  return 1;
}

/* At the head's last LF: what comes after it. 0 if the head's framing is refused. */
static int end_head(framing_t *f) {
  if ((f->flags & FLAG_CHUNKED) && (f->flags & FLAG_LENGTH)) return 0;
  if (f->flags & FLAG_CHUNKED) {
    f->state = CHUNK_SIZE;
    f->remaining = 0;
    f->digits = 0;
  } else if (f->content_length > 0) {
    f->state = BODY;
    f->remaining = f->content_length;
  } else {
    f->state = LINE_START;
    f->ended = 1;
  }
  return 1;
}

void framing_stop(framing_t *f) {
  if (f->state != REFUSED) f->state = OPAQUE;
}

int framing_opaque(const framing_t *f) {
  return f->state == OPAQUE;
}

int framing_between_requests(const framing_t *f) {
  return f->state == FRESH || f->state == LINE_START || f->state == LEADING_LF;
}

size_t framing_feed(framing_t *f, const unsigned char *data, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = data[i];
    switch (f->state) {
      case OPAQUE:
        return n;
      case REFUSED:
        return i;
      case FRESH:
        if (c == TLS_HANDSHAKE) {
          f->state = OPAQUE;
          return n;
        }
        f->state = LINE_START;
        continue;
      case LINE_START:
        if (f->flags & FLAG_LAST) goto refuse;
        if (c == '\r') {
          f->state = LEADING_LF;
          break;
        }
        f->flags = 0;
        f->content_length = 0;
        f->state = REQUEST_LINE;
        continue;
      case LEADING_LF:
        if (c != '\n') goto refuse;
        f->state = LINE_START;
        break;
      case REQUEST_LINE:
        if (c == '\r') f->state = REQUEST_LINE_LF;
        else if (c == '\n') goto refuse;
        break;
      case REQUEST_LINE_LF:
      case FIELD_LF:
        if (c != '\n') goto refuse;
        if (f->state == FIELD_LF && !end_field(f)) goto refuse;
        f->state = FIELD_START;
        break;
      case FIELD_START:
        if (c == '\r') {
          f->state = HEAD_END_LF;
          break;
        }
        /* A line that starts with whitespace continues the last (obs-fold), which uWS misreads. */
        if (is_space(c) || c == ':' || c == '\n') goto refuse;
        f->length = 0;
        f->state = FIELD_NAME;
        continue;
      case FIELD_NAME:
        if (c == ':') {
          f->field = name_is(f, "content-length") ? FIELD_LENGTH : name_is(f, "transfer-encoding") ? FIELD_CODING : FIELD_OTHER;
          f->length = 0;
          f->state = FIELD_VALUE;
          break;
        }
        if (is_space(c) || c == '\r' || c == '\n') goto refuse;
        if (f->length < sizeof f->buf) f->buf[f->length++] = (char)lower(c);
        else f->length = NAME_TOO_LONG;
        break;
      case FIELD_VALUE:
        if (c == '\r') {
          f->state = FIELD_LF;
          break;
        }
        if (c == '\n') goto refuse;
        if (f->field != FIELD_OTHER && !(f->length == 0 && is_space(c))) {
          if (f->length == sizeof f->buf) goto refuse;
          f->buf[f->length++] = (char)lower(c);
        }
        break;
      case HEAD_END_LF:
        if (c != '\n' || !end_head(f)) goto refuse;
        break;
      case BODY:
      case CHUNK_DATA: {
        size_t take = n - i < f->remaining ? n - i : (size_t)f->remaining;
        f->remaining -= take;
        i += take;
        if (f->remaining == 0) {
          f->ended |= f->state == BODY;
          f->state = f->state == BODY ? LINE_START : CHUNK_DATA_CR;
        }
        continue;
      }
      case CHUNK_SIZE: {
        if (c == '\r' && f->digits > 0) {
          f->state = CHUNK_SIZE_LF;
          break;
        }
        int digit = hex_value(c);
        if (digit < 0 || f->digits == MAX_CHUNK_DIGITS) goto refuse;
        f->remaining = f->remaining * 16 + (uint64_t)digit;
        f->digits++;
        break;
      }
      case CHUNK_SIZE_LF:
        if (c != '\n') goto refuse;
        f->state = f->remaining == 0 ? LAST_CR : CHUNK_DATA;
        break;
      case CHUNK_DATA_CR:
        if (c != '\r') goto refuse;
        f->state = CHUNK_DATA_LF;
        break;
      case CHUNK_DATA_LF:
        if (c != '\n') goto refuse;
        f->state = CHUNK_SIZE;
        f->digits = 0;
        break;
      case LAST_CR:
        /* uWS drops two bytes after the last chunk, whatever they are: trailers are refused. */
        if (c != '\r') goto refuse;
        f->state = LAST_LF;
        break;
      case LAST_LF:
        if (c != '\n') goto refuse;
        f->state = LINE_START;
        f->ended = 1;
        break;
    }
    i++;
  }
  return n;
refuse:
  f->refused_in = f->state;
  f->state = REFUSED;
  return i;
}

int framing_fresh(const framing_t *f) {
  return f->state == FRESH;
}

const char *framing_refusal(const framing_t *f) {
  switch (f->refused_in) {
    case LEADING_LF:
    case REQUEST_LINE:
    case REQUEST_LINE_LF:
      return "a bare CR or LF in the request line";
    case FIELD_START:
      return "a field line that starts with whitespace (obs-fold) or a colon";
    case FIELD_NAME:
      return "whitespace or a line end in a field name";
    case FIELD_VALUE:
    case FIELD_LF:
      return f->field == FIELD_LENGTH ? "an invalid Content-Length, or two that differ" : "a bare CR or LF in a field line";
    case HEAD_END_LF:
      return (f->flags & FLAG_CHUNKED) && (f->flags & FLAG_LENGTH) ? "Content-Length beside Transfer-Encoding" : "a bare CR at the end of the head";
    case CHUNK_SIZE:
    case CHUNK_SIZE_LF:
      return "a chunk size line that is not hex digits and CRLF alone (chunk extensions are not taken)";
    case CHUNK_DATA_CR:
    case CHUNK_DATA_LF:
      return "chunk data not followed by CRLF";
    case LAST_CR:
    case LAST_LF:
      return "trailer fields after the last chunk (not taken)";
    default:
      return "malformed request framing";
  }
}
