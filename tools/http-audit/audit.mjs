// Audits a running hub's /graphql endpoint against the GraphQL-over-HTTP specification, with
// the audit suite that the `graphql-http` package ships (the one the public contract names).
//
// usage:  node audit.mjs URL TOKEN
//         or HUB_AUDIT_URL=... HUB_AUDIT_TOKEN=... node audit.mjs
//         e.g. node audit.mjs http://127.0.0.1:8000/graphql "$(hub token create ...)"
// stdout: a JSON array [{"id": "22EB", "name": "SHOULD ...", "status": "ok", "reason": null}, ...]
//         with one entry per audit, in the suite's order. status is the suite's own verdict:
//         "ok"; "error" for a failed MUST; "warn" for a failed SHOULD; "notice" for a failed
//         MAY (optional behaviour). An audit that could not run at all (e.g. the connection
//         was refused) is reported as "error" with a reason starting "audit did not run".
// exit:   0 when the audits ran (whatever they found), 2 when the arguments were not usable.
//
// Every request the suite makes carries `Authorization: Bearer TOKEN`: the hub answers 401 to
// anything else, which would hide every other behaviour from the audits.

import { serverAudits } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 30_000;
const BODY_EXCERPT_CHARS = 300;

function usage(message) {
  process.stderr.write(`error: ${message}\nusage: node audit.mjs URL TOKEN\n`);
  process.exit(2);
}

const url = process.argv[2] ?? process.env.HUB_AUDIT_URL;
const token = process.argv[3] ?? process.env.HUB_AUDIT_TOKEN;
if (!url) usage('no URL given (argument 1 or HUB_AUDIT_URL)');
if (!token) usage('no bearer token given (argument 2 or HUB_AUDIT_TOKEN)');
try {
  new URL(url);
} catch {
  usage(`not a URL: ${url}`);
}

/** The global fetch, with the bearer token added to every request and a timeout. */
async function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, {
    ...init,
    headers,
    signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** What the failing response looked like, so a report can be acted on without a rerun. */
async function describe(response) {
  if (!response) return '';
  const type = response.headers.get('content-type') ?? 'no content-type';
  let body = '';
  try {
    body = (await response.text()).slice(0, BODY_EXCERPT_CHARS);
  } catch {
    body = '<body already read>';
  }
  return ` (got ${response.status} ${type}: ${body})`;
}

const results = [];
// One at a time: the audits are independent, and a sequential run keeps the server's log
// readable and the load trivial.
for (const { id, name, fn } of serverAudits({ url, fetchFn: fetchWithToken })) {
  let result;
  try {
    result = await fn();
  } catch (err) {
    // The suite throws only when an audit could not be performed (network failure, timeout).
    results.push({ id, name, status: 'error', reason: `audit did not run: ${err}` });
    continue;
  }
  const reason =
    result.status === 'ok' ? null : `${result.reason}${await describe(result.response)}`;
  results.push({ id: result.id, name: result.name, status: result.status, reason });
}

process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
