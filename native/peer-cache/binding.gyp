{
  "targets": [
    {
      "target_name": "peer_cache",
      "sources": ["peer_cache.c", "framing.c", "rechunk.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "request_head",
      "sources": ["request_head.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-cast-function-type", "-std=gnu++17"],
      "libraries": ["-ldl"]
    }
  ]
}
