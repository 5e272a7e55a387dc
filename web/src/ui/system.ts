import type { SystemEvent } from "../generated/protocol";
import { t, type MessageKey } from "../i18n";
import type { Names } from "../vm/names";
import { formatList } from "./format";

/** A system event as a sentence, with names resolved (as text). */
export function systemText(ev: SystemEvent, names: Names): string {
  const n = (id: number) => (id === names.myId ? t("you") : names.nameOf(id));
  switch (ev.type) {
    case "group_created": return t("sys_group_created", { by: n(ev.by), name: ev.name });
    case "members_added": return t("sys_members_added", { by: n(ev.by), users: formatList(ev.users.map(n)) });
    case "member_removed": return t("sys_member_removed", { by: n(ev.by), user: n(ev.user) });
    case "member_left": return t("sys_member_left", { user: n(ev.user) });
    case "renamed": return t("sys_renamed", { by: n(ev.by), name: ev.name });
    case "announcement_set":
      return ev.text ? t("sys_announcement_set", { by: n(ev.by), text: ev.text }) : t("sys_announcement_cleared", { by: n(ev.by) });
    case "role_changed": return t("sys_role_changed", { by: n(ev.by), user: n(ev.user), role: t(`role_${ev.role}` as MessageKey) });
    case "ownership_transferred": return t("sys_ownership_transferred", { from: n(ev.from), to: n(ev.to) });
    default: return t("sys_unknown");
  }
}
