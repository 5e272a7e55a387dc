import { useEffect, useMemo, useState } from "preact/hooks";
import { errorText, lang, t } from "../i18n";
import { savePrefs, store, theme, type Theme } from "../vm/app";
import { SettingsViewModel } from "../vm/settings";
import { Avatar, ConfirmButton, ErrorLine } from "./common";
import { formatMoment } from "./format";

export function Settings() {
  const vm = useMemo(() => new SettingsViewModel(store()), []);
  const me = vm.me.value;
  return (
    <div class="settings">
      {me && (
        <div class="profile-card">
          <Avatar name={me.display_name} seed={me.id} size="l" />
          <h3>{me.display_name}</h3>
          <p class="muted">@{me.username}</p>
        </div>
      )}
      <ProfileForm vm={vm} />
      <section class="section" aria-labelledby="h-prefs">
        <h2 id="h-prefs" class="section-title">{t("settings")}</h2>
        <label class="field">
          <span>{t("language")}</span>
          <select name="language" value={lang.value}
            onChange={(e) => { lang.value = e.currentTarget.value as typeof lang.value; savePrefs(); }}>
            <option value="zh-CN">简体中文</option>
            <option value="en">English</option>
          </select>
        </label>
        <label class="field">
          <span>{t("theme")}</span>
          <select name="theme" value={theme.value}
            onChange={(e) => { theme.value = e.currentTarget.value as Theme; savePrefs(); }}>
            <option value="system">{t("themeSystem")}</option>
            <option value="light">{t("themeLight")}</option>
            <option value="dark">{t("themeDark")}</option>
          </select>
        </label>
        <Notifications />
      </section>
      <Devices vm={vm} />
      <PasswordForm vm={vm} />
      <section class="section">
        <button type="button" class="btn btn-danger btn-block" onClick={() => void vm.logOut()}>{t("logout")}</button>
      </section>
    </div>
  );
}

function ProfileForm({ vm }: { vm: SettingsViewModel }) {
  const [name, setName] = useState(vm.me.peek()?.display_name ?? "");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  return (
    <section class="section" aria-labelledby="h-profile">
      <h2 id="h-profile" class="section-title">{t("profile")}</h2>
      <form class="inline-form" onSubmit={async (e) => {
        e.preventDefault();
        setError(null); setNote(null);
        try { await vm.rename(name); setNote(t("saved")); } catch (err) { setError(errorText(err)); }
      }}>
        <label class="field"><span>{t("displayName")}</span>
          <input name="display_name" value={name} maxLength={64} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <button class="btn" type="submit">{t("save")}</button>
      </form>
      {note && <p class="muted" role="status">{note}</p>}
      <ErrorLine error={error} />
    </section>
  );
}

function Notifications() {
  const supported = typeof Notification !== "undefined";
  const [perm, setPerm] = useState(supported ? Notification.permission : "denied");
  if (!supported) return null;
  return (
    <div class="field">
      <span>{t("notifications")}</span>
      {perm === "granted" ? <span class="muted">{t("notificationsOn")}</span>
        : perm === "denied" ? <span class="muted">{t("notificationsBlocked")}</span>
        : <button type="button" class="btn btn-small" onClick={() => void Notification.requestPermission().then(setPerm)}>{t("enableNotifications")}</button>}
    </div>
  );
}

function Devices({ vm }: { vm: SettingsViewModel }) {
  const devices = vm.devices.value;
  const [error, setError] = useState<string | null>(null);
  useEffect(() => { vm.loadDevices().catch((e) => setError(errorText(e))); }, [vm]);
  return (
    <section class="section" aria-labelledby="h-devices">
      <h2 id="h-devices" class="section-title">{t("devices")}</h2>
      <ErrorLine error={error} />
      <ul class="plain-list">
        {(devices ?? []).map((d) => (
          <li key={d.id} class="device">
            <span class="device-main"><strong>{d.name}</strong>{d.current && <span class="muted"> ({t("thisDevice")})</span>}
              <span class="muted small block">{formatMoment(d.last_seen_at)}</span></span>
            {!d.current && (
              <ConfirmButton class="btn btn-small btn-danger" label={t("revoke")} question={t("confirmRevoke", { name: d.name })}
                onConfirm={() => void vm.revoke(d.id).catch((e) => setError(errorText(e)))} />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function PasswordForm({ vm }: { vm: SettingsViewModel }) {
  const [oldPw, setOld] = useState("");
  const [newPw, setNew] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  return (
    <section class="section" aria-labelledby="h-pw">
      <h2 id="h-pw" class="section-title">{t("changePassword")}</h2>
      <form onSubmit={async (e) => {
        e.preventDefault();
        setError(null); setNote(null);
        try {
          await vm.changePassword(oldPw, newPw);
          setOld(""); setNew(""); setNote(t("passwordChanged"));
        } catch (err) {
          setError((err as { code?: string }).code === "invalid_credentials" ? t("wrongCurrentPassword") : errorText(err));
        }
      }}>
        <label class="field"><span>{t("oldPassword")}</span>
          <input type="password" autocomplete="current-password" value={oldPw} onInput={(e) => setOld(e.currentTarget.value)} required /></label>
        <label class="field"><span>{t("newPassword")}</span>
          <input type="password" autocomplete="new-password" value={newPw} onInput={(e) => setNew(e.currentTarget.value)} required /></label>
        <button class="btn" type="submit">{t("changePassword")}</button>
      </form>
      {note && <p class="muted" role="status">{note}</p>}
      <ErrorLine error={error} />
    </section>
  );
}
