// Signing in with an API token: checked with GET /me, kept in sessionStorage (this tab
// only), sent as a bearer header. No cookies, so cross-site requests carry no credentials.

import { ApiError, api, onUnauthorized, useToken } from './api.js';

const KEY = 'calsync.token';
const EXPIRED = 'calsync.expired';

const page = document.getElementById('login');
const form = document.getElementById('login-form');
const input = document.getElementById('login-token');
const error = document.getElementById('login-error');

function showLogin(message = '') {
  page.hidden = false;
  error.textContent = message;
  input.focus();
}

async function verify(token) {
  try {
    return (await api('GET', '/me', { token })).data;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Forgets the token and starts over at the login screen. */
export function logout(expired = false) {
  sessionStorage.removeItem(KEY);
  if (expired) sessionStorage.setItem(EXPIRED, '1');
  location.reload();
}

/** Shows the login screen until a valid token is given (or one is stored), then `ready(user)`. */
export async function start(ready) {
  onUnauthorized(() => logout(true));
  const begin = (token, user) => {
    sessionStorage.setItem(KEY, token);
    useToken(token);
    page.hidden = true;
    ready(user);
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return showLogin('Enter your API token.');
    try {
      const user = await verify(token);
      if (user) begin(token, user);
      else showLogin('This token is not valid.');
    } catch (e) {
      showLogin(`Could not reach calsync: ${e.message}`);
    }
  });
  const saved = sessionStorage.getItem(KEY);
  const expired = sessionStorage.getItem(EXPIRED);
  sessionStorage.removeItem(EXPIRED);
  if (!saved) return showLogin(expired ? 'Your token is no longer valid; sign in again.' : '');
  try {
    const user = await verify(saved);
    if (user) return begin(saved, user);
    sessionStorage.removeItem(KEY);
    showLogin('Your token is no longer valid; sign in again.');
  } catch (e) {
    showLogin(`Could not reach calsync: ${e.message}`);
  }
}
