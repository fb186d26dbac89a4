import 'uWebSockets.js';

declare module 'uWebSockets.js' {
  interface TemplatedApp {
    /** Closes the listen sockets and every open connection. In the 20.30 binary, missing from its typings. */
    close(): TemplatedApp;
  }
}
