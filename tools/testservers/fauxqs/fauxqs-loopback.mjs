// Starts the fauxqs SNS/SQS emulator on 127.0.0.1 only, for gizmo's AWS
// adapter tests. fauxqs's own CLI listens on 0.0.0.0; this launcher makes
// every listening socket it opens bind the loopback address instead.
//
//   FAUXQS_PORT=4566 [FAUXQS_DATA_DIR=dir] node fauxqs-loopback.mjs
//
// FAUXQS_DATA_DIR keeps queues, topics and messages in SQLite across a
// restart (with one fix to fauxqs's persistence, below). It prints
// "FAUXQS READY <address>" once it listens, and stops on SIGTERM or SIGINT.
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

// fauxqs 2.4.1 persists a message handed back with visibility 0
// (ChangeMessageVisibility to 0) by setting its receive count to NULL,
// which its own schema forbids (NOT NULL): the call fails with a 500 after
// the message has left the in-flight set and before it is queued again, so
// with FAUXQS_DATA_DIR every such message is lost until a restart. Clear
// only the in-flight columns instead, as the in-memory store does. The
// package exports only its entry point, so the module is loaded by path.
const { PersistenceManager } = await import(new URL("./node_modules/fauxqs/dist/persistence.js", import.meta.url));
PersistenceManager.prototype.updateMessageReady = function (messageId) {
  this.gizmoUpdateReady ??= this.db.prepare(
    "UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?",
  );
  this.gizmoUpdateReady.run(messageId);
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
