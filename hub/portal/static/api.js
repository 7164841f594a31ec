// The portal's only way to the hub: the public GraphQL API with the user's token.
// The token lives in sessionStorage (gone when the tab closes) and goes out as
// `Authorization: Bearer ...`, on HTTP and in graphql-transport-ws's connection_init.

const KEY = "hub.portal.token";

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signIn: (token) => sessionStorage.setItem(KEY, token.trim()),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function headers() {
  return {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json",
    Authorization: `Bearer ${session.token()}`,
  };
}

// Every request the portal sends goes through here (the browser tests count them).
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new ApiError(`The hub cannot be reached (${error.message}); try again.`, 0);
  }
  if (response.status === 401) {
    session.signOut();
    throw new ApiError("The hub does not know this token (unknown, revoked or expired): sign in again.", 401);
  }
  const body = await response.json().catch(() => null);
  if (body === null) throw new ApiError(`The hub answered ${response.status} without a GraphQL result.`, response.status);
  const errors = (body.errors || []).map((e) => e.message);
  if (!body.data || Object.values(body.data).every((v) => v === null) && errors.length) {
    throw new ApiError(errors.join("; ") || "The hub answered no data.", response.status);
  }
  // Partial answers (a field the token may not read failed) still show what came back.
  return { data: body.data, errors };
}

// A published report's file, fetched with the token (the link alone carries none)
// and handed to the browser as a download.
export async function download(url, filename) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token()}` } });
  if (!response.ok) throw new ApiError(`${filename}: ${await response.text()}`, response.status);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return blob.size;
}

// One subscription over graphql-transport-ws (docs/portal-api.md); returns a stop
// function. `onState` hears "connecting", "live" and "closed <code>".
export function subscribe(query, variables, onNext, onState = () => {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
  const send = (message) => ws.send(JSON.stringify(message));
  onState("connecting");
  ws.onopen = () => send({ type: "connection_init", payload: { Authorization: `Bearer ${session.token()}` } });
  ws.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    if (message.type === "connection_ack") {
      send({ id: "1", type: "subscribe", payload: { query, variables } });
      onState("live");
    } else if (message.type === "next" && message.payload.data) {
      onNext(message.payload.data);
    } else if (message.type === "ping") {
      send({ type: "pong" });
    }
  };
  ws.onclose = ({ code }) => onState(`closed ${code}`);
  return () => {
    ws.onclose = null;
    if (ws.readyState === WebSocket.OPEN) send({ id: "1", type: "complete" });
    ws.close(1000);
  };
}
