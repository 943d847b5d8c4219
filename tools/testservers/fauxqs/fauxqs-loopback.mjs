// Starts the fauxqs SNS/SQS emulator on 127.0.0.1 only, for gizmo's AWS
// adapter tests. fauxqs's own CLI listens on 0.0.0.0; this launcher makes
// every listening socket it opens bind the loopback address instead.
//
//   FAUXQS_PORT=4566 [FAUXQS_DATA_DIR=dir] node fauxqs-loopback.mjs
//
// FAUXQS_DATA_DIR keeps queues, topics and messages in SQLite across a
// restart. It prints "FAUXQS READY <address>" once it listens, and stops
// on SIGTERM or SIGINT.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const opts = args[0];
  if (opts && typeof opts === "object") {
    args[0] = { ...opts, host: "127.0.0.1" };
  } else if (typeof opts === "number") {
    args.splice(1, typeof args[1] === "string" ? 1 : 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};

const { startFauxqs } = await import("fauxqs");
const port = Number.parseInt(process.env.FAUXQS_PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error("fauxqs-loopback: set FAUXQS_PORT to the port to listen on");
  process.exit(2);
}
const server = await startFauxqs({
  port,
  logger: process.env.FAUXQS_LOGGER === "true",
  dataDir: process.env.FAUXQS_DATA_DIR || undefined,
});
console.log("FAUXQS READY", server.address);
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await server.stop();
    process.exit(0);
  });
}
