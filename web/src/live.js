// The change stream (GET /changes/stream), read with fetch so it can carry the bearer
// header (EventSource cannot). Server-sent event frames are parsed here; after a drop the
// stream reconnects with backoff and resumes after the last change seen (Last-Event-ID).

import { authorization } from './api.js';

const indicator = document.getElementById('live');
const MAX_DELAY = 30_000;
/** The server sends a keep-alive every 15 s; this long without a byte means the link is dead. */
const SILENCE = 45_000;

function setState(state, text) {
  indicator.dataset.state = state;
  indicator.textContent = text;
}

/** One frame (the lines between blank lines) → `{event, data, id}`. */
function parseFrame(block) {
  const frame = { event: 'message', data: [], id: null };
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') frame.data.push(value);
    else if (field === 'event') frame.event = value;
    else if (field === 'id') frame.id = value;
  }
  return { ...frame, data: frame.data.join('\n') };
}

async function readFrames(response, onFrame, controller) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let watchdog;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => controller.abort(), SILENCE);
  };
  try {
    for (arm(); ; arm()) {
      const { value, done } = await reader.read();
      if (done) return;
      // Line ends may be CRLF, LF or CR; a CR at the very end may still get its LF.
      buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        onFrame(parseFrame(buffer.slice(0, end)));
        buffer = buffer.slice(end + 2);
      }
    }
  } finally {
    clearTimeout(watchdog);
  }
}

/**
 * Follows the stream for the life of the page: `onOpen()` on every (re)connect (refetch what
 * may have been missed), `onChange(change)` per `event: change`, `onNotice(notice)` per
 * `event: sync`, `onDenied()` when the token is refused.
 */
export async function startLive({ onOpen, onChange, onNotice, onDenied }) {
  let lastId = null;
  const dispatch = (frame) => {
    if (frame.id) lastId = frame.id;
    if (!frame.data) return;
    if (frame.event === 'change') onChange(JSON.parse(frame.data));
    else if (frame.event === 'sync') onNotice(JSON.parse(frame.data));
  };
  setState('connecting', 'connecting…');
  for (let delay = 1000; ; delay = Math.min(delay * 2, MAX_DELAY)) {
    const controller = new AbortController();
    try {
      const headers = { ...authorization(), Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const response = await fetch('/api/v1/changes/stream', { headers, signal: controller.signal, cache: 'no-store' });
      if (response.status === 401) return onDenied();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      setState('live', 'live');
      delay = 1000;
      onOpen();
      await readFrames(response, dispatch, controller);
    } catch {
      // Dropped, refused or silent: try again after the delay.
    }
    setState('reconnecting', 'reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
