'use strict';
// A real Salient server for the tests: ./salient serve --port 0 on loopback, or the server at
// SALIENT_ADDRESS when that is set.

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '../../..');
const SAMPLES = path.join(ROOT, 'samples', 'fashion-mnist');

async function startServer() {
  if (process.env.SALIENT_ADDRESS) {
    return {address: process.env.SALIENT_ADDRESS, stop: async () => {}};
  }
  const logPath = path.join(os.tmpdir(), `salient-node-test-${process.pid}.log`);
  const log = fs.openSync(logPath, 'w');
  const server = spawn(path.join(ROOT, 'salient'), ['serve', '--port', '0'],
    {stdio: ['ignore', 'pipe', log]});
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const lines = readline.createInterface({input: server.stdout});
  let address = null;
  for await (const line of lines) {
    const match = /Salient listening on [^:]*:(\d+)/.exec(line);
    if (match) {
      address = `127.0.0.1:${match[1]}`;
      break;
    }
  }
  if (!address) throw new Error(`the server did not start; see ${logPath}`);
  server.stdout.resume();
  return {
    address,
    stop: async () => {
      server.kill('SIGTERM');
      await exited;
      fs.closeSync(log);
    },
  };
}

/** The PNG bytes of the index-th committed Fashion-MNIST sample. */
function sample(index) {
  const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.png')).sort();
  return fs.readFileSync(path.join(SAMPLES, files[index]));
}

module.exports = {startServer, sample, SAMPLES};
