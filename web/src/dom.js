// Building DOM without innerHTML: every string becomes a text node or an attribute value,
// so user text (titles, descriptions, provider names) can never become markup.

/** `h('button', {class: 'primary', onclick: fn, 'data-testid': 'save'}, 'Save')`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

const notice = document.getElementById('notice');
let noticeTimer;

/** A short message in the bar under the header; `kind` is `info` or `error`. */
export function notify(message, kind = 'info') {
  notice.textContent = message;
  notice.dataset.kind = kind;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

/** Runs `fn` once, `ms` after the last call. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export const formatInstant = (ts) => (ts ? new Date(ts).toLocaleString() : 'never');
