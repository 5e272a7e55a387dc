import { useMemo, useState } from "preact/hooks";
import type { ConversationSummary, Member } from "../generated/protocol";
import { errorText, t, type MessageKey } from "../i18n";
import { go, store } from "../vm/app";
import { FriendViewModel } from "../vm/contacts";
import { InfoPanelViewModel } from "../vm/info";
import { Avatar, ConfirmButton, ErrorLine, Icon } from "./common";
import { FriendActions } from "./Contacts";

export function InfoPanel({ conv }: { conv: ConversationSummary }) {
  return (
    <aside class="info" aria-label={conv.kind === "group" ? t("groupInfo") : t("chatInfo")}>
      <header class="info-head">
        <h2>{conv.kind === "group" ? t("groupInfo") : t("chatInfo")}</h2>
        <a class="icon-btn" href={`#/chat/${conv.id}`} aria-label={t("close")}><Icon name="close" /></a>
      </header>
      <div class="info-body">
        {conv.kind === "group" ? <GroupInfo conv={conv} /> : <DirectInfo conv={conv} />}
      </div>
    </aside>
  );
}

function DirectInfo({ conv }: { conv: ConversationSummary }) {
  const peer = conv.peer;
  if (!peer) return null;
  return <PeerCard peer={peer} />;
}

function PeerCard({ peer }: { peer: NonNullable<ConversationSummary["peer"]> }) {
  const vm = useMemo(() => new FriendViewModel(store(), peer.id), [peer.id]);
  const friend = vm.friend.value;
  return (
    <div class="profile-card">
      <Avatar name={peer.display_name} seed={peer.id} size="l" online={vm.online.value} />
      <h3>{friend?.remark || peer.display_name}</h3>
      <p class="muted">@{peer.username}</p>
      {friend && <FriendActions friend={friend} />}
    </div>
  );
}

function GroupInfo({ conv }: { conv: ConversationSummary }) {
  const vm = useMemo(() => new InfoPanelViewModel(store(), conv.id), [conv.id]);
  const members = vm.members.value;
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState(conv.name);
  const [ann, setAnn] = useState(conv.announcement ?? "");
  const [inviting, setInviting] = useState(false);

  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <div class="group-info">
      <div class="profile-card">
        <Avatar name={conv.name} seed={`g${conv.id}`} size="l" />
        <h3>{conv.name}</h3>
        <p class="muted">{t("members", { n: conv.member_count })}</p>
      </div>
      <ErrorLine error={error} />
      {vm.can("rename") ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void act(() => vm.rename(name)); }}>
          <label class="field"><span>{t("groupName")}</span>
            <input value={name} maxLength={64} required onInput={(e) => setName(e.currentTarget.value)} /></label>
          <button class="btn" type="submit" disabled={!name.trim() || name.trim() === conv.name}>{t("rename")}</button>
        </form>
      ) : null}
      {vm.can("announce") ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void act(() => vm.announce(ann)); }}>
          <label class="field"><span>{t("announcement")}</span>
            <textarea rows={3} value={ann} maxLength={2000} onInput={(e) => setAnn(e.currentTarget.value)} /></label>
          <button class="btn" type="submit" disabled={ann.trim() === (conv.announcement ?? "")}>{t("save")}</button>
        </form>
      ) : conv.announcement ? (
        <div class="announcement"><h4>{t("announcement")}</h4><p class="pre">{conv.announcement}</p></div>
      ) : null}

      <h4 class="list-title">{t("members", { n: members.length })}</h4>
      <ul class="member-list">
        {members.map((m) => <MemberRow key={m.user.id} m={m} vm={vm} act={act} />)}
      </ul>

      <button type="button" class="btn" onClick={() => setInviting(!inviting)} aria-expanded={inviting}>
        <Icon name="plus" /> {t("invitePick")}
      </button>
      {inviting && (
        <FriendPicker options={vm.invitable.value}
          submitLabel={t("invite")}
          onSubmit={(ids) => act(async () => { await vm.invite(ids); setInviting(false); })} />
      )}
      <ConfirmButton class="btn btn-danger" label={t("leave")} question={t("confirmLeave")}
        onConfirm={() => void act(async () => { await vm.leave(); go("#/"); })} />
    </div>
  );
}

function MemberRow(props: { m: Member; vm: InfoPanelViewModel; act: (f: () => Promise<unknown>) => Promise<void> }) {
  const { m, vm, act } = props;
  const isMe = m.user.id === vm.myId;
  const name = vm.nameOf(m.user.id);
  return (
    <li class="member" data-user={m.user.username}>
      <Avatar name={name} seed={m.user.id} size="s" />
      <span class="member-name">{name}{isMe && <span class="muted"> ({t("you")})</span>}</span>
      <span class={`role role-${m.role}`}>{t(`role_${m.role}` as MessageKey)}</span>
      {!isMe && (
        <span class="member-actions">
          {vm.can("setRole", m.role) && (
            <button type="button" class="btn btn-small" onClick={() => act(() => vm.toggleAdmin(m))}>
              {m.role === "admin" ? t("makeMember") : t("makeAdmin")}
            </button>
          )}
          {vm.can("transfer", m.role) && (
            <ConfirmButton class="btn btn-small" label={t("transfer")} question={t("confirmTransfer", { name })}
              onConfirm={() => void act(() => vm.transfer(m.user.id))} />
          )}
          {vm.can("kick", m.role) && (
            <ConfirmButton class="btn btn-small btn-danger" label={t("kick")} question={t("confirmKick", { name })}
              onConfirm={() => void act(() => vm.kick(m.user.id))} />
          )}
        </span>
      )}
    </li>
  );
}

export function FriendPicker(props: { options: { id: number; name: string }[]; submitLabel: string; onSubmit(ids: number[]): Promise<void> | void; extra?: preact.ComponentChildren; needOne?: boolean }) {
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const toggle = (id: number) => {
    const next = new Set(picked);
    if (next.has(id)) next.delete(id); else next.add(id);
    setPicked(next);
  };
  return (
    <form class="picker" onSubmit={(e) => { e.preventDefault(); void props.onSubmit([...picked]); }}>
      {props.extra}
      <fieldset>
        <legend>{t("chooseFriends")}</legend>
        {props.options.length === 0 && <p class="muted">{t("noFriends")}</p>}
        {props.options.map((o) => (
          <label key={o.id} class="check">
            <input type="checkbox" checked={picked.has(o.id)} onChange={() => toggle(o.id)} />
            <Avatar name={o.name} seed={o.id} size="s" /> <span>{o.name}</span>
          </label>
        ))}
      </fieldset>
      <button class="btn btn-primary" type="submit" disabled={props.needOne !== false && picked.size === 0}>{props.submitLabel}</button>
    </form>
  );
}
