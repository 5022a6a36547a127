'use strict';
// salient-client against a live server: explain streaming, video, errors, cancel.

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');
const {setTimeout: delay} = require('node:timers/promises');
const {SalientClient, SalientError, status} = require('../src/index.js');
const {startServer, sample, SAMPLES} = require('./live-server.js');
const ANKLE_BOOT = require('node:fs').readFileSync(
  require('node:path').join(SAMPLES, '090_Ankle_boot_idx0000.png'));

// 10000 tiny BIM steps never flip the class: a request that runs until something stops it.
const LONG_BIM = {alpha: '0.000001', max_iterations: '10000'};

let server;
let client;

before(async () => {
  server = await startServer();
  client = new SalientClient(server.address);
});

after(async () => {
  client.close();
  await server.stop();
});

async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function pngSize(png) {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

test('describeModel lists methods with their result schema, int64 shapes as numbers', async () => {
  const models = await client.listModels();
  const model = await client.describeModel();

  assert.equal(models[0].name, 'fashion-mnist');
  assert.deepEqual(model.inputShape, [1, 28, 28]);
  const vanilla = model.methods.find((m) => m.name === 'vanilla');
  assert.ok(vanilla.result.values.some((f) => f.name === 'gradient_l2'));
});

test('classify returns the top classes best first', async () => {
  const top = await client.classify(ANKLE_BOOT, {topK: 3});

  assert.equal(top.length, 3);
  assert.equal(top[0].label, 'Ankle boot');
  assert.ok(top[0].probability >= top[1].probability);
});

test('explain streams started, frames, one result with Float32Array maps', async () => {
  const events = await collect(client.explain(sample(0), 'smoothgrad',
    {params: {samples: 8, batch: 2}, renderPng: true}));

  const kinds = events.map((e) => e.kind);
  assert.equal(kinds[0], 'started');
  assert.equal(kinds.at(-1), 'result');
  assert.equal(kinds.filter((k) => k === 'result').length, 1);
  assert.equal(kinds.filter((k) => k === 'frame').length, 4, 'a frame per batch of 2 samples');
  const result = events.at(-1);
  const map = result.maps.smoothgrad;
  assert.deepEqual(map.shape, [28, 28]);
  assert.ok(map.data instanceof Float32Array);
  assert.equal(map.data.length, 28 * 28);
  assert.ok(map.data.every(Number.isFinite));
  assert.deepEqual(pngSize(result.overlays.smoothgrad), [224, 224]);
  assert.equal(result.values.samples, 8);
});

test('explain takes pixels as a Float32Array and gives the same maps as the PNG', async () => {
  const fromPng = (await collect(client.explain(sample(0), 'vanilla'))).at(-1);
  const frame = (await collect(client.explain(sample(0), 'vanilla', {frameTensors: true})))
    .find((e) => e.kind === 'frame');

  const fromPixels = (await collect(client.explain(frame.maps.image, 'vanilla'))).at(-1);

  const a = fromPng.maps.gradient.data;
  const b = fromPixels.maps.gradient.data;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6, `pixel ${i}`);
});

test('explain a chosen target by rank', async () => {
  const [started] = await collect(client.explain(sample(0), 'vanilla', {target: 'top:2'}));

  assert.notEqual(started.message.target.index, started.message.predicted.index);
  assert.equal(started.message.target.index, started.message.top[1].index);
});

test('video answers every frame in order', async () => {
  const frames = [0, 1, 2, 3, 4, 5].map(sample);

  const answers = await collect(client.explainVideo(frames, 'vanilla', {neverDrop: true}));

  assert.deepEqual(answers.map((a) => a.sequence), [1, 2, 3, 4, 5, 6]);
  assert.ok(answers.every((a) => a.explained !== null));
  assert.deepEqual(answers[0].maps.saliency.shape, [28, 28]);
});

test('video from an async source drops stale frames but answers each', async () => {
  async function* camera() {
    for (let i = 0; i < 20; i++) yield sample(i);
  }

  const answers = await collect(client.explainVideo(camera(), 'smoothgrad'));

  assert.deepEqual(answers.map((a) => a.sequence), Array.from({length: 20}, (_, i) => i + 1));
  for (const a of answers) {
    assert.ok(a.explained !== null || a.dropped === 'superseded', `frame ${a.sequence}`);
  }
  assert.notEqual(answers.at(-1).explained, null, 'the last frame is never superseded');
});

test('errors carry the status code and the server message', async () => {
  await assert.rejects(collect(client.explain(sample(0), 'no_such_method')), (e) =>
    e instanceof SalientError && e.code === status.INVALID_ARGUMENT
      && e.details.includes('no_such_method'));
  await assert.rejects(client.classify(sample(0), {model: 'no-such-model'}), (e) =>
    e instanceof SalientError && e.code === status.NOT_FOUND);
  await assert.rejects(client.classify(Buffer.from('not an image')), (e) =>
    e instanceof SalientError && e.codeName === 'INVALID_ARGUMENT');
  await assert.rejects(
    collect(client.explain(sample(0), 'smoothgrad', {params: {samples: -1}})),
    (e) => e instanceof SalientError && e.code === status.INVALID_ARGUMENT
      && e.details.includes('samples'));
});

test('a deadline ends a long explanation with DEADLINE_EXCEEDED', async () => {
  await assert.rejects(
    collect(client.explain(sample(0), 'bim', {target: 'top:2', params: LONG_BIM, timeoutMs: 1000})),
    (e) => e instanceof SalientError && e.code === status.DEADLINE_EXCEEDED);
});

test('leaving the loop cancels the request on the server', async () => {
  const before = (await client.stats()).cancelled;

  for await (const event of client.explain(sample(0), 'bim', {target: 'top:2', params: LONG_BIM})) {
    assert.equal(event.kind, 'started');
    break;
  }

  // The cancel reaches the server's worker asynchronously: poll its counter, bounded.
  for (let i = 0; i < 100 && (await client.stats()).cancelled <= before; i++) {
    await delay(50);
  }
  assert.equal((await client.stats()).cancelled, before + 1);
});
