// Salient's web viewer: plain JavaScript over the server's HTTP/JSON API (docs/http.md), no
// libraries. window.salientViewer exposes counters the browser tests read.
'use strict';

const viewer = window.salientViewer = {
  framesDrawn: 0, curvePoints: 0, resultShown: false, compareShown: 0,
  videoFramesExplained: 0, videoFramesDropped: 0, lastLatencyMs: null, errors: 0,
};

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, imageB64: null, abort: null, socket: null, stream: null };

// ---- colour scales (colour-blind safe, the server's renderer's): inferno for 0..max, blue-white-red
// (ColorBrewer RdBu) for -max..max ----
const hex = (...c) => c.map((v) => [(v >> 16) & 255, (v >> 8) & 255, v & 255]);
const SEQUENTIAL = hex(0x000004, 0x0b0724, 0x210c4a, 0x3d0965, 0x57106e, 0x71196e, 0x8a226a,
  0xa32c61, 0xbc3754, 0xd04545, 0xe35933, 0xf1711f, 0xf98c0a, 0xfcaa0f, 0xf9c932, 0xf2e865, 0xfcffa4);
const DIVERGING = hex(0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582,
  0xd6604d, 0xb2182b);
// Sparse maps (a few strong pixels) are faint when shown linearly; |v|^GAMMA lifts the rest.
const GAMMA = 0.5;

function lerpScale(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

function colour(scale, v) {
  // v is in [-1, 1] (diverging) or [0, 1] (sequential), already gamma-scaled.
  return scale === 'diverging' ? lerpScale(DIVERGING, (v + 1) / 2) : lerpScale(SEQUENTIAL, v);
}

// ---- tensors ----
function tensor(t) {
  if (!t || !t.data) return null;
  const bytes = Uint8Array.from(atob(t.data), (c) => c.charCodeAt(0));
  // A fresh buffer: Float32Array needs 4-byte alignment.
  const data = new Float32Array(bytes.buffer.slice(0, bytes.length - (bytes.length % 4)));
  return { shape: (t.shape || []).map(Number), data };
}

function mapPlane(t) {
  // [H, W] as is; [C, H, W] as its channel mean.
  const s = t.shape;
  const h = s[s.length - 2], w = s[s.length - 1];
  if (s.length === 2) return { h, w, data: t.data };
  const c = s[0], out = new Float32Array(h * w);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) out[p] += t.data[k * h * w + p] / c;
  return { h, w, data: out };
}

function maxAbs(data) {
  let m = 0;
  for (const v of data) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m;
}

function drawMap(canvas, plane, scale, max) {
  canvas.width = plane.w; canvas.height = plane.h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(plane.w, plane.h);
  for (let p = 0; p < plane.data.length; p++) {
    const v = Number.isFinite(plane.data[p]) && max > 0 ? plane.data[p] / max : 0;
    const g = Math.sign(v) * Math.pow(Math.abs(v), GAMMA);
    const [r, gr, b] = colour(scale, scale === 'diverging' ? g : Math.abs(g));
    img.data.set([r, gr, b, 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function drawImage(canvas, t, lo, hi) {
  // [C, H, W] pixel values in the model's range, grey or RGB.
  const [c, h, w] = t.shape;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  const scale = 255 / ((hi - lo) || 1);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      img.data[p * 4 + k] = (t.data[(c === 1 ? 0 : k) * h * w + p] - lo) * scale;
    }
    img.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function colourBar(scale, max, label) {
  const bar = document.createElement('div');
  bar.className = 'colour-bar';
  const c = document.createElement('canvas');
  c.width = 128; c.height = 1;
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(128, 1);
  for (let x = 0; x < 128; x++) {
    const t = x / 127;
    const v = scale === 'diverging' ? 2 * t - 1 : t;
    img.data.set([...colour(scale, Math.sign(v) * Math.pow(Math.abs(v), GAMMA)), 255], x * 4);
  }
  ctx.putImageData(img, 0, 0);
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', `${scale} colour scale from ${scale === 'diverging' ? -max : 0} to ${max}`);
  const ticks = document.createElement('div');
  ticks.className = 'ticks';
  const lo = scale === 'diverging' ? fmt(-max) : '0';
  ticks.innerHTML = `<span>${lo}</span><span>${scale === 'diverging' ? '0' : ''}</span><span>${fmt(max)}</span>`;
  const legend = document.createElement('div');
  legend.textContent = label || (scale === 'diverging'
    ? 'blue negative, red positive (|v|^0.5)' : '0 to max (|v|^0.5)');
  bar.append(c, ticks, legend);
  return bar;
}

function fmt(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return '–';
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : String(Math.round(x * 1000) / 1000);
}

// ---- errors ----
function showError(code, message) {
  viewer.errors++;
  const box = $('error');
  box.textContent = `${code}: ${message}`;
  box.hidden = false;
}
function clearError() { $('error').hidden = true; $('error').textContent = ''; }

// ---- HTTP ----
function headers() {
  const h = { 'content-type': 'application/json' };
  const token = $('token').value.trim();
  if (token) h.authorization = 'Bearer ' + token;
  return h;
}

async function getJson(path) {
  const response = await fetch(path, { headers: headers() });
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error), { code: body.code });
  return body;
}

async function postJson(path, request, signal) {
  const response = await fetch(path, { method: 'POST', headers: headers(), body: JSON.stringify(request), signal });
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error), { code: body.code });
  return body;
}

// Reads a Server-Sent Events response (fetch, as EventSource cannot POST) event by event.
async function streamEvents(path, request, signal, onEvent) {
  const h = headers();
  h.accept = 'text/event-stream';
  const response = await fetch(path + '?stream=true', { method: 'POST', headers: h, body: JSON.stringify(request), signal });
  if (!response.ok) {
    const body = await response.json();
    throw Object.assign(new Error(body.error), { code: body.code });
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

// ---- models, methods, parameters ----
async function loadModels() {
  const list = await getJson('/v1/models');
  const select = $('model');
  select.innerHTML = '';
  for (const name of list.models) select.add(new Option(name, name));
  await chooseModel(list.models[0]);
}

async function chooseModel(name) {
  const described = await getJson('/v1/models/' + encodeURIComponent(name));
  state.model = described.model;
  const methods = $('method');
  methods.innerHTML = '';
  for (const m of state.model.methods) methods.add(new Option(m.name, m.name));
  const labels = $('target-label');
  labels.innerHTML = '';
  (state.model.labels || []).forEach((l) => labels.add(new Option(l, l)));
  const list = $('compare-list');
  list.innerHTML = '';
  for (const m of state.model.methods) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox'; box.value = m.name;
    box.checked = ['vanilla', 'integrated_gradients', 'occlusion'].includes(m.name);
    label.append(box, ' ' + m.name);
    list.append(label);
  }
  chooseMethod(methods.value);
}

function method(name) { return state.model.methods.find((m) => m.name === name); }

function chooseMethod(name) {
  const m = method(name);
  $('method-description').textContent = m ? m.description : '';
  const box = $('params');
  box.querySelectorAll('label').forEach((l) => l.remove());
  for (const p of (m && m.parameters) || []) {
    const label = document.createElement('label');
    label.title = p.description + (p.accepted ? ` (${p.accepted})` : '');
    let field;
    if (p.choices && p.choices.length) {
      field = document.createElement('select');
      p.choices.forEach((c) => field.add(new Option(c, c)));
    } else {
      field = document.createElement('input');
      field.type = 'text';
    }
    field.value = p.default_value || '';
    field.dataset.param = p.name;
    field.dataset.default = p.default_value || '';
    label.append(p.name, field);
    box.append(label);
  }
}

function params() {
  const out = {};
  $('params').querySelectorAll('[data-param]').forEach((f) => {
    if (f.value !== f.dataset.default) out[f.dataset.param] = f.value;
  });
  return out;
}

function target() {
  const kind = $('target-kind').value;
  if (kind === 'label') return { label: $('target-label').value };
  if (kind === 'rank') return { rank: Number($('target-rank').value) };
  return undefined;
}

// ---- the image ----
async function loadSamples() {
  const index = await (await fetch('samples/index.json')).json();
  const select = $('sample');
  for (const s of index.samples) select.add(new Option(s.label, s.file));
  await useSample(select.value);
}

async function useSample(file) {
  const blob = await (await fetch('samples/' + file)).blob();
  await useImage(blob);
}

async function useImage(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  state.imageB64 = btoa(binary);
  const bitmap = await createImageBitmap(blob);
  const c = $('input-preview');
  c.width = bitmap.width; c.height = bitmap.height;
  c.getContext('2d').drawImage(bitmap, 0, 0);
}

function request(methodName, live) {
  return {
    image: { encoded: state.imageB64 }, method: methodName, params: methodName === $('method').value ? params() : {},
    target: target(), top_k: 5, frame_tensors: live, omit_snapshots: true,
    // The live view's result offers the server's figure of each map (title, colour bar) as a PNG.
    render_png: live,
  };
}

// ---- the live explanation ----
const curve = { points: [] };

function drawCurve(svg, series, xLabel, yLabel) {
  // series: [{name, x: [], y: [], colour}]; y is a probability in [0, 1].
  const W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height;
  const L = 44, R = 10, T = 10, B = 36;
  let xmax = 0;
  series.forEach((s) => s.x.forEach((x) => { xmax = Math.max(xmax, x); }));
  xmax = xmax || 1;
  const px = (x) => L + (W - L - R) * x / xmax, py = (y) => T + (H - T - B) * (1 - y);
  let out = `<line x1="${L}" y1="${py(0)}" x2="${W - R}" y2="${py(0)}" stroke="#333"/>`
    + `<line x1="${L}" y1="${T}" x2="${L}" y2="${py(0)}" stroke="#333"/>`;
  for (const y of [0, 0.5, 1]) out += `<text x="${L - 4}" y="${py(y) + 4}" text-anchor="end" font-size="11">${y}</text>`;
  out += `<text x="${L}" y="${H - 4}" font-size="11">0</text><text x="${W - R}" y="${H - 4}" text-anchor="end" font-size="11">${fmt(xmax)}</text>`;
  out += `<text x="${(L + W) / 2}" y="${H - 4}" text-anchor="middle" font-size="12">${xLabel}</text>`;
  out += `<text x="12" y="${(T + H - B) / 2}" font-size="12" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${yLabel}</text>`;
  series.forEach((s, i) => {
    const pts = s.x.map((x, k) => `${px(x).toFixed(1)},${py(s.y[k]).toFixed(1)}`).join(' ');
    out += `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${pts}"/>`;
    s.x.forEach((x, k) => { out += `<circle class="point" cx="${px(x).toFixed(1)}" cy="${py(s.y[k]).toFixed(1)}" r="2.5" fill="${s.colour}"/>`; });
    if (series.length > 1) out += `<text x="${W - R - 4}" y="${T + 12 + 14 * i}" text-anchor="end" font-size="12" fill="${s.colour}">${s.name}</text>`;
  });
  svg.innerHTML = out;
}

function resetLive() {
  viewer.framesDrawn = 0; viewer.curvePoints = 0; viewer.resultShown = false;
  curve.points = [];
  $('curve').innerHTML = '';
  $('result-maps').innerHTML = '';
  $('trajectories').innerHTML = '';
  $('result-values').tBodies[0].innerHTML = '';
  $('step-values').innerHTML = '';
  $('top-classes').innerHTML = '';
  $('trajectories').closest('figure').hidden = true;
}

function onFrame(frame) {
  const lo = state.model.pixel_min || 0, hi = state.model.pixel_max ?? 1;
  const image = tensor(frame.image), map = tensor(frame.map);
  if (image) drawImage($('frame-image'), image, lo, hi);
  if (map) {
    const plane = mapPlane(map);
    drawMap($('frame-map'), plane, 'sequential', maxAbs(plane.data));
  }
  viewer.framesDrawn++;
  curve.points.push([frame.step || 0, frame.target_probability || 0]);
  viewer.curvePoints = curve.points.length;
  drawCurve($('curve'), [{ name: 'target', x: curve.points.map((p) => p[0]), y: curve.points.map((p) => p[1]), colour: '#1f5fa8' }], 'step', 'probability');
  const values = Object.assign({ step: frame.step || 0, target_probability: frame.target_probability || 0 }, frame.values || {});
  $('step-values').innerHTML = Object.entries(values).map(([k, v]) => `<dt>${k}</dt><dd>${fmt(v)}</dd>`).join('');
  $('top-classes').innerHTML = (frame.top || []).map((c) => `<li>${c.label} ${fmt(c.probability || 0)}</li>`).join('');
  $('status').textContent = `Step ${frame.step || 0}${frame.phase ? ' (' + frame.phase + ')' : ''}: ${viewer.framesDrawn} frames so far`;
}

function mapCard(title, plane, scale, max, asImage) {
  const card = document.createElement('figure');
  card.className = 'map-card';
  const h = document.createElement('h3');
  h.textContent = title;
  const c = document.createElement('canvas');
  c.className = 'pixelated view-map';
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', title);
  if (asImage) drawImage(c, asImage, state.model.pixel_min || 0, state.model.pixel_max ?? 1);
  else drawMap(c, plane, scale, max);
  card.append(h, c);
  if (!asImage) card.append(colourBar(scale, max));
  return card;
}

function isImageLike(name, t) {
  return t.shape.length === 3 && /adversarial|original|image|masked/.test(name);
}

function showResult(result, started) {
  const box = $('result-maps');
  box.innerHTML = '';
  const input = $('frame-image');
  if (started) box.append(originalCard());
  for (const m of result.maps || []) {
    const t = tensor(m.tensor);
    if (!t) continue;
    if (isImageLike(m.name, t)) { box.append(mapCard(m.name, null, null, 0, t)); continue; }
    const plane = mapPlane(t);
    const scale = m.colour_scale === 'diverging' ? 'diverging' : 'sequential';
    const card = mapCard(m.name, plane, scale, maxAbs(plane.data));
    if (m.figure_png) card.append(figureLink(m, started));
    box.append(card);
  }
  const trajectories = (result.curves || []).filter((c) => /trajectory$/.test(c.name));
  const palette = ['#1f5fa8', '#d95f02', '#1b9e77', '#7570b3'];
  $('trajectories').closest('figure').hidden = trajectories.length === 0;
  if (trajectories.length) {
    drawCurve($('trajectories'), trajectories.map((c, i) => ({ name: c.name, x: c.x, y: c.y, colour: palette[i % 4] })),
      trajectories[0].x_label, trajectories[0].y_label);
    $('trajectories-caption').textContent = trajectories.map((c) => c.name).join(' and ');
  }
  const rows = Object.entries(result.values || {}).sort().map(([k, v]) => `<tr><th scope="row">${k}</th><td>${fmt(v)}</td></tr>`);
  rows.push(`<tr><th scope="row">steps</th><td>${result.steps || 0}</td></tr>`, `<tr><th scope="row">passes</th><td>${result.passes || 0}</td></tr>`,
    `<tr><th scope="row">elapsed ms</th><td>${result.elapsed_ms || 0}</td></tr>`);
  $('result-values').tBodies[0].innerHTML = rows.join('');
  viewer.resultShown = true;
  void input;
}

function figureLink(map, started) {
  const a = document.createElement('a');
  a.className = 'figure-link';
  a.href = 'data:image/png;base64,' + map.figure_png;
  a.download = `${started ? started.method + '.' : ''}${map.name}.figure.png`;
  a.textContent = 'Download figure (PNG)';
  return a;
}

function originalCard() {
  const card = document.createElement('figure');
  card.className = 'map-card';
  const h = document.createElement('h3');
  h.textContent = 'original';
  const c = document.createElement('canvas');
  c.className = 'pixelated view-map';
  c.width = $('input-preview').width; c.height = $('input-preview').height;
  c.getContext('2d').drawImage($('input-preview'), 0, 0);
  card.append(h, c);
  return card;
}

async function explain() {
  clearError();
  resetLive();
  const name = $('method').value;
  state.abort = new AbortController();
  $('status').textContent = `Explaining with ${name}...`;
  let started = null;
  try {
    await streamEvents('/v1/models/' + encodeURIComponent($('model').value) + ':explain', request(name, true),
      state.abort.signal, (event, data) => {
        if (event === 'started') {
          started = data.started;
          $('status').textContent = `Predicted ${started.predicted.label}; explaining ${started.target.label}`;
        } else if (event === 'frame') onFrame(data.frame);
        else if (event === 'result') {
          showResult(data.result, started);
          $('status').textContent = `Done: ${viewer.framesDrawn} frames, ${data.result.passes || 0} passes, ${data.result.elapsed_ms || 0} ms`;
        } else if (event === 'error') showError(data.code, data.error);
      });
  } catch (e) {
    if (e.name !== 'AbortError') showError(e.code || 'ERROR', e.message);
    $('status').textContent = e.name === 'AbortError' ? 'Stopped.' : 'Failed: see the message above.';
  }
}

// ---- side by side ----
async function compare() {
  clearError();
  const names = [...$('compare-list').querySelectorAll('input:checked')].map((b) => b.value);
  const box = $('compare-maps');
  box.innerHTML = '';
  $('compare-bar').innerHTML = '';
  viewer.compareShown = 0;
  state.abort = new AbortController();
  try {
    const results = await Promise.all(names.map((n) =>
      postJson('/v1/models/' + encodeURIComponent($('model').value) + ':explain', request(n, false), state.abort.signal)
        .then((r) => ({ name: n, result: r.result }))));
    const planes = results.map((r) => {
      const m = (r.result.maps || []).find((x) => !isImageLike(x.name, tensor(x.tensor)));
      return { name: r.name, map: m, plane: m ? mapPlane(tensor(m.tensor)) : null };
    }).filter((p) => p.plane);
    const diverging = planes.some((p) => p.map.colour_scale === 'diverging');
    const scale = diverging ? 'diverging' : 'sequential';
    const max = Math.max(...planes.map((p) => maxAbs(p.plane.data)));
    box.append(originalCard());
    for (const p of planes) {
      const card = mapCard(`${p.name}: ${p.map.name}`, p.plane, scale, max);
      card.querySelector('.colour-bar').remove();
      box.append(card);
      viewer.compareShown++;
    }
    $('compare-bar').append(colourBar(scale, max, `one scale for all ${planes.length} maps (|v|^0.5)`));
  } catch (e) {
    if (e.name !== 'AbortError') showError(e.code || 'ERROR', e.message);
  }
}

// ---- webcam ----
async function startVideo() {
  clearError();
  stopVideo();
  viewer.videoFramesExplained = 0; viewer.videoFramesDropped = 0;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  } catch (e) {
    showError('CAMERA', 'no camera: ' + e.message);
    return;
  }
  state.stream = stream;
  const video = $('camera');
  video.srcObject = stream;
  await video.play();
  const token = $('token').value.trim();
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/video'
    + (token ? '?access_token=' + encodeURIComponent(token) : '');
  const socket = state.socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const sent = new Map();
  let sequence = 0, inFlight = 0;
  const grab = document.createElement('canvas');
  const send = () => {
    // Latest frame wins: a new frame goes only when fewer than two are being explained.
    if (socket.readyState !== WebSocket.OPEN || inFlight >= 2 || !state.socket) return;
    grab.width = video.videoWidth || 320; grab.height = video.videoHeight || 240;
    grab.getContext('2d').drawImage(video, 0, 0, grab.width, grab.height);
    inFlight++;
    grab.toBlob((blob) => {
      if (!blob || socket.readyState !== WebSocket.OPEN) { inFlight--; return; }
      sequence++;
      sent.set(sequence, performance.now());
      socket.send(blob);
    }, 'image/jpeg', 0.8);
  };
  socket.onopen = () => {
    const session = { model: $('model').value, method: $('method').value, params: params(), max_in_flight: 2 };
    socket.send(JSON.stringify(session));
    state.timer = setInterval(send, 30);
  };
  socket.onmessage = (message) => {
    const answer = JSON.parse(message.data);
    if (answer.error) { showError(answer.code, answer.error); return; }
    inFlight = Math.max(0, inFlight - 1);
    const seq = Number(answer.sequence);
    const start = sent.get(seq);
    sent.delete(seq);
    if (start !== undefined) viewer.lastLatencyMs = Math.round(performance.now() - start);
    if (answer.dropped) { viewer.videoFramesDropped++; return; }
    const maps = (answer.explained && answer.explained.maps) || [];
    if (maps.length) {
      const plane = mapPlane(tensor(maps[0].tensor));
      const scale = maps[0].colour_scale === 'diverging' ? 'diverging' : 'sequential';
      const max = maxAbs(plane.data);
      drawMap($('video-overlay'), plane, scale, max);
      $('video-bar').replaceChildren(colourBar(scale, max, `${maps[0].name}, this frame's scale (|v|^0.5)`));
    }
    viewer.videoFramesExplained++;
    const predicted = answer.explained && answer.explained.predicted;
    $('video-status').textContent = `${viewer.videoFramesExplained} frames explained, ${viewer.videoFramesDropped} dropped;`
      + ` latency ${viewer.lastLatencyMs} ms; predicted ${predicted ? predicted.label : '?'}`;
  };
  socket.onclose = () => { clearInterval(state.timer); };
}

function stopVideo() {
  clearInterval(state.timer);
  if (state.socket) { state.socket.close(); state.socket = null; }
  if (state.stream) { state.stream.getTracks().forEach((t) => t.stop()); state.stream = null; }
}

// ---- wiring ----
function showView(name) {
  document.querySelectorAll('.tab').forEach((t) => t.setAttribute('aria-pressed', String(t.dataset.view === name)));
  for (const v of ['explain', 'compare', 'video']) $('view-' + v).hidden = v !== name;
  $('compare-methods').hidden = name !== 'compare';
  $('run').hidden = name === 'video';
  $('run').textContent = name === 'compare' ? 'Compare' : 'Explain';
  state.view = name;
}

document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => showView(t.dataset.view)));
$('model').addEventListener('change', (e) => chooseModel(e.target.value).catch((x) => showError(x.code || 'ERROR', x.message)));
$('method').addEventListener('change', (e) => chooseMethod(e.target.value));
const showTarget = () => {
  $('target-label').hidden = $('target-kind').value !== 'label';
  $('target-rank').hidden = $('target-kind').value !== 'rank';
};
$('target-kind').addEventListener('change', showTarget);
showTarget();
$('sample').addEventListener('change', (e) => useSample(e.target.value));
$('upload').addEventListener('change', (e) => { if (e.target.files[0]) useImage(e.target.files[0]); });
$('run').addEventListener('click', () => (state.view === 'compare' ? compare() : explain()));
$('stop').addEventListener('click', () => { if (state.abort) state.abort.abort(); stopVideo(); });
$('video-start').addEventListener('click', startVideo);
$('video-stop').addEventListener('click', stopVideo);
showView('explain');
viewer.ready = Promise.all([loadModels(), loadSamples()])
  .then(() => { viewer.loaded = true; })
  .catch((e) => showError(e.code || 'ERROR', e.message));
