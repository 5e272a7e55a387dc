import { useMemo, useState } from "preact/hooks";
import { lang, t } from "../i18n";
import { notice, savePrefs } from "../vm/app";
import { AuthViewModel } from "../vm/auth";
import { ErrorLine } from "./common";

export function LangSwitch() {
  return (
    <label class="lang-switch">
      <span class="sr-only">{t("language")}</span>
      <select
        value={lang.value}
        onChange={(e) => { lang.value = (e.currentTarget.value as typeof lang.value); savePrefs(); }}
      >
        <option value="en">English</option>
        <option value="zh-CN">简体中文</option>
      </select>
    </label>
  );
}

export function Auth() {
  const vm = useMemo(() => new AuthViewModel(), []);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [display, setDisplay] = useState("");
  const mode = vm.mode.value;

  const submit = (e: Event) => {
    e.preventDefault();
    void vm.submit({ username, password, displayName: display });
  };

  return (
    <main class="auth">
      <div class="auth-card">
        <div class="auth-top"><LangSwitch /></div>
        <div class="brand"><img src="/icons/icon.svg" alt="" width="56" height="56" /><h1>{t("appName")}</h1></div>
        <p class="muted center">{t("welcome")}</p>
        {notice.value && <p class="notice" role="alert" data-notice="auth">{notice.value}</p>}
        <form onSubmit={submit} aria-label={mode === "login" ? t("login") : t("register")}>
          <label class="field">
            <span>{t("username")}</span>
            <input name="username" autocomplete="username" required minLength={3} maxLength={32}
              value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </label>
          {mode === "register" && (
            <label class="field">
              <span>{t("displayName")} <span class="muted">({t("optional")})</span></span>
              <input name="display_name" autocomplete="nickname" maxLength={64}
                value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
            </label>
          )}
          <label class="field">
            <span>{t("password")}</span>
            <input name="password" type="password" required
              autocomplete={mode === "login" ? "current-password" : "new-password"}
              value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <ErrorLine error={vm.error.value} />
          <button class="btn btn-primary btn-block" type="submit" disabled={vm.busy.value}>
            {mode === "login" ? t("login") : t("register")}
          </button>
        </form>
        <button class="btn btn-link btn-block" type="button"
          onClick={() => vm.toggleMode()}>
          {mode === "login" ? t("noAccount") : t("haveAccount")}
        </button>
      </div>
    </main>
  );
}
