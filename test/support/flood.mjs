// A flood of websocket connections that never log on, as an outside tester ran it: SOCKETS
// sockets spread over ADDRESSES loopback source addresses (127.0.0.2 on), each reopened 20 ms after
// it is closed, for MS milliseconds. Prints what it saw as one JSON line when done.
// usage: node flood.mjs URL SOCKETS ADDRESSES MS
import WebSocket from 'ws';

const [url, sockets, addresses, ms] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const deadline = Date.now() + ms;
const seen = { opened: 0, connected: 0, closedBy: {} };
const open = new Set();

function attack(address) {
  if (Date.now() > deadline) return;
  const ws = new WebSocket(url, { localAddress: address });
  open.add(ws);
  seen.opened++;
  ws.on('error', () => {});
  ws.once('open', () => seen.connected++);
  ws.once('close', (code) => {
    open.delete(ws);
    seen.closedBy[code] = (seen.closedBy[code] ?? 0) + 1;
    setTimeout(() => attack(address), 20);
  });
}

for (let i = 0; i < sockets; i++) attack(`127.0.0.${2 + (i % addresses)}`);
console.log(JSON.stringify({ event: 'started' }));
setTimeout(() => {
  for (const ws of open) ws.terminate();
  console.log(JSON.stringify(seen));
  setTimeout(() => process.exit(0), 100);
}, ms + 100);
