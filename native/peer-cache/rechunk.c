/*
 * A request body of 10^9 bytes or more, sized, re-framed as chunked for uWS.js 20.30.
 *
 * Why: uWS reads a Content-Length of at most 9 digits and closes the connection, without a word,
 * on more, so a 1 GiB upload with Content-Length could not pass (chunked ones always could). The
 * recv hook (peer_cache.c) sees every read before uWS does, so it can hand uWS the same request
 * framed the way uWS can read it: the Content-Length line becomes `Transfer-Encoding:chunked`
 * (never longer), each read's body bytes become one chunk (size line, data, CRLF), and the last
 * chunk follows the body's last byte. framing.c, which reads the bytes as the client sent them,
 * says where (framing_edits_t). The ingress then sees a chunked request and forwards it so.
 *
 * A read grows by at most 20 bytes an edit (a size line and CRLF, or the last chunk), and the hook
 * leaves RECHUNK_ROOM bytes of uWS's buffer free for that. A Content-Length line that began in an
 * earlier read is out of reach (uWS has it already): such a request is refused.
 */
#include "rechunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CODING_LINE[] = "Transfer-Encoding:chunked";
static const char LINE_END[] = "\r\n";
static const char LAST_CHUNK[] = "0\r\n\r\n";

/* data[at, at + drop) is replaced by text[0, length). */
typedef struct {
  size_t at, drop;
  const char *text;
  size_t length;
} op_t;

ssize_t rechunk(unsigned char *data, size_t n, size_t capacity, const framing_edits_t *edits) {
  op_t ops[2 * FRAMING_MAX_EDITS];
  char sizes[FRAMING_MAX_EDITS][24];
  unsigned count = 0;
  size_t total = n;
  for (unsigned i = 0; i < edits->count; i++) {
    const framing_edit_t *e = &edits->edit[i];
    switch (e->kind) {
      case EDIT_LENGTH_LINE: {
        /* The line's CR is before its LF, and its start after the LF before it, in this read. */
        if (e->at < 1 || data[e->at - 1] != '\r') return -1;
        size_t start = e->at - 1;
        while (start > 0 && data[start - 1] != '\n') start--;
        if (start == 0 || e->at - 1 - start < sizeof CODING_LINE - 1) return -1;
        ops[count++] = (op_t){ start, e->at - 1 - start, CODING_LINE, sizeof CODING_LINE - 1 };
        break;
      }
      case EDIT_BODY: {
        int length = snprintf(sizes[i], sizeof sizes[i], "%zx\r\n", e->length);
        ops[count++] = (op_t){ e->at, 0, sizes[i], (size_t)length };
        ops[count++] = (op_t){ e->at + e->length, 0, LINE_END, 2 };
        break;
      }
      case EDIT_BODY_END:
        ops[count++] = (op_t){ e->at, 0, LAST_CHUNK, sizeof LAST_CHUNK - 1 };
        break;
      default:
        return -1;
    }
  }
  for (unsigned i = 0; i < count; i++) total = total - ops[i].drop + ops[i].length;
  if (total > capacity) return -1;
  unsigned char *out = malloc(total > 0 ? total : 1);
  if (out == NULL) return -1;
  size_t from = 0, to = 0;
  for (unsigned i = 0; i < count; i++) {
    if (ops[i].at < from || ops[i].at + ops[i].drop > n) {
      free(out);
      return -1;
    }
    memcpy(out + to, data + from, ops[i].at - from);
    to += ops[i].at - from;
    memcpy(out + to, ops[i].text, ops[i].length);
    to += ops[i].length;
    from = ops[i].at + ops[i].drop;
  }
  memcpy(out + to, data + from, n - from);
  to += n - from;
  memcpy(data, out, to);
  free(out);
  return (ssize_t)to;
}
