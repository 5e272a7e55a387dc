// The account: profile, devices and password, for the Settings screen.
import type { Device } from "../generated/protocol";
import type { ChatStore } from "./store";

export class Account {
  constructor(private readonly store: ChatStore) {}

  async rename(displayName: string): Promise<void> {
    this.store.me.value = await this.store.api.updateMe(displayName.trim());
  }

  async devices(): Promise<Device[]> {
    return (await this.store.api.devices()).devices;
  }

  /** Logs a device out; the new list. */
  async revoke(deviceId: number): Promise<Device[]> {
    await this.store.api.revokeDevice(deviceId);
    return this.devices();
  }

  changePassword(oldPassword: string, newPassword: string) {
    return this.store.api.changePassword(oldPassword, newPassword);
  }
}
