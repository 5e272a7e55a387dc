// The Settings screen: profile, devices, password and logging out. Language
// and theme are the device's (app.ts), not the account's.
import { computed, signal } from "@preact/signals";
import type { Device } from "../generated/protocol";
import type { ChatStore } from "../state/store";
import { logOut } from "./session";

/** The server's own minimum, checked first so a short password costs no request. */
const MIN_PASSWORD_CHARS = 8;

export class SettingsViewModel {
  readonly me = computed(() => this.store.session.me.value);
  /** This user's devices: null until loaded. */
  readonly devices = signal<Device[] | null>(null);

  constructor(private readonly store: ChatStore, private readonly endSession: () => Promise<void> = logOut) {}

  rename(displayName: string): Promise<void> { return this.store.account.rename(displayName); }

  async loadDevices(): Promise<void> { this.devices.value = await this.store.account.devices(); }

  async revoke(deviceId: number): Promise<void> { this.devices.value = await this.store.account.revoke(deviceId); }

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    if ([...newPassword].length < MIN_PASSWORD_CHARS) throw { code: "weak_password", reason: "too_short" };
    await this.store.account.changePassword(oldPassword, newPassword);
  }

  logOut(): Promise<void> { return this.endSession(); }
}
