import { describe, expect, it } from "vitest";
import { AuthViewModel } from "./auth";

function flows(fail?: unknown) {
  const asked: string[] = [];
  return {
    asked,
    async register(u: string, _p: string, display?: string) { asked.push(`register ${u} ${display ?? "-"}`); },
    async logIn(u: string) { asked.push(`login ${u}`); if (fail) throw fail; },
  };
}

describe("auth view model", () => {
  it("registers, then logs in, with the names trimmed", async () => {
    const f = flows();
    const vm = new AuthViewModel(f);
    vm.toggleMode();
    await vm.submit({ username: " ann ", password: "long enough", displayName: "  " });
    expect(f.asked).toEqual(["register ann -", "login ann"]);
  });

  it("a short password is refused here, without asking the server", async () => {
    const f = flows();
    const vm = new AuthViewModel(f);
    vm.toggleMode();
    await vm.submit({ username: "ann", password: "short", displayName: "" });
    expect(f.asked).toEqual([]);
    expect(vm.error.value).not.toBe(null);
    expect(vm.busy.value).toBe(false);
  });

  it("a refused login says why and lets the user try again", async () => {
    const f = flows({ code: "invalid_credentials" });
    const vm = new AuthViewModel(f);
    await vm.submit({ username: "ann", password: "whatever1", displayName: "" });
    expect(f.asked).toEqual(["login ann"]);
    expect(vm.error.value).toBeTruthy();
    expect(vm.busy.value).toBe(false);
    vm.toggleMode();
    expect(vm.error.value).toBe(null);
  });
});
