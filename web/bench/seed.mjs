// Seeding a chat over the HTTP API (shared by the timeline benchmark and its e2e test).
// Run against a server started with `--rate-limits false` for large seeds: the
// default budget is 20 messages a second per user (bursts of 100).

const PW = "correct horse battery";

export function api(server) {
  return async function call(method, path, token, body) {
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (r.status === 429 && attempt < 20) {
        // Over a budget: wait as told, then try again.
        const j = await r.json().catch(() => ({}));
        await new Promise((res) => setTimeout(res, j.retry_after_ms ?? 1000));
        continue;
      }
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json();
    }
  };
}

/** Two users who are friends, with tokens and their direct conversation. */
export async function twoFriends(server, a, b) {
  const call = api(server);
  const ua = await call("POST", "/auth/register", null, { username: a, password: PW });
  const ub = await call("POST", "/auth/register", null, { username: b, password: PW });
  const ta = (await call("POST", "/auth/login", null, { username: a, password: PW })).token;
  const tb = (await call("POST", "/auth/login", null, { username: b, password: PW })).token;
  const req = await call("POST", "/friend-requests", tb, { user_id: ua.id, greeting: "hi" });
  const friend = await call("POST", `/friend-requests/${req.request.id}/accept`, ta);
  return { call, conv: friend.conversation_id, a: { ...ua, token: ta }, b: { ...ub, token: tb }, password: PW };
}

/** Text of seeded message `i`: mostly short, some long, so rows have different heights. */
export function seedText(i) {
  if (i % 11 === 0) return `message ${i}: ` + "a longer line that wraps over more than one row of the bubble ".repeat(3);
  if (i % 5 === 0) return `message ${i}\nwith a second line`;
  return `message ${i}`;
}

/**
 * Sends `count` messages, alternating the two senders, in order (seq i+offset is message i).
 * `textOf(i)` gives the text; `replyOf(i)` an optional reply_to.
 */
export async function seedMessages(call, conv, senders, count, { textOf = seedText, replyOf = () => undefined, onProgress } = {}) {
  for (let i = 1; i <= count; i++) {
    const who = senders[i % senders.length];
    const body = { client_msg_id: `seed-${i}`, content: { kind: "text", text: textOf(i) } };
    const r = replyOf(i);
    if (r !== undefined) body.reply_to = r;
    await call("POST", `/conversations/${conv}/messages`, who.token, body);
    if (onProgress && i % 1000 === 0) onProgress(i);
  }
}
