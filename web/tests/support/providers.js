// The demo's Google and Outlook emulators, used the way the demo user would: their provider
// APIs with the user's own access token, and their control APIs (/_emulator/…) for edits
// "made in the provider's UI" and for fault injection.

export const USER = 'user@example.com';

async function request(method, url, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} → ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** What both emulators share: a token for the user, and fault rules. */
class Emulator {
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  static async connect(base) {
    const { access_token: token } = await request('POST', `${base}/_emulator/tokens`, { body: { email: USER } });
    return new this(base, token);
  }

  /** `{status: 503, count: 1000, path: '/v1.0/'}`: the next matching provider requests fail. */
  addFault(rule) {
    return request('POST', `${this.base}/_emulator/faults`, { body: rule });
  }

  clearFaults() {
    return request('DELETE', `${this.base}/_emulator/faults`);
  }
}

/** Google Calendar: the user's primary calendar. */
export class GoogleEmulator extends Emulator {
  get calendar() {
    return `${this.base}/calendar/v3/calendars/primary/events`;
  }

  /** The live events of the primary calendar (series masters, exceptions, single events). */
  async events() {
    const { items } = await request('GET', `${this.calendar}?maxResults=2500`, { token: this.token });
    return items.filter((e) => e.status !== 'cancelled');
  }

  /** The calsync event a Google event is a copy of (calsync tags its copies), or undefined. */
  static calsyncId(event) {
    return event.extendedProperties?.private?.calsyncId;
  }

  /** The Google copy of calsync's event `id`, or undefined. */
  async copyOf(id) {
    return (await this.events()).find((e) => GoogleEmulator.calsyncId(e) === id);
  }

  /** events.patch, as the user with their token. */
  patch(eventId, changes) {
    return request('PATCH', `${this.calendar}/${encodeURIComponent(eventId)}`, { token: this.token, body: changes });
  }

  /** events.delete, as the user with their token. */
  delete(eventId) {
    return request('DELETE', `${this.calendar}/${encodeURIComponent(eventId)}`, { token: this.token });
  }
}

/** Outlook (Microsoft Graph): the user's default calendar, times shown in Berlin, bodies as text. */
export class GraphEmulator extends Emulator {
  static PREFER = 'outlook.timezone="Europe/Berlin", outlook.body-content-type="text"';

  /** The events of the default calendar (single instances and series masters). */
  async events() {
    const url = `${this.base}/v1.0/me/calendar/events?$top=1000&$expand=singleValueExtendedProperties`;
    const { value } = await request('GET', url, { token: this.token, headers: { Prefer: GraphEmulator.PREFER } });
    return value;
  }

  /** The Outlook copy of calsync's event `id` (tagged with an extended property), or undefined. */
  async copyOf(id) {
    const tagged = (e) => (e.singleValueExtendedProperties ?? []).some((p) => p.id.endsWith(' calsyncId') && p.value === id);
    return (await this.events()).find(tagged);
  }

  /** An edit "made in Outlook" through the control API (never faulted). */
  editInOutlook(eventId, changes) {
    return request('PATCH', `${this.base}/_emulator/users/${USER}/events/${encodeURIComponent(eventId)}`, { body: changes });
  }
}
