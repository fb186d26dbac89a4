/* The edits framing.c asks for, made to a read before uWS parses it (see rechunk.c). */
#ifndef WEIGHBRIDGE_RECHUNK_H
#define WEIGHBRIDGE_RECHUNK_H

#include <sys/types.h>

#include "framing.h"

/* Room a read leaves at the end of uWS's buffer for the edits to grow it. */
#define RECHUNK_ROOM 256

/*
 * Makes `edits` to data[0, n), in place, within `capacity` bytes; returns the new length, or -1
 * when they cannot be made (a Content-Length line that began in an earlier read, no room).
 */
ssize_t rechunk(unsigned char *data, size_t n, size_t capacity, const framing_edits_t *edits);

#endif
