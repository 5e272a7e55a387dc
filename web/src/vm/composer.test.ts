import { describe, expect, it } from "vitest";
import { settle, setup } from "../testing/fakes";
import { ComposerViewModel } from "./composer";
import { TEXT_MAX_BYTES } from "./text";

describe("composer view model", () => {
  it("counts the limit in bytes of UTF-8 and refuses to send past it", async () => {
    const { store, connect } = await setup(1);
    await connect();
    const vm = new ComposerViewModel(store, 1);
    vm.input("a".repeat(TEXT_MAX_BYTES));
    expect(vm.budget.value).toMatchObject({ bytes: TEXT_MAX_BYTES, over: false, show: true });
    expect(vm.canSend.value).toBe(true);
    vm.input("é".repeat(TEXT_MAX_BYTES / 2) + "a");
    expect(vm.budget.value.over).toBe(true);
    expect(vm.canSend.value).toBe(false);
    expect(vm.send()).toBe(false);
    expect(store.outbox.pending.value).toEqual([]);
  });

  it("sends the trimmed text, then empties the box and its draft", async () => {
    const { store, connect, transport } = await setup(1);
    await connect();
    const vm = new ComposerViewModel(store, 1);
    vm.input("  hello  ");
    expect(store.drafts.peek(1)).toBe("  hello  ");
    expect(transport.sent.filter((r) => r.type === "typing")).toHaveLength(1);
    expect(vm.send()).toBe(true);
    expect(vm.text.value).toBe("");
    expect(store.drafts.peek(1)).toBe("");
    await settle(store);
    const sent = transport.sent.find((r) => r.type === "send");
    expect(sent?.type === "send" && sent.content).toEqual({ kind: "text", text: "hello" });
  });

  it("keeps the draft for the next time the chat opens", async () => {
    const { store } = await setup(1);
    new ComposerViewModel(store, 1).input("half a thought");
    expect(new ComposerViewModel(store, 1).text.value).toBe("half a thought");
    expect(new ComposerViewModel(store, 2).text.value).toBe("");
  });

  it("is read-only while offline, and blank text is never sent", async () => {
    const { store, connect } = await setup(1);
    const vm = new ComposerViewModel(store, 1);
    vm.input("hi");
    expect(vm.offline.value).toBe(true);
    expect(vm.canSend.value).toBe(false);
    await connect();
    expect(vm.canSend.value).toBe(true);
    vm.input("   \n ");
    expect(vm.canSend.value).toBe(false);
  });

  it("puts an emoji where the caret was", async () => {
    const { store } = await setup(1);
    const vm = new ComposerViewModel(store, 1);
    vm.input("ab");
    expect(vm.insertAt("🙂", 1, 1)).toBe(3);
    expect(vm.text.value).toBe("a🙂b");
  });
});
