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
 * uWS closes the connection (peer_cache.c answers first where it safely can). A
 * Transfer-Encoding other than chunked, which the ingress answers 400 itself, may be the
 * connection's last request.
 *
 * It also refuses the heads uWS would leave unanswered, so that their clients get a status that
 * says why instead of a silent close or a wait for uWS's idle timeout (about 12 s): a method uWS
 * does not know (501), an HTTP version other than 1.1 (505), a target that is not a path (the
 * absolute and asterisk forms), a space or control byte in the target, a field name with
 * characters other than letters, digits and '-', more than 48 fields (431), and no Host field
 * (which RFC 9112 section 3.2 asks to answer 400).
 *
 * A Content-Length of more than 9 digits (a body of 10^9 bytes or more, a 1 GiB upload), on which
 * uWS closes the connection without a word, passes, with edits that peer_cache.c makes to the
 * read before uWS parses it (rechunk.c): uWS then reads the body as chunked.
 *
 * Everything else is left to uWS and the ingress. It keeps a few bytes of state per connection
 * and allocates nothing.
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
  METHOD,
  TARGET_START,
  TARGET,
  VERSION,
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

/* Why a connection was refused (none while it is not): framing_t's `fault`, an index into `faults`. */
enum {
  FAULT_NONE,
  FAULT_LINE_END,
  FAULT_REQUEST_LINE,
  FAULT_METHOD,
  FAULT_TARGET_FORM,
  FAULT_TARGET_BYTE,
  FAULT_VERSION,
  FAULT_FIELD_START,
  FAULT_FIELD_NAME,
  FAULT_NAME_BYTE,
  FAULT_FIELD_COUNT,
  FAULT_FIELD_LINE,
  FAULT_LENGTH,
  FAULT_RECHUNK,
  FAULT_CODING,
  FAULT_HEAD_END,
  FAULT_LENGTH_AND_CODING,
  FAULT_NO_HOST,
  FAULT_CHUNK_SIZE,
  FAULT_CHUNK_END,
  FAULT_TRAILERS,
  FAULT_AFTER_LAST,
};

static const struct {
  uint16_t status;
  const char *reason;
} faults[] = {
  [FAULT_NONE] = { 0, "" },
  [FAULT_LINE_END] = { 400, "a bare CR or LF in the request line" },
  [FAULT_REQUEST_LINE] = { 400, "a malformed request line" },
  [FAULT_METHOD] = { 501, "a method other than GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE and PATCH (not supported)" },
  [FAULT_TARGET_FORM] = { 400, "a request target that is not a path starting with / (absolute and asterisk forms are not supported)" },
  [FAULT_TARGET_BYTE] = { 400, "a space or control byte in the request target" },
  [FAULT_VERSION] = { 505, "an HTTP version other than HTTP/1.1 (not supported)" },
  [FAULT_FIELD_START] = { 400, "a field line that starts with whitespace (obs-fold) or a colon" },
  [FAULT_FIELD_NAME] = { 400, "whitespace or a line end in a field name" },
  [FAULT_NAME_BYTE] = { 400, "a field name with characters other than letters, digits and - (not supported)" },
  [FAULT_FIELD_COUNT] = { 431, "more than 48 header fields (not supported)" },
  [FAULT_FIELD_LINE] = { 400, "a bare CR or LF in a field line" },
  [FAULT_LENGTH] = { 400, "an invalid Content-Length, or two that differ" },
  [FAULT_RECHUNK] = { 413, "a Content-Length of more than 9 digits that could not be re-framed (its line split over reads, given twice, or three such requests in one read): send such a body chunked" },
  [FAULT_CODING] = { 400, "a Transfer-Encoding other than chunked" },
  [FAULT_HEAD_END] = { 400, "a bare CR at the end of the head" },
  [FAULT_LENGTH_AND_CODING] = { 400, "Content-Length beside Transfer-Encoding" },
  [FAULT_NO_HOST] = { 400, "no Host field" },
  [FAULT_CHUNK_SIZE] = { 400, "a chunk size line that is not hex digits and CRLF alone (chunk extensions are not taken)" },
  [FAULT_CHUNK_END] = { 400, "chunk data not followed by CRLF" },
  [FAULT_TRAILERS] = { 400, "trailer fields after the last chunk (not taken)" },
  [FAULT_AFTER_LAST] = { 400, "a request after one whose Transfer-Encoding was refused" },
};

/* The methods uWS.js 20.30 answers; it closes the connection on any other, silently. */
static const char *const METHODS[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };

/* uWS.js 20.30 leaves a request with more fields unanswered (seen: 48 served, 49 not). */
#define MAX_FIELDS 48

#define FLAG_LENGTH 1u
#define FLAG_CHUNKED 2u
#define FLAG_CODING 4u
/* The ingress answers this request 400 and closes: nothing may follow it (see end_field). */
#define FLAG_LAST 8u
#define FLAG_HOST 16u
/* The Content-Length has more than the 9 digits uWS reads: the body is re-framed as chunked. */
#define FLAG_RECHUNK 32u
/* uWS.js 20.30 reads a Content-Length of at most this many digits. */
#define UWS_LENGTH_DIGITS 9

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

/* The characters uWS takes in a field name; RFC 9110's tokens allow more, which uWS leaves unanswered. */
static int is_name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* RFC 9110 section 5.6.2. */
static int is_token_byte(unsigned char c) {
  return is_name_byte(c) || (c != 0 && strchr("!#$%&'*+.^_`|~", c) != NULL);
}

static int name_is(const framing_t *f, const char *name) {
  size_t n = strlen(name);
  return f->length == n && memcmp(f->buf, name, n) == 0;
}

/*
 * The value of a field the check reads, its trailing whitespace dropped: the fault, if any. After
 * a Content-Length's digits only spaces, as llhttp (Node's parser) allows; RFC 9110 would allow a
 * tab too, which no client sends and llhttp refuses.
 */
static uint8_t end_field(framing_t *f) {
  while (f->length > 0 && (f->buf[f->length - 1] == ' ' || (f->field != FIELD_LENGTH && f->buf[f->length - 1] == '\t'))) f->length--;
  if (f->field == FIELD_LENGTH) {
    if (f->length == 0 || f->length > 18) return FAULT_LENGTH;
    uint64_t value = 0;
    for (uint8_t i = 0; i < f->length; i++) {
      if (f->buf[i] < '0' || f->buf[i] > '9') return FAULT_LENGTH;
      value = value * 10 + (uint64_t)(f->buf[i] - '0');
    }
    if ((f->flags & FLAG_LENGTH) && value != f->content_length) return FAULT_LENGTH;
    if (f->length > UWS_LENGTH_DIGITS) {
      /* One line is re-framed; a second would become a second Transfer-Encoding. */
      if (f->flags & FLAG_RECHUNK) return FAULT_RECHUNK;
      f->flags |= FLAG_RECHUNK;
    }
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
  return FAULT_NONE;
}

static int known_method(const framing_t *f) {
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
    if (name_is(f, METHODS[i])) return 1;
  }
  return 0;
}

/* At the end of the request line's version: the fault, if any. */
static uint8_t version_fault(const framing_t *f) {
  if (f->length == 8 && memcmp(f->buf, "HTTP/1.1", 8) == 0) return FAULT_NONE;
  int well_formed = f->length == 8 && memcmp(f->buf, "HTTP/", 5) == 0 && f->buf[5] >= '0' && f->buf[5] <= '9' && f->buf[6] == '.' && f->buf[7] >= '0' && f->buf[7] <= '9';
  return well_formed ? FAULT_VERSION : FAULT_REQUEST_LINE;
}

/* At the head's last LF: what comes after it, or the fault that refuses the head. */
static uint8_t end_head(framing_t *f) {
  if ((f->flags & FLAG_CHUNKED) && (f->flags & FLAG_LENGTH)) return FAULT_LENGTH_AND_CODING;
  if (!(f->flags & FLAG_HOST)) return FAULT_NO_HOST;
  f->head_ended = 1;
  if (f->flags & FLAG_CHUNKED) {
    f->state = CHUNK_SIZE;
    f->remaining = 0;
    f->digits = 0;
  } else if (f->content_length > 0) {
    f->state = BODY;
    f->remaining = f->content_length;
  } else {
    f->state = LINE_START;
  }
  return FAULT_NONE;
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

void framing_refuse_rechunk(framing_t *f) {
  f->fault = FAULT_RECHUNK;
  f->state = REFUSED;
}

static void add_edit(framing_edits_t *edits, uint8_t kind, size_t at, size_t length) {
  if (edits == NULL) return;
  if (edits->count == FRAMING_MAX_EDITS) {
    edits->overflow = 1;
    return;
  }
  edits->edit[edits->count++] = (framing_edit_t){ kind, at, length };
}

#define REFUSE(why) \
  do { \
    fault = (why); \
    goto refuse; \
  } while (0)

size_t framing_feed(framing_t *f, const unsigned char *data, size_t n, framing_edits_t *edits) {
  size_t i = 0;
  uint8_t fault;
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
        if (f->flags & FLAG_LAST) REFUSE(FAULT_AFTER_LAST);
        if (c == '\r') {
          f->state = LEADING_LF;
          break;
        }
        f->flags = 0;
        f->fields = 0;
        f->content_length = 0;
        f->length = 0;
        f->state = METHOD;
        continue;
      case LEADING_LF:
        if (c != '\n') REFUSE(FAULT_LINE_END);
        f->state = LINE_START;
        break;
      case METHOD:
        if (c == ' ' && f->length > 0) {
          if (!known_method(f)) REFUSE(FAULT_METHOD);
          f->state = TARGET_START;
          break;
        }
        if (c == '\r' || c == '\n') REFUSE(FAULT_LINE_END);
        if (!is_token_byte(c)) REFUSE(FAULT_REQUEST_LINE);
        /* Case counts in a method; one longer than the buffer is none uWS knows. */
        if (f->length < sizeof f->buf) f->buf[f->length++] = (char)c;
        else f->length = NAME_TOO_LONG;
        break;
      case TARGET_START:
        if (c != '/') REFUSE(FAULT_TARGET_FORM);
        f->state = TARGET;
        break;
      case TARGET:
        if (c == ' ') {
          f->length = 0;
          f->state = VERSION;
          break;
        }
        /* Bytes above 0x7f, which RFC 3986 does not allow either, uWS passes on; so does the check. */
        if (c < 0x21 || c == 0x7f) REFUSE(c == '\r' || c == '\n' ? FAULT_LINE_END : FAULT_TARGET_BYTE);
        break;
      case VERSION:
        if (c == '\r') {
          fault = version_fault(f);
          if (fault != FAULT_NONE) goto refuse;
          f->state = REQUEST_LINE_LF;
          break;
        }
        if (c == '\n') REFUSE(FAULT_LINE_END);
        if (f->length == sizeof f->buf) REFUSE(FAULT_REQUEST_LINE);
        f->buf[f->length++] = (char)c;
        break;
      case REQUEST_LINE_LF:
        if (c != '\n') REFUSE(FAULT_LINE_END);
        f->state = FIELD_START;
        break;
      case FIELD_LF:
        if (c != '\n') REFUSE(FAULT_FIELD_LINE);
        fault = end_field(f);
        if (fault != FAULT_NONE) goto refuse;
        if (f->field == FIELD_LENGTH && (f->flags & FLAG_RECHUNK)) add_edit(edits, EDIT_LENGTH_LINE, i, 0);
        f->state = FIELD_START;
        break;
      case FIELD_START:
        if (c == '\r') {
          f->state = HEAD_END_LF;
          break;
        }
        /* A line that starts with whitespace continues the last (obs-fold), which uWS misreads. */
        if (is_space(c) || c == ':' || c == '\n') REFUSE(FAULT_FIELD_START);
        if (++f->fields > MAX_FIELDS) REFUSE(FAULT_FIELD_COUNT);
        f->length = 0;
        f->state = FIELD_NAME;
        continue;
      case FIELD_NAME:
        if (c == ':') {
          f->field = name_is(f, "content-length") ? FIELD_LENGTH : name_is(f, "transfer-encoding") ? FIELD_CODING : FIELD_OTHER;
          if (name_is(f, "host")) f->flags |= FLAG_HOST;
          f->length = 0;
          f->state = FIELD_VALUE;
          break;
        }
        if (is_space(c) || c == '\r' || c == '\n') REFUSE(FAULT_FIELD_NAME);
        if (!is_name_byte(c)) REFUSE(FAULT_NAME_BYTE);
        if (f->length < sizeof f->buf) f->buf[f->length++] = (char)lower(c);
        else f->length = NAME_TOO_LONG;
        break;
      case FIELD_VALUE:
        if (c == '\r') {
          f->state = FIELD_LF;
          break;
        }
        if (c == '\n') REFUSE(FAULT_FIELD_LINE);
        if (f->field != FIELD_OTHER && !(f->length == 0 && is_space(c))) {
          if (f->length == sizeof f->buf) REFUSE(f->field == FIELD_LENGTH ? FAULT_LENGTH : FAULT_CODING);
          f->buf[f->length++] = (char)lower(c);
        }
        break;
      case HEAD_END_LF:
        if (c != '\n') REFUSE(FAULT_HEAD_END);
        fault = end_head(f);
        if (fault != FAULT_NONE) goto refuse;
        /* Now chunked to uWS: an empty body still needs its last chunk. */
        if ((f->flags & FLAG_RECHUNK) && f->content_length == 0) add_edit(edits, EDIT_BODY_END, i + 1, 0);
        break;
      case BODY:
      case CHUNK_DATA: {
        size_t take = n - i < f->remaining ? n - i : (size_t)f->remaining;
        f->remaining -= take;
        if (f->state == BODY && (f->flags & FLAG_RECHUNK)) {
          add_edit(edits, EDIT_BODY, i, take);
          if (f->remaining == 0) add_edit(edits, EDIT_BODY_END, i + take, 0);
        }
        i += take;
        if (f->remaining == 0) f->state = f->state == BODY ? LINE_START : CHUNK_DATA_CR;
        continue;
      }
      case CHUNK_SIZE: {
        if (c == '\r' && f->digits > 0) {
          f->state = CHUNK_SIZE_LF;
          break;
        }
        int digit = hex_value(c);
        if (digit < 0 || f->digits == MAX_CHUNK_DIGITS) REFUSE(FAULT_CHUNK_SIZE);
        f->remaining = f->remaining * 16 + (uint64_t)digit;
        f->digits++;
        break;
      }
      case CHUNK_SIZE_LF:
        if (c != '\n') REFUSE(FAULT_CHUNK_SIZE);
        f->state = f->remaining == 0 ? LAST_CR : CHUNK_DATA;
        break;
      case CHUNK_DATA_CR:
      case CHUNK_DATA_LF:
        if (c != (f->state == CHUNK_DATA_CR ? '\r' : '\n')) REFUSE(FAULT_CHUNK_END);
        if (f->state == CHUNK_DATA_CR) {
          f->state = CHUNK_DATA_LF;
        } else {
          f->state = CHUNK_SIZE;
          f->digits = 0;
        }
        break;
      case LAST_CR:
      case LAST_LF:
        /* uWS drops two bytes after the last chunk, whatever they are: trailers are refused. */
        if (c != (f->state == LAST_CR ? '\r' : '\n')) REFUSE(FAULT_TRAILERS);
        f->state = f->state == LAST_CR ? LAST_LF : LINE_START;
        break;
    }
    i++;
  }
  return n;
refuse:
  f->fault = fault;
  f->state = REFUSED;
  return i;
}

const char *framing_refusal(const framing_t *f) {
  return faults[f->fault].reason;
}

int framing_status(const framing_t *f) {
  return faults[f->fault].status;
}
