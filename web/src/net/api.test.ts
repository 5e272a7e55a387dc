import { describe, expect, it } from "vitest";
import type { ConversationSummary, SyncResponse, UserEvent } from "../generated/protocol";
import { Api, routeUrl } from "./api";

const conv = (id: number, last_seq: number): ConversationSummary => ({
  id, kind: "group", name: `g${id}`, peer: null, announcement: null, member_count: 2, my_role: "member",
  last_seq, read_seq: 0, unread: last_seq, last_message: null, created_at: 0, updated_at: last_seq,
});
const event = (cursor: number): UserEvent => ({
  cursor, at: cursor, change: { type: "block_changed", user_id: cursor, blocked: true },
});

describe("sync", () => {
  it("follows every page and merges them", async () => {
    const pages: Record<string, SyncResponse> = {
      "3": { cursor: 7, reset: false, has_more: true, events: [event(4), event(6)], conversations: [conv(1, 5), conv(2, 1)] },
      "7": { cursor: 9, reset: false, has_more: false, events: [event(8)], conversations: [conv(1, 6)] },
    };
    const asked: string[] = [];
    const fetcher = (async (url: string) => {
      const params = new URL(url, "http://x").searchParams;
      const since = params.get("since") ?? "";
      asked.push(`${since}${params.get("resume") ? " resume" : ""}`);
      return new Response(JSON.stringify(pages[since]), { status: 200 });
    }) as typeof fetch;
    const merged = await new Api("", fetcher).sync(3);
    expect(asked).toEqual(["3", "7 resume"]);
    expect(merged.cursor).toBe(9);
    expect(merged.has_more).toBe(false);
    expect(merged.events.map((e) => e.cursor)).toEqual([4, 6, 8]);
    // The later page's summary of conversation 1 is the newer one.
    expect(merged.conversations.map((c) => [c.id, c.last_seq])).toEqual([[1, 6], [2, 1]]);
  });
});

describe("lists", () => {
  it("follow the next cursor until the last page", async () => {
    const asked: string[] = [];
    const fetcher = (async (url: string) => {
      const after = new URL(url, "http://x").searchParams.get("after");
      asked.push(after ?? "");
      const body = after === null
        ? { members: [{ user: { id: 1 } }], next: "0:5:1" }
        : { members: [{ user: { id: 2 } }], next: null };
      return new Response(JSON.stringify(body), { status: 200 });
    }) as typeof fetch;
    const all = await new Api("", fetcher).members(7);
    expect(asked).toEqual(["", "0:5:1"]);
    expect(all.members.map((m) => m.user.id)).toEqual([1, 2]);
    expect(all.next).toBeNull();
  });
});

describe("routes from the generated table", () => {
  it("fills placeholders, escaped, and appends the query without unset values", () => {
    expect(routeUrl("LIST_MESSAGES", { conversation_id: 12 }, { before: 40, after: undefined, limit: 50 }))
      .toBe("/api/v1/conversations/12/messages?before=40&limit=50");
    expect(routeUrl("REMOVE_MEMBER", { conversation_id: 3, user_id: "a/b" }))
      .toBe("/api/v1/groups/3/members/a%2Fb");
    expect(routeUrl("SEARCH_USERS", undefined, { q: "王 小明&x", limit: 20 }))
      .toBe("/api/v1/users?q=%E7%8E%8B+%E5%B0%8F%E6%98%8E%26x&limit=20");
  });

  it("refuses a route whose placeholder has no value", () => {
    expect(() => routeUrl("GET_CONVERSATION", {} as never)).toThrow(/conversation_id/);
  });

  it("sends each call with its route's method, and the token only where the route needs one", async () => {
    const seen: Array<{ url: string; method: string; auth: string | null }> = [];
    const fetcher = (async (url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      seen.push({ url, method: init.method ?? "GET", auth: headers.get("authorization") });
      return new Response("{}", { status: 200 });
    }) as typeof fetch;
    const api = new Api("http://host", fetcher);
    api.token = "secret";
    await api.login("ann", "pw", "test");
    await api.removeMember(5, 9);
    await api.syncPage(7, true);
    expect(seen).toEqual([
      { url: "http://host/api/v1/auth/login", method: "POST", auth: null },
      { url: "http://host/api/v1/groups/5/members/9", method: "DELETE", auth: "Bearer secret" },
      { url: "http://host/api/v1/sync?since=7&resume=true", method: "GET", auth: "Bearer secret" },
    ]);
  });
});
