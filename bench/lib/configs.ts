/** Config file text for the NGINX backends, the NGINX proxy and HAProxy. Everything binds 127.0.0.1. */
import path from 'node:path';
import { HOST } from './net.js';

/** The bench's certificate: PEM files, and both in one for HAProxy's crt. */
export interface BenchTls {
  certFile: string;
  keyFile: string;
  pemFile: string;
}

/** Main-context files nginx would otherwise put under its compiled-in prefix (/run, /var/log). */
function nginxMainPaths(dir: string, name: string): string {
  return `pid ${path.join(dir, `${name}.pid`)};
error_log ${path.join(dir, `${name}.error.log`)} warn;`;
}

/** Temp dirs (inside http {}) that nginx would otherwise create under /var/lib/nginx. */
function nginxTempPaths(dir: string, name: string): string {
  const t = (kind: string): string => path.join(dir, `${name}-${kind}`);
  return `  client_body_temp_path ${t('client_body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};`;
}

/** A tiny "hello" origin server: one master, one worker, `return 200`. */
export function nginxBackendConf(dir: string, name: string, port: number): string {
  return `# weighbridge bench: backend ${name}
daemon off;
master_process on;
worker_processes 1;
${nginxMainPaths(dir, name)}
events {
  worker_connections 4096;
}
http {
  access_log off;
${nginxTempPaths(dir, name)}
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen ${HOST}:${port} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "hello\\n";
    }
  }
}
`;
}

/**
 * NGINX as a reverse proxy: round robin over the backends, pooled keep-alive upstream connections,
 * X-Forwarded-* added; with `webSockets`, upgrades pass as NGINX's documentation configures them.
 */
export function nginxProxyConf(
  dir: string, port: number, threads: number, backends: number[], keepalive: number, tls: BenchTls | null, webSockets = false,
): string {
  const servers = backends.map((b) => `    server ${HOST}:${b};`).join('\n');
  return `# weighbridge bench: nginx reverse proxy
daemon off;
master_process on;
worker_processes ${threads};
${nginxMainPaths(dir, 'nginx-proxy')}
events {
  worker_connections 4096;
}
http {
  access_log off;
${nginxTempPaths(dir, 'nginx-proxy')}
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  upstream backends {
${servers}
    keepalive ${keepalive};
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen ${HOST}:${port} backlog=4096${tls ? ` ssl;
    # NGINX 1.22 (Debian 12) leaves TLS 1.3 off unless asked; the other proxies offer it.
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile}` : ''};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
${webSockets ? `      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;` : '      proxy_set_header Connection "";'}
      # The same forwarding work as weighbridge: the client's Host and X-Forwarded-*.
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

/** HAProxy in HTTP mode: keep-alive both sides, round robin, idle server connections always reused, X-Forwarded-* added. */
export function haproxyConf(port: number, threads: number, backends: number[], tls: BenchTls | null): string {
  const servers = backends.map((b, i) => `  server b${i + 1} ${HOST}:${b}`).join('\n');
  return `# weighbridge bench: haproxy
global
  nbthread ${threads}
  maxconn 4096

defaults
  mode http
  no log
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  timeout http-request 300s

frontend fe
  bind ${HOST}:${port}${tls ? ` ssl crt ${tls.pemFile}` : ''}
  default_backend be

  # The same forwarding work as weighbridge: X-Forwarded-For, -Proto and -Host.
  option forwardfor
  http-request set-header X-Forwarded-Proto ${tls ? 'https' : 'http'}
  http-request set-header X-Forwarded-Host %[req.hdr(host)] if { req.hdr(host) -m found }

backend be
  balance roundrobin
${servers}
`;
}
