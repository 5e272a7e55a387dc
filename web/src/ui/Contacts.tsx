import { useMemo, useState } from "preact/hooks";
import type { Friend, UserProfile } from "../generated/protocol";
import { errorText, t } from "../i18n";
import { openChat, store } from "../vm/app";
import { ContactsViewModel, friendName, FriendViewModel } from "../vm/contacts";
import { Avatar, ConfirmButton, ErrorLine, formatListTime, Icon } from "./common";
import { FriendPicker } from "./InfoPanel";

export function Contacts() {
  const vm = useMemo(() => new ContactsViewModel(store()), []);
  const incoming = vm.incoming.value;
  const outgoing = vm.outgoing.value;
  const friends = vm.friends.value;
  const blocks = vm.blocks.value;
  const [creating, setCreating] = useState(false);
  return (
    <div class="contacts">
      <FindPeople vm={vm} />
      {incoming.length > 0 && (
        <section class="section" aria-labelledby="h-in">
          <h2 id="h-in" class="section-title">{t("incoming")} <span class="badge">{incoming.length}</span></h2>
          <ul class="plain-list">
            {incoming.map((r) => (
              <li key={r.id} class="request" data-request={r.id} data-from={r.from.username}>
                <Avatar name={r.from.display_name} seed={r.from.id} />
                <div class="request-main">
                  <strong>{r.from.display_name}</strong> <span class="muted">@{r.from.username}</span>
                  {r.greeting && <p class="greeting pre">{r.greeting}</p>}
                </div>
                <RequestButtons vm={vm} id={r.id} kind="incoming" />
              </li>
            ))}
          </ul>
        </section>
      )}
      {outgoing.length > 0 && (
        <section class="section" aria-labelledby="h-out">
          <h2 id="h-out" class="section-title">{t("outgoing")}</h2>
          <ul class="plain-list">
            {outgoing.map((r) => (
              <li key={r.id} class="request" data-request={r.id} data-to={r.to.username}>
                <Avatar name={r.to.display_name} seed={r.to.id} />
                <div class="request-main">
                  <strong>{r.to.display_name}</strong> <span class="muted">@{r.to.username}</span>
                  {r.greeting && <p class="greeting pre">{r.greeting}</p>}
                </div>
                <RequestButtons vm={vm} id={r.id} kind="outgoing" />
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="section" aria-labelledby="h-friends">
        <div class="section-row">
          <h2 id="h-friends" class="section-title">{t("friends")}</h2>
          <button type="button" class="btn btn-small" aria-expanded={creating} onClick={() => setCreating(!creating)}>
            <Icon name="plus" /> {t("newGroup")}
          </button>
        </div>
        {creating && <NewGroup vm={vm} onDone={() => setCreating(false)} />}
        {friends.length === 0 && <p class="muted empty">{t("noFriends")}</p>}
        <ul class="plain-list">
          {friends.map((f) => <FriendRow key={f.user.id} friend={f} />)}
        </ul>
      </section>
      {blocks.length > 0 && (
        <section class="section" aria-labelledby="h-blocked">
          <h2 id="h-blocked" class="section-title">{t("blocked")}</h2>
          <ul class="plain-list">
            {blocks.map((u) => (
              <li key={u.id} class="person" data-blocked={u.username}>
                <Avatar name={u.display_name} seed={u.id} size="s" />
                <span class="person-name">{u.display_name} <span class="muted">@{u.username}</span></span>
                <button type="button" class="btn btn-small" onClick={() => vm.unblock(u.id).catch(() => {})}>{t("unblock")}</button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function RequestButtons(props: { vm: ContactsViewModel; id: number; kind: "incoming" | "outgoing" }) {
  const { vm } = props;
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try { await f(); } catch (e) { setError(errorText(e)); }
  };
  return (
    <div class="request-actions">
      {props.kind === "incoming" ? (
        <>
          <button type="button" class="btn btn-primary btn-small" onClick={() => run(() => vm.accept(props.id))}>{t("accept")}</button>
          <button type="button" class="btn btn-small" onClick={() => run(() => vm.decline(props.id))}>{t("decline")}</button>
        </>
      ) : (
        <button type="button" class="btn btn-small" onClick={() => run(() => vm.cancel(props.id))}>{t("cancel")}</button>
      )}
      <ErrorLine error={error} />
    </div>
  );
}

function FindPeople({ vm }: { vm: ContactsViewModel }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<UserProfile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setResults(await vm.search(q));
    } catch (err) { setError(errorText(err)); }
  };
  return (
    <section class="section" aria-labelledby="h-find">
      <h2 id="h-find" class="section-title">{t("findPeople")}</h2>
      <form class="search-row" role="search" onSubmit={search}>
        <input type="search" class="search" placeholder={t("searchPeople")} aria-label={t("searchPeople")}
          value={q} maxLength={64} onInput={(e) => setQ(e.currentTarget.value)} />
        <button class="btn" type="submit" disabled={!q.trim()}><Icon name="search" /><span class="sr-only">{t("search")}</span></button>
      </form>
      <ErrorLine error={error} />
      {results && (
        <ul class="plain-list">
          {results.map((u) => <SearchResult key={u.id} user={u} vm={vm} />)}
        </ul>
      )}
    </section>
  );
}

function SearchResult({ user, vm }: { user: UserProfile; vm: ContactsViewModel }) {
  const [open, setOpen] = useState(false);
  const [greeting, setGreeting] = useState(t("greetingDefault", { name: vm.myName.value }));
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isMe = vm.isMe(user.id);
  const friend = vm.friendOf(user.id);
  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await vm.sendRequest(user, greeting);
      setDone(r.outcome === "friends" ? t("nowFriends") : t("requestSent"));
      setOpen(false);
    } catch (err) { setError(errorText(err)); }
  };
  return (
    <li class="person" data-user={user.username}>
      <Avatar name={user.display_name} seed={user.id} size="s" />
      <span class="person-name">{user.display_name} <span class="muted">@{user.username}</span></span>
      {isMe ? <span class="muted">{t("itsYou")}</span>
        : friend ? <button type="button" class="btn btn-small" onClick={() => openChat(friend.conversation_id)}>{t("message")}</button>
        : done ? <span class="muted" role="status">{done}</span>
        : <button type="button" class="btn btn-small btn-primary" aria-expanded={open} onClick={() => setOpen(!open)}>{t("addFriend")}</button>}
      {open && (
        <form class="inline-form full" onSubmit={send}>
          <label class="field"><span>{t("greeting")}</span>
            <textarea rows={2} maxLength={200} value={greeting} onInput={(e) => setGreeting(e.currentTarget.value)} /></label>
          <button class="btn btn-primary" type="submit">{t("sendRequest")}</button>
        </form>
      )}
      <ErrorLine error={error} />
    </li>
  );
}

function FriendRow({ friend }: { friend: Friend }) {
  const vm = useMemo(() => new FriendViewModel(store(), friend.user.id), [friend.user.id]);
  const [open, setOpen] = useState(false);
  const name = friendName(friend);
  const online = vm.online.value;
  return (
    <li class="friend" data-user={friend.user.username} data-online={online === null ? "unknown" : online ? "true" : "false"}>
      <button type="button" class="friend-btn" aria-expanded={open} onClick={() => setOpen(!open)}>
        <Avatar name={name} seed={friend.user.id} size="s" online={online} />
        <span class="person-name">{name}{friend.remark && <span class="muted"> ({friend.user.display_name})</span>}</span>
        <span class="muted small">{online ? t("online") : online === false && friend.last_seen_at ? formatListTime(friend.last_seen_at) : ""}</span>
      </button>
      {open && <FriendActions friend={friend} />}
    </li>
  );
}

export function FriendActions({ friend }: { friend: Friend }) {
  const vm = useMemo(() => new FriendViewModel(store(), friend.user.id), [friend.user.id]);
  const [remark, setRemark] = useState(friend.remark ?? "");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const blocked = vm.blocked.value;
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    setNote(null);
    try { await f(); } catch (e) { setError(errorText(e)); }
  };
  return (
    <div class="friend-actions">
      <button type="button" class="btn btn-primary btn-small" onClick={() => openChat(friend.conversation_id)}>{t("message")}</button>
      <form class="inline-form" onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await vm.setRemark(remark);
          setNote(t("saved"));
        });
      }}>
        <label class="field"><span>{t("remark")}</span>
          <input value={remark} maxLength={64} onInput={(e) => setRemark(e.currentTarget.value)} /></label>
        <button class="btn btn-small" type="submit">{t("setRemark")}</button>
      </form>
      <div class="row">
        {blocked
          ? <button type="button" class="btn btn-small" onClick={() => run(() => vm.unblock())}>{t("unblock")}</button>
          : <button type="button" class="btn btn-small" onClick={() => run(() => vm.block())}>{t("block")}</button>}
        <ConfirmButton class="btn btn-small btn-danger" label={t("removeFriend")}
          question={t("confirmRemove", { name: friendName(friend) })}
          onConfirm={() => void run(() => vm.remove())} />
      </div>
      {note && <p class="muted" role="status">{note}</p>}
      <ErrorLine error={error} />
    </div>
  );
}

function NewGroup(props: { vm: ContactsViewModel; onDone(): void }) {
  const { vm } = props;
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="new-group">
      <FriendPicker
        options={vm.friendOptions.value}
        submitLabel={t("create")}
        needOne={false}
        extra={<label class="field"><span>{t("groupName")}</span>
          <input value={name} maxLength={64} required onInput={(e) => setName(e.currentTarget.value)} /></label>}
        onSubmit={async (ids) => {
          setError(null);
          try {
            const c = await vm.createGroup(name, ids);
            props.onDone();
            openChat(c.id);
          } catch (e) { setError(errorText(e)); }
        }} />
      <ErrorLine error={error} />
    </div>
  );
}
