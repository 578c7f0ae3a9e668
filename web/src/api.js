// The calsync HTTP API: every request carries the bearer token; failures become ApiError
// with the RFC 9457 problem document the server sent.

const BASE = '/api/v1';

let token = null;
let unauthorized = () => {};

export function useToken(value) {
  token = value;
}

/** Called when the session's token is refused (401) anywhere. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export const authorization = () => ({ Authorization: `Bearer ${token}` });

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }

  /** The per-field violations: `[{field, rule, message}]`. */
  get errors() {
    return this.problem.errors ?? [];
  }
}

async function body(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') ?? '';
  if (type.includes('json')) return response.json();
  const text = await response.text();
  return text ? { detail: text } : null;
}

/**
 * `api('PUT', '/events/ID', {body, headers})` → `{data, etag, status}`; throws ApiError.
 * `token` checks another token than the session's (the login form) without logging out on 401.
 */
export async function api(method, path, options = {}) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${options.token ?? token}`, ...options.headers };
  const init = { method, headers };
  if (options.body !== undefined) {
    headers['Content-Type'] = options.contentType ?? 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(BASE + path, init);
  const data = await body(response);
  if (!response.ok) {
    if (response.status === 401 && !options.token) unauthorized();
    throw new ApiError(response.status, data);
  }
  return { data, etag: response.headers.get('ETag'), status: response.status };
}

/** `path` with a query string from `params` (undefined values left out). */
export function withQuery(path, params) {
  const defined = Object.entries(params).filter(([, v]) => v !== undefined);
  return defined.length ? `${path}?${new URLSearchParams(defined)}` : path;
}
