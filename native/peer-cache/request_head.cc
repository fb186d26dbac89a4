/*
 * readHead(req): a uWebSockets.js 20.30 request's method, target and fields, as the bytes received.
 *
 * Why: the proxy must pass a request on as it came, and uWS.js 20.30 does not let it.
 * - Its parser trims bytes of 0x80 and above from both ends of a field value as if they were
 *   whitespace (a signed-char comparison), so "X-Name: José" reaches JS as "Jos" and
 *   "X-Name: Ünal" as "nal". The bytes are still in uWS's buffer, up to the line's CR.
 * - forEach(), getUrl() and getQuery() decode as UTF-8, turning any other byte into U+FFFD,
 *   which the ingress would then forward as EF BF BD.
 * This reads the head from uWS's own records instead, each value to the end of its line, and
 * hands it over as one Latin-1 string (a character per byte): one call into C++ instead of three
 * plus one per field (forEach) and two strings per field.
 *
 * How: the JS request object's internal field 0 holds the uWS::HttpRequest (HttpRequestWrapper.h,
 * nulled once the handler returns), whose first member is its array of {key, value}
 * std::string_views: [0] the method and the target as sent, then the fields (names lowercased in
 * place), ended by an empty key. That layout is uWS's, so the ingress uses this only with the
 * uWS.js version it was written against (see raw-head.ts). As a check on that, each name must be
 * followed by its colon and each value uWS kept must lie within the line found for it; a head that
 * does not look so, or does not fit the scratch buffer, gives up (-1), and the caller then reads
 * it through uWS.js's own methods.
 *
 * Output: bind(bytes, positions) gives each thread its scratch buffer and an Int32Array; readHead
 * then returns the head as a string (method, target, then each name and value, back to back) with
 * positions[0] the field count and positions[1 + 2k], [2 + 2k] the start and end of its k-th
 * piece (k = 0 the method, 1 the target, then name and value of each field in turn). A field
 * value that holds a control byte (other than HTAB) or DEL, which RFC 9110 section 5.5 does not
 * allow, makes the count -1, with the method and target still read: the ingress answers 400.
 * It returns -1 (a number) when it cannot read the head (see above).
 *
 * remoteAddress(res): the client's address, as res.getRemoteAddress() gives it, written to the
 * start of the scratch bytes; returns its length (4 or 16), or -1 where it cannot be read here.
 * Why: uWS.js answers getRemoteAddress() with a new ArrayBuffer, whose backing store is a
 * calloc() and a later free() on V8's sweeper; with the ingress asking once per request, that was
 * about 2% of the ingress's CPU per proxied request under bench:proxy (perf). This calls the
 * function uWS.js's own getRemoteAddress() calls, us_socket_remote_address() of the uWS.js binary
 * (found by bind's third argument, that binary's path), on the socket that the JS response
 * object's internal field 0 holds (HttpResponseWrapper.h): the same answer, with
 * native/peer-cache's getpeername() hook where it is installed, and nothing allocated.
 */
#include <dlfcn.h>
#include <node.h>
#include <v8.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace {

using v8::FunctionCallbackInfo;
using v8::Int32Array;
using v8::Isolate;
using v8::Local;
using v8::NewStringType;
using v8::Object;
using v8::String;
using v8::Uint8Array;
using v8::Value;

struct Header {
  std::string_view key, value;
};

/* uWS's record holds about 50 fields at most (it serves 48): more entries than this is not its record. */
constexpr int kMaxEntries = 64;
/* A field line never runs past uWS's head limit (4 KiB by default, at most 64 KiB here). */
constexpr size_t kMaxLine = 64 * 1024;

/*
 * The caller keeps both arrays for the life of its thread (raw-head.ts holds them in module
 * scope), so plain pointers do: a v8::Global here would be reset by the thread-local's destructor
 * after Node has disposed of the thread's isolate, and crash the thread's exit.
 */
struct Scratch {
  uint8_t *bytes = nullptr;
  size_t capacity = 0;
  int32_t *positions = nullptr;
  size_t slots = 0;
};
thread_local Scratch scratch;

/*
 * us_socket_remote_address(ssl, socket, buffer, length) of the uWS.js binary; null if not found.
 * Every thread's Bind() finds the same one, so a relaxed atomic will do.
 */
using RemoteAddress = void (*)(int, void *, char *, int *);
std::atomic<RemoteAddress> remote_address{nullptr};

bool isOws(uint8_t c) { return c == ' ' || c == '\t'; }

void Bind(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  if (args.Length() < 2 || !args[0]->IsUint8Array() || !args[1]->IsInt32Array()) {
    isolate->ThrowException(v8::Exception::TypeError(String::NewFromUtf8Literal(isolate, "bind(bytes: Uint8Array, positions: Int32Array)")));
    return;
  }
  Local<Uint8Array> bytes = args[0].As<Uint8Array>();
  Local<Int32Array> positions = args[1].As<Int32Array>();
  scratch.bytes = static_cast<uint8_t *>(bytes->Buffer()->Data()) + bytes->ByteOffset();
  scratch.capacity = bytes->ByteLength();
  scratch.positions = reinterpret_cast<int32_t *>(static_cast<uint8_t *>(positions->Buffer()->Data()) + positions->ByteOffset());
  scratch.slots = positions->Length();
  if (args.Length() >= 3 && args[2]->IsString() && remote_address.load(std::memory_order_relaxed) == nullptr) {
    v8::String::Utf8Value path(isolate, args[2]);
    // The binary is loaded already (uWS.js is); its handle is kept for the process's life.
    void *binary = *path ? dlopen(*path, RTLD_NOW | RTLD_NOLOAD) : nullptr;
    if (binary != nullptr) remote_address.store(reinterpret_cast<RemoteAddress>(dlsym(binary, "us_socket_remote_address")), std::memory_order_relaxed);
  }
}

void RemoteAddressOf(const FunctionCallbackInfo<Value> &args) {
  args.GetReturnValue().Set(-1);
  RemoteAddress read = remote_address.load(std::memory_order_relaxed);
  if (read == nullptr || scratch.capacity < 16 || args.Length() < 1 || !args[0]->IsObject()) return;
  Local<Object> object = args[0].As<Object>();
  if (object->InternalFieldCount() < 1) return;
  void *socket = object->GetAlignedPointerFromInternalField(0);
  if (socket == nullptr) return;
  // The first argument (SSL or not) does not matter to it: both kinds start with the same poll.
  int length = 16;
  read(0, socket, reinterpret_cast<char *>(scratch.bytes), &length);
  if (length == 4 || length == 16) args.GetReturnValue().Set(length);
}

/* Appends [from, from + length) to the output; false when it does not fit. */
bool put(const char *from, size_t length, size_t &at, int &piece) {
  if (at + length > scratch.capacity || static_cast<size_t>(2 * piece + 3) > scratch.slots) return false;
  memcpy(scratch.bytes + at, from, length);
  scratch.positions[1 + 2 * piece] = static_cast<int32_t>(at);
  at += length;
  scratch.positions[2 + 2 * piece] = static_cast<int32_t>(at);
  piece++;
  return true;
}

/* Returns the pieces written so far as the head, with `fields` as the count. */
void answer(const FunctionCallbackInfo<Value> &args, size_t length, int fields) {
  scratch.positions[0] = fields;
  args.GetReturnValue().Set(String::NewFromOneByte(args.GetIsolate(), scratch.bytes, NewStringType::kNormal, static_cast<int>(length)).ToLocalChecked());
}

void ReadHead(const FunctionCallbackInfo<Value> &args) {
  args.GetReturnValue().Set(-1);
  if (scratch.bytes == nullptr || args.Length() < 1 || !args[0]->IsObject()) return;
  Local<Object> object = args[0].As<Object>();
  if (object->InternalFieldCount() < 1) return;
  const Header *headers = static_cast<const Header *>(object->GetAlignedPointerFromInternalField(0));
  if (headers == nullptr) return;

  const std::string_view method = headers[0].key, target = headers[0].value;
  if (method.empty() || method.size() > 64 || target.empty() || target.size() > kMaxLine) return;
  size_t at = 0;
  int piece = 0;
  if (!put(method.data(), method.size(), at, piece) || !put(target.data(), target.size(), at, piece)) return;
  int fields = 0;
  for (int i = 1; i < kMaxEntries; i++) {
    const std::string_view name = headers[i].key, value = headers[i].value;
    if (name.empty()) return answer(args, at, fields);
    // The line as received: the name, its colon, the value to the CR (uWS has checked the CRLF).
    if (name.size() > kMaxLine || name.data()[name.size()] != ':') return;
    const uint8_t *start = reinterpret_cast<const uint8_t *>(name.data() + name.size() + 1);
    const uint8_t *end = start;
    while (*end != '\r') {
      if (static_cast<size_t>(end - start) >= kMaxLine) return;
      end++;
    }
    // uWS's value lies within that stretch, or this is not the record it is taken for.
    const uint8_t *kept = reinterpret_cast<const uint8_t *>(value.data());
    if (!value.empty() && (kept < start || kept + value.size() > end)) return;
    while (start < end && isOws(*start)) start++;
    while (end > start && isOws(end[-1])) end--;
    for (const uint8_t *p = start; p < end; p++) {
      if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return answer(args, at, -1);
    }
    if (!put(name.data(), name.size(), at, piece) || !put(reinterpret_cast<const char *>(start), end - start, at, piece)) return;
    fields++;
  }
}

}  // namespace

NODE_MODULE_INIT() {
  NODE_SET_METHOD(exports, "bind", Bind);
  NODE_SET_METHOD(exports, "readHead", ReadHead);
  NODE_SET_METHOD(exports, "remoteAddress", RemoteAddressOf);
}
