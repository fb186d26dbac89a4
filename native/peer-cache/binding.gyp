{
  "targets": [
    {
      "target_name": "peer_cache",
      "sources": ["peer_cache.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-ldl"]
    }
  ]
}
