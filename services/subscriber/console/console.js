// The web console: plain DOM, no build step. The browser sends the Basic Auth credentials it
// opened this page with on every same-origin request (/api/stats, /events).

/** How often the tables are refreshed. */
const REFRESH_MS = 2_000;
/** Messages kept in the live pane: a busy topic must not grow the page without bound. */
const MAX_MESSAGES = 200;

const $ = (selector) => document.querySelector(selector);

/** A table row of text cells: textContent, never HTML, since topic names come from clients. */
function row(cells, attributes = {}) {
  const tr = document.createElement('tr');
  for (const [name, value] of Object.entries(attributes)) tr.dataset[name] = value;
  for (const cell of cells) tr.insertCell().textContent = String(cell);
  return tr;
}

function render(stats) {
  $('#whoami').textContent = `signed in as ${stats.user}`;
  $('#summary').textContent =
    `readers ${stats.readers.live} live, ${stats.readers.behind} behind · up ${stats.uptimeSeconds} s`;
  $('#topics tbody').replaceChildren(
    ...stats.topics.map((t) => row([t.topic, t.subscribers, t.messagesPerSecond], { topic: t.topic })),
  );
  const queue = stats.msgqueue;
  $('#depth').textContent = queue === null ? 'msgqueue unreachable' : `depth ${queue.depth}`;
  $('#groups tbody').replaceChildren(
    ...(queue?.groups ?? []).map((g) => row([g.name, g.backlog, g.consumers], { group: g.name })),
  );
}

/**
 * The user's own resources, each from its API: streams (an idle one shows when it expires) and
 * webhook subscriptions (where each stands and why it waits). A table fails alone: the others and
 * the stats stay as they are.
 */
const OWN_LISTS = [
  {
    path: '/api/streams',
    key: 'streams',
    table: '#streams',
    cells: (s) => [
      s.url,
      s.topics.join(' '),
      s.ordinal,
      s.connections > 0 ? s.connections : `0 (expires ${s.expiresAt})`,
    ],
    attributes: (s) => ({ stream: s.id }),
  },
  {
    path: '/api/subscriptions',
    key: 'subscriptions',
    table: '#webhooks',
    cells: (w) => [
      w.url,
      w.topic ?? w.pattern,
      w.state,
      w.lag ?? '?',
      w.lastError === null ? '' : `${w.lastError.reason} (next ${w.nextAttemptAt ?? 'none'})`,
    ],
    attributes: (w) => ({ webhook: w.id }),
  },
];

async function renderOwnList(list) {
  try {
    const res = await fetch(list.path, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${list.path} answered ${res.status}`);
    const items = (await res.json())[list.key];
    $(`${list.table} tbody`).replaceChildren(...items.map((item) => row(list.cells(item), list.attributes(item))));
  } catch (err) {
    $(`${list.table} tbody`).replaceChildren(row([`unavailable: ${err.message}`]));
  }
}

/** Polls /api/stats; the next poll waits for the previous answer, so a slow service is not piled on. */
async function refresh() {
  try {
    const res = await fetch('/api/stats', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/api/stats answered ${res.status}`);
    render(await res.json());
    await Promise.all(OWN_LISTS.map(renderOwnList));
  } catch (err) {
    $('#summary').textContent = `stats unavailable: ${err.message}`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

function showMessage(data) {
  const delivery = JSON.parse(data);
  const li = document.createElement('li');
  li.dataset.topic = delivery.topic;
  li.dataset.seq = String(delivery.seq);
  const topic = document.createElement('span');
  topic.className = 'topic';
  topic.textContent = delivery.topic;
  const seq = document.createElement('span');
  seq.className = 'seq';
  seq.textContent = `#${delivery.seq}`;
  const content = document.createElement('span');
  content.className = 'content';
  content.textContent = typeof delivery.content === 'string' ? delivery.content : JSON.stringify(delivery.content);
  li.append(topic, seq, content);
  const list = $('#messages');
  list.prepend(li);
  while (list.childElementCount > MAX_MESSAGES) list.lastElementChild.remove();
}

let stream;

/** One event stream for every topic and pattern typed, separated by spaces or commas. */
function subscribe(subjects) {
  stream?.close();
  $('#messages').replaceChildren();
  const status = $('#live-status');
  const query = new URLSearchParams(subjects.map((subject) => ['topic', subject]));
  const source = new EventSource(`/events?${query}`);
  stream = source;
  status.className = '';
  status.textContent = `connecting to ${subjects.join(' ')}…`;
  // A stream answers 200 once every subject is subscribed (a refusal is a 403 or 400 instead).
  source.addEventListener('open', () => {
    status.className = '';
    status.textContent = `subscribed to ${subjects.join(' ')}`;
    status.dataset.state = 'subscribed';
  });
  source.addEventListener('message', (event) => showMessage(event.data));
  // The server's error replies are events named `error` with data; the browser's own have none:
  // a lost connection (retried) or a refused stream (403 or 400, not retried).
  source.addEventListener('error', (event) => {
    status.className = 'error';
    delete status.dataset.state;
    if (event.data !== undefined) status.textContent = `error: ${JSON.parse(event.data).message}`;
    else if (source.readyState === EventSource.CLOSED) status.textContent = 'refused: check the topics and your rights';
    else status.textContent = 'connection lost; reconnecting…';
  });
}

$('#subscribe').addEventListener('submit', (event) => {
  event.preventDefault();
  const subjects = new FormData(event.target)
    .get('topics')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (subjects.length > 0) subscribe(subjects);
});

/** Sign in again this long before the token expires, so a publish never races its expiry. */
const TOKEN_MARGIN_MS = 30_000;
/** When the `pubsub_token` cookie from `POST /api/token` expires (epoch ms); 0: not signed in. */
let tokenExpiresAt = 0;

/** A refusal with the service's `{code, message}`. */
class PublishError extends Error {
  constructor(body, fallback) {
    super(body.message ?? fallback);
    this.code = body.code;
  }
}

/**
 * The publisher is another origin (another port), where the browser does not send this page's
 * Basic Auth. `POST /api/token` here (same origin: Basic Auth is sent) sets the HttpOnly
 * `pubsub_token` cookie for this host; cookies are not per port and SameSite=Strict holds
 * between two ports of one host, so the publisher gets it with `credentials: 'include'`. It
 * accepts it when it has the same AUTH_TOKEN_SECRET and this origin in its ALLOWED_ORIGINS.
 */
async function signIn() {
  const res = await fetch('/api/token', { method: 'POST', cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new PublishError(body, `sign-in (POST /api/token) answered ${res.status}`);
  tokenExpiresAt = Date.parse(body.expiresAt);
}

async function send(publisherUrl, message) {
  const res = await fetch(new URL('/api/messages', publisherUrl), {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(message),
  });
  const body = await res.json().catch(() => ({}));
  return { res, body };
}

async function publish(form) {
  const status = $('#publish-status');
  const fields = new FormData(form);
  const text = fields.get('content');
  const topic = fields.get('topic');
  let content;
  try {
    content = JSON.parse(text);
  } catch {
    content = text; // Plain text is sent as a JSON string.
  }
  status.className = '';
  for (const key of ['state', 'id', 'seq']) delete status.dataset[key];
  status.textContent = 'publishing…';
  try {
    const renew = Date.now() >= tokenExpiresAt - TOKEN_MARGIN_MS;
    if (renew) await signIn();
    let { res, body } = await send(fields.get('publisher'), { topic, content });
    // An older token the publisher no longer takes (it restarted with another secret, or the
    // cookie was dropped): sign in once more and retry once.
    if (res.status === 401 && !renew) {
      await signIn();
      ({ res, body } = await send(fields.get('publisher'), { topic, content }));
    }
    if (!res.ok) throw new PublishError(body, `the publisher answered ${res.status}`);
    status.dataset.state = 'published';
    status.dataset.id = body.id;
    status.dataset.seq = String(body.seq);
    status.textContent = `published ${body.id} (${topic} #${body.seq})`;
  } catch (err) {
    status.className = 'error';
    status.dataset.state = 'error';
    // A TypeError from fetch: no answer the page may read (unreachable, untrusted certificate, or CORS).
    const reason =
      err instanceof PublishError
        ? `${err.code ?? 'ERROR'}: ${err.message}`
        : `${err.message} (is the publisher reachable, its certificate trusted, and this origin in its ALLOWED_ORIGINS?)`;
    status.textContent = `not published: ${reason}`;
  }
}

$('#publish').addEventListener('submit', (event) => {
  event.preventDefault();
  void publish(event.target);
});

// The publisher's URL: ?publisher=<url> (pnpm start prints it for other ports), else port 8081 here.
$('#publish [name=publisher]').value =
  new URLSearchParams(location.search).get('publisher') ?? `https://${location.hostname}:8081`;
void refresh();
