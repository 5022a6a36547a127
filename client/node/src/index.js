'use strict';
// A Node client for Salient: one promise or async iterator per RPC; maps as Float32Arrays.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/** The contract in this repository; pass options.protoPath when the client lives elsewhere. */
const DEFAULT_PROTO = path.resolve(__dirname, '../../../proto/src/main/proto/salient/v1/salient.proto');

// int64 fields (shapes, sequences, times) as Numbers: every value Salient sends fits in 2^53.
const LOADER_OPTIONS = {keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true};

/** A call that ended with a gRPC status other than OK: its code and the server's message. */
class SalientError extends Error {
  constructor(code, details) {
    super(`${codeName(code)}: ${details}`);
    this.name = 'SalientError';
    this.code = code;
    this.codeName = codeName(code);
    this.details = details;
  }
}

function codeName(code) {
  return Object.keys(grpc.status).find((k) => grpc.status[k] === code) || String(code);
}

function wrapError(e) {
  return e && typeof e.code === 'number' ? new SalientError(e.code, e.details) : e;
}

/**
 * A salient.v1.Tensor as {shape, data}: data a Float32Array of its own (copied, because a
 * Buffer received from gRPC may start at an offset that is not a multiple of 4).
 */
function tensorToFloat32(tensor) {
  const bytes = tensor.data;
  const count = bytes.length / 4;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] = view.getFloat32(4 * i, true);
  }
  return {shape: tensor.shape.map(Number), data};
}

/** An image: encoded bytes (Buffer / Uint8Array) or {shape: [C, H, W], data: Float32Array}. */
function toImage(image) {
  if (Buffer.isBuffer(image) || image instanceof Uint8Array) {
    return {encoded: Buffer.from(image)};
  }
  if (image && image.data instanceof Float32Array && Array.isArray(image.shape)) {
    if (image.shape.length !== 3) {
      throw new TypeError(`a pixel tensor is [C, H, W]; this one has shape [${image.shape}]`);
    }
    const out = Buffer.alloc(image.data.length * 4);
    image.data.forEach((v, i) => out.writeFloatLE(v, 4 * i));
    return {tensor: {shape: image.shape, data: out}};
  }
  throw new TypeError('an image is encoded bytes (a Buffer) or {shape: [C, H, W], data: Float32Array}');
}

function toTarget(target) {
  if (target === undefined || target === null) return undefined;
  if (typeof target === 'string') {
    return target.startsWith('top:') ? {rank: Number(target.slice(4))} : {label: target};
  }
  return {classIndex: target};
}

function stringParams(params) {
  return Object.fromEntries(Object.entries(params || {}).map(([k, v]) => [k, String(v)]));
}

function namedMaps(maps) {
  return Object.fromEntries(maps.map((m) => [m.name, tensorToFloat32(m.tensor)]));
}

/**
 * One event of an explanation: kind "started", "frame" or "result", and message, the
 * salient.v1 message (fields in camelCase). maps: a result's maps by name, or a frame's
 * "map" and "image" (when frameTensors was asked). overlays: a result's PNG Buffers by name.
 */
class ExplainEvent {
  constructor(kind, message) {
    this.kind = kind;
    this.message = message;
  }

  get values() {
    return this.message.values || {};
  }

  get maps() {
    if (this.kind === 'result') return namedMaps(this.message.maps);
    if (this.kind === 'frame') {
      const out = {};
      for (const name of ['map', 'image']) {
        if (this.message[name]) out[name] = tensorToFloat32(this.message[name]);
      }
      return out;
    }
    return {};
  }

  get overlays() {
    if (this.kind !== 'result') return {};
    return Object.fromEntries(this.message.maps.filter((m) => m.overlayPng.length > 0)
      .map((m) => [m.name, m.overlayPng]));
  }
}

/** A connection to a Salient server; call close() when done. */
class SalientClient {
  /**
   * @param {string} address host:port
   * @param {{token?: string, credentials?: grpc.ChannelCredentials, protoPath?: string}} options
   */
  constructor(address, options = {}) {
    const definition = protoLoader.loadSync(options.protoPath || DEFAULT_PROTO, LOADER_OPTIONS);
    const salient = grpc.loadPackageDefinition(definition).salient.v1;
    this.stub = new salient.Explainer(address,
      options.credentials || grpc.credentials.createInsecure(),
      {'grpc.max_receive_message_length': 64 * 1024 * 1024});
    this.token = options.token;
  }

  close() {
    this.stub.close();
  }

  metadata() {
    const m = new grpc.Metadata();
    if (this.token) m.set('authorization', `Bearer ${this.token}`);
    return m;
  }

  callOptions(timeoutMs) {
    return timeoutMs ? {deadline: new Date(Date.now() + timeoutMs)} : {};
  }

  unary(method, request, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.metadata(), this.callOptions(timeoutMs),
        (error, response) => (error ? reject(wrapError(error)) : resolve(response)));
    });
  }

  /** The models served, default first. */
  async listModels() {
    return (await this.unary('ListModels', {})).models;
  }

  /** One model: input shape, labels, methods with their parameters and result schema. */
  async describeModel(model = '') {
    return (await this.unary('DescribeModel', {model})).model;
  }

  /** The topK classes of one image, best first. */
  async classify(image, {model = '', topK = 5, timeoutMs} = {}) {
    return (await this.unary('Classify', {model, image: toImage(image), topK}, timeoutMs)).top;
  }

  /** The server's request counters and per-worker batching. */
  stats() {
    return this.unary('Stats', {});
  }

  /**
   * Explains one image, yielding each event as the server sends it: one "started", the
   * "frame"s, one "result". target: a class index, a label, or "top:N". Leaving the loop early
   * (break) cancels the request on the server.
   */
  async* explain(image, method, options = {}) {
    const request = {
      model: options.model || '', image: toImage(image), method,
      target: toTarget(options.target), params: stringParams(options.params),
      topK: options.topK || 0, frameStride: options.frameStride || 0,
      frameTensors: !!options.frameTensors, renderPng: !!options.renderPng,
      omitSnapshots: !!options.omitSnapshots, deterministic: !!options.deterministic,
    };
    const call = this.stub.Explain(request, this.metadata(), this.callOptions(options.timeoutMs));
    try {
      for await (const event of call) {
        yield new ExplainEvent(event.event, event[event.event]);
      }
    } catch (e) {
      throw wrapError(e);
    } finally {
      call.cancel();
    }
  }

  /**
   * Explains a live stream of frames (an iterable or async iterable of images): sends each as it
   * comes, numbered 1, 2, ..., and yields every frame's answer in order: {sequence, explained
   * (an ExplainedFrame message) or dropped ("superseded" or "server_busy"), maps}. The stream
   * ends when the frames end and the last answers are in.
   */
  async* explainVideo(frames, method, options = {}) {
    const call = this.stub.ExplainVideo(this.metadata(), this.callOptions(options.timeoutMs));
    const sending = (async () => {
      call.write({session: {
        model: options.model || '', method, params: stringParams(options.params),
        target: toTarget(options.target), maxInFlight: options.maxInFlight || 0,
        dropPolicy: options.neverDrop ? 'NEVER_DROP' : 'LATEST_FRAME_WINS',
        smoothing: options.smoothing || 0, topK: options.topK || 0,
        renderPng: !!options.renderPng,
      }});
      let sequence = 0;
      for await (const frame of frames) {
        sequence += 1;
        if (!call.write({sequence, image: toImage(frame)})) {
          await new Promise((resolve) => call.once('drain', resolve));
        }
      }
      call.end();
    })();
    sending.catch((e) => call.destroy(e));
    try {
      for await (const answer of call) {
        yield {
          sequence: answer.sequence,
          captureTimeUs: answer.captureTimeUs,
          explained: answer.outcome === 'explained' ? answer.explained : null,
          dropped: answer.outcome === 'dropped' ? answer.dropped.reason : null,
          serverLatencyUs: answer.serverLatencyUs,
          get maps() {
            return this.explained ? namedMaps(this.explained.maps) : {};
          },
        };
      }
      await sending;
    } catch (e) {
      throw wrapError(e);
    } finally {
      call.cancel();
    }
  }
}

module.exports = {SalientClient, SalientError, ExplainEvent, tensorToFloat32, status: grpc.status};
