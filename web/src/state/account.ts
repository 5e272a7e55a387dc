// The account: profile, devices and password, for the Settings screen.
import type { Device } from "../generated/protocol";
import type { Session } from "./session";

export class Account {
  constructor(private readonly session: Session) {}

  async rename(displayName: string): Promise<void> {
    this.session.me.value = await this.session.api.updateMe(displayName.trim());
  }

  async devices(): Promise<Device[]> {
    return (await this.session.api.devices()).devices;
  }

  /** Logs a device out; the new list. */
  async revoke(deviceId: number): Promise<Device[]> {
    await this.session.api.revokeDevice(deviceId);
    return this.devices();
  }

  changePassword(oldPassword: string, newPassword: string) {
    return this.session.api.changePassword(oldPassword, newPassword);
  }
}
