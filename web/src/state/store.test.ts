import { describe, expect, it } from "vitest";
import type { SocketHooks } from "../net/socket";
import { fakeServer, fakeTransport, ME_PROFILE, memoryStorage } from "../testing/fakes";
import { ChatStore, type Transport } from "./store";

function loginServer() {
  const server = fakeServer(2);
  const asked: string[] = [];
  server.route("register", async (u: string) => { asked.push(`register ${u}`); return ME_PROFILE; });
  server.route("login", async (u: string, _p: string, device: string) => {
    asked.push(`login ${u} ${device}`);
    return { token: "tok", device_id: 3, user: ME_PROFILE };
  });
  server.route("logout", async () => { asked.push("logout"); return { ok: true }; });
  const transport = fakeTransport(server);
  const storage = memoryStorage();
  let hooks: SocketHooks | null = null;
  const tokens: string[] = [];
  const store = new ChatStore(server.api, (token, h) => { tokens.push(token); hooks = h; return transport as unknown as Transport; }, storage);
  return { server, store, storage, asked, tokens, connect: () => transport.connect(hooks!) };
}

describe("the session's life", () => {
  it("logging in connects with the new token, and logging out forgets it", async () => {
    const { store, server, asked, tokens } = loginServer();
    await store.logIn("me", "password1", "Firefox on Linux");
    expect(tokens).toEqual(["tok"]);
    expect(server.api.token).toBe("tok");
    expect(store.session.me.value?.id).toBe(ME_PROFILE.id);
    await store.logOut();
    expect(asked).toEqual(["login me Firefox on Linux", "logout"]);
    expect(server.api.token).toBe(null);
    expect(store.session.me.value).toBe(null);
    expect(store.conversations.list.value).toEqual([]);
  });

  it("a reload resumes the cached session without asking to log in", async () => {
    const first = loginServer();
    await first.store.logIn("me", "password1", "d");
    first.connect();
    await new Promise((r) => setTimeout(r, 300)); // the cache is written after a short delay
    const again = new ChatStore(first.server.api, (token) => { first.tokens.push(token); return fakeTransport(first.server) as unknown as Transport; }, first.storage);
    expect(await again.resume()).toBe(true);
    expect(first.tokens).toEqual(["tok", "tok"]);
    expect(again.conversations.list.value.map((c) => c.id)).toEqual([1]);
  });

  it("resuming without a cache does nothing", async () => {
    const { store, tokens } = loginServer();
    expect(await store.resume()).toBe(false);
    expect(tokens).toEqual([]);
  });

  it("a revoked session is not logged out on the server again", async () => {
    const { store, asked } = loginServer();
    await store.logIn("me", "password1", "d");
    await store.logOut(false);
    expect(asked).toEqual(["login me d"]);
  });
});
