// The dashboard's script (served inline by src/api/ui.ts, allowed by its hash). It reads the state once, then follows
// the event stream with fetch, so that the bearer token travels in a header: EventSource could only put it in the URL.
(function dashboard() {
  'use strict';

  const TOKEN_KEY = 'neat.dashboard.token';
  /** Events read before the state's position on start: the recent requests and migrations the lists begin with. */
  const BACKFILL_EVENTS = 5000;
  const MAX_REQUESTS = 50;
  const MAX_FINISHED_MIGRATIONS = 20;
  const LATENCY_WINDOW = 100;
  /** Requests received and not yet decided, remembered for their latency: a burst can outrun the list shown. */
  const MAX_UNDECIDED = 10000;
  const LATENCY_BARS = 50;
  const QUEUE_BARS = 60;
  const HEALTH_POLL_MS = 2000;
  /** The service sends a comment every 15 s to an idle stream: three missed mean the connection is dead. */
  const STALL_MS = 45000;
  const FIRST_BACKOFF_MS = 500;
  const MAX_BACKOFF_MS = 30000;
  /** Consecutive failed connections before the page stops trying (about 1.5 h at the longest backoff). */
  const MAX_RECONNECTS = 200;
  /** A frame larger than this is not the service's: the stream is dropped rather than buffered without end. */
  const MAX_FRAME_CHARS = 8 * 1024 * 1024;
  const EXCLUDED_TYPES = 'UtilizationSampled,DataCentreUpdated';
  const POWER_STATES = ['active', 'suspending', 'asleep', 'waking', 'suspend-failed', 'wake-failed'];
  const POWER_AFTER = {
    HostSuspendRequested: 'suspending', HostSuspended: 'asleep', HostSuspendFailed: 'suspend-failed',
    HostWakeRequested: 'waking', HostWoken: 'active', HostWakeFailed: 'wake-failed',
  };
  const MIGRATION_ENDS = { MigrationCompleted: 'completed', MigrationFailed: 'failed', MigrationAbandoned: 'abandoned', MigrationSkipped: 'skipped' };

  const $ = (id) => document.getElementById(id);

  /** The service refused the token (401 or 403): the page asks for another. */
  class TokenRefused extends Error {}

  let state = freshState();
  /** Each (re)start of the page's work gets a generation; loops of an older one stop. */
  let generation = 0;
  let streamAbort = null;
  let renderPending = false;

  function freshState() {
    return {
      position: 0, hostsPosition: 0, vmsPosition: 0, simulation: false,
      hosts: new Map(), requests: new Map(), undecided: new Map(), inFlight: new Map(), finished: [], latenciesMs: [], queueDepths: [],
      queueDepth: null, healthProblem: null, logName: '',
    };
  }

  // ---- formatting

  function twoDigits(value) {
    return String(value).padStart(2, '0');
  }

  /** A simulation's times run from the start of its trace; production's are the wall clock's (UTC, as `neat serve` prints). */
  function timeLabel(timeMs) {
    if (!state.simulation) return new Date(timeMs).toISOString().slice(11, 19);
    const totalS = Math.floor(timeMs / 1000);
    const days = Math.floor(totalS / 86400);
    const clock = `${twoDigits(Math.floor((totalS % 86400) / 3600))}:${twoDigits(Math.floor((totalS % 3600) / 60))}:${twoDigits(totalS % 60)}`;
    return `+${days > 0 ? `${days}d` : ''}${clock}`;
  }

  function duration(durationMs) {
    if (durationMs < 1000) return `${Math.round(durationMs)} ms`;
    if (durationMs < 60000) return `${(durationMs / 1000).toFixed(1)} s`;
    return `${(durationMs / 60000).toFixed(1)} min`;
  }

  /** The value below which `fraction` of the sorted values lie (nearest rank). */
  function quantile(sorted, fraction) {
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))];
  }

  function plural(count, noun) {
    return `${count} ${noun}${count === 1 ? '' : 's'}`;
  }

  // ---- the service

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function authorised() {
    return { Authorization: `Bearer ${token()}` };
  }

  async function getJson(path, withToken) {
    const response = await fetch(path, { headers: withToken ? authorised() : {}, cache: 'no-store' });
    if (response.status === 401 || response.status === 403) throw new TokenRefused(`the token was refused (${response.status})`);
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  // ---- folding events into the picture

  function hostNamed(name) {
    let host = state.hosts.get(name);
    if (host === undefined) {
      host = { name, power: 'active', enabled: true, vms: 0 };
      state.hosts.set(name, host);
    }
    return host;
  }

  function rememberRequest(request) {
    state.requests.set(request.requestId, request);
    if (state.requests.size > MAX_REQUESTS) state.requests.delete(state.requests.keys().next().value);
  }

  function foldRequest(event) {
    const { data } = event;
    const request = state.requests.get(data.requestId);
    switch (event.type) {
      case 'RequestReceived':
        state.undecided.set(data.requestId, event.metadata.timeMs);
        if (state.undecided.size > MAX_UNDECIDED) state.undecided.delete(state.undecided.keys().next().value);
        rememberRequest({
          requestId: data.requestId, host: data.host, reason: data.reason, vmIds: data.vmIds, receivedAtMs: event.metadata.timeMs,
          decidedAtMs: null, outcome: null, detail: '',
        });
        return;
      case 'RequestRejected':
        rememberRequest({
          requestId: data.requestId, host: data.host ?? '–', reason: '–', vmIds: [], receivedAtMs: event.metadata.timeMs,
          decidedAtMs: null, outcome: 'refused', detail: `${data.status}: ${data.reason}`,
        });
        return;
      case 'PlacementDecided':
      case 'NothingToDo': {
        const receivedAtMs = state.undecided.get(data.requestId);
        if (receivedAtMs !== undefined) {
          state.undecided.delete(data.requestId);
          state.latenciesMs.push(event.metadata.timeMs - receivedAtMs);
          if (state.latenciesMs.length > LATENCY_WINDOW) state.latenciesMs.shift();
        }
        if (request === undefined) return;
        request.decidedAtMs = event.metadata.timeMs;
        request.detail = event.type === 'NothingToDo' ? `nothing to do: ${data.reason}` : placementSummary(data);
        return;
      }
      case 'RequestCompleted':
        // A superseded request ends undecided.
        state.undecided.delete(data.requestId);
        if (request === undefined) return;
        request.outcome = data.outcome;
        request.detail = data.detail;
        return;
      default:
    }
  }

  function placementSummary(data) {
    const moves = Object.entries(data.mapping).map(([vm, host]) => `${vm}→${host}`);
    const parts = [moves.length === 0 ? 'no moves' : moves.join(', ')];
    if (data.hostsToWake.length > 0) parts.push(`wake ${data.hostsToWake.join(', ')}`);
    if (data.hostsToSuspend.length > 0) parts.push(`suspend ${data.hostsToSuspend.join(', ')}`);
    return parts.join(' · ');
  }

  function foldMigration(event) {
    const { data } = event;
    // Migrations the VM list already showed in flight (at or before its position) only learn their target here.
    const known = event.position <= state.vmsPosition;
    if (event.type === 'MigrationStarted') {
      const migration = {
        vmId: data.vmId, migrationId: data.migrationId, source: data.sourceHost, target: data.targetHost, attempt: data.attempt, startedAtMs: event.metadata.timeMs,
      };
      if (!known || state.inFlight.has(data.vmId)) state.inFlight.set(data.vmId, migration);
      return;
    }
    const ended = MIGRATION_ENDS[event.type];
    if (ended === undefined) return;
    const started = state.inFlight.get(data.vmId);
    // A skipped step never started; a migration the VM list showed has no id to compare.
    const endsStarted = ended !== 'skipped' && started !== undefined && (started.migrationId === data.migrationId || started.migrationId === null);
    if (!known && endsStarted) state.inFlight.delete(data.vmId);
    state.finished.unshift({
      vmId: data.vmId, source: data.sourceHost, target: data.targetHost, attempt: data.attempt ?? data.attempts ?? null,
      startedAtMs: started?.startedAtMs ?? event.metadata.timeMs, state: ended,
      note: ended === 'completed' ? `in ${duration(data.durationMs)}` : (data.error ?? data.reason ?? ''),
    });
    if (state.finished.length > MAX_FINISHED_MIGRATIONS) state.finished.pop();
  }

  function foldHosts(event) {
    if (event.position <= state.hostsPosition) return;
    const power = POWER_AFTER[event.type];
    if (power !== undefined) {
      hostNamed(event.data.host).power = power;
      return;
    }
    if (event.type === 'MigrationCompleted') {
      const source = hostNamed(event.data.sourceHost);
      source.vms = Math.max(0, source.vms - 1);
      hostNamed(event.data.targetHost).vms += 1;
      return;
    }
    if (event.type === 'InventoryObserved') foldInventory(event.data);
  }

  /** As the service's projection reads the cloud's report: a transition in progress stands; a contradicted state yields. */
  function foldInventory(data) {
    const counts = new Map();
    for (const vm of data.vms) {
      // A migrating VM stays on its source until the migration ends, whatever the cloud says meanwhile.
      const on = state.inFlight.get(vm.vmId)?.source ?? vm.host;
      if (on !== null) counts.set(on, (counts.get(on) ?? 0) + 1);
    }
    for (const observed of data.hosts) {
      const known = state.hosts.has(observed.host);
      const host = hostNamed(observed.host);
      const up = observed.state === 'up';
      if (!known) host.power = up ? 'active' : 'asleep';
      else if (host.power !== 'suspending' && host.power !== 'waking' && (host.power === 'active' || host.power === 'suspend-failed') !== up) {
        host.power = up ? 'active' : 'asleep';
      }
      host.enabled = observed.enabled ?? true;
      host.vms = counts.get(observed.host) ?? 0;
    }
  }

  function fold(event) {
    state.position = Math.max(state.position, event.position);
    if (event.type === 'SimulationStarted') state.simulation = true;
    if (event.type.startsWith('Request') || event.type === 'PlacementDecided' || event.type === 'NothingToDo') foldRequest(event);
    if (event.type.startsWith('Migration')) foldMigration(event);
    foldHosts(event);
  }

  // ---- reading the state, then the stream

  async function loadState() {
    const [health, hosts, vms, first] = await Promise.all([
      getJson('/healthz', false), getJson('/v1/hosts', true), getJson('/v1/vms', true), getJson('/v1/events?limit=1', true),
    ]);
    const next = freshState();
    next.simulation = first.events.length > 0 && first.events[0].type === 'SimulationStarted';
    next.hostsPosition = hosts.position;
    next.vmsPosition = vms.position;
    for (const host of hosts.hosts) next.hosts.set(host.name, { name: host.name, power: host.power, enabled: host.enabled, vms: host.vms });
    for (const vm of vms.vms) {
      if (vm.migrating) next.inFlight.set(vm.id, { vmId: vm.id, migrationId: null, source: vm.host, target: '?', attempt: null, startedAtMs: null });
    }
    state = next;
    takeHealth(health);
    return Math.max(0, Math.min(hosts.position, vms.position) - BACKFILL_EVENTS);
  }

  /** Splits the text read so far into complete frames; returns what is left of the next one. */
  function dispatchFrames(buffered) {
    const frames = buffered.replace(/\r\n?/g, '\n').split('\n\n');
    const rest = frames.pop();
    for (const frame of frames) {
      const data = frame.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length > 0) fold(JSON.parse(data.join('\n')));
    }
    if (frames.length > 0) scheduleRender();
    if (rest.length > MAX_FRAME_CHARS) throw new Error(`a frame of more than ${MAX_FRAME_CHARS} characters`);
    return rest;
  }

  /** One connection of the stream, until it ends, stalls or fails; calls `opened` once the service has answered. */
  async function readStream(mine, opened) {
    const controller = new AbortController();
    streamAbort = controller;
    let stall = setTimeout(() => { controller.abort(); }, STALL_MS);
    try {
      const url = `/v1/events/stream?exclude=${EXCLUDED_TYPES}&after=${state.position}`;
      const response = await fetch(url, { headers: { ...authorised(), Accept: 'text/event-stream' }, cache: 'no-store', signal: controller.signal });
      if (response.status === 401 || response.status === 403) throw new TokenRefused(`the token was refused (${response.status})`);
      if (!response.ok) throw new Error(`the stream answered ${response.status}`);
      opened();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      while (mine === generation) {
        const { done, value } = await reader.read();
        if (done) return;
        clearTimeout(stall);
        stall = setTimeout(() => { controller.abort(); }, STALL_MS);
        buffered = dispatchFrames(buffered + value);
      }
    } finally {
      clearTimeout(stall);
      if (streamAbort === controller) streamAbort = null;
      controller.abort();
    }
  }

  function sleep(durationMs) {
    return new Promise((resolve) => { setTimeout(resolve, durationMs); });
  }

  /**
   * Follows the stream from the last position seen, reconnecting with exponential backoff, at most MAX_RECONNECTS
   * times in a row. A connection counts as a success only once it has lasted the longest backoff: one that the
   * service (or a proxy) drops as soon as it opens backs off like one that cannot open.
   */
  async function follow(mine) {
    for (let failures = 0; mine === generation;) {
      showConnection('connecting', failures === 0 ? 'connecting' : `reconnecting (attempt ${failures + 1})`);
      let openedAtMs = null;
      try {
        await readStream(mine, () => {
          openedAtMs = performance.now();
          showConnection('live', `live · position ${state.position}`);
        });
      } catch (error) {
        if (error instanceof TokenRefused) {
          void askToken(error.message);
          return;
        }
      }
      if (mine !== generation) return;
      if (openedAtMs !== null && performance.now() - openedAtMs > MAX_BACKOFF_MS) failures = 0;
      failures += 1;
      if (failures > MAX_RECONNECTS) {
        showConnection('stopped', `disconnected after ${MAX_RECONNECTS} attempts: reload the page`);
        return;
      }
      const waitMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
      showConnection('reconnecting', `disconnected · retrying in ${duration(waitMs)} from position ${state.position}`);
      await sleep(waitMs);
    }
  }

  function takeHealth(health) {
    state.queueDepth = health.queueDepth;
    state.logName = health.log;
    state.queueDepths.push(health.queueDepth);
    if (state.queueDepths.length > QUEUE_BARS) state.queueDepths.shift();
  }

  async function pollHealth(mine) {
    while (mine === generation) {
      await sleep(HEALTH_POLL_MS);
      try {
        takeHealth(await getJson('/healthz', false));
        state.healthProblem = null;
      } catch (error) {
        state.healthProblem = error.message;
      }
      scheduleRender();
    }
  }

  async function start() {
    generation += 1;
    const mine = generation;
    streamAbort?.abort();
    showConnection('connecting', 'reading the state');
    for (let failures = 0; ; failures += 1) {
      try {
        state.position = await loadState();
        break;
      } catch (error) {
        if (error instanceof TokenRefused) {
          void askToken(error.message);
          return;
        }
        if (failures >= MAX_RECONNECTS) {
          showConnection('stopped', `the service cannot be read (${error.message}): reload the page`);
          return;
        }
        const waitMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** failures);
        showConnection('reconnecting', `the state cannot be read (${error.message}) · retrying in ${duration(waitMs)}`);
        await sleep(waitMs);
        if (mine !== generation) return;
      }
    }
    scheduleRender();
    void pollHealth(mine);
    void follow(mine);
  }

  // ---- the token

  function askToken(problem) {
    generation += 1;
    streamAbort?.abort();
    sessionStorage.removeItem(TOKEN_KEY);
    showConnection('token', 'a bearer token is needed');
    $('token-problem').textContent = problem;
    $('token-input').value = '';
    const dialog = $('token-dialog');
    if (!dialog.open) dialog.showModal();
    $('token-input').focus();
  }

  function tokenEntered(submitted) {
    submitted.preventDefault();
    const entered = $('token-input').value.trim();
    if (entered === '') return;
    sessionStorage.setItem(TOKEN_KEY, entered);
    $('token-input').value = '';
    $('token-dialog').close();
    void start();
  }

  // ---- drawing

  function showConnection(kind, text) {
    const badge = $('connection');
    badge.className = `connection ${kind}`;
    badge.textContent = text;
    badge.dataset.position = String(state.position);
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) tr.append(cell instanceof Node ? cell : element('td', '', String(cell)));
    return tr;
  }

  function cell(className, content) {
    const td = element('td', className);
    td.append(content);
    return td;
  }

  function emptyRow(text, columns) {
    const td = element('td', 'empty', text);
    td.colSpan = columns;
    return row([td]);
  }

  function badge(kind, text) {
    return element('span', `outcome ${kind}`, text);
  }

  /** Bars of `values`, scaled to the largest; those above `highAt` drawn in the warning colour. */
  function drawBars(svg, values, slots, highAt) {
    const width = 300;
    const height = 44;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.replaceChildren();
    const largest = Math.max(1, ...values);
    const slot = width / slots;
    values.forEach((value, index) => {
      const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const barHeight = Math.max(1, (value / largest) * (height - 2));
      bar.setAttribute('x', String((slots - values.length + index) * slot + 0.5));
      bar.setAttribute('y', String(height - barHeight));
      bar.setAttribute('width', String(Math.max(1, slot - 1)));
      bar.setAttribute('height', String(barHeight));
      if (value > highAt) bar.setAttribute('class', 'high');
      svg.append(bar);
    });
  }

  function renderHosts() {
    const hosts = [...state.hosts.values()];
    const counts = new Map(POWER_STATES.map((power) => [power, 0]));
    for (const host of hosts) counts.set(host.power, (counts.get(host.power) ?? 0) + 1);
    $('host-count').textContent = String(hosts.length);
    $('host-note').textContent = POWER_STATES.filter((power) => counts.get(power) > 0).map((power) => `${counts.get(power)} ${power}`).join(' · ');
    $('power-legend').replaceChildren(...POWER_STATES.map((power) => element('span', power, `${power} ${counts.get(power)}`)));
    $('hosts').replaceChildren(...hosts.map((host) => {
      const tile = element('div', `host ${host.power}${host.enabled ? '' : ' disabled'}`);
      tile.dataset.power = host.power;
      tile.dataset.host = host.name;
      tile.dataset.vms = String(host.vms);
      tile.title = `${host.name}: ${host.power}${host.enabled ? '' : ', disabled'}, ${plural(host.vms, 'VM')}`;
      tile.append(element('b', '', host.name), `${plural(host.vms, 'VM')} · ${host.power}`);
      return tile;
    }));
  }

  function renderQueue() {
    $('queue-depth').textContent = state.queueDepth === null ? '–' : String(state.queueDepth);
    const most = Math.max(0, ...state.queueDepths);
    $('queue-note').textContent = state.healthProblem ? `/healthz: ${state.healthProblem}`
      : `requests waiting to be decided or carried out; at most ${most} in the last ${plural(state.queueDepths.length, 'reading')}, one every ${HEALTH_POLL_MS / 1000} s`;
    drawBars($('queue-bars'), state.queueDepths, QUEUE_BARS, Infinity);
  }

  function renderLatency() {
    const latencies = state.latenciesMs;
    if (latencies.length === 0) {
      $('latency').textContent = '–';
      $('latency-note').textContent = 'no decision yet';
    } else {
      const sorted = [...latencies].sort((a, b) => a - b);
      const median = quantile(sorted, 0.5);
      const p95 = quantile(sorted, 0.95);
      Object.assign($('latency').dataset, { medianMs: String(median), p95Ms: String(p95), count: String(latencies.length) });
      $('latency').replaceChildren(duration(median), element('small', '', 'median'));
      $('latency-note').textContent = `p95 ${duration(p95)} · last ${duration(latencies[latencies.length - 1])} · ${plural(latencies.length, 'decision')}, receipt to decision${state.simulation ? ' in simulated time' : ''}`;
    }
    const recent = latencies.slice(-LATENCY_BARS);
    drawBars($('latency-bars'), recent, LATENCY_BARS, recent.length === 0 ? Infinity : quantile([...latencies].sort((a, b) => a - b), 0.95));
  }

  function requestState(request) {
    if (request.outcome !== null) return request.outcome;
    return request.decidedAtMs === null ? 'queued' : 'executing';
  }

  function renderRequests() {
    const requests = [...state.requests.values()].reverse();
    const rows = requests.map((request) => {
      const status = requestState(request);
      const kind = request.outcome === null ? 'pending' : status;
      const reason = request.vmIds.length > 0 ? `${request.reason} (${request.vmIds.join(', ')})` : request.reason;
      const decided = request.decidedAtMs === null ? '' : duration(request.decidedAtMs - request.receivedAtMs);
      const tr = row([
        cell('nowrap', timeLabel(request.receivedAtMs)), cell('nowrap', request.host), cell('nowrap', reason), cell('', badge(kind, status)),
        cell('num', decided), cell('detail', request.detail),
      ]);
      tr.lastChild.title = request.detail;
      tr.dataset.requestId = request.requestId;
      tr.dataset.outcome = status;
      return tr;
    });
    $('requests').replaceChildren(...(rows.length > 0 ? rows : [emptyRow('no request yet', 6)]));
  }

  function renderMigrations() {
    const inFlight = [...state.inFlight.values()];
    $('migration-count').textContent = String(inFlight.length);
    const ends = Object.values(MIGRATION_ENDS).map((end) => [end, state.finished.filter((m) => m.state === end).length]).filter(([, count]) => count > 0);
    $('migration-note').textContent = state.finished.length === 0 ? 'none finished yet'
      : `the last ${state.finished.length} finished: ${ends.map(([end, count]) => `${count} ${end}`).join(', ')}`;
    const started = (migration) => (migration.startedAtMs === null ? 'before' : timeLabel(migration.startedAtMs));
    const rows = [
      ...inFlight.map((m) => row([cell('nowrap', started(m)), m.vmId, `${m.source} → ${m.target}`, cell('num', String(m.attempt ?? '')), cell('', badge('pending', 'in flight'))])),
      ...state.finished.map((m) => row([cell('nowrap', started(m)), m.vmId, `${m.source} → ${m.target}`, cell('num', String(m.attempt ?? '')), cell('', badge(m.state, `${m.state} ${m.note}`.trim()))])),
    ];
    rows.forEach((tr, index) => {
      const migration = index < inFlight.length ? inFlight[index] : state.finished[index - inFlight.length];
      Object.assign(tr.dataset, { vm: migration.vmId, route: `${migration.source}>${migration.target}`, state: index < inFlight.length ? 'in-flight' : migration.state });
    });
    $('migrations').replaceChildren(...(rows.length > 0 ? rows : [emptyRow('no migration yet', 5)]));
  }

  function render() {
    renderPending = false;
    $('where').textContent = [location.host, state.simulation ? 'a simulated data centre' : '', state.logName].filter((part) => part !== '').join(' · ');
    if ($('connection').classList.contains('live')) showConnection('live', `live · position ${state.position}`);
    renderHosts();
    renderQueue();
    renderLatency();
    renderRequests();
    renderMigrations();
  }

  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(render);
  }

  $('token-form').addEventListener('submit', tokenEntered);
  $('forget').addEventListener('click', () => { askToken(''); });
  if (token() === null) askToken('');
  else void start();
}());
