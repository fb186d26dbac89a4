/*
 * A per-connection cache of the client's address for uWebSockets.js 20.30.
 *
 * Why: uWS.js answers res.getRemoteAddress() with a getpeername() system call every time, and
 * has no per-connection hook where the answer could be kept. The ingress needs the address for
 * every request (X-Forwarded-For, trusted proxies, rate limits). On the bench machine the call
 * cost 2.9 us measured alone, and with this cache the ingress's CPU per proxied request was 2.7 us
 * (7%) lower, about half of its gap to HAProxy, which takes the address from accept() once per
 * connection.
 *
 * How: the uWS.js binary calls accept4(), getpeername() and close() through its own global
 * offset table. install() points those three entries (in that binary only) at the functions
 * below: accept4 records each accepted connection's address under its descriptor, close drops
 * the record, and getpeername answers from the record without entering the kernel, or makes the
 * real call for a descriptor it has none for. A record exists exactly from uWS's accept of a
 * descriptor to uWS's close of it, and uWS asks only about descriptors it accepted, so every
 * answer is the kernel's answer at accept (the same address getpeername would give, except that
 * it still gives it after the peer has gone, as HAProxy does).
 *
 * A descriptor is used by one thread from its accept to its close (each ingress thread has its
 * own uWS loop), so a record is written and read by one thread at a time; the release/acquire
 * pair orders a record written by one thread after a close by another.
 *
 * The same hooks check request framing: recv, hooked as well, runs every read from a client
 * connection through framing.c before uWS parses it, and fails the read (uWS then closes the
 * connection) at the first byte a strict HTTP/1.1 reader and uWS could read differently, or that
 * makes a head uWS would leave unanswered. A connection's check starts at accept and its state
 * lives in the connection's record.
 *
 * The addon also holds the one other thing about that binary that needs native code:
 * asCallback(), for the ingress's asynchronous WebSocket upgrades (see there).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <node_api.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "framing.h"
#include "rechunk.h"

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#endif

/* Room for an IPv4 or IPv6 address; longer ones (AF_UNIX listeners) are not kept. */
typedef struct {
  _Atomic uint32_t length;
  struct sockaddr_in6 address;
  /*
   * Answers given for this descriptor, by whichever connection held it. Kept here, where only the
   * descriptor's thread writes, rather than in one counter that every thread would contend for.
   */
  _Atomic uint64_t hits;
  /* The connection's request framing so far (framing.c); reset at accept. */
  framing_t framing;
} record_t;

static record_t *records;
static size_t record_count;
/* One past the highest descriptor recorded, so that counters() reads only records in use. */
static _Atomic size_t records_used;
/* The uWS.js binary, for as_callback's look-up; and that look-up's answer, per thread. */
static void *uws_binary;
static __thread int *callback_depth;
/* The descriptor of this thread's latest getpeername() from uWS, for as_callback's TCP_CORK. */
static __thread int last_peer;
static _Atomic uint64_t misses;
/* Connections refused for their framing since install. */
static _Atomic uint64_t refused;
static const char *installed_reason; /* NULL until install() ran; "" once it succeeded. */

static int cached_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
  struct sockaddr_storage peer;
  socklen_t peer_length = sizeof peer;
  int client = accept4(fd, (struct sockaddr *)&peer, &peer_length, flags);
  if (client < 0) return client;
  if ((size_t)client < record_count) {
    record_t *r = &records[client];
    memset(&r->framing, 0, sizeof r->framing);
    if (peer_length <= sizeof r->address) {
      memcpy(&r->address, &peer, peer_length);
      atomic_store_explicit(&r->length, peer_length, memory_order_release);
    } else {
      atomic_store_explicit(&r->length, 0, memory_order_release);
    }
    size_t used = atomic_load_explicit(&records_used, memory_order_relaxed);
    while ((size_t)client >= used && !atomic_compare_exchange_weak_explicit(&records_used, &used, (size_t)client + 1, memory_order_relaxed, memory_order_relaxed)) {
    }
  }
  if (address != NULL && length != NULL) {
    memcpy(address, &peer, *length < peer_length ? *length : peer_length);
    *length = peer_length;
  }
  return client;
}

static int cached_getpeername(int fd, struct sockaddr *address, socklen_t *length) {
  last_peer = fd + 1;
  if (fd >= 0 && (size_t)fd < record_count) {
    record_t *r = &records[fd];
    uint32_t n = atomic_load_explicit(&r->length, memory_order_acquire);
    if (n != 0) {
      /* The kernel's contract: copy what fits, report the whole length. */
      memcpy(address, &r->address, *length < n ? *length : n);
      *length = n;
      /* One writer at a time (see above): a plain increment, not a locked one. */
      atomic_store_explicit(&r->hits, atomic_load_explicit(&r->hits, memory_order_relaxed) + 1, memory_order_relaxed);
      return 0;
    }
  }
  atomic_fetch_add_explicit(&misses, 1, memory_order_relaxed);
  return getpeername(fd, address, length);
}

/*
 * The answer to a connection the framing check refused before uWS was given a whole head of it
 * (the refused read fails whole, so uWS sees none of it): the ingress has been handed no request,
 * so no other response can be under way, and the client learns why, as HAProxy and NGINX tell it.
 * Later in a connection a response may be, and it is closed without one.
 */
static void answer_refusal(int fd, int status, const char *why) {
  const char *text = status == 413 ? "Content Too Large" : status == 431 ? "Request Header Fields Too Large" : status == 501 ? "Not Implemented" : status == 505 ? "HTTP Version Not Supported" : "Bad Request";
  char response[512];
  int body = (int)strlen(why) + 1;
  int length = snprintf(response, sizeof response, "HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s\n", status, text, body, why);
  if (length > 0 && (size_t)length < sizeof response && send(fd, response, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT) == length) shutdown(fd, SHUT_WR);
}

/*
 * One read of a connection, data[0, n) in a buffer of `capacity` bytes, through the framing check
 * and, where it asks for them, rechunk()'s edits: the read's new length, or -1 once refused.
 */
static ssize_t check_read(framing_t *f, unsigned char *data, size_t n, size_t capacity) {
  framing_edits_t edits;
  edits.count = 0;
  edits.overflow = 0;
  if (framing_feed(f, data, n, &edits) != n) return -1;
  if (edits.count == 0) return (ssize_t)n;
  ssize_t edited = edits.overflow ? -1 : rechunk(data, n, capacity, &edits);
  if (edited < 0) framing_refuse_rechunk(f);
  return edited;
}

/*
 * uWS's reads from its sockets. A read from a connection uWS accepted is checked (framing.c); one
 * that holds a byte the check refuses fails whole, as a reset connection's would, and uWS closes
 * the connection without parsing any of it. Only accepted connections have a record that is set.
 */
static ssize_t checked_recv(int fd, void *buffer, size_t length, int flags) {
  if (fd < 0 || (size_t)fd >= record_count) return recv(fd, buffer, length, flags);
  record_t *r = &records[fd];
  if (framing_opaque(&r->framing) || atomic_load_explicit(&r->length, memory_order_relaxed) == 0) return recv(fd, buffer, length, flags);
  /* Room for rechunk() to grow the read (uWS's buffer is 512 KiB). */
  ssize_t n = recv(fd, buffer, length > 2 * RECHUNK_ROOM ? length - RECHUNK_ROOM : length, flags);
  if (n <= 0) return n;
  int answerable = !r->framing.head_ended;
  ssize_t passed = check_read(&r->framing, buffer, (size_t)n, length);
  if (passed >= 0) return passed;
  atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
  if (answerable) answer_refusal(fd, framing_status(&r->framing), framing_refusal(&r->framing));
  errno = ECONNRESET;
  return -1;
}

static int cached_close(int fd) {
  if (fd >= 0 && (size_t)fd < record_count) atomic_store_explicit(&records[fd].length, 0, memory_order_release);
  return close(fd);
}

#ifdef R_JUMP_SLOT
typedef struct {
  const char *name;
  void *replacement;
  void **slots[4];
  int slot_count;
} hook_t;

/* glibc relocates the dynamic section's addresses in place; other loaders may leave offsets. */
static uintptr_t dynamic_address(ElfW(Addr) base, ElfW(Addr) value) {
  return value >= base ? value : base + value;
}

typedef struct {
  ElfW(Addr) base;
  uintptr_t relro_start, relro_end;
} relro_t;

static int find_relro(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  relro_t *relro = data;
  if (info->dlpi_addr != relro->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
      relro->relro_start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      relro->relro_end = relro->relro_start + info->dlpi_phdr[i].p_memsz;
    }
  }
  return 1;
}

/*
 * Finds the slots that hold the hooked functions' addresses. False if a relocation of another
 * kind names one of them (an address kept in data, say): that use could not be redirected, and a
 * cache that misses some accepts or closes would give wrong answers.
 */
static int collect(ElfW(Addr) base, const ElfW(Rela) *relocations, size_t bytes, const ElfW(Sym) *symbols, const char *strings, hook_t *hooks, int hook_count) {
  for (size_t i = 0; i < bytes / sizeof(ElfW(Rela)); i++) {
    uint32_t type = ELF64_R_TYPE(relocations[i].r_info);
    uint32_t symbol = ELF64_R_SYM(relocations[i].r_info);
    if (symbol == 0) continue;
    const char *name = strings + symbols[symbol].st_name;
    for (int h = 0; h < hook_count; h++) {
      if (strcmp(name, hooks[h].name) != 0) continue;
      if ((type != R_JUMP_SLOT && type != R_GLOB_DAT) || hooks[h].slot_count == 4) return 0;
      hooks[h].slots[hooks[h].slot_count++] = (void **)(base + relocations[i].r_offset);
    }
  }
  return 1;
}

static const char *patch(const char *path) {
  void *handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == NULL) return "the uWebSockets.js binary is not loaded";
  struct link_map *map = NULL;
  int failed = dlinfo(handle, RTLD_DI_LINKMAP, &map);
  dlclose(handle);
  if (failed || map == NULL) return "dlinfo failed";
  ElfW(Addr) base = map->l_addr;
  const ElfW(Sym) *symbols = NULL;
  const char *strings = NULL;
  const ElfW(Rela) *plt = NULL, *rela = NULL;
  size_t plt_bytes = 0, rela_bytes = 0;
  for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
      case DT_SYMTAB: symbols = (const ElfW(Sym) *)dynamic_address(base, d->d_un.d_ptr); break;
      case DT_STRTAB: strings = (const char *)dynamic_address(base, d->d_un.d_ptr); break;
      case DT_JMPREL: plt = (const ElfW(Rela) *)dynamic_address(base, d->d_un.d_ptr); break;
      case DT_PLTRELSZ: plt_bytes = d->d_un.d_val; break;
      case DT_RELA: rela = (const ElfW(Rela) *)dynamic_address(base, d->d_un.d_ptr); break;
      case DT_RELASZ: rela_bytes = d->d_un.d_val; break;
      case DT_PLTREL: if (d->d_un.d_val != DT_RELA) return "unexpected relocation format"; break;
    }
  }
  if (symbols == NULL || strings == NULL) return "no dynamic symbol table";
  /*
   * Patched in this order, so that every prefix is safe should a uWS thread already run: records
   * are dropped on close before any is kept, and kept before any is read.
   */
  hook_t hooks[] = {
    { "close", (void *)cached_close, {0}, 0 },
    { "accept4", (void *)cached_accept4, {0}, 0 },
    { "getpeername", (void *)cached_getpeername, {0}, 0 },
    { "recv", (void *)checked_recv, {0}, 0 },
  };
  const int hook_count = sizeof hooks / sizeof hooks[0];
  if ((plt != NULL && !collect(base, plt, plt_bytes, symbols, strings, hooks, hook_count)) || (rela != NULL && !collect(base, rela, rela_bytes, symbols, strings, hooks, hook_count))) {
    return "the binary refers to accept4, getpeername, close or recv other than through its offset table";
  }
  /* All or none: a cache that misses accepts or closes would give wrong answers, a check that misses reads would pass what it did not see. */
  for (int h = 0; h < hook_count; h++) if (hooks[h].slot_count == 0) return "the binary does not import accept4, getpeername, close and recv";
  /*
   * Slots made read-only after loading (full RELRO) are left alone rather than unprotected and
   * protected again, which could get the page's protection wrong: uWS.js's binaries keep these
   * slots in the writable .got.plt.
   */
  relro_t relro = { base, 0, 0 };
  dl_iterate_phdr(find_relro, &relro);
  for (int h = 0; h < hook_count; h++) {
    for (int s = 0; s < hooks[h].slot_count; s++) {
      uintptr_t slot = (uintptr_t)hooks[h].slots[s];
      if (slot >= relro.relro_start && slot < relro.relro_end) return "the binary's offset table is read-only (full RELRO)";
    }
  }
  for (int h = 0; h < hook_count; h++) {
    for (int s = 0; s < hooks[h].slot_count; s++) __atomic_store_n(hooks[h].slots[s], hooks[h].replacement, __ATOMIC_SEQ_CST);
  }
  return "";
}
#endif

static napi_value install(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t path_length = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok) {
    napi_throw_type_error(env, NULL, "install(path): the path of the uWebSockets.js binary");
    return NULL;
  }
  /* Once per process (the offset table is the process's); later calls report the first. */
  if (installed_reason == NULL) {
    /* Kept open: as_callback looks a symbol up in it from each thread. */
    uws_binary = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
#ifdef R_JUMP_SLOT
    struct rlimit limit;
    record_count = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? limit.rlim_cur : 65536;
    if (record_count > (1u << 20)) record_count = 1u << 20;
    /* calloc of this size maps zeroed pages: only the pages of descriptors in use take memory. */
    records = calloc(record_count, sizeof(record_t));
    if (records == NULL) installed_reason = "out of memory";
    else installed_reason = patch(path);
    if (installed_reason[0] != '\0') {
      /* Nothing was patched: the wrappers are unreachable. */
      free(records);
      records = NULL;
      record_count = 0;
    }
#else
    installed_reason = "this CPU architecture is not supported";
#endif
  }
  napi_value result;
  napi_create_string_utf8(env, installed_reason, NAPI_AUTO_LENGTH, &result);
  return result;
}

/*
 * asCallback(fn): runs fn as if uWS.js had called it, and says whether it could.
 *
 * uWS.js counts, per thread, how deep JS code runs inside its callbacks (insideCorkCallback, which
 * its CallJS raises around every call into JS); its response methods print a warning when called
 * at depth 0, outside a cork. The ingress upgrades a client to a WebSocket only once the worker
 * has accepted, from its own event, outside any uWS callback, and res.cork() is the documented
 * way to do that. But in uWS.js 20.30, res.cork() reads the response's state after its callback
 * to decide whether to close the connection, from memory the upgrade has by then handed to the
 * WebSocket (the socket is reallocated in place, smaller); now and then that memory reads as a
 * finished response with Connection: close, and the new WebSocket is closed at once, 1006 to the
 * client (traced to us_socket_close called from res_cork; 7 of 2,876 sessions in a mixed-traffic
 * test). Run through this, the upgrade needs no cork and prints no warning.
 *
 * Uncorked, uWS writes the 101 in 24 pieces, a send() and a packet each. asCallback(fn, true)
 * holds them in the kernel with TCP_CORK on the socket of uWS's latest getpeername() on this
 * thread (the caller asks for the client's address just before), so they leave as one; and it
 * stops the framing check on that socket, which from then on carries WebSocket frames.
 */
static napi_value as_callback(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], global, ignored, result;
  bool cork = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 2) napi_get_value_bool(env, argv[1], &cork);
  /* dlsym gives a thread-local variable's address for the calling thread. */
  if (callback_depth == NULL && uws_binary != NULL) callback_depth = dlsym(uws_binary, "insideCorkCallback");
  int available = argc >= 1 && callback_depth != NULL;
  if (available) {
    int fd = cork ? last_peer - 1 : -1, on = 1, off = 0;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    /* What the client sends from here on is WebSocket frames (framing.c). */
    if (fd >= 0 && (size_t)fd < record_count) framing_stop(&records[fd].framing);
    napi_get_global(env, &global);
    (*callback_depth)++;
    /* A throw stays pending and reaches the caller. */
    napi_call_function(env, global, argv[0], 0, NULL, &ignored);
    (*callback_depth)--;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  }
  napi_get_boolean(env, available, &result);
  return result;
}

/* The test functions' argument, an array of Uint8Arrays: false, with a TypeError thrown, if it is not one. */
static bool reads_argument(napi_env env, napi_callback_info info, const char *usage, napi_value *reads, uint32_t *count) {
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, reads, NULL, NULL);
  if (argc >= 1 && napi_get_array_length(env, *reads, count) == napi_ok) return true;
  napi_throw_type_error(env, NULL, usage);
  return false;
}

/* reads[i]'s bytes: false, with a TypeError thrown, if it is no Uint8Array. */
static bool read_at(napi_env env, napi_value reads, uint32_t i, const char *usage, unsigned char **data, size_t *length) {
  napi_value element;
  napi_get_element(env, reads, i, &element);
  if (napi_get_typedarray_info(env, element, NULL, length, (void **)data, NULL, NULL) == napi_ok) return true;
  napi_throw_type_error(env, NULL, usage);
  return false;
}

/*
 * checkFraming(reads): runs framing.c over a connection's reads (Uint8Arrays, in order), as the
 * recv hook would, for the tests. [bytes accepted before the first refused one (all of them when
 * none is), 1 if the check stopped reading the connection (TLS, WebSocket), else 0, the offsets
 * at which requests ended (fed a byte at a time, which must not change the answer), the refusal's
 * status (0 if none)].
 */
static napi_value check_framing(napi_env env, napi_callback_info info) {
  static const char usage[] = "checkFraming(reads): an array of Uint8Arrays";
  napi_value reads, result, value;
  uint32_t count = 0;
  if (!reads_argument(env, info, usage, &reads, &count)) return NULL;
  /* The reads fed as they came (`f`), and the same bytes a byte at a time (`bytewise`). */
  framing_t f, bytewise;
  memset(&f, 0, sizeof f);
  memset(&bytewise, 0, sizeof bytewise);
  double accepted = 0, offset = 0;
  int refused_read = 0;
  napi_value ends;
  napi_create_array(env, &ends);
  uint32_t end_count = 0;
  for (uint32_t i = 0; i < count; i++) {
    unsigned char *data = NULL;
    size_t length = 0;
    if (!read_at(env, reads, i, usage, &data, &length)) return NULL;
    if (!refused_read) {
      size_t passed = framing_feed(&f, data, length, NULL);
      accepted += (double)passed;
      refused_read = passed < length;
    }
    for (size_t b = 0; b < length; b++, offset++) {
      int before = framing_between_requests(&bytewise);
      if (framing_feed(&bytewise, data + b, 1, NULL) != 1) break;
      if (!before && framing_between_requests(&bytewise)) {
        napi_create_double(env, offset + 1, &value);
        napi_set_element(env, ends, end_count++, value);
      }
    }
  }
  napi_create_array_with_length(env, 4, &result);
  napi_create_double(env, accepted, &value);
  napi_set_element(env, result, 0, value);
  napi_create_uint32(env, (uint32_t)framing_opaque(&f), &value);
  napi_set_element(env, result, 1, value);
  napi_set_element(env, result, 2, ends);
  napi_create_uint32(env, refused_read ? (uint32_t)framing_status(&f) : 0, &value);
  napi_set_element(env, result, 3, value);
  return result;
}

/*
 * rechunkReads(reads): what uWS is given of a connection's reads (Uint8Arrays, in order) by the
 * recv hook, for the tests: [the reads as the hook hands them over, concatenated (up to a refused
 * one), the refusal's status (0 if none)].
 */
static napi_value rechunk_reads(napi_env env, napi_callback_info info) {
  static const char usage[] = "rechunkReads(reads): an array of Uint8Arrays";
  napi_value reads, result, value;
  uint32_t count = 0;
  if (!reads_argument(env, info, usage, &reads, &count)) return NULL;
  framing_t f;
  memset(&f, 0, sizeof f);
  unsigned char *out = NULL;
  size_t out_length = 0;
  int status = 0;
  for (uint32_t i = 0; i < count && status == 0; i++) {
    unsigned char *data = NULL;
    size_t length = 0;
    if (!read_at(env, reads, i, usage, &data, &length)) {
      free(out);
      return NULL;
    }
    /* As checked_recv reads: with RECHUNK_ROOM after the read. */
    unsigned char *grown = realloc(out, out_length + length + RECHUNK_ROOM);
    if (grown == NULL) break;
    out = grown;
    memcpy(out + out_length, data, length);
    ssize_t n = check_read(&f, out + out_length, length, length + RECHUNK_ROOM);
    if (n < 0) status = framing_status(&f);
    else out_length += (size_t)n;
  }
  napi_create_array_with_length(env, 2, &result);
  void *copy = NULL;
  napi_create_buffer_copy(env, out_length, out_length > 0 ? out : (const void *)"", &copy, &value);
  napi_set_element(env, result, 0, value);
  napi_create_uint32(env, (uint32_t)status, &value);
  napi_set_element(env, result, 1, value);
  free(out);
  return result;
}

/* [answers from the cache, real getpeername calls, connections refused for framing] since install. */
static napi_value counters(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, value;
  napi_create_array_with_length(env, 3, &result);
  uint64_t hits = 0;
  size_t used = atomic_load_explicit(&records_used, memory_order_relaxed);
  for (size_t i = 0; i < used; i++) hits += atomic_load_explicit(&records[i].hits, memory_order_relaxed);
  napi_create_double(env, (double)hits, &value);
  napi_set_element(env, result, 0, value);
  napi_create_double(env, (double)atomic_load(&misses), &value);
  napi_set_element(env, result, 1, value);
  napi_create_double(env, (double)atomic_load(&refused), &value);
  napi_set_element(env, result, 2, value);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "install", NAPI_AUTO_LENGTH, install, NULL, &fn);
  napi_set_named_property(env, exports, "install", fn);
  napi_create_function(env, "counters", NAPI_AUTO_LENGTH, counters, NULL, &fn);
  napi_set_named_property(env, exports, "counters", fn);
  napi_create_function(env, "asCallback", NAPI_AUTO_LENGTH, as_callback, NULL, &fn);
  napi_set_named_property(env, exports, "asCallback", fn);
  napi_create_function(env, "checkFraming", NAPI_AUTO_LENGTH, check_framing, NULL, &fn);
  napi_set_named_property(env, exports, "checkFraming", fn);
  napi_create_function(env, "rechunkReads", NAPI_AUTO_LENGTH, rechunk_reads, NULL, &fn);
  napi_set_named_property(env, exports, "rechunkReads", fn);
  return exports;
}
