// The login and registration screen.
import { signal } from "@preact/signals";
import { errorText } from "../i18n";
import { logIn, register } from "./session";

export type AuthMode = "login" | "register";

export interface AuthForm { username: string; password: string; displayName: string }

/** What the screen calls to get in: the session flows, replaceable in tests. */
export interface AuthFlows {
  register(username: string, password: string, displayName?: string): Promise<void>;
  logIn(username: string, password: string): Promise<void>;
}

/** The server's own minimum, checked first so a short password costs no request. */
const MIN_PASSWORD_CHARS = 8;

export class AuthViewModel {
  readonly mode = signal<AuthMode>("login");
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);

  constructor(private readonly flows: AuthFlows = { register, logIn }) {}

  toggleMode(): void {
    this.mode.value = this.mode.value === "login" ? "register" : "login";
    this.error.value = null;
  }

  /** Registers first in register mode, then logs in; on failure says why and lets the user try again. */
  async submit(form: AuthForm): Promise<void> {
    this.busy.value = true;
    this.error.value = null;
    const username = form.username.trim();
    try {
      if (this.mode.value === "register") {
        if ([...form.password].length < MIN_PASSWORD_CHARS) throw { code: "weak_password", reason: "too_short" };
        await this.flows.register(username, form.password, form.displayName.trim() || undefined);
      }
      await this.flows.logIn(username, form.password);
    } catch (err) {
      this.error.value = errorText(err);
      this.busy.value = false;
    }
  }
}
