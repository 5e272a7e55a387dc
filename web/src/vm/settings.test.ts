import { describe, expect, it } from "vitest";
import type { Device } from "../generated/protocol";
import { setup } from "../testing/fakes";
import { SettingsViewModel } from "./settings";

const device = (id: number, current = false): Device => ({ id, name: `d${id}`, created_at: 0, last_seen_at: 0, current } as Device);

describe("settings view model", () => {
  it("a short new password is refused here, without asking the server", async () => {
    const { store, server } = await setup(0);
    const asked: string[] = [];
    server.route("changePassword", async () => { asked.push("change"); return { ok: true }; });
    const vm = new SettingsViewModel(store, async () => {});
    await expect(vm.changePassword("old password", "short")).rejects.toMatchObject({ code: "weak_password" });
    expect(asked).toEqual([]);
    await vm.changePassword("old password", "long enough");
    expect(asked).toEqual(["change"]);
  });

  it("revoking a device shows the list the server has after it", async () => {
    const { store, server } = await setup(0);
    let devices = [device(1, true), device(2)];
    server.route("devices", async () => ({ devices }));
    server.route("revokeDevice", async (id: number) => { devices = devices.filter((d) => d.id !== id); return { ok: true }; });
    const vm = new SettingsViewModel(store, async () => {});
    expect(vm.devices.value).toBe(null);
    await vm.loadDevices();
    expect(vm.devices.value!.map((d) => d.id)).toEqual([1, 2]);
    await vm.revoke(2);
    expect(vm.devices.value!.map((d) => d.id)).toEqual([1]);
  });
});
